//! The client contract's shapes of messages and events (api.md). They live beside the store port
//! because an event's payload is written in the same transaction as the change it describes, and
//! every consumer (REST, WebSocket, sync, the event stream) must see the same shape.

use super::event::{
    ConversationUpdated, EventPayload, MemberAdded, MemberMuted, MemberRemoved, ReactionChanged,
    ReceiptRead,
};
use super::types::{Conversation, Member, Message};
use crate::domain::media::MediaStatus;
use crate::domain::{ConversationId, Role, UserId};
use crate::ports::MediaItem;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// RFC 3339 text of a Unix-millisecond time.
pub fn rfc3339(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A message as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    /// Message id (UUID v7).
    pub id: String,
    /// Conversation id.
    pub conversation_id: String,
    /// Author.
    pub sender_id: String,
    /// The text, byte-exact; `null` once deleted.
    pub content: Option<String>,
    /// `text`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Position in the conversation (1, 2, 3… without gaps).
    pub sequence_number: i64,
    /// The same as `sequenceNumber`.
    pub seq: i64,
    /// The sender's idempotency key.
    pub client_message_id: String,
    /// Sent at (RFC 3339).
    pub timestamp: String,
    /// 1, then +1 per edit; send it back as `expectedVersion`.
    pub version: i64,
    /// Last edit (RFC 3339).
    pub edited_at: Option<String>,
    /// Deletion (RFC 3339); the message is a tombstone.
    pub deleted_at: Option<String>,
    /// Whether this is a tombstone.
    pub deleted: bool,
    /// Reactions grouped by emoji.
    pub reactions: Vec<ReactionView>,
    /// The media it carries, in order (events stored before media existed have none).
    #[serde(default)]
    pub attachments: Vec<MediaView>,
}

/// A media item as clients see it (`GET /media/:id`, and each attachment of a message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MediaView {
    /// Media id (UUID v7).
    pub id: String,
    /// The name it is shown and downloaded under.
    pub filename: String,
    /// The type sniffed from its bytes.
    pub content_type: String,
    /// Bytes of the original.
    pub size: u64,
    /// `awaiting_upload`, `pending` (being processed), `ready`, `failed` or `deleting`.
    pub status: String,
    /// Why processing failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Pixels across, as displayed (images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Pixels down, as displayed (images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// A blurhash to paint while the picture loads (images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    /// Renditions besides the original (`thumb`, `preview`), for `download?variant=`.
    #[serde(default)]
    pub variants: Vec<VariantView>,
    /// Who uploaded it.
    pub uploader_id: String,
    /// Uploaded at (RFC 3339).
    pub created_at: String,
}

/// A rendition of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariantView {
    /// `thumb` or `preview`.
    pub name: String,
    /// Its type.
    pub content_type: String,
    /// Its bytes.
    pub size: u64,
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
}

impl From<&MediaItem> for MediaView {
    fn from(m: &MediaItem) -> Self {
        Self {
            id: m.id.to_string(),
            filename: m.filename.as_str().to_owned(),
            content_type: m.content_type.clone(),
            size: m.size,
            status: m.status.as_str().to_owned(),
            failure: match &m.status {
                MediaStatus::Failed(reason) => Some(reason.clone()),
                _ => None,
            },
            width: m.width,
            height: m.height,
            placeholder: m.placeholder.clone(),
            variants: m
                .variants
                .iter()
                .map(|v| VariantView {
                    name: v.variant.as_str().to_owned(),
                    content_type: v.content_type.clone(),
                    size: v.size,
                    width: v.width,
                    height: v.height,
                })
                .collect(),
            uploader_id: m.uploader_id.to_string(),
            created_at: rfc3339(m.created_at_ms),
        }
    }
}

/// Everyone who reacted with one emoji.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReactionView {
    /// The emoji.
    pub emoji: String,
    /// How many reacted with it.
    pub count: usize,
    /// Who.
    pub user_ids: Vec<String>,
}

impl From<&Message> for MessageView {
    fn from(m: &Message) -> Self {
        Self {
            id: m.id.to_string(),
            conversation_id: m.conversation_id.to_string(),
            sender_id: m.sender_id.to_string(),
            content: m.content.clone(),
            kind: m.kind.clone(),
            sequence_number: m.seq,
            seq: m.seq,
            client_message_id: m.client_message_id.clone(),
            timestamp: rfc3339(m.created_at_ms),
            version: m.version,
            edited_at: m.edited_at_ms.map(rfc3339),
            deleted_at: m.deleted_at_ms.map(rfc3339),
            deleted: m.deleted_at_ms.is_some(),
            reactions: m
                .reactions
                .iter()
                .map(|r| ReactionView {
                    emoji: r.emoji.clone(),
                    count: r.user_ids.len(),
                    user_ids: r.user_ids.iter().map(ToString::to_string).collect(),
                })
                .collect(),
            attachments: m.attachments.iter().map(MediaView::from).collect(),
        }
    }
}

/// A member as clients see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    /// User id.
    pub user_id: String,
    /// `owner`, `admin` or `member`.
    pub role: String,
    /// Joined at (RFC 3339).
    pub joined_at: String,
    /// Every message up to this seq is read.
    pub last_read_seq: i64,
    /// Every message up to this seq reached one of the member's devices (at least
    /// `lastReadSeq`).
    #[serde(default)]
    pub last_delivered_seq: i64,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Avatar media id (readable by everyone in the tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar_media_id: Option<String>,
    /// Muted here until then (RFC 3339); a time in the past means the mute has ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until: Option<String>,
}

impl From<&Member> for MemberView {
    fn from(m: &Member) -> Self {
        Self {
            user_id: m.user_id.to_string(),
            role: m.role.as_str().to_owned(),
            joined_at: rfc3339(m.joined_at_ms),
            last_read_seq: m.last_read_seq,
            last_delivered_seq: m.last_delivered_seq,
            display_name: m.display_name.clone(),
            avatar_media_id: m.avatar.map(|a| a.to_string()),
            muted_until: m.muted_until_ms.map(rfc3339),
        }
    }
}

/// A conversation as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    /// Conversation id.
    pub id: String,
    /// `dm` or `group`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A group's name.
    pub name: Option<String>,
    /// Creator.
    pub created_by: String,
    /// Created at (RFC 3339).
    pub created_at: String,
    /// Latest activity (RFC 3339).
    pub last_activity_at: String,
    /// Seq of the latest message.
    pub last_seq: i64,
    /// Only owners and admins post (an announcements channel).
    #[serde(default)]
    pub read_only: bool,
    /// Members post at most once per this many seconds; 0 is off. Owners and admins are exempt.
    #[serde(default)]
    pub slow_mode_seconds: u32,
    /// Messages older than this many seconds are deleted ("disappearing messages"); the
    /// tenant's maximum applies too. `null`: only the tenant's rule.
    #[serde(default)]
    pub retention_seconds: Option<u32>,
    /// `sent`: the retention counts from sending; `read`: from when every member but the
    /// sender has read the message.
    #[serde(default)]
    pub retention_from: String,
    /// An administrator placed a legal hold: retention deletes nothing here.
    #[serde(default)]
    pub legal_hold: bool,
    /// Members with their roles.
    pub members: Vec<MemberView>,
}

impl From<&Conversation> for ConversationView {
    fn from(c: &Conversation) -> Self {
        Self {
            id: c.id.to_string(),
            kind: c.kind.as_str().to_owned(),
            name: c.name.clone(),
            created_by: c.created_by.to_string(),
            created_at: rfc3339(c.created_at_ms),
            last_activity_at: rfc3339(c.last_activity_ms),
            last_seq: c.last_seq,
            read_only: c.floor.read_only,
            slow_mode_seconds: c.floor.slow_mode_seconds,
            retention_seconds: c.retention.seconds,
            retention_from: c.retention.from.as_str().to_owned(),
            legal_hold: c.retention.legal_hold,
            members: c.members.iter().map(MemberView::from).collect(),
        }
    }
}

/// A change worth an event: written to the outbox in the transaction that makes it.
#[derive(Debug, Clone, Copy)]
pub enum ChatEvent<'a> {
    /// A conversation was created with its members.
    ConversationCreated(&'a Conversation),
    /// A member joined or changed role.
    MemberAdded {
        /// Conversation.
        conversation_id: ConversationId,
        /// Who.
        user_id: UserId,
        /// With which role.
        role: Role,
        /// Who added them.
        by: UserId,
    },
    /// A member left or was removed.
    MemberRemoved {
        /// Conversation.
        conversation_id: ConversationId,
        /// Who.
        user_id: UserId,
        /// Who removed them (themselves when leaving).
        by: UserId,
    },
    /// A message was sent.
    MessageCreated(&'a Message),
    /// A message was edited.
    MessageUpdated(&'a Message),
    /// A message became a tombstone.
    MessageDeleted(&'a Message),
    /// A reaction was added.
    ReactionAdded(&'a Message, UserId, &'a str),
    /// A reaction was removed.
    ReactionRemoved(&'a Message, UserId, &'a str),
    /// A member's read pointer moved.
    ReceiptRead {
        /// Conversation.
        conversation_id: ConversationId,
        /// Who.
        user_id: UserId,
        /// Up to which seq.
        seq: i64,
    },
    /// A member's delivered pointer moved.
    ReceiptDelivered {
        /// Conversation.
        conversation_id: ConversationId,
        /// Who.
        user_id: UserId,
        /// Up to which seq.
        seq: i64,
    },
    /// A group was renamed or its floor changed.
    ConversationUpdated {
        /// The conversation as it is now.
        conversation: &'a Conversation,
        /// Who changed it.
        by: UserId,
    },
    /// A member was muted (until a time) or unmuted.
    MemberMuted {
        /// Conversation.
        conversation_id: ConversationId,
        /// Who.
        user_id: UserId,
        /// Until when, Unix milliseconds; `None` when lifted.
        until_ms: Option<i64>,
        /// Who acted.
        by: UserId,
    },
}

impl ChatEvent<'_> {
    /// The typed payload of this change, as stored and shipped.
    pub fn to_payload(&self) -> EventPayload {
        match *self {
            ChatEvent::ConversationCreated(c) => {
                EventPayload::ConversationCreated(ConversationView::from(c))
            }
            ChatEvent::MemberAdded {
                conversation_id,
                user_id,
                role,
                by,
            } => EventPayload::MemberAdded(MemberAdded {
                conversation_id,
                user_id,
                role,
                by,
            }),
            ChatEvent::MemberRemoved {
                conversation_id,
                user_id,
                by,
            } => EventPayload::MemberRemoved(MemberRemoved {
                conversation_id,
                user_id,
                by,
            }),
            ChatEvent::MessageCreated(m) => EventPayload::MessageCreated(MessageView::from(m)),
            ChatEvent::MessageUpdated(m) => EventPayload::MessageUpdated(MessageView::from(m)),
            ChatEvent::MessageDeleted(m) => EventPayload::MessageDeleted(MessageView::from(m)),
            ChatEvent::ReactionAdded(m, user, emoji) => {
                EventPayload::ReactionAdded(reaction(m, user, emoji))
            }
            ChatEvent::ReactionRemoved(m, user, emoji) => {
                EventPayload::ReactionRemoved(reaction(m, user, emoji))
            }
            ChatEvent::ReceiptRead {
                conversation_id,
                user_id,
                seq,
            } => EventPayload::ReceiptRead(ReceiptRead {
                conversation_id,
                user_id,
                seq,
            }),
            ChatEvent::ReceiptDelivered {
                conversation_id,
                user_id,
                seq,
            } => EventPayload::ReceiptDelivered(ReceiptRead {
                conversation_id,
                user_id,
                seq,
            }),
            ChatEvent::ConversationUpdated { conversation, by } => {
                EventPayload::ConversationUpdated(ConversationUpdated {
                    conversation_id: conversation.id,
                    name: conversation.name.clone(),
                    read_only: conversation.floor.read_only,
                    slow_mode_seconds: conversation.floor.slow_mode_seconds,
                    retention_seconds: conversation.retention.seconds,
                    retention_from: conversation.retention.from.as_str().to_owned(),
                    by,
                })
            }
            ChatEvent::MemberMuted {
                conversation_id,
                user_id,
                until_ms,
                by,
            } => EventPayload::MemberMuted(MemberMuted {
                conversation_id,
                user_id,
                muted_until: until_ms.map(rfc3339),
                by,
            }),
        }
    }
}

fn reaction(m: &Message, user: UserId, emoji: &str) -> ReactionChanged {
    ReactionChanged {
        message_id: m.id,
        conversation_id: m.conversation_id,
        user_id: user,
        emoji: emoji.to_owned(),
        sequence_number: m.seq,
    }
}

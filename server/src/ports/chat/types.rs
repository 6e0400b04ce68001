//! The values the chat part of the store reads and writes.

use super::StoredEvent;
use crate::domain::{
    ConversationId, ConversationKind, Floor, FloorRefusal, MediaId, MembershipDenied, MessageId,
    Role, UserId,
};
use crate::ports::{AuditEntry, MediaItem};
use std::collections::BTreeMap;

/// A conversation with its current members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Id.
    pub id: ConversationId,
    /// DM or group.
    pub kind: ConversationKind,
    /// A group's name.
    pub name: Option<String>,
    /// Who created it.
    pub created_by: UserId,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Time of the latest message (or creation), Unix milliseconds.
    pub last_activity_ms: i64,
    /// Seq of the latest message; 0 when there is none.
    pub last_seq: i64,
    /// Who may post, and how often.
    pub floor: Floor,
    /// How long its messages are kept, and whether a legal hold keeps them.
    pub retention: crate::domain::Retention,
    /// Current members.
    pub members: Vec<Member>,
}

/// A member of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Who.
    pub user_id: UserId,
    /// Their role.
    pub role: Role,
    /// When they joined, Unix milliseconds.
    pub joined_at_ms: i64,
    /// Their read pointer: every message up to this seq is read.
    pub last_read_seq: i64,
    /// Their delivered pointer: every message up to this seq reached a device of theirs.
    pub last_delivered_seq: i64,
    /// Their display name, as it is now.
    pub display_name: String,
    /// Their avatar, as it is now.
    pub avatar: Option<MediaId>,
    /// Muted here until this time (Unix milliseconds), when a mute was set and not lifted.
    pub muted_until_ms: Option<i64>,
}

/// A conversation as the caller's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    /// The conversation.
    pub conversation: Conversation,
    /// Its latest message.
    pub last_message: Option<Message>,
    /// Messages of others after the caller's read pointer, tombstones excluded,
    /// counted up to [`crate::domain::UNREAD_COUNT_CAP`].
    pub unread: i64,
}

/// Where a page of the caller's conversations starts: after this (activity, id), newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivityCursor {
    /// Last activity of the last conversation already returned.
    pub activity_ms: i64,
    /// Its id, breaking ties.
    pub id: ConversationId,
}

/// A message (or its tombstone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Id.
    pub id: MessageId,
    /// Conversation.
    pub conversation_id: ConversationId,
    /// Position in the conversation: 1, 2, 3… without gaps.
    pub seq: i64,
    /// Author.
    pub sender_id: UserId,
    /// The author's idempotency key.
    pub client_message_id: String,
    /// `text`.
    pub kind: String,
    /// The text; `None` once deleted.
    pub content: Option<String>,
    /// 1, then +1 per edit.
    pub version: i64,
    /// Sent at, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last edit, Unix milliseconds.
    pub edited_at_ms: Option<i64>,
    /// Deletion, Unix milliseconds.
    pub deleted_at_ms: Option<i64>,
    /// Reactions grouped by emoji, in first-use order.
    pub reactions: Vec<ReactionGroup>,
    /// The media it carries, in the sender's order; none once deleted.
    pub attachments: Vec<MediaItem>,
}

/// Everyone who reacted with one emoji.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionGroup {
    /// The emoji.
    pub emoji: String,
    /// Who reacted with it.
    pub user_ids: Vec<UserId>,
}

/// An earlier version of an edited message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageEdit {
    /// The version this text was.
    pub version: i64,
    /// The text of that version.
    pub content: String,
    /// When it was replaced, Unix milliseconds.
    pub replaced_at_ms: i64,
}

/// A conversation to create.
#[derive(Debug, Clone)]
pub struct NewConversation {
    /// Id.
    pub id: ConversationId,
    /// DM or group.
    pub kind: ConversationKind,
    /// A group's name.
    pub name: Option<String>,
    /// The creator.
    pub created_by: UserId,
    /// Every member with their role, the creator included.
    pub members: Vec<(UserId, Role)>,
    /// For a DM, the key of its pair of users; a second DM with the same key is not created.
    pub dm_key: Option<String>,
    /// Now, Unix milliseconds.
    pub at_ms: i64,
}

/// Outcome of creating a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationCreation {
    /// Stored.
    Created(Conversation),
    /// The DM between these users already existed; here it is.
    Existing(Conversation),
    /// These member ids are no users of the tenant.
    UnknownUsers(Vec<UserId>),
    /// The tenant's conversation quota is reached.
    QuotaExceeded,
}

/// Outcome of a membership change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipOutcome {
    /// Done; the conversation as it is now.
    Done(Conversation),
    /// No such conversation, or the actor is not a member.
    NotFound,
    /// Refused by the rules.
    Denied(MembershipDenied),
    /// These ids are no users of the tenant.
    UnknownUsers(Vec<UserId>),
    /// The target is not a member.
    NotAMember,
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Id, used only if the message is new.
    pub id: MessageId,
    /// Conversation.
    pub conversation_id: ConversationId,
    /// Author.
    pub sender_id: UserId,
    /// Idempotency key.
    pub client_message_id: String,
    /// `text`.
    pub kind: String,
    /// The text; empty when the message is attachments only.
    pub content: String,
    /// Media of the sender's, at most `domain::media::MAX_ATTACHMENTS`.
    pub attachments: Vec<MediaId>,
    /// Now, Unix milliseconds.
    pub at_ms: i64,
}

/// The tenant's daily message quota, checked in the send transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyQuota {
    /// Messages allowed per UTC day.
    pub max: u64,
    /// The UTC day, as days since the Unix epoch.
    pub day: i64,
}

/// Outcome of a send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Stored with a new seq.
    Sent(Message),
    /// A retry: the message stored the first time, unchanged.
    Duplicate(Message),
    /// No such conversation, or the sender is not a member.
    NotFound,
    /// The tenant's daily message quota is reached.
    QuotaExceeded,
    /// These attachments are unknown, not the sender's, or not stored (yet or any more).
    InvalidAttachments(Vec<MediaId>),
    /// The conversation's floor refused the sender (muted, read-only, slow mode).
    Refused(FloorRefusal),
}

/// Where a member stands in one conversation: what the account channel counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnreadPosition {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Its latest seq.
    pub last_seq: i64,
    /// The member's read pointer.
    pub last_read_seq: i64,
    /// Others' messages after the read pointer, tombstones excluded, counted up to
    /// [`crate::domain::UNREAD_COUNT_CAP`].
    pub unread: i64,
}

/// Which of a member's pointers a receipt moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pointer {
    /// Read (and so delivered).
    Read,
    /// Delivered to a device.
    Delivered,
}

/// A change to a conversation's name or floor; `None` leaves that part as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationChange {
    /// The new name.
    pub name: Option<String>,
    /// Only owners and admins post.
    pub read_only: Option<bool>,
    /// Members post once per this many seconds (0: off).
    pub slow_mode_seconds: Option<u32>,
    /// Messages older than this many seconds go (`Some(None)`: the tenant's rule only).
    pub retention_seconds: Option<Option<u32>>,
    /// Whether the retention counts from sending or from being read by everyone.
    pub retention_from: Option<crate::domain::RetentionClock>,
}

/// A mute set or lifted.
#[derive(Debug, Clone)]
pub struct MuteChange {
    /// Who acts.
    pub actor: UserId,
    /// Whether the actor is a tenant moderator allowed to act on the target's account.
    pub moderator: bool,
    /// Who is muted or unmuted.
    pub target: UserId,
    /// Until when (Unix milliseconds); `None` lifts the mute.
    pub until_ms: Option<i64>,
    /// Now, Unix milliseconds.
    pub at_ms: i64,
    /// The audit entry written with the change.
    pub audit: AuditEntry,
}

/// Which messages a history page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryPage {
    /// The newest ones.
    Latest,
    /// The ones just before this seq.
    Before(i64),
    /// The ones just after this seq.
    After(i64),
}

/// An edit to apply.
#[derive(Debug, Clone)]
pub struct MessageEditRequest {
    /// Which message.
    pub id: MessageId,
    /// Who edits.
    pub editor: UserId,
    /// The new text.
    pub content: String,
    /// Refuse the edit unless the message is at this version.
    pub expected_version: Option<i64>,
    /// Now, Unix milliseconds.
    pub at_ms: i64,
}

/// Outcome of an edit, delete or reaction change.
#[derive(Debug, Clone, PartialEq, Eq)]
// Returned once per call and matched at once, never stored in bulk: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum MessageChange {
    /// Done (or already so); the message as it is now.
    Done(Message),
    /// No such message, or the actor is not a member of its conversation.
    NotFound,
    /// Only the author (or, to delete, a moderator) may do this.
    Forbidden,
    /// The message is deleted.
    Deleted,
    /// `expected_version` is not the current version.
    Stale {
        /// The current version.
        current: i64,
    },
    /// The user already has as many distinct reactions on the message as allowed.
    LimitReached,
    /// The conversation's floor refused the author (a mute).
    Silenced(FloorRefusal),
}

/// Adding or removing one reaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionChange {
    /// Add it, unless the user already has `max_distinct` other emoji on the message.
    Add {
        /// Distinct emoji one user may put on one message.
        max_distinct: u32,
    },
    /// Remove it.
    Remove,
}

/// What a sync has already delivered: per conversation, the last event seq seen.
pub type SyncPosition = BTreeMap<ConversationId, i64>;

/// A page of sync.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncPage {
    /// Events in order within each conversation.
    pub events: Vec<StoredEvent>,
    /// The position after these events.
    pub position: SyncPosition,
    /// More events are waiting.
    pub has_more: bool,
}

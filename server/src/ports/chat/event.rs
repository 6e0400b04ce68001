//! Committed events, typed: the kind as an enum and each payload as its own struct. The JSON
//! of a payload is the client contract's `data` (api.md) and the `payload` of the Kafka record
//! (schema version 1, docs/events.md); it is made only where bytes leave the process — the store
//! row, the Kafka record, a WebSocket frame.

use super::wire::{ConversationView, MessageView};
use crate::domain::{ConversationId, EventId, MessageId, Role, TenantId, UserId};
use crate::telemetry::TraceParent;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What happened, by name. The names are the client contract's event names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `conversation.created`
    ConversationCreated,
    /// `member.added`
    MemberAdded,
    /// `member.removed`
    MemberRemoved,
    /// `message.created`
    MessageCreated,
    /// `message.updated`
    MessageUpdated,
    /// `message.deleted`
    MessageDeleted,
    /// `reaction.added`
    ReactionAdded,
    /// `reaction.removed`
    ReactionRemoved,
    /// `receipt.read`
    ReceiptRead,
    /// `conversation.updated`
    ConversationUpdated,
    /// `member.muted`
    MemberMuted,
    /// `receipt.delivered`
    ReceiptDelivered,
}

impl EventKind {
    /// Every kind, for tests and documentation.
    pub const ALL: [EventKind; 12] = [
        EventKind::ConversationCreated,
        EventKind::MemberAdded,
        EventKind::MemberRemoved,
        EventKind::MessageCreated,
        EventKind::MessageUpdated,
        EventKind::MessageDeleted,
        EventKind::ReactionAdded,
        EventKind::ReactionRemoved,
        EventKind::ReceiptRead,
        EventKind::ConversationUpdated,
        EventKind::MemberMuted,
        EventKind::ReceiptDelivered,
    ];

    /// The contract's name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ConversationCreated => "conversation.created",
            EventKind::MemberAdded => "member.added",
            EventKind::MemberRemoved => "member.removed",
            EventKind::MessageCreated => "message.created",
            EventKind::MessageUpdated => "message.updated",
            EventKind::MessageDeleted => "message.deleted",
            EventKind::ReactionAdded => "reaction.added",
            EventKind::ReactionRemoved => "reaction.removed",
            EventKind::ReceiptRead => "receipt.read",
            EventKind::ConversationUpdated => "conversation.updated",
            EventKind::MemberMuted => "member.muted",
            EventKind::ReceiptDelivered => "receipt.delivered",
        }
    }

    /// Parses the contract's name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `member.added`: a member joined or changed role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberAdded {
    /// Conversation.
    pub conversation_id: ConversationId,
    /// Who.
    pub user_id: UserId,
    /// With which role.
    pub role: Role,
    /// Who added them.
    pub by: UserId,
}

/// `member.removed`: a member left or was removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberRemoved {
    /// Conversation.
    pub conversation_id: ConversationId,
    /// Who.
    pub user_id: UserId,
    /// Who removed them (themselves when leaving).
    pub by: UserId,
}

/// `reaction.added` / `reaction.removed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionChanged {
    /// The message.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Who reacted.
    pub user_id: UserId,
    /// With what.
    pub emoji: String,
    /// The message's seq.
    pub sequence_number: i64,
}

/// `receipt.read` (a member's read pointer moved; reading implies delivery) and
/// `receipt.delivered` (their delivered pointer moved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptRead {
    /// Conversation.
    pub conversation_id: ConversationId,
    /// Who.
    pub user_id: UserId,
    /// Up to which seq.
    pub seq: i64,
}

/// `conversation.updated`: a group was renamed or its floor changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationUpdated {
    /// Conversation.
    pub conversation_id: ConversationId,
    /// Its name now.
    pub name: Option<String>,
    /// Whether only owners and admins post now.
    pub read_only: bool,
    /// Members' interval between posts now, seconds (0: off).
    pub slow_mode_seconds: u32,
    /// Messages older than this many seconds are deleted (`null`: the tenant's rule only).
    #[serde(default)]
    pub retention_seconds: Option<u32>,
    /// `sent` or `read`: when the retention starts counting.
    #[serde(default = "sent")]
    pub retention_from: String,
    /// Who changed it.
    pub by: UserId,
}

fn sent() -> String {
    "sent".to_owned()
}

/// `member.muted`: a member was muted until a time, or the mute was lifted (`mutedUntil` null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberMuted {
    /// Conversation.
    pub conversation_id: ConversationId,
    /// Who.
    pub user_id: UserId,
    /// Until when (RFC 3339); `null` when lifted.
    pub muted_until: Option<String>,
    /// Who muted or unmuted them.
    pub by: UserId,
}

/// An event's typed data.
#[derive(Debug, Clone, PartialEq)]
pub enum EventPayload {
    /// A conversation was created with its members.
    ConversationCreated(ConversationView),
    /// A member joined or changed role.
    MemberAdded(MemberAdded),
    /// A member left or was removed.
    MemberRemoved(MemberRemoved),
    /// A message was sent.
    MessageCreated(MessageView),
    /// A message was edited.
    MessageUpdated(MessageView),
    /// A message became a tombstone.
    MessageDeleted(MessageView),
    /// A reaction was added.
    ReactionAdded(ReactionChanged),
    /// A reaction was removed.
    ReactionRemoved(ReactionChanged),
    /// A read pointer moved.
    ReceiptRead(ReceiptRead),
    /// A group was renamed or its floor changed.
    ConversationUpdated(ConversationUpdated),
    /// A member was muted or unmuted.
    MemberMuted(MemberMuted),
    /// A delivered pointer moved.
    ReceiptDelivered(ReceiptRead),
}

impl EventPayload {
    /// The kind this payload belongs to.
    pub fn kind(&self) -> EventKind {
        match self {
            EventPayload::ConversationCreated(_) => EventKind::ConversationCreated,
            EventPayload::MemberAdded(_) => EventKind::MemberAdded,
            EventPayload::MemberRemoved(_) => EventKind::MemberRemoved,
            EventPayload::MessageCreated(_) => EventKind::MessageCreated,
            EventPayload::MessageUpdated(_) => EventKind::MessageUpdated,
            EventPayload::MessageDeleted(_) => EventKind::MessageDeleted,
            EventPayload::ReactionAdded(_) => EventKind::ReactionAdded,
            EventPayload::ReactionRemoved(_) => EventKind::ReactionRemoved,
            EventPayload::ReceiptRead(_) => EventKind::ReceiptRead,
            EventPayload::ConversationUpdated(_) => EventKind::ConversationUpdated,
            EventPayload::MemberMuted(_) => EventKind::MemberMuted,
            EventPayload::ReceiptDelivered(_) => EventKind::ReceiptDelivered,
        }
    }

    /// The message this event is about, for message events.
    pub fn message(&self) -> Option<&MessageView> {
        match self {
            EventPayload::MessageCreated(m)
            | EventPayload::MessageUpdated(m)
            | EventPayload::MessageDeleted(m) => Some(m),
            _ => None,
        }
    }

    /// Reads a payload of `kind` from its JSON text.
    pub fn from_json(kind: EventKind, json: &str) -> serde_json::Result<Self> {
        let mut reader = serde_json::Deserializer::from_str(json);
        let payload = Self::deserialize(kind, &mut reader)?;
        reader.end()?;
        Ok(payload)
    }

    /// Reads a payload of `kind` from a parsed JSON value.
    pub fn from_value(kind: EventKind, json: serde_json::Value) -> serde_json::Result<Self> {
        Self::deserialize(kind, json)
    }

    /// Reads a payload of `kind` from any serde source.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        kind: EventKind,
        data: D,
    ) -> Result<Self, D::Error> {
        Ok(match kind {
            EventKind::ConversationCreated => {
                Self::ConversationCreated(Deserialize::deserialize(data)?)
            }
            EventKind::MemberAdded => Self::MemberAdded(Deserialize::deserialize(data)?),
            EventKind::MemberRemoved => Self::MemberRemoved(Deserialize::deserialize(data)?),
            EventKind::MessageCreated => Self::MessageCreated(Deserialize::deserialize(data)?),
            EventKind::MessageUpdated => Self::MessageUpdated(Deserialize::deserialize(data)?),
            EventKind::MessageDeleted => Self::MessageDeleted(Deserialize::deserialize(data)?),
            EventKind::ReactionAdded => Self::ReactionAdded(Deserialize::deserialize(data)?),
            EventKind::ReactionRemoved => Self::ReactionRemoved(Deserialize::deserialize(data)?),
            EventKind::ReceiptRead => Self::ReceiptRead(Deserialize::deserialize(data)?),
            EventKind::ConversationUpdated => {
                Self::ConversationUpdated(Deserialize::deserialize(data)?)
            }
            EventKind::MemberMuted => Self::MemberMuted(Deserialize::deserialize(data)?),
            EventKind::ReceiptDelivered => Self::ReceiptDelivered(Deserialize::deserialize(data)?),
        })
    }

    /// The payload's JSON (the contract's `data`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Serialises as the inner payload: the kind travels beside it (`event`, the record's `kind`).
impl Serialize for EventPayload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EventPayload::ConversationCreated(c) => c.serialize(serializer),
            EventPayload::MemberAdded(m) => m.serialize(serializer),
            EventPayload::MemberRemoved(m) => m.serialize(serializer),
            EventPayload::MessageCreated(m)
            | EventPayload::MessageUpdated(m)
            | EventPayload::MessageDeleted(m) => m.serialize(serializer),
            EventPayload::ReactionAdded(r) | EventPayload::ReactionRemoved(r) => {
                r.serialize(serializer)
            }
            EventPayload::ReceiptRead(r) | EventPayload::ReceiptDelivered(r) => {
                r.serialize(serializer)
            }
            EventPayload::ConversationUpdated(c) => c.serialize(serializer),
            EventPayload::MemberMuted(m) => m.serialize(serializer),
        }
    }
}

/// A committed event as the outbox stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Tenant.
    pub tenant: TenantId,
    /// Id; consumers deduplicate on it.
    pub id: EventId,
    /// Conversation.
    pub conversation_id: ConversationId,
    /// Position in the conversation's event log.
    pub event_seq: i64,
    /// What happened.
    pub payload: EventPayload,
    /// When, Unix milliseconds.
    pub created_at_ms: i64,
    /// The trace of the work that made it (when traces are exported and it was sampled): the
    /// relay, the event log's consumers and other instances continue it.
    pub trace: Option<TraceParent>,
}

impl StoredEvent {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        self.payload.kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_their_names() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("message.exploded"), None);
    }

    #[test]
    fn payloads_round_trip_their_json() {
        let receipt = EventPayload::ReceiptRead(ReceiptRead {
            conversation_id: ConversationId::generate(),
            user_id: UserId::generate(),
            seq: 7,
        });
        let json = receipt.to_json();
        assert!(json.contains("\"conversationId\""), "{json}");
        assert_eq!(
            EventPayload::from_json(EventKind::ReceiptRead, &json).ok(),
            Some(receipt)
        );
        assert!(EventPayload::from_json(EventKind::MemberAdded, &json).is_err());
    }
}

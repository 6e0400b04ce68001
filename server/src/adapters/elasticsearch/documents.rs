//! From committed events to index operations.
//!
//! One document per message, id = message id, written with external versioning where the
//! version is the event's `eventSeq` (monotonic within the message's conversation). A duplicate
//! or late event therefore carries a version the index already has or has passed, and is
//! refused as a conflict instead of bringing old text back. A deleted message keeps a document
//! with no content — a versioned tombstone — for the same reason: were it removed, a replayed
//! `message.created` could recreate it.

use crate::ports::chat::StoredEvent;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One bulk operation: the action line and the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// The tenant's index.
    pub index: String,
    /// `{"index": {...}}`.
    pub action: Value,
    /// The document.
    pub document: Value,
}

/// The operation an event asks for; `None` for events that do not change what is searchable
/// (reactions, receipts, membership) or whose payload is not a message.
pub fn operation(event: &StoredEvent) -> Option<Operation> {
    let deleted = match event.kind.as_str() {
        "message.created" | "message.updated" => false,
        "message.deleted" => true,
        _ => return None,
    };
    let message = &event.payload;
    let id = message.get("id")?.as_str()?;
    let created_at_ms = message
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))?;
    let content = if deleted {
        ""
    } else {
        message.get("content").and_then(Value::as_str).unwrap_or("")
    };
    Some(Operation {
        index: chemchat_crds::contract::messages_index(event.tenant.as_str()),
        action: json!({ "index": {
            "_id": id,
            "version": event.event_seq,
            "version_type": "external",
        }}),
        document: json!({
            "messageId": id,
            "conversationId": event.conversation_id.to_string(),
            "senderId": message.get("senderId").cloned().unwrap_or(Value::Null),
            "seq": message.get("seq").cloned().unwrap_or(Value::Null),
            "eventSeq": event.event_seq,
            "createdAtMs": created_at_ms,
            "content": content,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConversationId, EventId, TenantId};

    fn event(kind: &str, content: &str, event_seq: i64) -> StoredEvent {
        StoredEvent {
            tenant: TenantId::parse("acme").unwrap(),
            id: EventId::generate(),
            conversation_id: ConversationId::generate(),
            event_seq,
            kind: kind.into(),
            payload: json!({
                "id": "0193a5e0-0000-7000-8000-000000000001",
                "senderId": "u", "seq": 3, "content": content,
                "timestamp": "2026-11-24T10:00:00.250Z",
            }),
            created_at_ms: 0,
        }
    }

    #[test]
    fn messages_become_versioned_documents() {
        let op = operation(&event("message.updated", "new text", 9)).unwrap();
        assert_eq!(op.index, "chemchat-acme-messages");
        assert_eq!(op.action["index"]["version"], 9);
        assert_eq!(op.action["index"]["version_type"], "external");
        assert_eq!(op.document["content"], "new text");
        assert_eq!(op.document["createdAtMs"], 1_795_514_400_250_i64);
    }

    #[test]
    fn a_deletion_is_a_tombstone_without_text() {
        let op = operation(&event("message.deleted", "secret", 10)).unwrap();
        assert_eq!(op.document["content"], "");
        assert_eq!(op.action["index"]["version"], 10);
    }

    #[test]
    fn other_events_change_nothing() {
        assert!(operation(&event("reaction.added", "x", 4)).is_none());
        assert!(operation(&event("member.added", "x", 5)).is_none());
    }
}

//! From committed events to index operations.
//!
//! One document per message, id = message id, written with external versioning where the
//! version is the event's `eventSeq` (monotonic within the message's conversation). A duplicate
//! or late event therefore carries a version the index already has or has passed, and is
//! refused as a conflict instead of bringing old text back. A deleted message keeps a document
//! with no content — a versioned tombstone — for the same reason: were it removed, a replayed
//! `message.created` could recreate it.

use crate::ports::chat::{EventPayload, StoredEvent};
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
    let (message, deleted) = match &event.payload {
        EventPayload::MessageCreated(m) | EventPayload::MessageUpdated(m) => (m, false),
        EventPayload::MessageDeleted(m) => (m, true),
        _ => return None,
    };
    let created_at_ms = OffsetDateTime::parse(&message.timestamp, &Rfc3339)
        .ok()
        .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))?;
    // Attachments' file names are searchable too: the index has one text field, so they
    // follow the text (a tombstone has neither).
    let content = if deleted {
        String::new()
    } else {
        let text = message.content.as_deref().unwrap_or("");
        let names: Vec<&str> = message
            .attachments
            .iter()
            .map(|a| a.filename.as_str())
            .collect();
        match names.is_empty() {
            true => text.to_owned(),
            false => format!("{text}\n{}", names.join(" ")),
        }
    };
    Some(Operation {
        index: chemchat_crds::contract::messages_index(event.tenant.as_str()),
        action: json!({ "index": {
            "_id": message.id,
            "version": event.event_seq,
            "version_type": "external",
        }}),
        document: json!({
            "messageId": message.id,
            "conversationId": event.conversation_id.to_string(),
            "senderId": message.sender_id,
            "seq": message.seq,
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
    use crate::ports::chat::EventKind;

    fn event(kind: &str, content: &str, event_seq: i64) -> StoredEvent {
        let payload = json!({
            "id": "0193a5e0-0000-7000-8000-000000000001",
            "conversationId": "0193a5e0-0000-7000-8000-000000000002",
            "senderId": "0193a5e0-0000-7000-8000-000000000003",
            "content": content, "type": "text", "sequenceNumber": 3, "seq": 3,
            "clientMessageId": "k", "timestamp": "2026-11-24T10:00:00.250Z", "version": 1,
            "editedAt": null, "deletedAt": null, "deleted": false, "reactions": [],
        });
        let kind = EventKind::parse(kind).unwrap();
        let payload = match kind {
            EventKind::MessageCreated | EventKind::MessageUpdated | EventKind::MessageDeleted => {
                EventPayload::from_json(kind, &payload.to_string()).unwrap()
            }
            _ => EventPayload::ReceiptRead(crate::ports::chat::ReceiptRead {
                conversation_id: ConversationId::generate(),
                user_id: crate::domain::UserId::generate(),
                seq: 3,
            }),
        };
        StoredEvent {
            tenant: TenantId::parse("acme").unwrap(),
            id: EventId::generate(),
            conversation_id: ConversationId::generate(),
            event_seq,
            payload,
            created_at_ms: 0,
            trace: None,
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

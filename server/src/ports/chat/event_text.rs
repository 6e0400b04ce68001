//! What the event log may carry. Message text, attachment file names and people's names live in
//! the store alone, where a deletion, an expiry or an account's erasure removes them; the log
//! (a Kafka topic keeps records for days and cannot forget one) carries ids, positions and
//! what happened. Consumers that need the text read it back from the store (`app/stream_text.rs`),
//! so a message deleted before a consumer reaches it is never read at all.

use super::event::{EventPayload, StoredEvent};
use super::wire::MessageView;
use crate::domain::MessageId;

/// What the store holds now of a message's text, for consumers of the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText {
    /// The message.
    pub id: MessageId,
    /// Its text; `None` once deleted.
    pub content: Option<String>,
    /// Its attachments' file names, in order; empty once deleted.
    pub file_names: Vec<String>,
}

impl StoredEvent {
    /// The event as the event log may carry it: no message text, file names or people's names.
    pub fn without_text(&self) -> StoredEvent {
        let mut event = self.clone();
        match &mut event.payload {
            EventPayload::MessageCreated(message)
            | EventPayload::MessageUpdated(message)
            | EventPayload::MessageDeleted(message) => strip_message(message),
            EventPayload::ConversationCreated(conversation) => {
                for member in &mut conversation.members {
                    member.display_name.clear();
                    member.avatar_media_id = None;
                }
            }
            _ => {}
        }
        event
    }

    /// Whether the event is about a message whose text consumers read back from the store.
    pub fn needs_text(&self) -> bool {
        matches!(
            self.payload,
            EventPayload::MessageCreated(_) | EventPayload::MessageUpdated(_)
        )
    }

    /// Puts back what the store holds now of the message's text. The store is the truth: a
    /// message deleted meanwhile becomes a tombstone here too, and one edited meanwhile
    /// carries its newer text (its next event brings the same again).
    pub fn restore_text(&mut self, text: Option<&MessageText>) {
        let Some(message) = self.payload_message_mut() else {
            return;
        };
        match text {
            Some(MessageText {
                content: Some(content),
                file_names,
                ..
            }) => {
                message.content = Some(content.clone());
                for (attachment, name) in message.attachments.iter_mut().zip(file_names) {
                    attachment.filename.clone_from(name);
                }
            }
            _ => {
                message.content = None;
                message.deleted = true;
                message.attachments.clear();
            }
        }
    }

    fn payload_message_mut(&mut self) -> Option<&mut MessageView> {
        match &mut self.payload {
            EventPayload::MessageCreated(m) | EventPayload::MessageUpdated(m) => Some(m),
            _ => None,
        }
    }
}

fn strip_message(message: &mut MessageView) {
    message.content = None;
    for attachment in &mut message.attachments {
        attachment.filename.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ConversationId, EventId, TenantId};

    fn created(content: &str) -> StoredEvent {
        let message: MessageView = serde_json::from_value(serde_json::json!({
            "id": MessageId::generate().to_string(), "conversationId": "c", "senderId": "s",
            "content": content, "type": "text", "sequenceNumber": 1, "seq": 1,
            "clientMessageId": "k", "timestamp": "2026-12-01T00:00:00Z", "version": 1,
            "editedAt": null, "deletedAt": null, "deleted": false, "reactions": [],
            "attachments": [{
                "id": "m", "filename": "salary-review.pdf", "contentType": "application/pdf",
                "size": 3, "status": "ready", "variants": [], "uploaderId": "s",
                "createdAt": "2026-12-01T00:00:00Z"
            }]
        }))
        .unwrap();
        StoredEvent {
            tenant: TenantId::parse("acme").unwrap(),
            id: EventId::generate(),
            conversation_id: ConversationId::generate(),
            event_seq: 2,
            payload: EventPayload::MessageCreated(message),
            created_at_ms: 0,
            trace: None,
        }
    }

    fn message(event: &StoredEvent) -> &MessageView {
        event.payload.message().unwrap()
    }

    #[test]
    fn the_log_gets_neither_text_nor_file_names() {
        let event = created("the secret plan");
        let lean = event.without_text();
        let json = lean.payload.to_json();
        assert!(!json.contains("secret"), "{json}");
        assert!(!json.contains("salary"), "{json}");
        assert_eq!(message(&lean).id, message(&event).id);
        assert_eq!(lean.event_seq, event.event_seq);
    }

    #[test]
    fn text_comes_back_from_the_store_or_the_message_is_gone() {
        let event = created("the secret plan");
        let id = MessageId::parse(&message(&event).id).unwrap();
        let mut lean = event.without_text();
        let now = MessageText {
            id,
            content: Some("the edited plan".into()),
            file_names: vec!["review.pdf".into()],
        };
        lean.restore_text(Some(&now));
        assert_eq!(message(&lean).content.as_deref(), Some("the edited plan"));
        assert_eq!(message(&lean).attachments[0].filename, "review.pdf");

        let mut gone = event.without_text();
        gone.restore_text(None);
        assert!(message(&gone).deleted);
        assert!(message(&gone).attachments.is_empty());
    }
}

//! The event stream's record format, versioned: consumers outside this code base read it too.
//!
//! key = conversation id (Kafka keeps order per key), value = JSON below, headers
//! `chemchat-event-id`, `chemchat-event-kind`, `chemchat-schema-version` and, when the change
//! was traced, the W3C `traceparent` of its trace.
//!
//! Version 2 carries no message text, attachment file names or people's names (the relay strips
//! them: a topic cannot forget a record, and deleted text must not stay readable there);
//! consumers read the text from the store or the API. Version 1 records, which did carry text,
//! are still read.

use crate::domain::{ConversationId, EventId, TenantId};
use crate::ports::chat::{EventKind, EventPayload, StoredEvent};
use serde::{Deserialize, Serialize};

/// The version written; a reader refuses records of a version it does not know.
pub const SCHEMA_VERSION: u32 = 2;
/// The oldest version still read.
const OLDEST_READ: u32 = 1;
/// Header carrying the event id, so consumers can deduplicate without parsing the value.
pub const HEADER_EVENT_ID: &str = "chemchat-event-id";
/// Header carrying the event kind, for routing without parsing.
pub const HEADER_EVENT_KIND: &str = "chemchat-event-kind";
/// Header carrying [`SCHEMA_VERSION`].
pub const HEADER_SCHEMA_VERSION: &str = "chemchat-schema-version";
/// Header carrying the W3C trace context of the change (absent when it was not traced).
pub const HEADER_TRACEPARENT: &str = "traceparent";

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    schema_version: u32,
    id: String,
    tenant: String,
    conversation_id: String,
    event_seq: i64,
    kind: String,
    created_at_ms: i64,
    payload: serde_json::Value,
}

/// The record value of an event.
pub fn encode(event: &StoredEvent) -> Vec<u8> {
    let record = Record {
        schema_version: SCHEMA_VERSION,
        id: event.id.to_string(),
        tenant: event.tenant.to_string(),
        conversation_id: event.conversation_id.to_string(),
        event_seq: event.event_seq,
        kind: event.kind().as_str().to_owned(),
        created_at_ms: event.created_at_ms,
        payload: serde_json::to_value(&event.payload).unwrap_or_default(),
    };
    serde_json::to_vec(&record).unwrap_or_default()
}

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not the JSON shape of a record.
    #[error("malformed event record: {0}")]
    Malformed(#[from] serde_json::Error),
    /// Written by a newer (or unknown) format.
    #[error("event record of unknown schema version {0}")]
    UnknownVersion(u32),
    /// A field that does not parse (id, tenant, conversation).
    #[error("event record with an invalid {0}")]
    Invalid(&'static str),
}

/// An event from a record value.
pub fn decode(value: &[u8]) -> Result<StoredEvent, DecodeError> {
    let record: Record = serde_json::from_slice(value)?;
    if !(OLDEST_READ..=SCHEMA_VERSION).contains(&record.schema_version) {
        return Err(DecodeError::UnknownVersion(record.schema_version));
    }
    Ok(StoredEvent {
        tenant: TenantId::parse(&record.tenant).map_err(|_| DecodeError::Invalid("tenant"))?,
        id: EventId::parse(&record.id).ok_or(DecodeError::Invalid("id"))?,
        conversation_id: ConversationId::parse(&record.conversation_id)
            .ok_or(DecodeError::Invalid("conversationId"))?,
        event_seq: record.event_seq,
        payload: EventKind::parse(&record.kind)
            .ok_or(DecodeError::Invalid("kind"))
            .and_then(|kind| {
                EventPayload::from_value(kind, record.payload)
                    .map_err(|_| DecodeError::Invalid("payload"))
            })?,
        created_at_ms: record.created_at_ms,
        // Carried by the record's `traceparent` header, read by the consumer.
        trace: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> StoredEvent {
        StoredEvent {
            tenant: TenantId::parse("acme").unwrap(),
            id: EventId::generate(),
            conversation_id: ConversationId::generate(),
            event_seq: 7,
            payload: EventPayload::ReactionAdded(crate::ports::chat::ReactionChanged {
                message_id: crate::domain::MessageId::generate(),
                conversation_id: ConversationId::generate(),
                user_id: crate::domain::UserId::generate(),
                emoji: "héllo".into(),
                sequence_number: 3,
            }),
            created_at_ms: 1_700_000_000_000,
            trace: None,
        }
    }

    #[test]
    fn an_event_survives_the_round_trip() {
        let event = event();
        assert_eq!(decode(&encode(&event)).unwrap(), event);
    }

    #[test]
    fn unknown_versions_and_garbage_are_refused() {
        let mut value: serde_json::Value = serde_json::from_slice(&encode(&event())).unwrap();
        value["schemaVersion"] = 3.into();
        let newer = serde_json::to_vec(&value).unwrap();
        assert!(matches!(
            decode(&newer),
            Err(DecodeError::UnknownVersion(3))
        ));
        value["schemaVersion"] = 1.into();
        let older = serde_json::to_vec(&value).unwrap();
        assert!(decode(&older).is_ok(), "version 1 records are still read");
        assert!(matches!(decode(b"{"), Err(DecodeError::Malformed(_))));
        value["schemaVersion"] = 1.into();
        value["tenant"] = "Not A Tenant".into();
        let bad = serde_json::to_vec(&value).unwrap();
        assert!(matches!(decode(&bad), Err(DecodeError::Invalid("tenant"))));
    }
}

//! The messages index: one per tenant (`chemchat-<tenant>-messages`), with an explicit mapping so
//! nothing is guessed from the first document.

use serde_json::{Value, json};

/// The body that creates a tenant's messages index: settings and the explicit mapping.
///
/// Documents are one per message, id = message id, written with external versioning (the
/// version is the event's per-conversation `eventSeq`), so a replayed or late event can never
/// bring back older text.
pub fn messages_index_body(shards: u32, replicas: u32) -> Value {
    json!({
        "settings": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "messageId": { "type": "keyword" },
                "conversationId": { "type": "keyword" },
                "senderId": { "type": "keyword" },
                "seq": { "type": "long" },
                "eventSeq": { "type": "long" },
                "createdAtMs": { "type": "long" },
                "content": {
                    "type": "text",
                    "analyzer": "standard",
                    "fields": { "english": { "type": "text", "analyzer": "english" } }
                }
            }
        }
    })
}

mod admin;

pub use admin::{DEFAULT_TIMEOUT, IndexAdmin, IndexOutcome};

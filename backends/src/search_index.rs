//! The messages index: one per tenant (`chemchat-<tenant>-messages`), with an explicit mapping so
//! nothing is guessed from the first document.

use serde_json::{Value, json};

/// The body that creates a tenant's messages index: settings and the explicit mapping.
///
/// Documents are one per message, id = message id, written with external versioning (the
/// version is the event's per-conversation `eventSeq`), so a replayed or late event can never
/// bring back older text.
///
/// Words are split the way the server splits a query (`app/chat/search/query.rs`): every
/// character that is not a letter, digit or combining mark separates words. The standard
/// tokenizer alone would keep `content:here` or `3.14` as one token, and a search for `content`
/// would then miss a message the built-in SQL search finds. The character filter replaces one
/// character with one space, so highlight offsets stay exact.
pub fn messages_index_body(shards: u32, replicas: u32) -> Value {
    json!({
        "settings": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            "analysis": {
                "char_filter": {
                    "chat_word_breaks": {
                        "type": "pattern_replace",
                        "pattern": "[^\\p{L}\\p{N}\\p{M}]",
                        "replacement": " ",
                    }
                },
                "analyzer": {
                    "chat": {
                        "type": "custom",
                        "char_filter": ["chat_word_breaks"],
                        "tokenizer": "standard",
                        "filter": ["lowercase"],
                    },
                    "chat_english": {
                        "type": "custom",
                        "char_filter": ["chat_word_breaks"],
                        "tokenizer": "standard",
                        "filter": ["lowercase", "porter_stem"],
                    },
                },
            },
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
                    "analyzer": "chat",
                    "fields": { "english": { "type": "text", "analyzer": "chat_english" } }
                }
            }
        }
    })
}

mod admin;

pub use admin::{DEFAULT_TIMEOUT, IndexAdmin, IndexOutcome};

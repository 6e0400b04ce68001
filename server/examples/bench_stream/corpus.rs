//! A synthetic chat corpus: messages of 6–14 words drawn from a vocabulary of made-up words with
//! a skewed (roughly Zipf) frequency, so some words are in a large share of messages and most
//! are rare — like real chat.

use chemchat_server::domain::{ConversationId, EventId, MessageId, TenantId, UserId};
use chemchat_server::ports::chat::{EventPayload, MessageView, StoredEvent, rfc3339};
use std::sync::Arc;

const SYLLABLES: [&str; 12] = [
    "ka", "lo", "mi", "ne", "ru", "ta", "zo", "be", "fi", "gu", "sa", "vo",
];
/// Conversations in the tenant.
pub const CONVERSATIONS: usize = 1000;
/// Of which the searcher can read the first this many.
const READABLE: usize = 50;

/// The generated tenant.
pub struct Corpus {
    pub tenant: TenantId,
    pub sender: UserId,
    pub conversations: Vec<ConversationId>,
    pub readable: Vec<ConversationId>,
    pub messages: usize,
    words: Vec<String>,
    seed: u64,
}

/// A small deterministic generator (SplitMix64), so every adapter gets the same corpus.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

impl Corpus {
    pub fn new(messages: usize, id: impl Fn() -> ConversationId) -> Self {
        let words = SYLLABLES
            .iter()
            .flat_map(|a| SYLLABLES.iter().map(move |b| format!("{a}{b}")))
            .flat_map(|ab| SYLLABLES.iter().map(move |c| format!("{ab}{c}")))
            .collect();
        let conversations: Vec<ConversationId> = (0..CONVERSATIONS).map(|_| id()).collect();
        Self {
            tenant: TenantId::parse("bench").unwrap(),
            sender: UserId::generate(),
            readable: conversations[..READABLE].to_vec(),
            conversations,
            messages,
            words,
            seed: 42,
        }
    }

    /// The word of skewed rank `r` in [0, 1): squaring favours the first words.
    fn word(&self, r: u64) -> &str {
        let u = (r % 1_000_000) as f64 / 1_000_000.0;
        &self.words[((u * u * u) * self.words.len() as f64) as usize]
    }

    /// Message `i`: its conversation, seq within it, creation time and text.
    pub fn message(&self, i: usize) -> (ConversationId, i64, i64, String) {
        let r = mix(self.seed ^ i as u64);
        // Round-robin keeps (conversation, seq) unique, as the store requires.
        let conversation = self.conversations[i % CONVERSATIONS];
        let seq = (i / CONVERSATIONS) as i64 + 1;
        let count = 6 + (r >> 20) % 9;
        let text: Vec<&str> = (0..count).map(|k| self.word(mix(r ^ (k + 1)))).collect();
        (
            conversation,
            seq,
            1_700_000_000_000 + i as i64 * 10,
            text.join(" "),
        )
    }

    /// Query `i`: one common word, or two rarer ones.
    pub fn query(&self, i: usize) -> Vec<String> {
        let r = mix(0xC0FFEE ^ i as u64);
        if i.is_multiple_of(2) {
            vec![self.words[(r % 20) as usize].clone()]
        } else {
            let rare = |x: u64| self.words[20 + (x % 400) as usize].clone();
            vec![rare(r), rare(r >> 16)]
        }
    }

    /// Messages `range` as `message.created` events, for an index fed by events.
    pub fn events(&self, range: std::ops::Range<usize>) -> Vec<Arc<StoredEvent>> {
        range
            .map(|i| {
                let (conversation, seq, at, text) = self.message(i);
                Arc::new(StoredEvent {
                    tenant: self.tenant.clone(),
                    id: EventId::generate(),
                    conversation_id: conversation,
                    event_seq: seq,
                    payload: EventPayload::MessageCreated(MessageView {
                        id: MessageId::generate().to_string(),
                        conversation_id: conversation.to_string(),
                        sender_id: self.sender.to_string(),
                        content: Some(text),
                        kind: "text".into(),
                        sequence_number: seq,
                        seq,
                        client_message_id: format!("bench-{i}"),
                        timestamp: rfc3339(at),
                        version: 1,
                        edited_at: None,
                        deleted_at: None,
                        deleted: false,
                        reactions: Vec::new(),
                        attachments: Vec::new(),
                    }),
                    created_at_ms: at,
                    trace: None,
                })
            })
            .collect()
    }
}

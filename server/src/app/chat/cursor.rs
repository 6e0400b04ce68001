//! Opaque cursors: the sync position, the conversation-list position and the message-search
//! position, as base64url text. Clients store and return them; they never parse them.

use crate::domain::{ConversationId, MessageId};
use crate::ports::SearchPosition;
use crate::ports::chat::{ActivityCursor, SyncPosition};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const SYNC_VERSION: u8 = 1;
const ENTRY: usize = 16 + 8;
const SEARCH_VERSION: u8 = 1;

/// Encodes a sync position: a version byte, then per conversation its 16 id bytes and the last
/// event seq seen (big-endian), so a hundred conversations fit in about 3 KB of URL.
pub fn encode_sync(position: &SyncPosition) -> String {
    let mut bytes = Vec::with_capacity(1 + position.len() * ENTRY);
    bytes.push(SYNC_VERSION);
    for (id, seq) in position {
        bytes.extend_from_slice(&id.to_bytes());
        bytes.extend_from_slice(&seq.to_be_bytes());
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a sync position; `None` when it is not one this server wrote.
pub fn decode_sync(text: &str) -> Option<SyncPosition> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let (&version, entries) = bytes.split_first()?;
    if version != SYNC_VERSION || entries.len() % ENTRY != 0 {
        return None;
    }
    entries
        .chunks_exact(ENTRY)
        .map(|chunk| {
            let id: [u8; 16] = chunk.get(..16)?.try_into().ok()?;
            let seq: [u8; 8] = chunk.get(16..)?.try_into().ok()?;
            let seq = i64::from_be_bytes(seq);
            (seq >= 0).then_some((ConversationId::from_bytes(id), seq))
        })
        .collect()
}

/// Encodes a conversation-list position.
pub fn encode_activity(cursor: ActivityCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}", cursor.activity_ms, cursor.id))
}

/// Decodes a conversation-list position.
pub fn decode_activity(text: &str) -> Option<ActivityCursor> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (ms, id) = text.split_once(':')?;
    Some(ActivityCursor {
        activity_ms: ms.parse().ok()?,
        id: ConversationId::parse(id)?,
    })
}

/// Encodes a message-search position: a version byte, the time (big-endian) and the id.
pub fn encode_search(position: SearchPosition) -> String {
    let mut bytes = Vec::with_capacity(1 + 8 + 16);
    bytes.push(SEARCH_VERSION);
    bytes.extend_from_slice(&position.created_at_ms.to_be_bytes());
    bytes.extend_from_slice(&position.message_id.to_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a message-search position; `None` when it is not one this server wrote.
pub fn decode_search(text: &str) -> Option<SearchPosition> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let (&version, rest) = bytes.split_first()?;
    if version != SEARCH_VERSION || rest.len() != 8 + 16 {
        return None;
    }
    let ms: [u8; 8] = rest.get(..8)?.try_into().ok()?;
    let id: [u8; 16] = rest.get(8..)?.try_into().ok()?;
    Some(SearchPosition {
        created_at_ms: i64::from_be_bytes(ms),
        message_id: MessageId::from_bytes(id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_positions_round_trip() {
        let mut position = SyncPosition::new();
        position.insert(ConversationId::generate(), 0);
        position.insert(ConversationId::generate(), 1 << 40);
        assert_eq!(decode_sync(&encode_sync(&position)), Some(position));
        assert_eq!(
            decode_sync(&encode_sync(&SyncPosition::new())),
            Some(SyncPosition::new())
        );
        for bad in ["", "!!", "AA", "Ag"] {
            assert_eq!(decode_sync(bad), None, "{bad}");
        }
    }

    #[test]
    fn activity_cursors_round_trip() {
        let cursor = ActivityCursor {
            activity_ms: 1_700_000_000_000,
            id: ConversationId::generate(),
        };
        assert_eq!(decode_activity(&encode_activity(cursor)), Some(cursor));
        assert_eq!(decode_activity("nope"), None);
    }

    #[test]
    fn search_positions_round_trip() {
        let position = SearchPosition {
            created_at_ms: 1_700_000_000_000,
            message_id: MessageId::generate(),
        };
        assert_eq!(decode_search(&encode_search(position)), Some(position));
        for bad in [
            "",
            "!!",
            "AQ",
            &encode_activity(ActivityCursor {
                activity_ms: 1,
                id: ConversationId::generate(),
            }),
        ] {
            assert_eq!(decode_search(bad), None, "{bad}");
        }
    }
}

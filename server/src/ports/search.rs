//! The `SearchIndex` port: full-text search over a tenant's messages. The built-in adapter is
//! the SQL store's own full-text index (SQLite FTS5, PostgreSQL `tsvector`), kept current by the
//! store's transactions; the Elasticsearch/OpenSearch adapter is fed committed events by the
//! search indexer. Either way the use case authorises first (which conversations the caller may
//! read) and reloads each hit from the store, so a deleted message is never returned even while
//! an external index catches up.

use super::chat::StoredEvent;
use crate::domain::{ConversationId, MessageId, TenantId};
use async_trait::async_trait;
use std::fmt::Debug;
use std::sync::Arc;

/// Opens a highlighted span in a hit's fragments. Private-use code points rather than HTML
/// tags, so the use case can escape the message text and then turn these into markup safely.
pub const MARK_START: char = '\u{E000}';
/// Closes a highlighted span.
pub const MARK_END: char = '\u{E001}';

/// Where a hit sits in the result order: newest first, message id breaking ties. A page cursor
/// is the position of its last hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SearchPosition {
    /// The message's creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// The message.
    pub message_id: MessageId,
}

/// One search for messages.
#[derive(Debug, Clone)]
pub struct MessageSearch {
    /// The tenant searched.
    pub tenant: TenantId,
    /// Words every hit contains (the adapter may stem them); validated, never empty, free of
    /// any query syntax — adapters quote or escape them for their own language.
    pub terms: Vec<String>,
    /// The only conversations hits may come from: what the caller can read. Never empty.
    pub conversations: Vec<ConversationId>,
    /// Hits strictly after this position (the previous page's cursor).
    pub after: Option<SearchPosition>,
    /// Most hits returned.
    pub limit: u32,
}

/// A message that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHit {
    /// The message.
    pub message_id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its place in the order.
    pub position: SearchPosition,
    /// Fragments of the text with matches between [`MARK_START`] and [`MARK_END`], raw (not
    /// escaped).
    pub fragments: Vec<String>,
}

/// The search backend failed.
#[derive(Debug, thiserror::Error)]
#[error("search index unavailable: {0}")]
pub struct SearchError(#[source] pub anyhow::Error);

/// Full-text search over messages.
#[async_trait]
pub trait SearchIndex: Send + Sync + Debug + 'static {
    /// Matching messages of the given conversations, newest first, after `after`.
    async fn search_messages(&self, query: &MessageSearch) -> Result<Vec<MessageHit>, SearchError>;

    /// Whether the index must be fed committed events (an external index); the built-in one is
    /// written by the store's own transactions and says no.
    fn wants_events(&self) -> bool;

    /// Applies committed events (`message.created`, `.updated`, `.deleted`; others ignored), in
    /// order. Applying an event twice, or an older event after a newer one of the same message,
    /// must not bring back old text.
    async fn apply(&self, events: &[Arc<StoredEvent>]) -> Result<(), SearchError>;
}

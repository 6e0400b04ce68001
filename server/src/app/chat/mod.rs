//! Conversations and messages: creating and joining conversations, sending, history, edits,
//! deletions, reactions, read receipts, delta sync, search, and the outbox relay.
//!
//! **Invariant**: a use case commits its change and its event in one store call, then only wakes
//! the outbox relay; it never publishes itself, so nothing is seen before it is committed and the
//! event log behind the relay can be swapped without touching a use case.

mod conversations;
mod cursor;
mod floor;
mod messages;
mod outbox;
mod retention;
pub mod search;
mod stream_text;
mod sync;

pub use conversations::{ConversationPage, NewConversationRequest};
pub use floor::ConversationSettings;
pub use messages::{EditRequest, HistoryRequest, SendRequest, Sent};
pub use outbox::OutboxRelay;
pub use retention::{BATCH as RETENTION_BATCH, METRIC_EXPIRED, RetentionSweeper};
pub use search::{
    ConversationSearchPage, DEFAULT_SEARCH_LIMIT, FoundMessage, MAX_QUERY_CHARS, MAX_SEARCH_LIMIT,
    MAX_TERMS, MessageSearchPage, MessageSearchRequest,
};
pub use stream_text::with_text;
pub use sync::SyncResult;

use super::{AppError, ErrorCode};
use crate::domain::MembershipDenied;
use std::sync::Arc;
use tokio::sync::Notify;

/// Largest page of history.
pub const MAX_HISTORY_LIMIT: u32 = 100;
/// Largest page of the conversation list.
pub const MAX_CONVERSATION_LIMIT: u32 = 100;
/// Largest page of sync.
pub const MAX_SYNC_LIMIT: u32 = 1000;

/// Settings of the messaging use cases.
#[derive(Debug, Clone)]
pub struct Messaging {
    /// Longest message, in Unicode scalar values.
    pub max_message_chars: usize,
    /// Wakes the outbox relay after a commit.
    pub outbox: Arc<Notify>,
    /// How the relay is doing, for health.
    pub relay: Arc<RelayStatus>,
}

/// The outbox relay's state as `/health` reports it.
#[derive(Debug, Default)]
pub struct RelayStatus {
    failing: std::sync::atomic::AtomicBool,
    backlog: std::sync::atomic::AtomicU64,
}

impl RelayStatus {
    /// Whether the last shipping round failed (the event log is unreachable).
    pub fn failing(&self) -> bool {
        self.failing.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Events waiting in the outbox at the last count.
    pub fn backlog(&self) -> u64 {
        self.backlog.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn record(&self, failing: bool, backlog: Option<u64>) {
        self.failing
            .store(failing, std::sync::atomic::Ordering::Relaxed);
        if let Some(backlog) = backlog {
            self.backlog
                .store(backlog, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

impl Messaging {
    /// Settings with this limit and a fresh relay signal.
    pub fn new(max_message_chars: usize) -> Self {
        Self {
            max_message_chars,
            outbox: Arc::new(Notify::new()),
            relay: Arc::default(),
        }
    }
}

fn conversation_not_found() -> AppError {
    AppError::new(
        ErrorCode::ConversationNotFound,
        "conversation does not exist or you are not a member",
    )
}

fn message_not_found() -> AppError {
    AppError::new(
        ErrorCode::MessageNotFound,
        "message does not exist or you are not a member of its conversation",
    )
}

fn denied(reason: MembershipDenied) -> AppError {
    match reason {
        MembershipDenied::NotAllowed => AppError::new(
            ErrorCode::Forbidden,
            "your role in this conversation does not allow this change",
        ),
        MembershipDenied::DirectConversation => AppError::new(
            ErrorCode::Forbidden,
            "a direct conversation has no owners or admins: its members and settings are fixed",
        ),
        MembershipDenied::LastOwner => AppError::new(
            ErrorCode::LastOwner,
            "the last owner cannot leave or step down; make another member owner first",
        ),
    }
}

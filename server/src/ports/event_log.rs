//! The `EventLog` port: where the outbox relay ships committed events, and where consumers (the
//! WebSocket gateway, the search indexer, the notifier) read them. In-process by default; a Kafka
//! adapter implements the same trait, so no use case changes when it is selected.

use super::chat::StoredEvent;
use async_trait::async_trait;
use std::fmt::Debug;
use std::sync::Arc;
use tokio::sync::broadcast;

/// The event log could not take the events; the relay retries them later.
#[derive(Debug, thiserror::Error)]
#[error("event log unavailable: {0}")]
pub struct EventLogError(#[source] pub anyhow::Error);

/// An ordered stream of committed events (ordered per conversation).
#[async_trait]
pub trait EventLog: Send + Sync + Debug + 'static {
    /// Appends a batch, keeping each conversation's order. Returns once the log has accepted it;
    /// events may be delivered more than once, so consumers deduplicate on the event id.
    async fn publish(&self, events: &[StoredEvent]) -> Result<(), EventLogError>;

    /// A subscription to every event published from now on.
    fn subscribe(&self) -> EventStream;
}

/// A consumer's view of the log.
#[derive(Debug)]
pub struct EventStream {
    rx: broadcast::Receiver<Arc<StoredEvent>>,
}

/// What a consumer gets next.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// The next event.
    Event(Arc<StoredEvent>),
    /// The consumer fell behind and `n` events were dropped for it; it should resynchronise
    /// from the store (sync) rather than pretend nothing happened.
    Lagged(u64),
}

impl EventStream {
    /// Wraps a broadcast receiver (adapters build streams this way).
    pub fn new(rx: broadcast::Receiver<Arc<StoredEvent>>) -> Self {
        Self { rx }
    }

    /// The next delivery; `None` once the log is closed.
    pub async fn next(&mut self) -> Option<Delivery> {
        match self.rx.recv().await {
            Ok(event) => Some(Delivery::Event(event)),
            Err(broadcast::error::RecvError::Lagged(n)) => Some(Delivery::Lagged(n)),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

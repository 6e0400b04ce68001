//! The `EventLog` port: where the outbox relay ships committed events, and where consumers (the
//! search indexer, later the notifier and the media worker) read them. Live delivery to sockets
//! does not read the log: it takes events from the store's commit listener, so a slow or absent
//! broker never delays a chat message. In-process by default; a Kafka
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

    /// A durable consumer of the whole log for one purpose (`search-indexer`, `notifier`):
    /// replicas of the same purpose share the work, each purpose sees every event, and a
    /// consumer resumes after its last [`EventConsumer::commit`] when restarted.
    async fn consumer(&self, purpose: &str) -> Result<Box<dyn EventConsumer>, EventLogError>;
}

/// One purpose's reader of the event log. Events arrive in order per conversation, at least
/// once: a consumer must be idempotent on the event id.
#[async_trait]
pub trait EventConsumer: Send + Debug {
    /// The next events: waits for at least one, returns at most `max`.
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Arc<StoredEvent>>, EventLogError>;

    /// Everything returned so far is processed; a restart resumes after it.
    async fn commit(&mut self) -> Result<(), EventLogError>;
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

    /// The next delivery if one is ready now, without waiting.
    pub fn try_next(&mut self) -> Option<Delivery> {
        match self.rx.try_recv() {
            Ok(event) => Some(Delivery::Event(event)),
            Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Delivery::Lagged(n)),
            Err(_) => None,
        }
    }
}

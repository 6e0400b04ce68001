//! The `CommitListener` port: how committed events reach live delivery without waiting for the
//! outbox relay, the broker or a polling interval.
//!
//! **Invariant**: the store calls the listener only after the transaction that wrote the events
//! committed, so nothing is seen before it is stored. The outbox relay still ships every event to
//! the event log (and so to Kafka) on its own schedule; the two paths never wait for each other.

use super::chat::StoredEvent;
use std::fmt::Debug;

/// Told of events right after they commit, in the committing task.
pub trait CommitListener: Send + Sync + Debug + 'static {
    /// The events one transaction wrote, in `event_seq` order. Must not block: it runs inside
    /// the use case that made the change.
    fn committed(&self, events: &[StoredEvent]);
}

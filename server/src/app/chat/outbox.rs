//! The outbox relay: ships committed events from the store's outbox to the event log, oldest
//! first, and marks them shipped. Delivery is at least once (a crash between shipping and
//! marking ships again); consumers deduplicate on the event id.

use crate::ports::{Clock, EventLog, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Events shipped per round trip.
const BATCH: u32 = 500;
/// How often the relay looks without being woken: it also picks up what other replicas or a
/// crashed process left behind.
const POLL: Duration = Duration::from_secs(1);

/// Moves events from the outbox to the event log.
#[derive(Debug, Clone)]
pub struct OutboxRelay {
    store: Arc<dyn Store>,
    log: Arc<dyn EventLog>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
}

impl OutboxRelay {
    /// A relay woken by `wake` (the use cases notify it after each commit).
    pub fn new(
        store: Arc<dyn Store>,
        log: Arc<dyn EventLog>,
        clock: Arc<dyn Clock>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            log,
            clock,
            wake,
        }
    }

    /// Ships until nothing is pending; returns how many events went out.
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let mut shipped = 0;
        loop {
            let batch = self.store.unpublished_events(BATCH).await?;
            if batch.is_empty() {
                return Ok(shipped);
            }
            self.log.publish(&batch).await?;
            self.store
                .mark_published(&batch, self.clock.now_ms())
                .await?;
            shipped += batch.len();
        }
    }

    /// Runs forever: drains on every wake-up and every poll interval. Failures are logged and
    /// retried on the next round; the events stay in the outbox meanwhile.
    pub async fn run(self) {
        loop {
            if let Err(error) = self.drain().await {
                tracing::warn!(error = %error, "outbox relay failed; retrying");
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }
}

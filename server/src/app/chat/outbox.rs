//! The outbox relay: ships committed events from the store's outbox to the event log in
//! per-conversation order, without message text, and marks them shipped. Delivery is at least once (a crash between
//! shipping and marking ships again); consumers deduplicate on the event id. Replicas never ship
//! the same conversation concurrently: each batch is a claim the store holds until it is marked
//! or dropped (see `ChatStore::claim_outbox`).

use super::RelayStatus;
use crate::app::backoff::Backoff;
use crate::ports::chat::StoredEvent;
use crate::ports::{Clock, CommitListener, EventLog, Store};
use crate::telemetry::batch_span;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tracing::Instrument;

/// An event older than this when the relay ships it may never have been fanned out live: the
/// instance that committed it can have died between the commit and the fan-out (another
/// replica's relay then ships it). Such events are handed to the fan-out again; connections drop
/// the copies they already have by `event_seq`.
const LATE: i64 = 500;
/// Older than this, an event is not fanned out again: its readers have long synced.
const TOO_LATE: i64 = 60_000;

/// Events shipped per round trip.
const BATCH: u32 = 500;
/// How often the relay looks without being woken: it also picks up what other replicas or a
/// crashed process left behind.
const POLL: Duration = Duration::from_secs(1);
/// How long the relay lets commits accumulate after a wake-up, so one round (a claim, its mark,
/// the backlog count) carries every event committed meanwhile instead of a few. The mark is a
/// write, and on SQLite it takes the single writer that sends queue for: at 10 ms the relay
/// marked about as often as sends committed. Live delivery does not wait for the relay, so this
/// costs chat nothing; it delays only the event log's consumers (pushes, an external search
/// index, Kafka) by at most this much.
const LINGER: Duration = Duration::from_millis(50);
/// First wait after a failure; doubles up to [`MAX_BACKOFF`] while the failures last.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between attempts while the event log or the store is down.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Events waiting in the outbox (gauge, refreshed after each drain).
pub const METRIC_BACKLOG: &str = "chemchat_outbox_backlog";
/// Age of the oldest event waiting in the outbox, seconds (gauge; 0 when none waits).
pub const METRIC_OLDEST_AGE: &str = "chemchat_outbox_oldest_age_seconds";
/// Events shipped to the event log (counter).
pub const METRIC_SHIPPED: &str = "chemchat_outbox_shipped_total";
/// Failed shipping rounds (counter).
pub const METRIC_FAILURES: &str = "chemchat_outbox_failures_total";

/// Moves events from the outbox to the event log.
#[derive(Debug, Clone)]
pub struct OutboxRelay {
    store: Arc<dyn Store>,
    log: Arc<dyn EventLog>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
    status: Arc<RelayStatus>,
    late: Option<Arc<dyn CommitListener>>,
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
            status: Arc::default(),
            late: None,
        }
    }

    /// The same relay, handing events it finds late (see [`LATE`]) to `listener` once shipped.
    pub fn rebroadcasting_late_to(mut self, listener: Arc<dyn CommitListener>) -> Self {
        self.late = Some(listener);
        self
    }

    /// The same relay, recording its health in `status` (for `/health`).
    pub fn reporting_to(mut self, status: Arc<RelayStatus>) -> Self {
        self.status = status;
        self
    }

    /// Ships what is pending, claim after claim until a claim takes everything this relay can
    /// claim; returns how many events went out. It stops there rather than claiming again for
    /// the events committed meanwhile: under a steady stream each further claim would take the
    /// few events of its own round trips, several claims per round where one carries them all
    /// (their commits have woken the relay, whose next round takes them after [`LINGER`]).
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let mut shipped = 0;
        loop {
            let claiming = std::time::Instant::now();
            let claim = self.store.claim_outbox(BATCH).await?;
            let claim_ms = claiming.elapsed().as_secs_f64() * 1000.0;
            let count = claim.events().len();
            let more = claim.reached_limit();
            if count == 0 {
                // Releases the (empty) claim's transaction.
                claim.shipped().await?;
                return Ok(shipped);
            }
            // The claim ran before its events named the trace they belong to, so it is timed
            // here rather than being a span of that trace.
            let span = batch_span(
                tracing::info_span!(
                    "outbox.ship",
                    otel.kind = "producer",
                    events = count,
                    claim_ms
                ),
                claim.events().iter().filter_map(|e| e.trace.as_ref()),
            );
            // The log gets no message text (its consumers read it back from the store), so a
            // deletion or an expiry leaves no readable copy in a topic that cannot forget.
            let lean: Vec<StoredEvent> = claim
                .events()
                .iter()
                .map(StoredEvent::without_text)
                .collect();
            // On failure the claim is dropped unmarked: the events stay in the outbox.
            self.log.publish(&lean).instrument(span.clone()).await?;
            let now = self.clock.now_ms();
            let late: Vec<_> = match &self.late {
                Some(_) => claim
                    .events()
                    .iter()
                    .filter(|e| (LATE..TOO_LATE).contains(&(now - e.created_at_ms)))
                    .cloned()
                    .collect(),
                None => Vec::new(),
            };
            claim.shipped().instrument(span).await?;
            if let (Some(listener), false) = (&self.late, late.is_empty()) {
                listener.committed(&late);
            }
            metrics::counter!(METRIC_SHIPPED).increment(count as u64);
            shipped += count;
            if !more {
                return Ok(shipped);
            }
        }
    }

    /// How many events wait, also published as [`METRIC_BACKLOG`].
    pub async fn backlog(&self) -> anyhow::Result<u64> {
        let waiting = self.store.outbox_waiting().await?;
        let backlog = waiting.events;
        metrics::gauge!(METRIC_BACKLOG).set(backlog as f64);
        let age_ms = waiting
            .oldest_ms
            .map_or(0, |oldest| (self.clock.now_ms() - oldest).max(0));
        metrics::gauge!(METRIC_OLDEST_AGE).set(age_ms as f64 / 1000.0);
        Ok(backlog)
    }

    /// Runs forever: drains on every wake-up and every poll interval, backing off while the
    /// broker or the database is down (the events wait in the outbox meanwhile).
    pub async fn run(self) {
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        loop {
            let result = self.drain().await;
            let backlog = match self.backlog().await {
                Ok(backlog) => Some(backlog),
                Err(error) => {
                    tracing::debug!(error = %error, "outbox backlog unavailable");
                    None
                }
            };
            self.status.record(result.is_err(), backlog);
            match result {
                Ok(_) => {
                    backoff.succeeded();
                    tokio::select! {
                        () = self.wake.notified() => tokio::time::sleep(LINGER).await,
                        () = tokio::time::sleep(POLL) => {}
                    }
                }
                Err(error) => {
                    metrics::counter!(METRIC_FAILURES).increment(1);
                    let wait = backoff.failed();
                    tracing::warn!(error = %error, retry_in = ?wait, "outbox relay failed");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

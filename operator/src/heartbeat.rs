//! The liveness of the controller loop: a timestamp every finished reconcile (and the idle
//! and follower loops) renews, read by `/health/live`.
//!
//! Every object the operator manages is reconciled again at least every five minutes (settled
//! tenants and clusters requeue after `RESYNC`), so with objects present a loop that finished
//! nothing for [`STALE_AFTER`] is stuck — a deadlocked reconcile, a dead watch — and a restart
//! is the cure. With nothing to manage the idle loop beats instead.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the loop may go without a beat before the liveness probe fails: two resync
/// periods and a minute.
pub const STALE_AFTER: Duration = Duration::from_secs(2 * 300 + 60);

/// The time of the last beat, in seconds since the Unix epoch.
#[derive(Debug)]
pub struct Heartbeat {
    last: AtomicU64,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Default for Heartbeat {
    /// Beats at creation: a starting operator has until [`STALE_AFTER`] to show progress.
    fn default() -> Self {
        Self {
            last: AtomicU64::new(now()),
        }
    }
}

impl Heartbeat {
    /// Records progress now.
    pub fn beat(&self) {
        self.last.store(now(), Ordering::Relaxed);
    }

    /// Time since the last beat.
    pub fn age(&self) -> Duration {
        Duration::from_secs(now().saturating_sub(self.last.load(Ordering::Relaxed)))
    }

    /// True while the last beat is recent enough.
    pub fn is_fresh(&self) -> bool {
        self.age() < STALE_AFTER
    }

    /// Moves the last beat `by` into the past (tests of a stalled loop).
    pub fn backdate(&self, by: Duration) {
        self.last.fetch_sub(by.as_secs(), Ordering::Relaxed);
    }
}

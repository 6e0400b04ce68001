//! The eraser: turns deleted users' messages into tombstones, a bounded batch per transaction,
//! for tenants whose rule is to erase them. The work queue is in the store, so an erasure a
//! restart interrupted goes on where it stopped, on whichever instance looks first.

use crate::ports::{Clock, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Messages erased per transaction: short enough that sends to the same conversations wait
/// milliseconds, not seconds.
pub const ERASE_BATCH: u32 = 200;

/// How often the eraser looks without being woken (another instance's deletions, restarts).
const POLL: Duration = Duration::from_secs(30);

/// A wait after a failed round, so a broken database is not hammered.
const AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Messages erased (counter).
pub const METRIC_ERASED: &str = "chemchat_erased_messages_total";

/// The eraser's loop.
#[derive(Debug, Clone)]
pub struct AccountEraser {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
}

impl AccountEraser {
    /// An eraser over `store`, woken by `wake` when a deletion queues work.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, wake: Arc<Notify>) -> Self {
        Self { store, clock, wake }
    }

    /// Runs until its task is cancelled.
    pub async fn run(self) {
        loop {
            match self.drain().await {
                Ok(()) => {
                    let _ = tokio::time::timeout(POLL, self.wake.notified()).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "eraser: round failed");
                    tokio::time::sleep(AFTER_FAILURE).await;
                }
            }
        }
    }

    /// Erases until no work is left.
    pub async fn drain(&self) -> anyhow::Result<()> {
        while let Some((tenant, user)) = self.store.next_erasure().await? {
            loop {
                let progress = self
                    .store
                    .erase_messages(&tenant, user, ERASE_BATCH, self.clock.now_ms())
                    .await?;
                metrics::counter!(METRIC_ERASED).increment(u64::from(progress.erased));
                if progress.done {
                    break;
                }
            }
        }
        Ok(())
    }
}

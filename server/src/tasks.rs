//! Background tasks with an owner: every loop the server runs (outbox relay, search indexer, bus
//! publisher and subscriber, hub upkeep, session check, rate-limit pruning, typing expiry, SQLite
//! checkpoints) is spawned through [`Tasks`], stops when its token is cancelled, and is awaited by
//! [`Tasks::shutdown`]. Building a server spawns nothing; serving starts the tasks, and `serve`
//! returns only after they ended.

use std::future::Future;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The owner of the server's background tasks. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl Tasks {
    /// An owner with no tasks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `task` until it finishes or shutdown begins, whichever comes first (a relay claim
    /// cut short rolls back and is shipped again).
    pub fn spawn<F>(&self, name: &'static str, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let cancel = self.cancel.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => tracing::debug!(task = name, "stopped"),
                () = task => {}
            }
        });
    }

    /// Tells every task to stop and waits until all have.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

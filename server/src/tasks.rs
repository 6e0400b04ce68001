//! Background tasks with an owner: every loop the server runs (outbox relay, search indexer,
//! bus publisher and subscriber, hub upkeep, throttle pruning, typing expiry) is spawned through
//! [`Tasks`], stops when its token is cancelled, and is awaited by [`Tasks::shutdown`]. Building
//! a server spawns nothing; serving starts the tasks, and `serve` returns only after they ended.

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

    /// Runs `task` until it finishes or shutdown begins, whichever comes first. A task that must
    /// finish its current step (a claim in flight) selects on [`Tasks::cancelled`] itself and is
    /// spawned with [`Tasks::spawn_owned`] instead.
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

    /// Runs a task that watches [`Tasks::cancelled`] itself and returns once it sees it.
    pub fn spawn_owned<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tracker.spawn(task);
    }

    /// Resolves once shutdown has begun.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await;
    }

    /// Whether shutdown has begun.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Tells every task to stop and waits until all have.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }

    /// Tasks still running.
    pub fn len(&self) -> usize {
        self.tracker.len()
    }

    /// Whether none is running.
    pub fn is_empty(&self) -> bool {
        self.tracker.is_empty()
    }
}

//! Background tasks with an owner: every loop the server runs (outbox relay, search indexer, bus
//! publisher and subscriber, hub upkeep, session check, rate-limit pruning, typing expiry, SQLite
//! checkpoints) is spawned through [`Tasks`], stops when its token is cancelled, and is awaited by
//! [`Tasks::shutdown`]. Building a server spawns nothing; serving starts the tasks, and `serve`
//! returns only after they ended.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
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
        self.tracker.spawn(UntilCancelled {
            cancelled: self.cancel.clone().cancelled_owned(),
            task,
            name,
        });
    }

    /// Tells every task to stop and waits until all have.
    pub async fn shutdown(&self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

pin_project_lite::pin_project! {
    /// A task until shutdown. A named future, not an `async` block: a block keeps the task it
    /// moves in twice (its capture and the local it polls), which for a WebSocket connection
    /// was 3.4 KiB of every idle connection's memory (docs/benchmarks.md, 2026-12-03).
    /// tokio-util's `run_until_cancelled_owned` is such a block too (an `async fn`).
    struct UntilCancelled<F> {
        #[pin]
        cancelled: WaitForCancellationFutureOwned,
        #[pin]
        task: F,
        name: &'static str,
    }
}

impl<F: Future<Output = ()>> Future for UntilCancelled<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        if this.cancelled.poll(cx).is_ready() {
            tracing::debug!(task = *this.name, "stopped");
            return Poll::Ready(());
        }
        this.task.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn shutdown_stops_a_waiting_task_and_awaits_it() {
        let tasks = Tasks::new();
        let dropped = Arc::new(AtomicBool::new(false));
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Flag(Arc::clone(&dropped));
        tasks.spawn("forever", async move {
            let _flag = flag;
            std::future::pending::<()>().await;
        });
        tasks.shutdown().await;
        assert!(
            dropped.load(Ordering::SeqCst),
            "the task was dropped before shutdown returned"
        );
    }

    #[tokio::test]
    async fn shutdown_returns_after_a_task_that_already_ended() {
        let tasks = Tasks::new();
        let (done, finished) = tokio::sync::oneshot::channel();
        tasks.spawn("once", async move {
            let _ = done.send(());
        });
        finished.await.expect("the task ran");
        tasks.shutdown().await;
    }

    #[test]
    fn a_spawned_future_is_stored_once() {
        let big = [0u8; 4096];
        let task = async move {
            std::future::ready(()).await;
            std::hint::black_box(big);
        };
        let size = std::mem::size_of_val(&task);
        let wrapped = UntilCancelled {
            cancelled: CancellationToken::new().cancelled_owned(),
            task,
            name: "sized",
        };
        assert!(
            std::mem::size_of_val(&wrapped) < size + 256,
            "{} bytes for a {size}-byte task",
            std::mem::size_of_val(&wrapped)
        );
    }
}

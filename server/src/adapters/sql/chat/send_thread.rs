//! The thread send batches run on. Under load the server's runtime has hundreds of connection
//! tasks ready to write frames, and a batch, woken by each answer of the database, waited behind
//! them: four round trips whose statements take under 2 ms took 4–5 ms, and sends queued behind
//! the writer for as long again (docs/benchmarks.md, 2026-12-03, 11:45). On a thread of its own a
//! current-thread runtime wakes the batch as soon as the database answers.
//!
//! On PostgreSQL the batches have a pool of their own, opened on that thread, so that its runtime
//! (not the busy one) watches their sockets. SQLite's connections talk to sqlx's worker threads
//! over channels, which any runtime can wait on, so there the batches share the store's writer.
//!
//! The thread starts with the first send (building a store starts nothing) and stops in
//! [`SendThread::stop`], which the store's `close` awaits.

use super::super::connect::redact;
use super::super::db;
use crate::ports::{StoreError, StoreResult};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::{Builder, Handle};
use tokio::sync::{OnceCell, oneshot};

/// Connections of the batches' own pool: the one the loop keeps, and one more while a kept
/// connection is on its way back to the pool.
const OWN_POOL_SIZE: u32 = 2;

/// Delivery threads at most per core (`delivery_lanes.rs`): a delivery is mostly system calls,
/// so a few per core keep the cores busy while others wait to be scheduled.
const LANES_PER_CORE: usize = 4;

/// Where the batches' connections come from.
enum Source {
    /// The store's writer (SQLite).
    Shared(AnyPool),
    /// A pool opened on the thread (PostgreSQL), from this URL (shared with each batch until
    /// the pool is open).
    Own(Arc<str>),
}

/// The send batches' thread and the pool they use.
pub(in super::super) struct SendThread {
    source: Source,
    state: Mutex<State>,
}

enum State {
    NotStarted,
    Running(Running),
    Stopped,
}

struct Running {
    handle: Handle,
    pool: Arc<OnceCell<AnyPool>>,
    stop: oneshot::Sender<()>,
    stopped: oneshot::Receiver<()>,
}

impl std::fmt::Debug for SendThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            Source::Shared(_) => "the store's writer".to_owned(),
            Source::Own(url) => redact(url),
        };
        let state = match &*self.lock() {
            State::NotStarted => "not started",
            State::Running(_) => "running",
            State::Stopped => "stopped",
        };
        f.debug_struct("SendThread")
            .field("source", &source)
            .field("state", &state)
            .finish()
    }
}

impl SendThread {
    /// Batches on `pool`, the store's writer.
    pub(in super::super) fn shared(pool: AnyPool) -> Self {
        Self::new(Source::Shared(pool))
    }

    /// Batches on a pool of their own to `url`, opened by the first batch.
    pub(in super::super) fn own(url: &str) -> Self {
        Self::new(Source::Own(Arc::from(url)))
    }

    fn new(source: Source) -> Self {
        Self {
            source,
            state: Mutex::new(State::NotStarted),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain data: a panic elsewhere cannot leave it half-changed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts `job` on the thread with the batches' pool, or the reason there is none. The job
    /// is never cut short while the thread runs: sqlx counts a transaction as begun only once
    /// its `BEGIN` has been answered, so a batch dropped while that statement was in flight
    /// handed its connection back to the pool inside a transaction nobody would end — on
    /// PostgreSQL holding the locks of the batch's conversations, which every later batch then
    /// waited for (`messaging_store::abandoned_sends`).
    pub(in super::super) fn spawn<F, Fut>(&self, job: F) -> StoreResult<()>
    where
        F: FnOnce(StoreResult<AnyPool>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (handle, cell) = self.started()?;
        let own = match &self.source {
            Source::Own(url) => Some(Arc::clone(url)),
            Source::Shared(_) => None,
        };
        handle.spawn(async move {
            let pool = cell
                .get_or_try_init(|| async {
                    let url = own.ok_or_else(|| closed("the batches' pool is missing"))?;
                    AnyPoolOptions::new()
                        .max_connections(OWN_POOL_SIZE)
                        .acquire_timeout(Duration::from_secs(5))
                        .connect(&url)
                        .await
                        .map_err(db)
                })
                .await
                .cloned();
            job(pool).await
        });
        Ok(())
    }

    /// The running thread's runtime and pool cell, starting the thread on first use.
    fn started(&self) -> StoreResult<(Handle, Arc<OnceCell<AnyPool>>)> {
        let mut state = self.lock();
        if let State::NotStarted = *state {
            *state = State::Running(self.start()?);
        }
        match &*state {
            State::Running(running) => Ok((running.handle.clone(), Arc::clone(&running.pool))),
            _ => Err(closed("the store is closed")),
        }
    }

    fn start(&self) -> StoreResult<Running> {
        // The runtime runs on the thread started below; the threads it names are those of its
        // blocking pool, where the batches are delivered (`delivery_lanes.rs`), one thread per
        // conversation with deliveries waiting, up to a bound: past it the conversations' lanes
        // wait their turn for a thread, in order, rather than the machine thrashing.
        let lanes = std::thread::available_parallelism().map_or(1, usize::from) * LANES_PER_CORE;
        let runtime = Builder::new_current_thread()
            .enable_all()
            .thread_name("chemchat-fanout")
            .on_thread_start(yield_to_wakers)
            .max_blocking_threads(lanes)
            .build()
            .map_err(|e| StoreError::Other(e.into()))?;
        let pool = Arc::new(match &self.source {
            Source::Shared(pool) => OnceCell::new_with(Some(pool.clone())),
            Source::Own(_) => OnceCell::new(),
        });
        let own_pool = matches!(self.source, Source::Own(_)).then(|| Arc::clone(&pool));
        let (stop, stop_asked) = oneshot::channel::<()>();
        let (done, stopped) = oneshot::channel();
        let handle = runtime.handle().clone();
        std::thread::Builder::new()
            .name("chemchat-sends".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stop_asked.await;
                    // The pool's close waits for its connections, the loop's kept one included.
                    if let Some(pool) = own_pool.as_deref().and_then(OnceCell::get) {
                        pool.close().await;
                    }
                });
                // Dropping the runtime cancels whatever it still ran before the thread ends.
                drop(runtime);
                let _ = done.send(());
            })
            .map_err(|e| StoreError::Other(e.into()))?;
        Ok(Running {
            handle,
            pool,
            stop,
            stopped,
        })
    }

    /// Stops the thread (closing the batches' own pool) and waits until it has ended. Batches
    /// after this fail as a closed store's do.
    pub(in super::super) async fn stop(&self) {
        let running = match std::mem::replace(&mut *self.lock(), State::Stopped) {
            State::Running(running) => running,
            _ => return,
        };
        let _ = running.stop.send(());
        let _ = running.stopped.await;
    }
}

/// Puts the calling delivery thread under `SCHED_BATCH` at nice 0: the same share of the cores
/// as any other thread, but waking it no longer preempts the thread that woke it. Under the
/// default policy each lane a batch woke could take the core from the batches' thread at once:
/// at 1 600 messages a second on PostgreSQL that thread was preempted about five times per
/// batch, handing on a batch's deliveries took 2.7 ms — as long as the batch — and the next
/// batch waited meanwhile (docs/benchmarks.md, 2026-12-06, 08:20). A delivery now starts on a
/// free core, or when the thread that woke it waits. A platform that refuses the policy keeps
/// the default.
fn yield_to_wakers() {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadPriorityOsValue, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let batch = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch);
    let nice_zero = ThreadPriority::Os(ThreadPriorityOsValue::default());
    if let Err(error) = set_thread_priority_and_policy(thread_native_id(), nice_zero, batch) {
        tracing::debug!(
            ?error,
            "delivery thread left under the default scheduling policy"
        );
    }
}

fn closed(why: &str) -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("{why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};

    #[tokio::test]
    async fn deliveries_run_under_the_batch_policy() {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .connect("sqlite::memory:")
            .await
            .unwrap();
        let thread = SendThread::shared(pool);
        let (tell, told) = oneshot::channel();
        thread
            .spawn(|_| async move {
                let batches = thread_priority::thread_schedule_policy();
                let deliveries =
                    tokio::task::spawn_blocking(thread_priority::thread_schedule_policy).await;
                let _ = tell.send((batches, deliveries));
            })
            .unwrap();
        let (batches, deliveries) = told.await.unwrap();
        thread.stop().await;
        assert_eq!(
            deliveries.unwrap().unwrap(),
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch),
            "a delivery thread does not preempt the batches' thread"
        );
        assert_eq!(
            batches.unwrap(),
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other),
            "the batches' thread keeps the default policy"
        );
    }
}

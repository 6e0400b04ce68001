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
//! The thread starts with the first batch (building a store starts nothing) and stops in
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
use tracing::Instrument;

/// Connections of the batches' own pool: the one a turn keeps, and one more while a kept
/// connection is on its way back to the pool.
const OWN_POOL_SIZE: u32 = 2;

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

    /// Runs `job` on the thread with the batches' pool, in the caller's span. Dropping the
    /// returned future leaves the job to finish on its own: a batch is never cut short in the
    /// middle of a statement. sqlx counts a transaction as begun only once its `BEGIN` has been
    /// answered, so a batch dropped while that statement was in flight handed its connection
    /// back to the pool inside a transaction nobody would end — on PostgreSQL holding the locks
    /// of the batch's conversations, which every later batch then waited for
    /// (`messaging_store::abandoned_sends`). A batch whose caller is gone commits or rolls back
    /// as it would have, and its result goes to `orphaned` instead ([`Answered`]): whoever
    /// would have handed its events to the fan-out is gone, and the senders waiting on it send
    /// again and get the stored message.
    pub(in super::super) async fn run<T, F, Fut, O>(&self, job: F, orphaned: O) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(AnyPool) -> Fut + Send + 'static,
        Fut: Future<Output = StoreResult<T>> + Send + 'static,
        O: Fn(T) + Send + Sync + 'static,
    {
        let (handle, cell) = self.started()?;
        let own = match &self.source {
            Source::Own(url) => Some(Arc::clone(url)),
            Source::Shared(_) => None,
        };
        let task = async move {
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
                .await?
                .clone();
            job(pool).await
        };
        let orphaned = Arc::new(orphaned);
        let on_thread = Arc::clone(&orphaned);
        let (answer, receiver) = oneshot::channel();
        handle.spawn(
            async move {
                if let Err(Ok(result)) = answer.send(task.await) {
                    on_thread(result);
                }
            }
            .in_current_span(),
        );
        let mut answered = Answered { receiver, orphaned };
        // Dropped unanswered: the job panicked, or the thread stopped before it finished.
        (&mut answered.receiver)
            .await
            .map_err(|_| StoreError::Other(anyhow::anyhow!("send batch ended unanswered")))?
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
        let runtime = Builder::new_current_thread()
            .enable_all()
            .thread_name("chemchat-sends")
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
                    // The pool's close waits for its connections, a turn's kept one included.
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

/// The caller's end of a job's answer. An answer sent just before the caller was dropped is
/// still in the channel: it goes to `orphaned` here, so that every result reaches one or the
/// other wherever the race between the two ends falls.
struct Answered<T, O: Fn(T)> {
    receiver: oneshot::Receiver<StoreResult<T>>,
    orphaned: Arc<O>,
}

impl<T, O: Fn(T)> Drop for Answered<T, O> {
    fn drop(&mut self) {
        // Closed first: a job finishing from now on finds no one and calls `orphaned` itself.
        self.receiver.close();
        if let Ok(Ok(result)) = self.receiver.try_recv() {
            (self.orphaned)(result);
        }
    }
}

fn closed(why: &str) -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("{why}"))
}

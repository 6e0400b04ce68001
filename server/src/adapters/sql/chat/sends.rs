//! Group commit of sends. A send joins a queue, then waits for its turn at the writer; whoever
//! gets the turn takes every send of its tenant that is waiting and commits them as one batch
//! (`send_batch.rs`). Under light load a batch holds one send; under heavy load the batches
//! grow, and the transactions per message fall, which is what lifted SQLite's single writer past
//! a thousand sends a second. No task waits on the queue: the waiting callers take the turns,
//! and a leader awaits its batch, which runs as a task on a thread of its own
//! (`send_thread.rs`), where no fan-out delays its round trips. The turn
//! keeps the writer's connection while sends keep coming, and the leader hands its batch's
//! events to the fan-out after letting go of the turn (measured in docs/benchmarks.md,
//! 2026-12-02 12:00: p95 at 300 sends/s about halved).
//!
//! A caller dropped while its batch runs leaves the batch to finish on its thread
//! (`send_thread.rs` says why it is never cut short); the others find their answer gone and
//! queue their send again (a send is idempotent by its key, so one that did commit comes back
//! as the message it stored).

use super::super::{SqlStore, db};
use super::send_batch::{self, QueuedSend};
use super::send_thread::SendThread;
use crate::domain::TenantId;
use crate::ports::StoreResult;
use crate::ports::chat::SendOutcome;
use sqlx::Any;
use sqlx::pool::PoolConnection;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot::error::TryRecvError;
use tokio::sync::{MutexGuard, oneshot};

/// Sends one batch may hold at most (bounded so a turn stays short).
const MAX_BATCH: usize = 256;

/// Consecutive batches the queue may run on one connection before it goes back to the pool, so
/// the store's other writes (receipts, reactions, the relay's marks) get the writer too.
const MAX_KEPT_BATCHES: u32 = 8;

/// Sends in a batch (histogram): how much group commit saves.
const METRIC_SEND_BATCH: &str = "chemchat_store_send_batch_size";
/// From a send joining the queue to the start of the batch that carries it, seconds
/// (histogram): the wait for the single writer.
pub const METRIC_SEND_WAIT_SECONDS: &str = "chemchat_store_send_wait_seconds";
/// One batch from taking the writer's connection to its commit, seconds (histogram): how long
/// a turn holds the writer.
pub const METRIC_SEND_BATCH_SECONDS: &str = "chemchat_store_send_batch_seconds";

/// The sends waiting for the writer.
pub(in super::super) struct SendQueue {
    waiting: Mutex<VecDeque<Waiting>>,
    /// Held by the caller whose batch runs; fair, so turns go in arrival order.
    turn: tokio::sync::Mutex<Writer>,
    /// Where the batches run.
    thread: SendThread,
}

/// What the turn holds: the writer's connection, kept from one batch to the next while sends
/// keep coming. A pooled connection goes back through a task sqlx spawns, which pings it before
/// the pool lends it again; under load the tasks a fan-out wakes run first, and the next batch
/// waited for that ping (docs/benchmarks.md, 2026-12-02).
#[derive(Default)]
struct Writer {
    kept: Option<PoolConnection<Any>>,
    /// Batches run on `kept` since it left the pool.
    batches: u32,
}

impl std::fmt::Debug for SendQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendQueue")
            .field("waiting", &self.lock().len())
            .field("thread", &self.thread)
            .finish()
    }
}

struct Waiting {
    tenant: TenantId,
    send: Arc<QueuedSend>,
    answer: oneshot::Sender<Answer>,
    since: Instant,
}

#[expect(
    clippy::large_enum_variant,
    reason = "moved once through a oneshot; boxing would cost an allocation per send"
)]
enum Answer {
    Done(StoreResult<SendOutcome>),
    /// The batch failed as a whole: run alone, so the error is the send's own.
    Alone,
}

impl SendQueue {
    /// A queue whose batches run on `thread`.
    pub(in super::super) fn new(thread: SendThread) -> Self {
        Self {
            waiting: Mutex::default(),
            turn: tokio::sync::Mutex::default(),
            thread,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Waiting>> {
        // Plain data: a panic elsewhere cannot leave it half-changed.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enqueue(&self, tenant: &TenantId, send: Arc<QueuedSend>) -> oneshot::Receiver<Answer> {
        let (answer, receiver) = oneshot::channel();
        self.lock().push_back(Waiting {
            tenant: tenant.clone(),
            send,
            answer,
            since: Instant::now(),
        });
        receiver
    }

    /// The oldest waiting sends of `tenant` (a batch is scoped to one tenant, as every write
    /// transaction is).
    fn take(&self, tenant: &TenantId) -> Vec<Waiting> {
        let mut waiting = self.lock();
        let mut batch = Vec::new();
        let mut others = VecDeque::with_capacity(waiting.len());
        while let Some(w) = waiting.pop_front() {
            if batch.len() < MAX_BATCH && &w.tenant == tenant {
                batch.push(w);
            } else {
                others.push_back(w);
            }
        }
        *waiting = others;
        batch
    }

    /// Gives the kept connection back to its pool (the pool's `close` waits for it) and stops
    /// the batches' thread.
    pub(in super::super) async fn release(&self) {
        self.turn.lock().await.kept = None;
        self.thread.stop().await;
    }
}

/// Sends a message through the queue.
pub(super) async fn send(
    store: &SqlStore,
    tenant: &TenantId,
    send: QueuedSend,
) -> StoreResult<SendOutcome> {
    let send = Arc::new(send);
    let queue = &store.sends;
    let mut answer = queue.enqueue(tenant, Arc::clone(&send));
    // Set once a batch has taken this send: only its answer is left to wait for (its leader
    // lets go of the turn before answering, and taking turns meanwhile would spin).
    let mut carried = false;
    loop {
        // The answer may come from another caller's batch before this one's turn does.
        let turn = tokio::select! {
            biased;
            answered = &mut answer => match answered {
                Ok(Answer::Done(outcome)) => return outcome,
                Ok(Answer::Alone) => {
                    let turn = queue.turn.lock().await;
                    return alone(store, turn, tenant, &send).await;
                }
                Err(_) => {
                    answer = queue.enqueue(tenant, Arc::clone(&send));
                    carried = false;
                    continue;
                }
            },
            turn = queue.turn.lock(), if !carried => turn,
        };
        match answer.try_recv() {
            Ok(Answer::Done(outcome)) => return outcome,
            Ok(Answer::Alone) => return alone(store, turn, tenant, &send).await,
            Err(TryRecvError::Closed) => answer = queue.enqueue(tenant, Arc::clone(&send)),
            Err(TryRecvError::Empty) => {
                let waiting = queue.take(tenant);
                carried = waiting.is_empty();
                lead(store, turn, tenant, waiting).await;
            }
        }
    }
}

/// A batch of one, for a send whose batch failed as a whole.
async fn alone(
    store: &SqlStore,
    mut turn: MutexGuard<'_, Writer>,
    tenant: &TenantId,
    send: &Arc<QueuedSend>,
) -> StoreResult<SendOutcome> {
    let committed = batch(store, &mut turn, tenant, vec![Arc::clone(send)]).await;
    drop(turn);
    let mut committed = committed?;
    store.committed(&committed.events);
    Ok(committed.outcomes.pop().unwrap_or(SendOutcome::NotFound))
}

/// Runs one batch on the writer's connection: the kept one, or one from the pool. The
/// connection is kept for the next batch only when this one committed and more sends wait; a
/// batch whose caller is gone finishes and its connection goes back to the pool.
async fn batch(
    store: &SqlStore,
    writer: &mut Writer,
    tenant: &TenantId,
    sends: Vec<Arc<QueuedSend>>,
) -> StoreResult<send_batch::Committed> {
    let kept = writer.kept.take();
    if kept.is_none() {
        writer.batches = 0;
    }
    writer.batches += 1;
    let may_keep = writer.batches < MAX_KEPT_BATCHES;
    let job_store = store.clone();
    let job_tenant = tenant.clone();
    let orphan_store = store.clone();
    // A batch whose caller is gone hands its events to the fan-out all the same, at once,
    // rather than leaving them to the relay's late rebroadcast.
    let orphaned = move |(committed, _kept): (StoreResult<send_batch::Committed>, _)| {
        if let Ok(committed) = committed {
            orphan_store.committed(&committed.events);
        }
    };
    let (committed, kept) = store
        .sends
        .thread
        .run(
            move |pool| async move {
                let mut connection = match kept {
                    Some(connection) => connection,
                    None => pool.acquire().await.map_err(db)?,
                };
                let sends: Vec<&QueuedSend> = sends.iter().map(Arc::as_ref).collect();
                let committed =
                    send_batch::run(&job_store, &mut connection, &job_tenant, &sends).await;
                // Decided here, so a connection going back to its pool leaves from this thread.
                let keep = committed.is_ok() && may_keep && !job_store.sends.lock().is_empty();
                Ok((committed, keep.then_some(connection)))
            },
            orphaned,
        )
        .await?;
    writer.kept = kept;
    committed
}

/// Runs one batch, lets go of the turn, hands the batch's events to the fan-out and answers
/// everyone in it. The fan-out runs outside the turn, so the next batch does not wait for it;
/// events of one conversation reaching the hub out of order are put back in order there.
async fn lead(
    store: &SqlStore,
    mut turn: MutexGuard<'_, Writer>,
    tenant: &TenantId,
    waiting: Vec<Waiting>,
) {
    if waiting.is_empty() {
        return;
    }
    metrics::histogram!(METRIC_SEND_BATCH).record(waiting.len() as f64);
    let started = Instant::now();
    let waited = metrics::histogram!(METRIC_SEND_WAIT_SECONDS);
    for w in &waiting {
        waited.record(started.duration_since(w.since).as_secs_f64());
    }
    let sends = waiting.iter().map(|w| Arc::clone(&w.send)).collect();
    let committed = batch(store, &mut turn, tenant, sends).await;
    metrics::histogram!(METRIC_SEND_BATCH_SECONDS).record(started.elapsed().as_secs_f64());
    drop(turn);
    match committed {
        Ok(committed) => {
            store.committed(&committed.events);
            for (w, outcome) in waiting.into_iter().zip(committed.outcomes) {
                let _ = w.answer.send(Answer::Done(Ok(outcome)));
            }
        }
        Err(error) if waiting.len() == 1 => {
            if let Some(w) = waiting.into_iter().next() {
                let _ = w.answer.send(Answer::Done(Err(error)));
            }
        }
        Err(_) => {
            for w in waiting {
                let _ = w.answer.send(Answer::Alone);
            }
        }
    }
}

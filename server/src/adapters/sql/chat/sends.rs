//! Group commit of sends. A send joins a queue, then waits for its turn at the writer; whoever
//! gets the turn takes every send of its tenant that is waiting and commits them as one batch
//! (`send_batch.rs`). Under light load a batch holds one send; under heavy load the batches
//! grow, and the transactions per message fall, which is what lifted SQLite's single writer past
//! a thousand sends a second. No task is spawned: the waiting callers take the turns.
//!
//! A caller dropped while its batch runs rolls the batch back; the others find their answer
//! gone and queue their send again (a send is idempotent by its key, so one that did commit
//! comes back as the message it stored).

use super::super::SqlStore;
use super::send_batch::{self, QueuedSend};
use crate::domain::TenantId;
use crate::ports::StoreResult;
use crate::ports::chat::SendOutcome;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;
use tokio::sync::oneshot::error::TryRecvError;

/// Sends one batch may hold at most (bounded so a turn stays short).
const MAX_BATCH: usize = 256;

/// Sends in a batch (histogram): how much group commit saves.
const METRIC_SEND_BATCH: &str = "chemchat_store_send_batch_size";
/// From a send joining the queue to the start of the batch that carries it, seconds
/// (histogram): the wait for the single writer.
pub const METRIC_SEND_WAIT_SECONDS: &str = "chemchat_store_send_wait_seconds";
/// One batch from its first statement to its events handed to the fan-out, seconds
/// (histogram): how long a turn holds the writer.
pub const METRIC_SEND_BATCH_SECONDS: &str = "chemchat_store_send_batch_seconds";

/// The sends waiting for the writer.
#[derive(Default)]
pub(in super::super) struct SendQueue {
    waiting: Mutex<VecDeque<Waiting>>,
    /// Held by the caller whose batch runs; fair, so turns go in arrival order.
    turn: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for SendQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendQueue")
            .field("waiting", &self.lock().len())
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
    loop {
        // The answer may come from another caller's batch before this one's turn does.
        let turn = tokio::select! {
            biased;
            answered = &mut answer => match answered {
                Ok(Answer::Done(outcome)) => return outcome,
                Ok(Answer::Alone) => {
                    let _turn = queue.turn.lock().await;
                    return alone(store, tenant, &send).await;
                }
                Err(_) => {
                    answer = queue.enqueue(tenant, Arc::clone(&send));
                    continue;
                }
            },
            turn = queue.turn.lock() => turn,
        };
        match answer.try_recv() {
            Ok(Answer::Done(outcome)) => return outcome,
            Ok(Answer::Alone) => return alone(store, tenant, &send).await,
            Err(TryRecvError::Closed) => answer = queue.enqueue(tenant, Arc::clone(&send)),
            Err(TryRecvError::Empty) => {}
        }
        lead(store, tenant, queue.take(tenant)).await;
        drop(turn);
    }
}

/// A batch of one, for a send whose batch failed as a whole.
async fn alone(store: &SqlStore, tenant: &TenantId, send: &QueuedSend) -> StoreResult<SendOutcome> {
    let mut outcomes = send_batch::run(store, tenant, &[send]).await?;
    Ok(outcomes.pop().unwrap_or(SendOutcome::NotFound))
}

/// Runs one batch and answers everyone in it, holding the turn throughout: the batch's events
/// go to the fan-out at its commit, inside the turn. Delivering after letting go of the turn
/// measured slower (docs/benchmarks.md, 2026-12-02): sqlx returns the writer's pooled connection
/// through a task it spawns (and pings), and the recipients' tasks the delivery wakes queue
/// ahead of it, so the next leader waited longer to begin.
async fn lead(store: &SqlStore, tenant: &TenantId, batch: Vec<Waiting>) {
    if batch.is_empty() {
        return;
    }
    metrics::histogram!(METRIC_SEND_BATCH).record(batch.len() as f64);
    let started = Instant::now();
    let waited = metrics::histogram!(METRIC_SEND_WAIT_SECONDS);
    for waiting in &batch {
        waited.record(started.duration_since(waiting.since).as_secs_f64());
    }
    let sends: Vec<&QueuedSend> = batch.iter().map(|w| w.send.as_ref()).collect();
    let outcomes = send_batch::run(store, tenant, &sends).await;
    metrics::histogram!(METRIC_SEND_BATCH_SECONDS).record(started.elapsed().as_secs_f64());
    match outcomes {
        Ok(outcomes) => {
            for (waiting, outcome) in batch.into_iter().zip(outcomes) {
                let _ = waiting.answer.send(Answer::Done(Ok(outcome)));
            }
        }
        Err(error) if batch.len() == 1 => {
            if let Some(waiting) = batch.into_iter().next() {
                let _ = waiting.answer.send(Answer::Done(Err(error)));
            }
        }
        Err(_) => {
            for waiting in batch {
                let _ = waiting.answer.send(Answer::Alone);
            }
        }
    }
}

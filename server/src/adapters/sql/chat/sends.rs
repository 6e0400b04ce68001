//! Group commit of sends. A send joins a queue and waits for its answer; one loop on the
//! batches' own thread (`send_thread.rs`) takes every send of a tenant that is waiting and
//! commits them as one batch (`send_batch.rs`), then the next batch, until the queue is empty.
//! Under light load a batch holds one send; under heavy load the batches grow, and the
//! transactions per message fall, which is what lifted SQLite's single writer past a thousand
//! sends a second.
//!
//! Nothing between two batches waits for the server's runtime. When the callers took turns at
//! the writer, each batch began only once its leader's task was scheduled there, behind every
//! connection task the fan-out had woken, and ended only once that task was scheduled again to
//! hand the turn on: on PostgreSQL a send waited 6.8 ms for the writer on average while the
//! writer was busy 40 % of the time (docs/benchmarks.md, 2026-12-04, 22:50). The loop keeps the
//! writer's connection while sends keep coming. It does not fan out: each conversation's events
//! of a batch, with the answers of that conversation's sends, go to the conversation's delivery
//! lane (`delivery_lanes.rs`), which hands the events to the fan-out and then answers (so a send
//! is acknowledged only once its frames are queued here), while the next batch runs. A batch's
//! conversations are thus delivered side by side, each in commit order.
//!
//! A caller that gives up leaves its send in the queue: the loop commits it all the same (a
//! batch is never cut short: `send_thread.rs` says why), and its conversation is delivered all
//! the same.

use super::super::{SqlStore, db};
use super::batch_connection::BatchConnection;
use super::delivery_lanes::DeliveryLanes;
use super::direct_writer::DirectSource;
use super::send_batch::{self, QueuedSend};
use super::send_thread::SendThread;
use crate::domain::{ConversationId, TenantId};
use crate::ports::chat::{SendOutcome, StoredEvent};
use crate::ports::{CommitListener, StoreError, StoreResult};
use sqlx::AnyPool;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::{Notify, oneshot};
use tracing::Instrument;

/// Sends one batch may hold at most (bounded so a batch stays short).
const MAX_BATCH: usize = 256;

/// Consecutive batches the loop may run on one connection before it goes back to the pool, so
/// the store's other writes (receipts, reactions, the relay's marks) get the writer too.
const MAX_KEPT_BATCHES: u32 = 8;

/// Sends in a batch (histogram): how much group commit saves.
const METRIC_SEND_BATCH: &str = "chemchat_store_send_batch_size";
/// From a send joining the queue to the start of the batch that carries it, seconds
/// (histogram): the wait for the single writer.
pub const METRIC_SEND_WAIT_SECONDS: &str = "chemchat_store_send_wait_seconds";
/// One batch from taking the writer's connection to its commit, seconds (histogram): how long
/// a batch holds the writer.
pub const METRIC_SEND_BATCH_SECONDS: &str = "chemchat_store_send_batch_seconds";

/// The sends waiting for the writer, and the loop that commits them.
pub(in super::super) struct SendQueue {
    state: Mutex<Queue>,
    /// Told when the loop stops with the queue empty (what `release` waits for).
    idle: Notify,
    /// Where the loop runs.
    thread: SendThread,
    /// Where committed batches are delivered.
    lanes: DeliveryLanes<ConversationId>,
    /// On a SQLite file, the batches' own connection (`direct_writer.rs`).
    direct: Option<DirectSource>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiting>,
    /// Whether the loop runs (it stops when it finds the queue empty).
    draining: bool,
    /// Set by `release`: sends are refused from then on.
    closed: bool,
}

impl std::fmt::Debug for SendQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queue = self.lock();
        f.debug_struct("SendQueue")
            .field("waiting", &queue.waiting.len())
            .field("draining", &queue.draining)
            .field("thread", &self.thread)
            .field("lanes", &self.lanes)
            .field("direct", &self.direct)
            .finish()
    }
}

struct Waiting {
    tenant: TenantId,
    send: QueuedSend,
    answer: Reply,
    since: Instant,
    /// The caller's span: a batch's statements are traced in its first send's.
    span: tracing::Span,
}

/// Where a caller hears its send's outcome.
type Reply = oneshot::Sender<StoreResult<SendOutcome>>;

/// One conversation's events of a committed batch, and the answers to give once they are with
/// the fan-out: a send is acknowledged only after its frames were queued on this instance's
/// sockets.
struct Handoff {
    events: Vec<StoredEvent>,
    answers: Vec<(Reply, StoreResult<SendOutcome>)>,
    /// The span of the conversation's first send: the fan-out's spans are its children, in the
    /// message's trace, on whichever thread delivers.
    span: tracing::Span,
}

impl Handoff {
    /// Hands the events to `listener` (the store's, taken alone so that a job waiting on a lane
    /// holds nothing else of the store), then answers.
    fn complete(self, listener: Option<&dyn CommitListener>) {
        let _entered = self.span.enter();
        if let Some(listener) = listener {
            listener.committed(&self.events);
        }
        for (answer, outcome) in self.answers {
            let _ = answer.send(outcome);
        }
    }
}

impl SendQueue {
    /// A queue whose batches run on `thread`.
    pub(in super::super) fn new(thread: SendThread) -> Self {
        Self {
            state: Mutex::default(),
            idle: Notify::new(),
            thread,
            lanes: DeliveryLanes::new(),
            direct: None,
        }
    }

    /// The same queue, its batches' statements on a connection of their own from `direct`.
    pub(in super::super) fn with_direct(mut self, direct: DirectSource) -> Self {
        self.direct = Some(direct);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Plain data: a panic elsewhere cannot leave it half-changed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The oldest waiting sends of the oldest waiting send's tenant (a batch is scoped to one
    /// tenant, as every write transaction is); none stops the loop.
    fn take(&self) -> Vec<Waiting> {
        let mut queue = self.lock();
        let Some(tenant) = queue.waiting.front().map(|w| w.tenant.clone()) else {
            queue.draining = false;
            self.idle.notify_waiters();
            return Vec::new();
        };
        let mut batch = Vec::new();
        let mut others = VecDeque::with_capacity(queue.waiting.len());
        while let Some(w) = queue.waiting.pop_front() {
            if batch.len() < MAX_BATCH && w.tenant == tenant {
                batch.push(w);
            } else {
                others.push_back(w);
            }
        }
        queue.waiting = others;
        batch
    }

    /// The tenant of the oldest waiting send: that of the loop's next batch, if there is one.
    fn next_tenant(&self) -> Option<TenantId> {
        self.lock().waiting.front().map(|w| w.tenant.clone())
    }

    /// Refuses sends from now on, waits for the loop to answer those queued, and stops the
    /// delivery lanes, once they delivered what the loop gave them, and the batches' thread (the
    /// kept connection went back to its pool with the loop).
    pub(in super::super) async fn release(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            {
                let mut queue = self.lock();
                queue.closed = true;
                if !queue.draining {
                    break;
                }
            }
            idle.await;
        }
        // The lanes run on the thread's runtime's blocking pool, which would drop the jobs it
        // had not started when that runtime goes: they stop first.
        self.lanes.stop().await;
        self.thread.stop().await;
        if let Some(direct) = &self.direct {
            direct.close();
        }
    }
}

/// Sends a message through the queue.
pub(super) async fn send(
    store: &SqlStore,
    tenant: &TenantId,
    send: QueuedSend,
) -> StoreResult<SendOutcome> {
    let (answer, receiver) = oneshot::channel();
    let start = {
        let mut queue = store.sends.lock();
        if queue.closed {
            return Err(StoreError::Unavailable(anyhow::anyhow!(
                "the store is closed"
            )));
        }
        queue.waiting.push_back(Waiting {
            tenant: tenant.clone(),
            send,
            answer,
            since: Instant::now(),
            span: tracing::Span::current(),
        });
        !std::mem::replace(&mut queue.draining, true)
    };
    if start {
        let loop_store = store.clone();
        let started = store
            .sends
            .thread
            .spawn(move |pool| drain(loop_store, pool));
        if let Err(error) = started {
            refuse_all(store, &error);
        }
    }
    receiver
        .await
        .map_err(|_| StoreError::Unavailable(anyhow::anyhow!("the send batches stopped")))?
}

/// Answers every waiting send with `error` as unavailable (the loop could not start, or
/// panicked): none of them was attempted, so a retry may well succeed.
fn refuse_all(store: &SqlStore, error: &StoreError) {
    let waiting = {
        let mut queue = store.sends.lock();
        queue.draining = false;
        std::mem::take(&mut queue.waiting)
    };
    store.sends.idle.notify_waiters();
    // The cause alone when it already is one of unavailability, so its message is not
    // prefixed twice.
    let reason = match error {
        StoreError::Unavailable(cause) => format!("{cause:#}"),
        other => other.to_string(),
    };
    for w in waiting {
        let _ = w
            .answer
            .send(Err(StoreError::Unavailable(anyhow::anyhow!("{reason}"))));
    }
}

/// The loop on the batches' thread: batches until the queue is empty, on one connection kept
/// for up to `MAX_KEPT_BATCHES` of them.
async fn drain(store: SqlStore, pool: StoreResult<AnyPool>) {
    let pool = match pool {
        Ok(pool) => pool,
        Err(error) => return refuse_all(&store, &error),
    };
    let direct = match store
        .sends
        .direct
        .as_ref()
        .map(DirectSource::writer)
        .transpose()
    {
        Ok(direct) => direct,
        Err(error) => return refuse_all(&store, &error),
    };
    let _unwinding = Unwinding(&store);
    let mut kept: Option<BatchConnection> = None;
    let mut batches = 0;
    loop {
        let waiting = store.sends.take();
        if waiting.is_empty() {
            return;
        }
        if batches >= MAX_KEPT_BATCHES {
            kept = None;
            batches = 0;
        }
        let connection = match kept.take() {
            Some(connection) => Ok(connection),
            None => match pool.acquire().await {
                Ok(connection) => Ok(BatchConnection::new(connection, direct.clone())),
                Err(error) => Err(db(error)),
            },
        };
        match connection {
            Ok(mut connection) => {
                batches += 1;
                // SQLite's log can start over only at a transaction begun once it was copied
                // in full: when the checkpointer asks, this batch ends the chain and the log
                // is copied here before the next one begins (`checkpoint.rs`).
                let restart = store.log_restart.wanted();
                // The next batch's transaction is begun with this one's commit while the
                // connection stays with the loop.
                let keep = batches < MAX_KEPT_BATCHES && !restart;
                let next = || keep.then(|| store.sends.next_tenant()).flatten();
                // A connection is kept only after a batch that committed.
                if run(&store, &mut connection, waiting, &next).await {
                    if restart {
                        store
                            .log_restart
                            .let_start_over(connection.statements())
                            .await;
                    }
                    kept = Some(connection);
                }
            }
            Err(error) => answer_all(&store, waiting, Err(error)),
        }
    }
}

/// Lets go of the queue if the loop panics: the sends waiting get an error (the one in the batch
/// get theirs as its answers drop) and the next send starts a new loop, where the queue would
/// otherwise wait for a loop that is gone.
struct Unwinding<'s>(&'s SqlStore);

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let error = StoreError::Unavailable(anyhow::anyhow!("a send batch panicked"));
            refuse_all(self.0, &error);
        }
    }
}

/// Commits `waiting` as one batch and answers each; a batch that fails as a whole runs again
/// one send at a time, so each error belongs to the send that caused it. Whether the batch
/// committed.
async fn run(
    store: &SqlStore,
    connection: &mut BatchConnection,
    waiting: Vec<Waiting>,
    next: &(dyn Fn() -> Option<TenantId> + Sync),
) -> bool {
    metrics::histogram!(METRIC_SEND_BATCH).record(waiting.len() as f64);
    let started = Instant::now();
    let waited = metrics::histogram!(METRIC_SEND_WAIT_SECONDS);
    for w in &waiting {
        waited.record(started.duration_since(w.since).as_secs_f64());
    }
    let tenant = waiting[0].tenant.clone();
    let sends: Vec<&QueuedSend> = waiting.iter().map(|w| &w.send).collect();
    let committed = send_batch::run(store, connection, &tenant, &sends, next)
        .instrument(waiting[0].span.clone())
        .await;
    drop(sends);
    metrics::histogram!(METRIC_SEND_BATCH_SECONDS).record(started.elapsed().as_secs_f64());
    match committed {
        Ok(committed) => {
            answer_all(store, waiting, Ok(committed));
            true
        }
        Err(error) if waiting.len() == 1 => {
            answer_all(store, waiting, Err(error));
            false
        }
        Err(_) => {
            for w in waiting {
                let committed = send_batch::run(store, connection, &tenant, &[&w.send], &|| None)
                    .instrument(w.span.clone())
                    .await;
                answer_all(store, vec![w], committed);
            }
            false
        }
    }
}

/// Answers each send of a batch. A committed batch's conversations go to their delivery lanes,
/// each with the answers of its sends, given once the fan-out has its events.
fn answer_all(
    store: &SqlStore,
    waiting: Vec<Waiting>,
    committed: StoreResult<send_batch::Committed>,
) {
    let committed = match committed {
        Ok(committed) => committed,
        Err(error) => {
            let copy = error.copied();
            let mut original = Some(error);
            for w in waiting {
                let _ = w
                    .answer
                    .send(Err(original.take().unwrap_or_else(|| copy.copied())));
            }
            return;
        }
    };
    // One hand-off per conversation of the batch, each to the conversation's lane: the
    // conversations are delivered side by side, on as many threads as have work, rather than
    // one after another by the loop (docs/benchmarks.md, 2026-12-05, 11:00). A conversation's
    // events stay together and in order; a caller whose conversation has nothing to deliver
    // (its send was refused, or repeats one committed earlier) is answered at once.
    let mut handoffs: Vec<(ConversationId, Handoff)> = Vec::new();
    for event in committed.events {
        match handoffs
            .iter_mut()
            .find(|(c, _)| *c == event.conversation_id)
        {
            Some((_, handoff)) => handoff.events.push(event),
            None => handoffs.push((
                event.conversation_id,
                Handoff {
                    events: vec![event],
                    answers: Vec::new(),
                    span: tracing::Span::none(),
                },
            )),
        }
    }
    let mut outcomes = committed.outcomes.into_iter().map(Ok);
    for w in waiting {
        let outcome = outcomes.next().unwrap_or(Ok(SendOutcome::NotFound));
        let conversation = w.send.message.conversation_id;
        match handoffs.iter_mut().find(|(c, _)| *c == conversation) {
            Some((_, handoff)) => {
                if handoff.answers.is_empty() {
                    handoff.span = w.span;
                }
                handoff.answers.push((w.answer, outcome));
            }
            None => {
                let _ = w.answer.send(outcome);
            }
        }
    }
    for (conversation, handoff) in handoffs {
        let listener = store.listener.clone();
        store.sends.lanes.run(
            conversation,
            Box::new(move || handoff.complete(listener.as_deref())),
        );
    }
}

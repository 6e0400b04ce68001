//! Where committed batches are delivered: each conversation with deliveries waiting has a lane,
//! a queue run in order on a thread of tokio's blocking pool, so a conversation's batches reach
//! the fan-out in commit order while different conversations are delivered side by side, on as
//! many threads as have work. A lane closes when its queue is empty.
//!
//! Why threads and not the server's runtime: a batch's delivery writes its frames straight to up
//! to a hundred sockets per conversation (`gateway/hub`). Done in a caller's task, it first
//! waited for that task to be scheduled — woken from the batches' thread, behind every ready
//! connection task — and then held a worker while the connection tasks woken to read the next
//! sends waited behind it; consecutive batches of one conversation, in two callers' tasks,
//! also reached the hub out of order and were held there for the gap to fill. On threads the
//! operating system runs the delivery as soon as the batch commits and shares the cores between
//! it and the runtime's workers. A fixed set of threads, one per core with conversations hashed
//! to them, was tried first: with few busy conversations one thread got most of them, and its
//! queue grew (docs/benchmarks.md, 2026-12-06, 04:00).
//!
//! [`DeliveryLanes::stop`], after the send loop stopped, waits for every lane to run dry.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// A delivery and the answers that follow it.
pub(super) type Job = Box<dyn FnOnce() + Send>;

/// The open lanes of one store, by key (a conversation).
pub(super) struct DeliveryLanes<K> {
    inner: Arc<Inner<K>>,
}

struct Inner<K> {
    state: Mutex<State<K>>,
    /// Told when the last lane closes.
    dry: Notify,
}

struct State<K> {
    /// The jobs waiting behind the one each open lane runs.
    open: HashMap<K, VecDeque<Job>>,
    stopped: bool,
}

impl<K> std::fmt::Debug for DeliveryLanes<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("DeliveryLanes")
            .field("open", &state.open.len())
            .field("stopped", &state.stopped)
            .finish()
    }
}

impl<K> Inner<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        // Plain data: a panic elsewhere cannot leave it half-changed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<K: Hash + Eq + Clone + Send + 'static> DeliveryLanes<K> {
    pub(super) fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    open: HashMap::new(),
                    stopped: false,
                }),
                dry: Notify::new(),
            }),
        }
    }

    /// Runs `job` on the lane of `key`, after the jobs it already holds, opening the lane on
    /// the blocking pool of the runtime this is called on when it is not open. Without a
    /// runtime, or once the lanes stopped, the job runs here, at once: a delivery is never
    /// dropped.
    pub(super) fn run(&self, key: K, job: Job) {
        let handle = tokio::runtime::Handle::try_current();
        {
            let mut state = self.inner.lock();
            if let Some(waiting) = state.open.get_mut(&key) {
                waiting.push_back(job);
                return;
            }
            if state.stopped || handle.is_err() {
                drop(state);
                return job();
            }
            state.open.insert(key.clone(), VecDeque::new());
        }
        let inner = Arc::clone(&self.inner);
        if let Ok(handle) = handle {
            handle.spawn_blocking(move || drain(&inner, &key, job));
        }
    }

    /// Refuses new lanes (their jobs run where they are given) and waits until every open
    /// lane has run dry.
    pub(super) async fn stop(&self) {
        loop {
            let dry = self.inner.dry.notified();
            tokio::pin!(dry);
            dry.as_mut().enable();
            {
                let mut state = self.inner.lock();
                state.stopped = true;
                if state.open.is_empty() {
                    return;
                }
            }
            dry.await;
        }
    }
}

/// Runs a lane's jobs until its queue is empty, then closes it.
fn drain<K: Hash + Eq>(inner: &Inner<K>, key: &K, first: Job) {
    let mut job = first;
    loop {
        // A job that panics loses its own answers (their callers hear that the batches
        // stopped) but not the lane, whose later jobs still run.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
            tracing::error!("a delivery panicked");
        }
        let mut state = inner.lock();
        match state.open.get_mut(key).and_then(VecDeque::pop_front) {
            Some(next) => job = next,
            None => {
                state.open.remove(key);
                if state.open.is_empty() {
                    inner.dry.notify_waiters();
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_runs_in_order_and_stop_waits_for_every_job() {
        let lanes = DeliveryLanes::<u32>::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        for k in 0..200u32 {
            let seen = Arc::clone(&seen);
            lanes.run(
                k % 3,
                Box::new(move || {
                    std::thread::sleep(std::time::Duration::from_micros(50));
                    seen.lock().unwrap().push(k);
                }),
            );
        }
        lanes.stop().await;
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 200, "stop waited for every job");
        for key in 0..3 {
            let of_key: Vec<u32> = seen.iter().copied().filter(|k| k % 3 == key).collect();
            let expected: Vec<u32> = (0..200).filter(|k| k % 3 == key).collect();
            assert_eq!(of_key, expected, "key {key} in the order it came");
        }
    }

    #[tokio::test]
    async fn after_stop_a_job_runs_at_once_and_a_panic_spares_the_lane() {
        let lanes = DeliveryLanes::<u32>::new();
        let ran = Arc::new(Mutex::new(0));
        lanes.run(1, Box::new(|| panic!("a delivery that panics")));
        let counter = Arc::clone(&ran);
        lanes.run(1, Box::new(move || *counter.lock().unwrap() += 1));
        lanes.stop().await;
        assert_eq!(*ran.lock().unwrap(), 1, "the lane ran on after the panic");
        let counter = Arc::clone(&ran);
        lanes.run(1, Box::new(move || *counter.lock().unwrap() += 1));
        assert_eq!(*ran.lock().unwrap(), 2, "run here once the lanes stopped");
    }
}

//! Argon2id password hashing, off the async runtime and bounded: each hash holds 19 MiB for
//! tens of milliseconds, so a flood of sign-ups or logins must queue for a few workers rather
//! than run hundreds at once (memory) or queue without end (latency).
//!
//! The workers are threads of their own, not the runtime's blocking pool: the allocator keeps a
//! freed 19 MiB block in the arena of the thread that used it, so hashes spread over the
//! blocking pool's many threads left hundreds of MiB resident after a flood (500 sign-ups at
//! once: 495 MiB peak with two hashes at a time). A few long-lived threads reuse their blocks.

use crate::app::{AppError, ErrorCode};
use crate::domain::Password;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Hashes waiting per worker before more are refused.
const QUEUED_PER_WORKER: usize = 8;

/// One hash or verification for a worker.
type Job = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords with Argon2id (the crate's defaults: the OWASP-recommended
/// 19 MiB, 2 passes, 1 lane) on `workers` threads, started at the first use.
#[derive(Debug, Clone)]
pub struct Passwords {
    /// A hash of a random password, verified against when the user does not exist so that an
    /// unknown user and a wrong password take the same time.
    decoy: Arc<OnceLock<String>>,
    workers: usize,
    /// The workers' queue; full means busy (503). The threads end when the last `Passwords`
    /// clone is dropped and the queue with it.
    queue: Arc<OnceLock<SyncSender<Job>>>,
}

impl Default for Passwords {
    /// One worker per core.
    fn default() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }
}

impl Passwords {
    /// At most `workers` hashes at once, and eight waiting per worker.
    pub fn new(workers: usize) -> Self {
        Self {
            decoy: Arc::default(),
            workers: workers.max(1),
            queue: Arc::default(),
        }
    }

    fn queue(&self) -> &SyncSender<Job> {
        self.queue.get_or_init(|| {
            let (sender, jobs) = sync_channel::<Job>(self.workers * QUEUED_PER_WORKER);
            let jobs = Arc::new(Mutex::new(jobs));
            for n in 0..self.workers {
                let jobs = Arc::clone(&jobs);
                let spawned = std::thread::Builder::new()
                    .name(format!("argon2-{n}"))
                    .spawn(move || work(&jobs));
                if let Err(error) = spawned {
                    tracing::error!(%error, "cannot start a password worker");
                }
            }
            sender
        })
    }

    /// Runs one hash or verification on a worker, in turn; refuses with 503 when the queue is
    /// full.
    async fn bounded<T: Send + 'static>(
        &self,
        task: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(task());
        });
        match self.queue().try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                metrics::counter!(METRIC_BUSY).increment(1);
                return Err(AppError::new(
                    ErrorCode::Busy,
                    "the server is busy checking passwords; retry shortly",
                )
                .retry_after(Duration::from_secs(1)));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(AppError::internal(anyhow::anyhow!(
                    "no password worker is running"
                )));
            }
        }
        answered
            .await
            .map_err(|_| AppError::internal(anyhow::anyhow!("a password worker stopped")))?
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: Password) -> Result<String, AppError> {
        self.bounded(move || hash_blocking(password.expose())).await
    }

    /// Verifies `password` against `hash`, or against the decoy when there is no user, so both
    /// paths cost one Argon2 verification.
    pub async fn verify(&self, password: Password, hash: Option<String>) -> Result<bool, AppError> {
        let decoy = Arc::clone(&self.decoy);
        self.bounded(move || {
            let (hash, real) = match hash {
                Some(hash) => (hash, true),
                None => (decoy_hash(&decoy)?, false),
            };
            let matches = Argon2::default()
                .verify_password(password.expose().as_bytes(), hash.as_str())
                .is_ok();
            Ok(real && matches)
        })
        .await
    }
}

/// Password hashes refused because every worker and queue place was taken (counter).
pub const METRIC_BUSY: &str = "chemchat_password_hashing_busy_total";

/// A worker: takes jobs until the queue is gone.
fn work(jobs: &Mutex<Receiver<Job>>) {
    loop {
        let job = {
            let jobs = jobs.lock().unwrap_or_else(|e| e.into_inner());
            jobs.recv()
        };
        match job {
            // A panicking job answers nothing (its caller gets a 500); the worker lives on.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}

fn hash_blocking(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| AppError::internal(anyhow::anyhow!("argon2: {e}")))
}

fn decoy_hash(cell: &OnceLock<String>) -> Result<String, AppError> {
    if let Some(hash) = cell.get() {
        return Ok(hash.clone());
    }
    let hash = hash_blocking(&uuid::Uuid::new_v4().to_string())?;
    Ok(cell.get_or_init(|| hash).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(s: &str) -> Password {
        Password::parse_existing(s.into()).expect("valid")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_beyond_the_queue_is_refused_as_busy() {
        let passwords = Passwords::new(1);
        let attempts = (0..40).map(|_| {
            let passwords = passwords.clone();
            tokio::spawn(async move { passwords.hash(password("correct horse battery")).await })
        });
        let outcomes = futures::future::join_all(attempts).await;
        let busy = outcomes
            .iter()
            .filter(|o| matches!(o, Ok(Err(e)) if e.code == ErrorCode::Busy))
            .count();
        let hashed = outcomes.iter().filter(|o| matches!(o, Ok(Ok(_)))).count();
        assert_eq!(hashed + busy, 40);
        assert!(hashed >= QUEUED_PER_WORKER, "{hashed} hashed");
        assert!(busy > 0, "nothing refused");
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let passwords = Passwords::default();
        let hash = passwords
            .hash(password("correct horse battery"))
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            passwords
                .verify(password("correct horse battery"), Some(hash.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !passwords
                .verify(password("wrong horse battery"), Some(hash))
                .await
                .expect("verify")
        );
        assert!(
            !passwords
                .verify(password("anything at all"), None)
                .await
                .expect("decoy")
        );
    }
}

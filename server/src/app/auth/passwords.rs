//! Argon2id password hashing, off the async runtime and bounded: each hash holds 19 MiB for
//! tens of milliseconds, so a flood of sign-ups or logins must queue for a few workers rather
//! than run hundreds at once (memory) or queue without end (latency).

use crate::app::{AppError, ErrorCode};
use crate::domain::Password;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Hashes waiting per worker before more are refused.
const QUEUED_PER_WORKER: usize = 8;

/// Hashes and verifies passwords with Argon2id (the crate's defaults: the OWASP-recommended
/// 19 MiB, 2 passes, 1 lane), at most `workers` at once.
#[derive(Debug, Clone)]
pub struct Passwords {
    /// A hash of a random password, verified against when the user does not exist so that an
    /// unknown user and a wrong password take the same time.
    decoy: Arc<OnceLock<String>>,
    /// Hashes running.
    running: Arc<Semaphore>,
    /// Hashes running or waiting to run; when none is left the work is refused with 503.
    admitted: Arc<Semaphore>,
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
        let workers = workers.max(1);
        Self {
            decoy: Arc::default(),
            running: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(Semaphore::new(workers * (1 + QUEUED_PER_WORKER))),
        }
    }

    /// Runs one hash or verification on the blocking pool, in turn.
    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let _admitted = Arc::clone(&self.admitted)
            .try_acquire_owned()
            .map_err(|_| {
                metrics::counter!(METRIC_BUSY).increment(1);
                AppError::new(
                    ErrorCode::Busy,
                    "the server is busy checking passwords; retry shortly",
                )
                .retry_after(Duration::from_secs(1))
            })?;
        let _running = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(AppError::internal)?
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
        assert!(hashed > QUEUED_PER_WORKER, "{hashed} hashed");
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

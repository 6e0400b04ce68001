//! Per-object exponential backoff for `error_policy`: one flaky tenant backs off on its own
//! while the others keep their normal pace.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Consecutive failures per object key, and the curve that turns them into delays.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<String, u32>>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_secs(2), Duration::from_secs(300))
    }
}

impl Backoff {
    /// Delays start at `base` and double up to `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Records one more failure of `key` and returns how long to wait before retrying.
    pub fn next(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = failures.entry(key.to_owned()).or_insert(0);
        let delay = self
            .base
            .saturating_mul(2u32.saturating_pow(*n))
            .min(self.max);
        *n = n.saturating_add(1);
        delay
    }

    /// Forgets the failures of `key` after a successful reconcile.
    pub fn reset(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_per_object_caps_and_resets() {
        let b = Backoff::new(Duration::from_secs(2), Duration::from_secs(10));
        assert_eq!(b.next("a"), Duration::from_secs(2));
        assert_eq!(b.next("a"), Duration::from_secs(4));
        assert_eq!(
            b.next("b"),
            Duration::from_secs(2),
            "objects back off independently"
        );
        assert_eq!(b.next("a"), Duration::from_secs(8));
        assert_eq!(b.next("a"), Duration::from_secs(10));
        assert_eq!(b.next("a"), Duration::from_secs(10));
        b.reset("a");
        assert_eq!(b.next("a"), Duration::from_secs(2));
    }
}

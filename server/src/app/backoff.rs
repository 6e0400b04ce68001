//! Exponential back-off with jitter, shared by the background loops that talk to a broker or an
//! index (the outbox relay, the search indexer): an outage costs neither a busy loop nor lost
//! work, and replicas that failed together do not retry together.

use std::time::Duration;

/// The delay before the next attempt: doubles on each failure up to a ceiling, resets on success.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `first`, never waits longer than `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// The wait for this failure — between half and all of the current delay — and doubles the
    /// delay for the next one.
    pub fn failed(&mut self) -> Duration {
        let wait = self.next.mul_f64(0.5 + rand::random::<f64>() / 2.0);
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// Back to the first delay after a success.
    pub fn succeeded(&mut self) {
        self.next = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_ceiling_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(300));
        let waits: Vec<Duration> = (0..4).map(|_| backoff.failed()).collect();
        let ceilings = [100, 200, 300, 300].map(Duration::from_millis);
        for (wait, ceiling) in waits.iter().zip(ceilings) {
            assert!(
                *wait <= ceiling && *wait >= ceiling / 2,
                "{wait:?} vs {ceiling:?}"
            );
        }
        backoff.succeeded();
        assert!(backoff.failed() <= Duration::from_millis(100));
    }
}

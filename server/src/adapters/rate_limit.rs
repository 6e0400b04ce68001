//! The in-process rate limiter (the embedded default, and the Redis limiter's fallback while
//! Redis is away): GCRA arrival times in a sharded map, forgotten once their budget is full.

use crate::domain::{BudgetKey, Rate};
use crate::ports::{RateLimiter, Throttled};
use async_trait::async_trait;
use dashmap::DashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Budgets kept in this process.
#[derive(Debug, Default)]
pub struct InProcessLimiter {
    arrivals: DashMap<String, i64>,
}

fn now_micros() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

impl InProcessLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets keys whose budget is full again, so memory follows the active keys.
    pub fn prune(&self) {
        let now = now_micros();
        self.arrivals.retain(|_, tat| *tat > now);
    }

    fn step(&self, key: &str, rate: Rate, cost: i64) -> Result<(), Throttled> {
        let now = now_micros();
        // The entry is locked from read to write, so concurrent actions on one key count once
        // each.
        let mut entry = self.arrivals.entry(key.to_owned()).or_insert(now);
        match gcra(Some(*entry), now, rate, cost) {
            Ok(next) => {
                *entry = next.unwrap_or(now);
                Ok(())
            }
            Err(retry_after) => Err(Throttled { retry_after }),
        }
    }
}

#[async_trait]
impl RateLimiter for InProcessLimiter {
    async fn acquire(&self, key: &BudgetKey, rate: Rate) -> Result<(), Throttled> {
        self.step(&key.name, rate, 1)
    }

    async fn release(&self, key: &BudgetKey, rate: Rate) {
        let _ = self.step(&key.name, rate, -1);
    }
}

/// One GCRA step, in microseconds (the Redis adapter's Lua script is the same step): the key's stored arrival time `tat`
/// (`None`: a full budget) and the time `now`; returns the new arrival time to store (`None`:
/// forget the key, its budget is full) or the wait when refused. `cost` is 1 to take, -1 to give
/// back.
pub(crate) fn gcra(
    tat: Option<i64>,
    now: i64,
    rate: Rate,
    cost: i64,
) -> Result<Option<i64>, Duration> {
    let interval = i64::try_from(rate.interval().as_micros()).unwrap_or(i64::MAX / 4);
    let tolerance = interval.saturating_mul(i64::from(rate.burst.max(1)));
    let next = tat.unwrap_or(now).max(now) + cost * interval;
    if cost > 0 && next - now > tolerance {
        let wait = u64::try_from(next - now - tolerance).unwrap_or(0);
        return Err(Duration::from_micros(wait));
    }
    Ok((next > now).then_some(next))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        count: 2,
        per: Duration::from_secs(1),
        burst: 3,
    };

    #[test]
    fn a_burst_then_one_action_per_interval() {
        let mut tat = None;
        for _ in 0..3 {
            tat = gcra(tat, 0, RATE, 1).expect("within the burst");
        }
        let refused = gcra(tat, 0, RATE, 1).expect_err("burst spent");
        assert_eq!(refused, Duration::from_millis(500));
        assert_eq!(
            gcra(tat, 499_999, RATE, 1).map(|_| ()),
            Err(Duration::from_micros(1))
        );
        assert!(gcra(tat, 500_000, RATE, 1).is_ok());
        // A quiet spell refills the whole burst, and the key can be forgotten.
        assert_eq!(gcra(tat, 10_000_000, RATE, 0), Ok(None));
    }

    #[test]
    fn giving_back_restores_one_action() {
        let mut tat = None;
        for _ in 0..3 {
            tat = gcra(tat, 0, RATE, 1).expect("within the burst");
        }
        tat = gcra(tat, 0, RATE, -1).expect("release");
        assert!(gcra(tat, 0, RATE, 1).is_ok());
        assert_eq!(gcra(None, 0, RATE, -1), Ok(None));
    }

    #[tokio::test]
    async fn keys_have_budgets_of_their_own() {
        let limiter = InProcessLimiter::new();
        let (a, b) = (BudgetKey::shared("a"), BudgetKey::shared("b"));
        for _ in 0..3 {
            limiter.acquire(&a, RATE).await.expect("within the burst");
        }
        let refused = limiter.acquire(&a, RATE).await.expect_err("spent");
        assert!(refused.retry_after <= Duration::from_millis(500));
        limiter.acquire(&b, RATE).await.expect("another key");
        limiter.release(&a, RATE).await;
        limiter.acquire(&a, RATE).await.expect("given back");
        limiter.prune();
        assert_eq!(limiter.arrivals.len(), 2, "spent budgets are kept");
    }
}

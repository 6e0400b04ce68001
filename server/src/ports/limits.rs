//! Rate limits, as a port: one budget per key, kept in process (the embedded default) or in
//! Redis (`CHEMCHAT_REDIS_URL`), so limits hold across replicas.
//!
//! Both adapters run the same generic cell rate algorithm (GCRA): a key stores its
//! "theoretical arrival time"; an action moves it one interval later and is refused when that
//! would put it more than `burst` intervals ahead of now. One timestamp per key, no counters to
//! reset, and a refusal knows exactly how long to wait.

use crate::domain::{BudgetKey, Rate};
use async_trait::async_trait;
use std::fmt::Debug;
use std::time::Duration;

/// An action was refused; retry after the given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// How long until the action would be allowed.
    pub retry_after: Duration,
}

/// Budgets of repeatable actions, by key.
#[async_trait]
pub trait RateLimiter: Send + Sync + Debug + 'static {
    /// Takes one action from `key`'s budget at `rate`, or refuses it when the budget is spent.
    async fn acquire(&self, key: &BudgetKey, rate: Rate) -> Result<(), Throttled>;

    /// Gives one action back (a TOTP code that turned out right: only failures count).
    async fn release(&self, key: &BudgetKey, rate: Rate);

    /// Takes one action from every budget, or from none: refused with the index of the first
    /// budget that is spent. An adapter may do it in one step (Redis: one script, one round
    /// trip); this default takes them in turn and gives back what it took before a refusal.
    async fn acquire_all(&self, budgets: &[(BudgetKey, Rate)]) -> Result<(), (usize, Throttled)> {
        for (index, (key, rate)) in budgets.iter().enumerate() {
            if let Err(throttled) = self.acquire(key, *rate).await {
                for (taken, rate) in &budgets[..index] {
                    self.release(taken, *rate).await;
                }
                return Err((index, throttled));
            }
        }
        Ok(())
    }
}

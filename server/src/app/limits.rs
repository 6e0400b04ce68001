//! Charging repeatable actions to their budgets (`domain::limits` says which and how fast).

use super::{App, AppError, AppResult, ErrorCode};
use crate::domain::{Action, Subject, Tenant, Tier, limit_key};
use std::net::IpAddr;
use std::time::Duration;

impl App {
    /// Charges one `action` to each of `subjects`' budgets that the action has; refuses it with
    /// `rate_limited` (429, `Retry-After`) naming the first budget that is spent. All or none:
    /// a refused action gives back what it took from the budgets before the spent one (a send the
    /// tenant's budget refuses does not cost the user).
    pub(crate) async fn charge(
        &self,
        tier: Tier,
        action: Action,
        subjects: &[Subject<'_>],
    ) -> AppResult<()> {
        // Every budget at once: one round trip to a shared limiter, nothing taken on refusal.
        let mut budgets = Vec::with_capacity(subjects.len());
        let mut scopes = Vec::with_capacity(subjects.len());
        for subject in subjects {
            let scope = subject.scope();
            if let Some(rate) = self.rates.rate(action, scope, tier) {
                budgets.push((limit_key(action, scope, subject), rate));
                scopes.push(scope);
            }
        }
        let Err((spent, throttled)) = self.limiter.acquire_all(&budgets).await else {
            return Ok(());
        };
        let (scope, rate) = (scopes[spent], budgets[spent].1);
        metrics::counter!(METRIC_REFUSED, "action" => action.as_str(), "scope" => scope.as_str())
            .increment(1);
        let seconds = throttled.retry_after.as_secs_f64().ceil().max(1.0) as u64;
        Err(AppError::new(
            ErrorCode::RateLimited,
            format!(
                "rate limit {}.{} ({rate}) exceeded; retry in {seconds} s",
                action.as_str(),
                scope.as_str()
            ),
        )
        .retry_after(Duration::from_secs(seconds)))
    }

    /// Gives back what [`App::charge`] took from each subject (an attempt that turned out
    /// fine, where only failures should count).
    pub(crate) async fn refund(&self, tier: Tier, action: Action, subjects: &[Subject<'_>]) {
        for subject in subjects {
            let scope = subject.scope();
            if let Some(rate) = self.rates.rate(action, scope, tier) {
                self.limiter
                    .release(&limit_key(action, scope, subject), rate)
                    .await;
            }
        }
    }
}

impl App {
    /// Charges a WebSocket connection attempt to the client address's budget.
    pub async fn connection_attempt(&self, tenant: &Tenant, ip: IpAddr) -> AppResult<()> {
        self.charge(tenant.tier, Action::Connect, &[Subject::Address(ip)])
            .await
    }
}

/// Actions refused by a rate limit, by action and scope (counter).
pub const METRIC_REFUSED: &str = "chemchat_rate_limited_total";

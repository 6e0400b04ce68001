//! The Redis rate limiter: one key per budget holding its GCRA arrival time, updated atomically
//! by a Lua script that reads Redis's own clock, so every replica shares each budget and no
//! replica's clock skews it. A tenant's budgets are `<prefix>chemchat:<tenant>:rl:<name>`; those
//! of client addresses are the pinned tenant's on a server pinned to one (its ACL user reaches
//! nothing else), else shared by every tenant (`<prefix>chemchat:_shared:rl:<name>`). An
//! action's budgets (user, tenant, address…) are checked and taken together by one script: one
//! round trip per action. While Redis cannot be reached, each replica limits with its own
//! in-process budgets (counted in `chemchat_rate_limit_fallbacks_total`) rather than letting
//! everything through.

use super::COMMAND_TIMEOUT;
use super::names::{shared_root, tenant_root};
use crate::adapters::rate_limit::InProcessLimiter;
use crate::domain::{BudgetKey, Rate, TenantId};
use crate::ports::{RateLimiter, Throttled};
use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;
use std::sync::Arc;
use std::time::Duration;

/// Decisions taken in process because Redis did not answer (counter).
pub const METRIC_FALLBACKS: &str = "chemchat_rate_limit_fallbacks_total";

/// The GCRA step of `adapters/rate_limit.rs::gcra` in Lua, in microseconds. KEYS[1]: the
/// budget; ARGV: interval, tolerance (interval × burst), cost (1 take, -1 give back). Returns 0
/// when allowed, else the wait.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next = tat + cost * interval
if cost > 0 and next - now > tolerance then
  return next - now - tolerance
end
if next <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%d', next), 'PX', math.ceil((next - now) / 1000))
end
return 0
";

/// Every budget of one action at once, all or nothing: KEYS are the budgets, ARGV their
/// interval and tolerance in pairs. Returns `{0, 0}` when every one allowed it (and took it),
/// else `{i, wait}` for the first spent budget (1-based), having taken nothing. The keys must
/// live on one Redis node (ChemChat uses a single Redis, not a cluster).
const GCRA_ALL: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nexts = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local next = tat + interval
  if next - now > tolerance then
    return {i, next - now - tolerance}
  end
  nexts[i] = next
end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%d', nexts[i]), 'PX', math.ceil((nexts[i] - now) / 1000))
end
return {0, 0}
";

/// Budgets shared by every replica through Redis.
#[derive(Debug)]
pub struct RedisLimiter {
    connection: ConnectionManager,
    prefix: String,
    /// The tenant a pinned server serves: its budgets of addresses are that tenant's.
    pinned: Option<TenantId>,
    script: Script,
    script_all: Script,
    fallback: Arc<InProcessLimiter>,
}

impl RedisLimiter {
    /// Connects to Redis; `prefix` scopes every key.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        Ok(Self {
            connection: super::connect(&client).await?,
            prefix: prefix.to_owned(),
            pinned: None,
            script: Script::new(GCRA),
            script_all: Script::new(GCRA_ALL),
            fallback: Arc::new(InProcessLimiter::new()),
        })
    }

    /// Keeps the budgets of client addresses with `tenant`'s, for a server pinned to it.
    pub fn pinned_to(mut self, tenant: Option<TenantId>) -> Self {
        self.pinned = tenant;
        self
    }

    /// The Redis key of a budget.
    fn key(&self, budget: &BudgetKey) -> String {
        let root = match budget.tenant.as_ref().or(self.pinned.as_ref()) {
            Some(tenant) => tenant_root(&self.prefix, tenant),
            None => shared_root(&self.prefix),
        };
        format!("{root}rl:{}", budget.name)
    }

    /// The in-process budgets used while Redis is away, to prune.
    pub fn fallback_handle(&self) -> Arc<InProcessLimiter> {
        Arc::clone(&self.fallback)
    }

    /// Runs one step in Redis: `Some(wait)` when refused, `None` when allowed, `Err` when Redis
    /// did not answer.
    async fn step(&self, key: &BudgetKey, rate: Rate, cost: i64) -> Result<Option<Duration>, ()> {
        let (interval, tolerance) = micros(rate);
        let mut connection = self.connection.clone();
        let mut invocation = self.script.key(self.key(key));
        invocation.arg(interval).arg(tolerance).arg(cost);
        let answered = tokio::time::timeout(
            COMMAND_TIMEOUT,
            invocation.invoke_async::<i64>(&mut connection),
        )
        .await;
        match answered {
            Ok(Ok(0)) => Ok(None),
            Ok(Ok(wait)) => Ok(Some(Duration::from_micros(
                u64::try_from(wait).unwrap_or(0),
            ))),
            Ok(Err(error)) => {
                tracing::debug!(%error, "rate limit not checked in Redis");
                Err(())
            }
            Err(_) => Err(()),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn acquire(&self, key: &BudgetKey, rate: Rate) -> Result<(), Throttled> {
        match self.step(key, rate, 1).await {
            Ok(None) => Ok(()),
            Ok(Some(retry_after)) => Err(Throttled { retry_after }),
            Err(()) => {
                metrics::counter!(METRIC_FALLBACKS).increment(1);
                self.fallback.acquire(key, rate).await
            }
        }
    }

    async fn release(&self, key: &BudgetKey, rate: Rate) {
        if self.step(key, rate, -1).await.is_err() {
            self.fallback.release(key, rate).await;
        }
    }

    async fn acquire_all(&self, budgets: &[(BudgetKey, Rate)]) -> Result<(), (usize, Throttled)> {
        if budgets.len() < 2 {
            return match budgets.first() {
                Some((key, rate)) => self.acquire(key, *rate).await.map_err(|t| (0, t)),
                None => Ok(()),
            };
        }
        let mut invocation = self.script_all.prepare_invoke();
        for (key, rate) in budgets {
            let (interval, tolerance) = micros(*rate);
            invocation.key(self.key(key)).arg(interval).arg(tolerance);
        }
        let mut connection = self.connection.clone();
        let answered = tokio::time::timeout(
            COMMAND_TIMEOUT,
            invocation.invoke_async::<(i64, i64)>(&mut connection),
        )
        .await;
        match answered {
            Ok(Ok((0, _))) => Ok(()),
            Ok(Ok((spent, wait))) => Err((
                usize::try_from(spent - 1).unwrap_or(0),
                Throttled {
                    retry_after: Duration::from_micros(u64::try_from(wait).unwrap_or(0)),
                },
            )),
            Ok(Err(error)) => {
                tracing::debug!(%error, "rate limits not checked in Redis");
                metrics::counter!(METRIC_FALLBACKS).increment(1);
                self.fallback.acquire_all(budgets).await
            }
            Err(_) => {
                metrics::counter!(METRIC_FALLBACKS).increment(1);
                self.fallback.acquire_all(budgets).await
            }
        }
    }
}

/// A rate's GCRA interval and tolerance (interval × burst), in microseconds.
fn micros(rate: Rate) -> (i64, i64) {
    let interval = i64::try_from(rate.interval().as_micros()).unwrap_or(i64::MAX / 4);
    (
        interval,
        interval.saturating_mul(i64::from(rate.burst.max(1))),
    )
}

//! The connection ledger in Redis: two sorted sets per tenant
//! (`<prefix>chemchat:<tenant>:{<tenant>}:conns` and `…:conns:<user>`, members the connection
//! keys, scores their expiry), checked and updated by one Lua script on Redis's clock. Both start
//! with the tenant's root (its ACL user reaches them), and the tenant is their hash tag, so both
//! live on one cluster slot while tenants spread over slots. A connection of an instance that died
//! expires with its score.

use super::COMMAND_TIMEOUT;
use crate::domain::{TenantId, UserId};
use crate::ports::{ConnectionLedger, ConnectionLimits, Refusal};
use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;
use std::time::Duration;

/// KEYS: tenant set, user set. ARGV: connection, ttl ms, per-user limit, per-tenant limit (0:
/// none). Returns 0 admitted, 1 over the user's limit, 2 over the tenant's.
const ADMIT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 1 end
  local per_tenant = tonumber(ARGV[4])
  if per_tenant > 0 and redis.call('ZCARD', KEYS[1]) >= per_tenant then return 2 end
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return 0
";

/// KEYS: tenant set, user set. ARGV: connection, ttl ms. Moves the expiry of a recorded
/// connection (`XX`: a released one stays released).
const REFRESH: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[1])
redis.call('ZADD', KEYS[2], 'XX', now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return 0
";

/// KEYS: tenant set. Counts the connections whose expiry is still ahead.
const COUNT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
";

/// Live connections of every instance, in Redis.
#[derive(Debug)]
pub struct RedisLedger {
    connection: ConnectionManager,
    prefix: String,
    admit: Script,
    refresh: Script,
    count: Script,
}

impl RedisLedger {
    /// Connects; `prefix` scopes every key.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        Ok(Self {
            connection: super::connect(&client).await?,
            prefix: prefix.to_owned(),
            admit: Script::new(ADMIT),
            refresh: Script::new(REFRESH),
            count: Script::new(COUNT),
        })
    }

    fn tenant_key(&self, tenant: &TenantId) -> String {
        format!(
            "{}{{{tenant}}}:conns",
            super::names::tenant_root(&self.prefix, tenant)
        )
    }

    fn keys(&self, tenant: &TenantId, user: UserId) -> (String, String) {
        let tenant_set = self.tenant_key(tenant);
        let user_set = format!("{tenant_set}:{user}");
        (tenant_set, user_set)
    }

    async fn run(
        &self,
        script: &Script,
        keys: (String, String),
        args: &[String],
    ) -> anyhow::Result<i64> {
        let mut invocation = script.key(keys.0);
        invocation.key(keys.1);
        for arg in args {
            invocation.arg(arg);
        }
        let mut connection = self.connection.clone();
        let answer = tokio::time::timeout(
            COMMAND_TIMEOUT,
            invocation.invoke_async::<i64>(&mut connection),
        )
        .await
        .map_err(|_| anyhow::anyhow!("redis timed out"))??;
        Ok(answer)
    }
}

fn millis(ttl: Duration) -> String {
    ttl.as_millis().max(1).to_string()
}

#[async_trait]
impl ConnectionLedger for RedisLedger {
    async fn admit(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        limits: ConnectionLimits,
        ttl: Duration,
    ) -> anyhow::Result<Result<(), Refusal>> {
        let args = [
            connection.to_owned(),
            millis(ttl),
            limits.per_user.to_string(),
            limits.per_tenant.unwrap_or(0).to_string(),
        ];
        Ok(
            match self
                .run(&self.admit, self.keys(tenant, user), &args)
                .await?
            {
                0 => Ok(()),
                1 => Err(Refusal::User),
                _ => Err(Refusal::Tenant),
            },
        )
    }

    async fn refresh(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        ttl: Duration,
    ) -> anyhow::Result<()> {
        let args = [connection.to_owned(), millis(ttl)];
        self.run(&self.refresh, self.keys(tenant, user), &args)
            .await?;
        Ok(())
    }

    async fn tenant_connections(&self, tenant: &TenantId) -> anyhow::Result<u64> {
        let mut connection = self.connection.clone();
        let count = tokio::time::timeout(
            COMMAND_TIMEOUT,
            self.count
                .key(self.tenant_key(tenant))
                .invoke_async::<u64>(&mut connection),
        )
        .await
        .map_err(|_| anyhow::anyhow!("redis timed out"))??;
        Ok(count)
    }

    async fn release(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
    ) -> anyhow::Result<()> {
        let (tenant_set, user_set) = self.keys(tenant, user);
        let mut pipe = redis::pipe();
        pipe.zrem(tenant_set, connection).ignore();
        pipe.zrem(user_set, connection).ignore();
        let mut redis = self.connection.clone();
        tokio::time::timeout(COMMAND_TIMEOUT, pipe.query_async::<()>(&mut redis))
            .await
            .map_err(|_| anyhow::anyhow!("redis timed out"))??;
        Ok(())
    }
}

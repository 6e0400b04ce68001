//! Presence in Redis: one hash per user (`<prefix>chemchat:<tenant>:presence:<user>`), a field
//! per connection holding `status:expiresAtMs`, and `_seen` for the last activity. A crashed
//! instance's fields expire by time; the key itself expires when no one refreshes it.

use super::COMMAND_TIMEOUT;
use crate::domain::{TenantId, UserId};
use crate::ports::{Presence, PresenceError, Status, UserPresence};
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::time::Duration;

const SEEN: &str = "_seen";
/// The whole key outlives its connections' TTL by this much, so `lastSeen` survives a while.
const KEY_TTL: Duration = Duration::from_secs(24 * 3600);

/// Presence shared by every instance through Redis.
#[derive(Debug, Clone)]
pub struct RedisPresence {
    connection: ConnectionManager,
    prefix: String,
}

impl RedisPresence {
    /// Connects; `prefix` scopes every key.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        Ok(Self {
            connection: super::connect(&client).await?,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, tenant: &TenantId, user: UserId) -> String {
        format!("{}chemchat:{tenant}:presence:{user}", self.prefix)
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, PresenceError> {
        let mut connection = self.connection.clone();
        match tokio::time::timeout(COMMAND_TIMEOUT, pipe.query_async(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(PresenceError(e.into())),
            Err(_) => Err(PresenceError(anyhow::anyhow!("redis timed out"))),
        }
    }
}

fn aggregate(fields: &HashMap<String, String>, now_ms: i64) -> UserPresence {
    let mut status = Status::Offline;
    let mut last_seen_ms = 0;
    for (field, value) in fields {
        if field == SEEN {
            last_seen_ms = value.parse().unwrap_or(0);
            continue;
        }
        let Some((text, expires)) = value.split_once(':') else {
            continue;
        };
        let live = expires.parse::<i64>().is_ok_and(|at| at > now_ms);
        if let (true, Some(s)) = (live, Status::parse(text)) {
            status = status.max(s);
        }
    }
    UserPresence {
        status,
        last_seen_ms,
    }
}

#[async_trait]
impl Presence for RedisPresence {
    async fn set(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        status: Status,
        ttl: Duration,
        now_ms: i64,
    ) -> Result<UserPresence, PresenceError> {
        let key = self.key(tenant, user);
        let expires = now_ms.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        let mut pipe = redis::pipe();
        pipe.hset(&key, connection, format!("{}:{expires}", status.as_str()))
            .ignore()
            .hset(&key, SEEN, now_ms)
            .ignore()
            .pexpire(&key, i64::try_from(KEY_TTL.as_millis()).unwrap_or(i64::MAX))
            .ignore()
            .hgetall(&key);
        let (fields,): (HashMap<String, String>,) = self.run(&pipe).await?;
        Ok(aggregate(&fields, now_ms))
    }

    async fn remove(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        now_ms: i64,
    ) -> Result<UserPresence, PresenceError> {
        let key = self.key(tenant, user);
        let mut pipe = redis::pipe();
        pipe.hdel(&key, connection)
            .ignore()
            .hset(&key, SEEN, now_ms)
            .ignore()
            .hgetall(&key);
        let (fields,): (HashMap<String, String>,) = self.run(&pipe).await?;
        Ok(aggregate(&fields, now_ms))
    }

    async fn get(
        &self,
        tenant: &TenantId,
        users: &[UserId],
        now_ms: i64,
    ) -> Result<Vec<UserPresence>, PresenceError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for user in users {
            pipe.hgetall(self.key(tenant, *user));
        }
        let all: Vec<HashMap<String, String>> = self.run(&pipe).await?;
        Ok(all.iter().map(|f| aggregate(f, now_ms)).collect())
    }
}

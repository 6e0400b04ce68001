//! Attention in Redis: one hash per conversation (`<prefix>chemchat:<tenant>:attention:<id>`),
//! a field per looking connection (`<user>|<connection>`) holding its expiry in Unix
//! milliseconds. Expired fields are skipped when read and pruned when the connection leaves;
//! the key itself expires when no one refreshes it.

use super::COMMAND_TIMEOUT;
use crate::domain::{ConversationId, TenantId, UserId};
use crate::ports::Attention;
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Attention shared by every instance through Redis.
#[derive(Debug, Clone)]
pub struct RedisAttention {
    connection: ConnectionManager,
    prefix: String,
}

impl RedisAttention {
    /// Connects; `prefix` scopes every key.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        Ok(Self {
            connection: super::connect(&client).await?,
            prefix: prefix.to_owned(),
        })
    }

    fn key(&self, tenant: &TenantId, conversation: ConversationId) -> String {
        format!("{}chemchat:{tenant}:attention:{conversation}", self.prefix)
    }

    async fn run<T: redis::FromRedisValue>(&self, pipe: &redis::Pipeline) -> anyhow::Result<T> {
        let mut connection = self.connection.clone();
        match tokio::time::timeout(COMMAND_TIMEOUT, pipe.query_async(&mut connection)).await {
            Ok(result) => Ok(result?),
            Err(_) => anyhow::bail!("redis timed out"),
        }
    }
}

fn field(user: UserId, connection: &str) -> String {
    format!("{user}|{connection}")
}

#[async_trait]
impl Attention for RedisAttention {
    async fn look(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        rooms: &[ConversationId],
        ttl: Duration,
        now_ms: i64,
    ) -> anyhow::Result<()> {
        if rooms.is_empty() {
            return Ok(());
        }
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let until = now_ms.saturating_add(ttl_ms);
        let mut pipe = redis::pipe();
        for room in rooms {
            let key = self.key(tenant, *room);
            pipe.hset(&key, field(user, connection), until)
                .ignore()
                .pexpire(&key, ttl_ms)
                .ignore();
        }
        self.run::<()>(&pipe).await
    }

    async fn look_away(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        rooms: &[ConversationId],
    ) -> anyhow::Result<()> {
        if rooms.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for room in rooms {
            pipe.hdel(self.key(tenant, *room), field(user, connection))
                .ignore();
        }
        self.run::<()>(&pipe).await
    }

    async fn looking(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        now_ms: i64,
    ) -> anyhow::Result<HashSet<UserId>> {
        let mut pipe = redis::pipe();
        pipe.hgetall(self.key(tenant, conversation));
        let (fields,): (HashMap<String, i64>,) = self.run(&pipe).await?;
        Ok(fields
            .into_iter()
            .filter(|(_, expires)| *expires > now_ms)
            .filter_map(|(field, _)| {
                let (user, _) = field.split_once('|')?;
                UserId::parse(user)
            })
            .collect())
    }
}

//! In-process attention: per conversation, the connections that have it open and until when.

use crate::domain::{ConversationId, TenantId, UserId};
use crate::ports::Attention;
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

type Lookers = HashMap<(UserId, String), i64>;

/// Attention kept in this process's memory (a single instance).
#[derive(Debug, Default)]
pub struct LocalAttention {
    rooms: Mutex<HashMap<(TenantId, ConversationId), Lookers>>,
}

impl LocalAttention {
    /// No one looking at anything.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<(TenantId, ConversationId), Lookers>) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update of plain data.
        let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut rooms)
    }
}

#[async_trait]
impl Attention for LocalAttention {
    async fn look(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        rooms: &[ConversationId],
        ttl: Duration,
        now_ms: i64,
    ) -> anyhow::Result<()> {
        let until = now_ms.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
        self.with(|all| {
            for room in rooms {
                let lookers = all.entry((tenant.clone(), *room)).or_default();
                lookers.retain(|_, expires| *expires > now_ms);
                lookers.insert((user, connection.to_owned()), until);
            }
        });
        Ok(())
    }

    async fn look_away(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        rooms: &[ConversationId],
    ) -> anyhow::Result<()> {
        self.with(|all| {
            for room in rooms {
                let key = (tenant.clone(), *room);
                if let Some(lookers) = all.get_mut(&key) {
                    lookers.remove(&(user, connection.to_owned()));
                    if lookers.is_empty() {
                        all.remove(&key);
                    }
                }
            }
        });
        Ok(())
    }

    async fn looking(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        now_ms: i64,
    ) -> anyhow::Result<HashSet<UserId>> {
        Ok(self.with(|all| {
            all.get(&(tenant.clone(), conversation))
                .map(|lookers| {
                    lookers
                        .iter()
                        .filter(|(_, expires)| **expires > now_ms)
                        .map(|((user, _), _)| *user)
                        .collect()
                })
                .unwrap_or_default()
        }))
    }
}

//! In-process presence: per-connection records with an expiry, for a single instance.

use crate::domain::{TenantId, UserId};
use crate::ports::{Presence, PresenceError, Status, UserPresence};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Default)]
struct UserRecord {
    /// Connection → (status, expires at ms).
    connections: HashMap<String, (Status, i64)>,
    last_seen_ms: i64,
}

impl UserRecord {
    fn aggregate(&mut self, now_ms: i64) -> UserPresence {
        self.connections.retain(|_, (_, expires)| *expires > now_ms);
        let status = self
            .connections
            .values()
            .map(|(status, _)| *status)
            .max()
            .unwrap_or(Status::Offline);
        UserPresence {
            status,
            last_seen_ms: self.last_seen_ms,
        }
    }
}

/// Presence kept in this process's memory.
#[derive(Debug, Default)]
pub struct LocalPresence {
    users: Mutex<HashMap<(TenantId, UserId), UserRecord>>,
}

impl LocalPresence {
    /// No one online.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<(TenantId, UserId), UserRecord>) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update of plain data.
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut users)
    }
}

#[async_trait]
impl Presence for LocalPresence {
    async fn set(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        status: Status,
        ttl: Duration,
        now_ms: i64,
    ) -> Result<UserPresence, PresenceError> {
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        Ok(self.with(|users| {
            let record = users.entry((tenant.clone(), user)).or_default();
            record.connections.insert(
                connection.to_owned(),
                (status, now_ms.saturating_add(ttl_ms)),
            );
            record.last_seen_ms = now_ms;
            record.aggregate(now_ms)
        }))
    }

    async fn remove(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        now_ms: i64,
    ) -> Result<UserPresence, PresenceError> {
        Ok(self.with(|users| {
            let key = (tenant.clone(), user);
            let Some(record) = users.get_mut(&key) else {
                return UserPresence {
                    status: Status::Offline,
                    last_seen_ms: now_ms,
                };
            };
            record.connections.remove(connection);
            record.last_seen_ms = now_ms;
            // The record stays (a few bytes) so `lastSeen` survives going offline.
            record.aggregate(now_ms)
        }))
    }

    async fn get(
        &self,
        tenant: &TenantId,
        users: &[UserId],
        now_ms: i64,
    ) -> Result<Vec<UserPresence>, PresenceError> {
        Ok(self.with(|records| {
            users
                .iter()
                .map(|user| {
                    records.get_mut(&(tenant.clone(), *user)).map_or(
                        UserPresence {
                            status: Status::Offline,
                            last_seen_ms: 0,
                        },
                        |r| r.aggregate(now_ms),
                    )
                })
                .collect()
        }))
    }
}

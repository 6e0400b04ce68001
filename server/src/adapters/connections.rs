//! The connection ledger of a single instance (the embedded default): counts in this process.
//! Connections always leave through the session's close, so no entry needs to expire here.

use crate::domain::{TenantId, UserId};
use crate::ports::{ConnectionLedger, ConnectionLimits, Refusal};
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

/// Live connections per tenant and user, in this process.
#[derive(Debug, Default)]
pub struct LocalLedger {
    tenants: Mutex<HashMap<TenantId, TenantConnections>>,
}

#[derive(Debug, Default)]
struct TenantConnections {
    total: u64,
    users: HashMap<UserId, HashSet<String>>,
}

impl LocalLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ConnectionLedger for LocalLedger {
    async fn admit(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        limits: ConnectionLimits,
        _ttl: Duration,
    ) -> anyhow::Result<Result<(), Refusal>> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let entry = tenants.entry(tenant.clone()).or_default();
        let mine = entry.users.entry(user).or_default();
        if mine.contains(connection) {
            return Ok(Ok(()));
        }
        if mine.len() as u64 >= limits.per_user {
            return Ok(Err(Refusal::User));
        }
        if limits.per_tenant.is_some_and(|max| entry.total >= max) {
            return Ok(Err(Refusal::Tenant));
        }
        mine.insert(connection.to_owned());
        entry.total += 1;
        Ok(Ok(()))
    }

    async fn refresh(&self, _: &TenantId, _: UserId, _: &str, _: Duration) -> anyhow::Result<()> {
        Ok(())
    }

    async fn tenant_connections(&self, tenant: &TenantId) -> anyhow::Result<u64> {
        let tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        Ok(tenants.get(tenant).map_or(0, |entry| entry.total))
    }

    async fn release(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
    ) -> anyhow::Result<()> {
        let mut tenants = self.tenants.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = tenants.get_mut(tenant) else {
            return Ok(());
        };
        if let Some(mine) = entry.users.get_mut(&user)
            && mine.remove(connection)
        {
            entry.total = entry.total.saturating_sub(1);
            if mine.is_empty() {
                entry.users.remove(&user);
            }
        }
        if entry.total == 0 {
            tenants.remove(tenant);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn users_and_tenants_have_limits() {
        let ledger = LocalLedger::new();
        let tenant = TenantId::parse("acme").expect("tenant");
        let (alice, bob) = (UserId::generate(), UserId::generate());
        let limits = ConnectionLimits {
            per_user: 2,
            per_tenant: Some(3),
        };
        let ttl = Duration::from_secs(60);
        let admit = |user, conn: &'static str| ledger.admit(&tenant, user, conn, limits, ttl);
        assert_eq!(admit(alice, "a1").await.unwrap(), Ok(()));
        assert_eq!(admit(alice, "a2").await.unwrap(), Ok(()));
        assert_eq!(admit(alice, "a2").await.unwrap(), Ok(()), "already counted");
        assert_eq!(admit(alice, "a3").await.unwrap(), Err(Refusal::User));
        assert_eq!(admit(bob, "b1").await.unwrap(), Ok(()));
        assert_eq!(admit(bob, "b2").await.unwrap(), Err(Refusal::Tenant));
        ledger.release(&tenant, alice, "a1").await.unwrap();
        assert_eq!(admit(bob, "b2").await.unwrap(), Ok(()));
    }
}

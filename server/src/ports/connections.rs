//! The connection ledger, as a port: how many live connections each user and each tenant holds,
//! across every instance (Redis when `CHEMCHAT_REDIS_URL` is set; this process otherwise), so a
//! user's socket limit and a tenant's `maxConnections` hold wherever the sockets land.
//!
//! Entries expire unless refreshed (with the heartbeat), so an instance that dies does not keep
//! its connections counted for ever.

use crate::domain::{TenantId, UserId};
use async_trait::async_trait;
use std::fmt::Debug;
use std::time::Duration;

/// The limits one admission is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Live connections one user may hold.
    pub per_user: u64,
    /// Live connections the whole tenant may hold (`None`: no limit).
    pub per_tenant: Option<u64>,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The user holds `per_user` connections already.
    User,
    /// The tenant holds `per_tenant` connections already.
    Tenant,
}

/// Counts of live connections.
#[async_trait]
pub trait ConnectionLedger: Send + Sync + Debug + 'static {
    /// Records `connection` of `user` for `ttl` unless a limit is reached. Admitting a
    /// connection that is already recorded refreshes it.
    async fn admit(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        limits: ConnectionLimits,
        ttl: Duration,
    ) -> anyhow::Result<Result<(), Refusal>>;

    /// Keeps a recorded connection alive for another `ttl`.
    async fn refresh(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
        ttl: Duration,
    ) -> anyhow::Result<()>;

    /// Live connections the tenant holds now, on every instance.
    async fn tenant_connections(&self, tenant: &TenantId) -> anyhow::Result<u64>;

    /// Forgets a connection.
    async fn release(
        &self,
        tenant: &TenantId,
        user: UserId,
        connection: &str,
    ) -> anyhow::Result<()>;
}

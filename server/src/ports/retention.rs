//! The retention port: each tenant's rules, legal holds on conversations, and the sweeper's
//! batches of expired messages.

use super::{AuditEntry, StoreResult};
use crate::domain::{ConversationId, TenantId, TenantRetention};
use async_trait::async_trait;

/// A change of a tenant's retention: the parts given are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionChange {
    /// A new maximum age in seconds (`Some(None)`: keep for ever).
    pub max_seconds: Option<Option<u32>>,
    /// Place or lift the tenant's legal hold.
    pub legal_hold: Option<bool>,
}

/// Persistence of retention.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// The tenant's rules (none when never set).
    async fn retention_rules(&self, tenant: &TenantId) -> StoreResult<TenantRetention>;

    /// Places or lifts a legal hold on a conversation, with its audit entry; `false` when there
    /// is no such conversation.
    async fn set_legal_hold(
        &self,
        tenant: &TenantId,
        conversation: ConversationId,
        hold: bool,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;

    /// The tenants, of every tenant, whose rules or conversations may expire messages.
    async fn retention_tenants(&self) -> StoreResult<Vec<TenantId>>;

    /// Turns up to `limit` of the tenant's expired messages at `now_ms` into tombstones, each
    /// with its `message.deleted` event, in one transaction; returns how many.
    async fn expire_messages(&self, tenant: &TenantId, now_ms: i64, limit: u32)
    -> StoreResult<u32>;
}

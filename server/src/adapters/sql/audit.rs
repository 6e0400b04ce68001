//! The append-only audit log.

use super::{Tx, db};
use crate::domain::TenantId;
use crate::ports::{AuditEntry, StoreResult};

/// Inserts an entry inside the caller's transaction, so the audit row commits with the change.
pub(super) async fn insert(tx: &mut Tx, tenant: &TenantId, entry: &AuditEntry) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, id, at, user_id, action, target, ip, user_agent, \
         detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant.as_str())
    .bind(entry.id.to_string())
    .bind(entry.at_ms)
    .bind(entry.user_id.map(|u| u.to_string()))
    .bind(entry.action.as_str())
    .bind(entry.target.as_deref())
    .bind(entry.ip.as_deref())
    .bind(entry.user_agent.as_deref())
    .bind(entry.detail.to_string())
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

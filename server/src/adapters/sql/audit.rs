//! The append-only audit log.

use super::rows::AuditRow;
use super::{SqlStore, Tx, db};
use crate::domain::TenantId;
use crate::ports::{AuditEntry, StoreResult};

/// Inserts an entry inside the caller's transaction, so the audit row commits with the change.
pub(super) async fn insert(tx: &mut Tx, tenant: &TenantId, entry: &AuditEntry) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, id, at, user_id, action, ip, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.as_str())
    .bind(entry.id.to_string())
    .bind(entry.at_ms)
    .bind(entry.user_id.map(|u| u.to_string()))
    .bind(entry.action.as_str())
    .bind(entry.ip.as_deref())
    .bind(entry.detail.to_string())
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

pub(super) async fn newest(
    store: &SqlStore,
    tenant: &TenantId,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let mut tx = store.read(tenant).await?;
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, at, user_id, action, ip, detail FROM audit_log WHERE tenant_id = $1 \
         ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(tenant.as_str())
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    rows.into_iter().map(AuditEntry::try_from).collect()
}

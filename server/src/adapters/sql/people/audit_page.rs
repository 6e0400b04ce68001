//! Reading the audit trail: newest first, filtered by actor, action, target and time, paged by
//! (time, id).

use super::super::rows::AuditRow;
use super::super::{SqlStore, db};
use crate::domain::TenantId;
use crate::ports::{AuditEntry, AuditQuery, StoreResult};

pub(super) async fn page(
    store: &SqlStore,
    tenant: &TenantId,
    query: &AuditQuery,
) -> StoreResult<Vec<AuditEntry>> {
    // An action ending in '.' is a family (`login.` finds `login.failed`, `login.succeeded`).
    let (action, action_family) = match query.action.as_deref() {
        Some(family) if family.ends_with('.') => (None, Some(format!("{family}%"))),
        other => (other, None),
    };
    let (before_at, before_id) = match &query.before {
        Some((at, id)) => (Some(*at), Some(id.as_str())),
        None => (None, None),
    };
    let mut tx = store.read(tenant).await?;
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT id, at, user_id, action, target, ip, user_agent, detail FROM audit_log \
         WHERE tenant_id = $1 \
         AND ($2 IS NULL OR user_id = $2) \
         AND ($3 IS NULL OR action = $3) \
         AND ($4 IS NULL OR action LIKE $4) \
         AND ($5 IS NULL OR target = $5) \
         AND ($6 IS NULL OR at >= $6) \
         AND ($7 IS NULL OR at < $7) \
         AND ($8 IS NULL OR at < $8 OR (at = $8 AND id < $9)) \
         ORDER BY at DESC, id DESC LIMIT $10",
    )
    .bind(tenant.as_str())
    .bind(query.actor.map(|a| a.to_string()))
    .bind(action)
    .bind(action_family)
    .bind(query.target.as_deref())
    .bind(query.from_ms)
    .bind(query.to_ms)
    .bind(before_at)
    .bind(before_id)
    .bind(i64::from(query.limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    rows.into_iter().map(AuditEntry::try_from).collect()
}

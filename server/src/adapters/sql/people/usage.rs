//! A tenant's usage, counted from its rows in one read transaction.

use super::super::{SqlStore, db};
use crate::domain::TenantId;
use crate::ports::{StoreResult, TenantUsage};

pub(super) async fn read(
    store: &SqlStore,
    tenant: &TenantId,
    day: i64,
) -> StoreResult<TenantUsage> {
    let mut tx = store.read(tenant).await?;
    let (users, conversations, messages_today, storage_bytes): (i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND deleted_at IS NULL), \
             (SELECT COUNT(*) FROM conversations WHERE tenant_id = $1), \
             COALESCE((SELECT messages FROM tenant_daily_usage WHERE tenant_id = $1 AND day = $2), 0), \
             COALESCE((SELECT bytes FROM tenant_storage WHERE tenant_id = $1), 0)",
        )
        .bind(tenant.as_str())
        .bind(day)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(TenantUsage {
        users: count(users),
        conversations: count(conversations),
        messages_today: count(messages_today),
        storage_bytes: count(storage_bytes),
    })
}

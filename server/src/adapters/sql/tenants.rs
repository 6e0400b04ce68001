//! Tenant rows.

use super::rows::{TenantRow, quota};
use super::{SqlStore, Tx, db};
use crate::domain::{Tenant, TenantId};
use crate::ports::StoreResult;

const COLUMNS: &str = "id, display_name, tier, max_users, max_conversations, \
                       max_messages_per_day, max_storage_bytes, max_connections";

pub(super) async fn upsert(store: &SqlStore, tenant: &Tenant) -> StoreResult<()> {
    let mut tx = store.write(&tenant.id).await?;
    insert(
        &mut tx,
        tenant,
        "ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, \
         tier = excluded.tier, max_users = excluded.max_users, \
         max_conversations = excluded.max_conversations, \
         max_messages_per_day = excluded.max_messages_per_day, \
         max_storage_bytes = excluded.max_storage_bytes, \
         max_connections = excluded.max_connections",
    )
    .await?;
    tx.commit().await.map_err(db)
}

pub(super) async fn ensure(store: &SqlStore, tenant: &Tenant) -> StoreResult<Tenant> {
    let mut tx = store.write(&tenant.id).await?;
    insert(&mut tx, tenant, "ON CONFLICT (id) DO NOTHING").await?;
    let stored = select(&mut tx, &tenant.id).await?;
    tx.commit().await.map_err(db)?;
    Ok(stored.unwrap_or_else(|| tenant.clone()))
}

pub(super) async fn get(store: &SqlStore, id: &TenantId) -> StoreResult<Option<Tenant>> {
    let mut tx = store.read(id).await?;
    let tenant = select(&mut tx, id).await?;
    tx.commit().await.map_err(db)?;
    Ok(tenant)
}

async fn insert(tx: &mut Tx, tenant: &Tenant, on_conflict: &str) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO tenants ({COLUMNS}, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         {on_conflict}"
    );
    let q = &tenant.quotas;
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.id.as_str())
        .bind(tenant.display_name.as_str())
        .bind(tenant.tier.as_str())
        .bind(quota(q.max_users))
        .bind(quota(q.max_conversations))
        .bind(quota(q.max_messages_per_day))
        .bind(quota(q.max_storage_bytes))
        .bind(quota(q.max_connections))
        .bind(time::OffsetDateTime::now_utc().unix_timestamp() * 1000)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    Ok(())
}

async fn select(tx: &mut Tx, id: &TenantId) -> StoreResult<Option<Tenant>> {
    let sql = format!("SELECT {COLUMNS} FROM tenants WHERE id = $1");
    let row: Option<TenantRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    row.map(Tenant::try_from).transpose()
}

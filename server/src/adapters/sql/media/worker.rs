//! The worker side: the pipeline's leases and the sweeper's picks, which span tenants (through
//! PostgreSQL's `media_worker` policy, opted into per transaction), and their outcomes.

use super::super::{Engine, SqlStore, Tx, db};
use super::rows::{add_usage, media_id};
use crate::domain::{MediaId, TenantId};
use crate::ports::{Processed, StoreError, StoreResult};

/// Leases a worker may take on one item before it is given up as failed: an item that crashes
/// or stalls the pipeline three times would otherwise be retried forever.
const MAX_ATTEMPTS: i64 = 3;

/// A write transaction that may read and change every tenant's media rows.
async fn worker_tx(store: &SqlStore) -> StoreResult<Tx> {
    store.worker("media_worker", "media", true).await
}

/// `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two instances' workers pick different items;
/// SQLite's single writer already serialises them.
fn skip_locked(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => " FOR UPDATE SKIP LOCKED",
        Engine::Sqlite => "",
    }
}

fn parse_pairs(rows: Vec<(String, String)>) -> StoreResult<Vec<(TenantId, MediaId)>> {
    rows.into_iter()
        .map(|(tenant, id)| {
            let tenant =
                TenantId::parse(&tenant).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok((tenant, media_id(&id)?))
        })
        .collect()
}

pub(in super::super) async fn lease(
    store: &SqlStore,
    now_ms: i64,
    lease_ms: i64,
    limit: u32,
) -> StoreResult<Vec<(TenantId, MediaId)>> {
    let mut tx = worker_tx(store).await?;
    sqlx::query(
        "UPDATE media SET status = 'failed', \
         failure = 'processing did not finish after several attempts', leased_until = NULL \
         WHERE status = 'pending' AND attempts >= $1 AND leased_until < $2",
    )
    .bind(MAX_ATTEMPTS)
    .bind(now_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let sql = format!(
        "SELECT tenant_id, id FROM media WHERE status = 'pending' \
         AND (leased_until IS NULL OR leased_until < $1) ORDER BY created_at LIMIT $2{}",
        skip_locked(store.engine)
    );
    let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    for (tenant, id) in &rows {
        sqlx::query(
            "UPDATE media SET leased_until = $3, attempts = attempts + 1 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .bind(now_ms + lease_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    tx.commit().await.map_err(db)?;
    parse_pairs(rows)
}

pub(in super::super) async fn finish(
    store: &SqlStore,
    tenant: &TenantId,
    id: MediaId,
    outcome: &Processed,
) -> StoreResult<()> {
    let mut tx = store.write(tenant).await?;
    let stored: Option<i64> = sqlx::query_scalar(
        "SELECT stored_bytes FROM media WHERE tenant_id = $1 AND id = $2 AND status = 'pending'",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    // Gone or already finished (a lease that ran out while this worker was still busy).
    let Some(stored) = stored else {
        return Ok(());
    };
    match outcome {
        Processed::Ready {
            width,
            height,
            placeholder,
            variants,
            original_size,
        } => {
            let total: u64 = original_size + variants.iter().map(|v| v.size).sum::<u64>();
            let total = i64::try_from(total).unwrap_or(i64::MAX);
            // The quota was checked when the original was accepted; renditions are the
            // server's own doing and always fit.
            let _ = add_usage(&mut tx, tenant, total - stored, None).await?;
            let variants =
                serde_json::to_string(variants).map_err(|e| StoreError::Other(e.into()))?;
            sqlx::query(
                "UPDATE media SET status = 'ready', width = $3, height = $4, placeholder = $5, \
                 variants = $6, size = $7, stored_bytes = $8, leased_until = NULL \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.as_str())
            .bind(id.to_string())
            .bind(i64::from(*width))
            .bind(i64::from(*height))
            .bind(placeholder.as_str())
            .bind(variants)
            .bind(i64::try_from(*original_size).unwrap_or(i64::MAX))
            .bind(total)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        Processed::Failed(reason) => {
            sqlx::query(
                "UPDATE media SET status = 'failed', failure = $3, leased_until = NULL \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant.as_str())
            .bind(id.to_string())
            .bind(reason.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
    }
    tx.commit().await.map_err(db)
}

pub(in super::super) async fn take_unreferenced(
    store: &SqlStore,
    before_ms: i64,
    limit: u32,
) -> StoreResult<Vec<(TenantId, MediaId)>> {
    let mut tx = worker_tx(store).await?;
    let sql = format!(
        "SELECT tenant_id, id, status, stored_bytes FROM media \
         WHERE unreferenced_since < $1 ORDER BY unreferenced_since LIMIT $2{}",
        skip_locked(store.engine)
    );
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(before_ms)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let mut taken = Vec::with_capacity(rows.len());
    for (tenant, id, status, stored) in rows {
        let tenant_id = TenantId::parse(&tenant).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        // An item already `deleting` lost its sweeper half-way; its bytes are already freed.
        if status != "deleting" {
            store.engine.scope_to_tenant(&mut tx, &tenant_id).await?;
            let _ = add_usage(&mut tx, &tenant_id, -stored, None).await?;
            sqlx::query(
                "UPDATE media SET status = 'deleting', stored_bytes = 0 \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(&tenant)
            .bind(&id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        taken.push((tenant_id, media_id(&id)?));
    }
    tx.commit().await.map_err(db)?;
    Ok(taken)
}

pub(in super::super) async fn forget(
    store: &SqlStore,
    tenant: &TenantId,
    id: MediaId,
) -> StoreResult<()> {
    let mut tx = store.write(tenant).await?;
    sqlx::query("DELETE FROM media WHERE tenant_id = $1 AND id = $2 AND status = 'deleting'")
        .bind(tenant.as_str())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)
}

//! `chemchat-server tenant purge <id>`: deletes every row of one tenant, from every table, on
//! either engine. The operator runs it as a Job when a tenant with `deletionPolicy: Delete` is
//! deleted, before it releases the tenant's finalizer.
//!
//! Rows go in bounded batches, one short transaction each, children before parents, the
//! `tenants` row last: a purge that dies half-way leaves the tenant known, so running it again
//! finishes the work. Each transaction is scoped to the tenant, so PostgreSQL's row-level
//! security lets an ordinary role purge its own tenant and nothing else.

use super::{Engine, SqlStore, db};
use crate::domain::TenantId;
use crate::ports::StoreError;

/// Every table holding tenant rows and the column naming the tenant, in deletion order
/// (children before the rows their foreign keys reference). A table added by a migration
/// belongs here; the purge test compares this list with the schema.
pub const TENANT_TABLES: &[(&str, &str)] = &[
    ("notification_mail_queue", "tenant_id"),
    ("notification_mail_sent", "tenant_id"),
    ("push_subscriptions", "tenant_id"),
    ("notification_preferences", "tenant_id"),
    ("invites", "tenant_id"),
    ("account_tokens", "tenant_id"),
    ("erasures", "tenant_id"),
    ("reports", "tenant_id"),
    ("tenant_settings", "tenant_id"),
    ("message_attachments", "tenant_id"),
    ("media", "tenant_id"),
    ("tenant_storage", "tenant_id"),
    ("reactions", "tenant_id"),
    ("message_edits", "tenant_id"),
    ("outbox", "tenant_id"),
    ("events", "tenant_id"),
    ("messages", "tenant_id"),
    ("conversation_members", "tenant_id"),
    ("conversations", "tenant_id"),
    ("sessions", "tenant_id"),
    ("devices", "tenant_id"),
    ("audit_log", "tenant_id"),
    ("tenant_daily_usage", "tenant_id"),
    ("users", "tenant_id"),
    ("tenants", "id"),
];

/// Rows one purge transaction deletes at most: short transactions, so a large tenant never
/// holds locks (or SQLite's single writer) for long.
pub const PURGE_BATCH: u32 = 1_000;

/// What a purge deleted, table by table in [`TENANT_TABLES`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgeReport {
    /// `(table, rows deleted)`.
    pub deleted: Vec<(&'static str, u64)>,
}

impl PurgeReport {
    /// Rows deleted in all tables.
    pub fn total(&self) -> u64 {
        self.deleted.iter().map(|(_, rows)| rows).sum()
    }
}

/// Why a purge did not run or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    /// No table has a row of this tenant: a typo, or a purge that already finished.
    #[error(
        "unknown tenant `{0}`: no table has a row of it (a typo, or already purged; \
         --missing-ok accepts that)"
    )]
    Unknown(TenantId),
    /// The database failed; what was deleted stays deleted, running again finishes the rest.
    #[error("purging tenant `{tenant}` failed at table {table}: {source}")]
    Store {
        /// The tenant.
        tenant: TenantId,
        /// The table being purged or counted.
        table: &'static str,
        /// The database's error.
        source: StoreError,
    },
}

/// Deletes every row of `tenant` in batches of at most `batch` rows. An id without any row is
/// [`PurgeError::Unknown`] unless `missing_ok` (automation that may run a finished purge again).
pub async fn purge_tenant(
    store: &SqlStore,
    tenant: &TenantId,
    batch: u32,
    missing_ok: bool,
) -> Result<PurgeReport, PurgeError> {
    if !missing_ok && rows_of(store, tenant).await? == 0 {
        return Err(PurgeError::Unknown(tenant.clone()));
    }
    let mut deleted = Vec::with_capacity(TENANT_TABLES.len());
    for &(table, column) in TENANT_TABLES {
        let mut rows = 0;
        loop {
            let removed = delete_batch(store, tenant, table, column, batch.max(1))
                .await
                .map_err(|source| PurgeError::Store {
                    tenant: tenant.clone(),
                    table,
                    source,
                })?;
            rows += removed;
            if removed < u64::from(batch.max(1)) {
                break;
            }
        }
        deleted.push((table, rows));
    }
    Ok(PurgeReport { deleted })
}

/// The tenant's rows in every table (stops at the first table that has any).
pub(super) async fn rows_of(store: &SqlStore, tenant: &TenantId) -> Result<i64, PurgeError> {
    let fail = |table, source| PurgeError::Store {
        tenant: tenant.clone(),
        table,
        source,
    };
    // `tenants` first: a known tenant answers with one query.
    for &(table, column) in TENANT_TABLES.iter().rev() {
        let mut tx = store.read(tenant).await.map_err(|e| fail(table, e))?;
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1");
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| fail(table, db(e)))?;
        tx.commit().await.map_err(|e| fail(table, db(e)))?;
        if rows > 0 {
            return Ok(rows);
        }
    }
    Ok(0)
}

/// Deletes up to `batch` of the tenant's rows of `table` in one transaction.
async fn delete_batch(
    store: &SqlStore,
    tenant: &TenantId,
    table: &str,
    column: &str,
    batch: u32,
) -> Result<u64, StoreError> {
    // Every table has the engine's physical row id, so one statement shape serves all tables
    // whatever their primary key.
    let row_id = match store.engine {
        Engine::Sqlite => "rowid",
        Engine::Postgres => "ctid",
    };
    let sql = format!(
        "DELETE FROM {table} WHERE {row_id} IN \
         (SELECT {row_id} FROM {table} WHERE {column} = $1 LIMIT {batch})"
    );
    let mut tx = store.write(tenant).await?;
    let removed = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
    tx.commit().await.map_err(db)?;
    Ok(removed)
}

//! Tenant archives, the store's side: a tenant's rows of every archived table as JSON objects,
//! read from one snapshot, and written back into an empty tenant in one transaction. Both
//! engines' schemas hold text and integers only, so a row read from one engine is written into
//! the other as it is; PostgreSQL's generated search column is computed again by the target.
//!
//! The archive's format and policy (which columns leave, checksums) are `crate::archive`'s.

use super::purge::rows_of;
use super::{Engine, SqlStore, Tx, db};
use crate::domain::TenantId;
use crate::ports::{StoreError, StoreResult};
use futures::{Stream, TryStreamExt};

/// One row: column name → text, integer or null.
pub type Row = serde_json::Map<String, serde_json::Value>;

/// The tables an archive holds, parents before children (the order rows are written back in),
/// with the column naming the tenant. Left out on purpose: sessions and devices (credentials of
/// one deployment; people sign in again), one-time account tokens, push subscriptions (bound to
/// the deployment's VAPID key), the mail digest's queue and log, and daily usage counters.
pub const ARCHIVE_TABLES: &[(&str, &str)] = &[
    ("tenants", "id"),
    ("tenant_settings", "tenant_id"),
    ("users", "tenant_id"),
    ("audit_log", "tenant_id"),
    ("conversations", "tenant_id"),
    ("conversation_members", "tenant_id"),
    ("messages", "tenant_id"),
    ("events", "tenant_id"),
    ("message_edits", "tenant_id"),
    ("reactions", "tenant_id"),
    ("media", "tenant_id"),
    ("message_attachments", "tenant_id"),
    ("tenant_storage", "tenant_id"),
    ("reports", "tenant_id"),
    ("erasures", "tenant_id"),
    ("invites", "tenant_id"),
    ("notification_preferences", "tenant_id"),
];

/// The column naming the tenant in `table`, when the archive holds that table.
pub fn tenant_column(table: &str) -> Option<&'static str> {
    ARCHIVE_TABLES
        .iter()
        .find(|(name, _)| *name == table)
        .map(|(_, column)| *column)
}

/// A column of the target schema and the type its JSON value is read as.
#[derive(Debug, Clone)]
struct Column {
    name: String,
    /// `text` or `bigint`.
    kind: &'static str,
}

/// The written (not generated) columns of `table`, in schema order.
async fn columns(engine: Engine, tx: &mut Tx, table: &str) -> StoreResult<Vec<Column>> {
    let sql = match engine {
        Engine::Sqlite => {
            "SELECT name, type FROM pragma_table_xinfo($1) WHERE hidden = 0 ORDER BY cid"
        }
        Engine::Postgres => {
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 \
             AND is_generated = 'NEVER' ORDER BY ordinal_position"
        }
    };
    let found: Vec<(String, String)> = sqlx::query_as(sql)
        .bind(table)
        .fetch_all(&mut **tx)
        .await
        .map_err(db)?;
    if found.is_empty() {
        return Err(StoreError::Other(anyhow::anyhow!("no table {table}")));
    }
    Ok(found
        .into_iter()
        .map(|(name, kind)| {
            let kind = match kind.to_ascii_lowercase().as_str() {
                "integer" | "bigint" | "int" => "bigint",
                _ => "text",
            };
            Column { name, kind }
        })
        .collect())
}

/// A consistent view of one tenant's rows (PostgreSQL: a repeatable-read snapshot; SQLite: a
/// read transaction, which sees one snapshot of the database).
pub struct TenantSnapshot {
    engine: Engine,
    tenant: TenantId,
    tx: Tx,
}

impl std::fmt::Debug for TenantSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantSnapshot")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Opens a snapshot of `tenant`'s rows for an export; `None` when the tenant is unknown.
    pub async fn tenant_snapshot(&self, tenant: &TenantId) -> StoreResult<Option<TenantSnapshot>> {
        let begin = match self.engine {
            Engine::Sqlite => "BEGIN",
            Engine::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        let mut tx = self.begin_on(&self.pool, begin).await.map_err(db)?;
        self.engine.scope_to_tenant(&mut tx, tenant).await?;
        let known: Option<String> = sqlx::query_scalar("SELECT id FROM tenants WHERE id = $1")
            .bind(tenant.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        Ok(known.map(|_| TenantSnapshot {
            engine: self.engine,
            tenant: tenant.clone(),
            tx,
        }))
    }

    /// Opens the one transaction an import writes in, after checking that `tenant` has no row
    /// anywhere (an import never merges into existing data).
    pub async fn tenant_loader(&self, tenant: &TenantId) -> StoreResult<Option<TenantLoader>> {
        if rows_of(self, tenant)
            .await
            .map_err(|e| StoreError::Other(e.into()))?
            > 0
        {
            return Ok(None);
        }
        let tx = self.write(tenant).await?;
        Ok(Some(TenantLoader {
            engine: self.engine,
            tenant: tenant.clone(),
            tx,
            statements: std::collections::HashMap::new(),
        }))
    }
}

impl TenantSnapshot {
    /// Every row of the tenant in `table`, as the engine stores it.
    pub async fn rows(
        &mut self,
        table: &'static str,
        tenant_column: &'static str,
    ) -> StoreResult<impl Stream<Item = StoreResult<Row>> + '_> {
        let columns = columns(self.engine, &mut self.tx, table).await?;
        let pairs: Vec<String> = columns
            .iter()
            .map(|c| format!("'{0}', \"{0}\"", c.name))
            .collect();
        let object = match self.engine {
            Engine::Sqlite => format!("json_object({})", pairs.join(", ")),
            Engine::Postgres => format!("json_build_object({})::text", pairs.join(", ")),
        };
        let sql = format!("SELECT {object} FROM \"{table}\" WHERE \"{tenant_column}\" = $1");
        let tenant = self.tenant.to_string();
        Ok(sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .fetch(&mut *self.tx)
            .map_err(db)
            .and_then(|text| async move {
                serde_json::from_str::<Row>(&text).map_err(|e| StoreError::Other(e.into()))
            }))
    }
}

/// The transaction an import writes every row in; dropped without [`TenantLoader::commit`], it
/// leaves nothing behind.
pub struct TenantLoader {
    engine: Engine,
    tenant: TenantId,
    tx: Tx,
    /// Each table's insert statement, made once.
    statements: std::collections::HashMap<String, String>,
}

impl std::fmt::Debug for TenantLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantLoader").finish_non_exhaustive()
    }
}

impl TenantLoader {
    /// Inserts `rows` into `table`: the columns the target schema writes, each read from the
    /// row's field of the same name (absent fields are null, so the column's default does not
    /// apply: an archive names every column it had).
    pub async fn insert(&mut self, table: &str, rows: &[Row]) -> StoreResult<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let sql = match self.statements.get(table) {
            Some(sql) => sql.clone(),
            None => {
                let columns = columns(self.engine, &mut self.tx, table).await?;
                let names: Vec<String> =
                    columns.iter().map(|c| format!("\"{}\"", c.name)).collect();
                let typed: Vec<(&str, &str)> =
                    columns.iter().map(|c| (c.name.as_str(), c.kind)).collect();
                let sql = format!(
                    "INSERT INTO \"{table}\" ({names}) SELECT {names} FROM ({rows}) AS r",
                    names = names.join(", "),
                    rows = self.engine.json_rows("$1", &typed),
                );
                self.statements.insert(table.to_owned(), sql.clone());
                sql
            }
        };
        let batch = serde_json::to_string(rows).map_err(|e| StoreError::Other(e.into()))?;
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(batch)
            .execute(&mut *self.tx)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Makes the import visible, all at once. Imported events arrive as shipped: the trigger
    /// that queues every written event for the relay queued them too, and their outbox rows go
    /// before the commit, so this cluster's log consumers (pushes among them) never replay a
    /// history that is not news.
    pub async fn commit(mut self) -> StoreResult<()> {
        sqlx::query("DELETE FROM outbox WHERE tenant_id = $1")
            .bind(self.tenant.as_str())
            .execute(&mut *self.tx)
            .await
            .map_err(db)?;
        self.tx.commit().await.map_err(db)
    }
}

//! What differs between SQLite and PostgreSQL, in one place.

use super::{Tx, TxOn, db};
use crate::domain::TenantId;
use crate::ports::StoreResult;

/// The database engine behind a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The embedded default: one file, no server.
    Sqlite,
    /// The scaled deployment.
    Postgres,
}

/// Whether [`Engine::left_probe`] locks the row it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RowLock {
    None,
    ForUpdate,
}

impl Engine {
    /// The engine a database URL names by its scheme.
    pub fn from_url(url: &str) -> Option<Self> {
        let scheme = url.split_once(':').map(|(s, _)| s)?;
        match scheme {
            "sqlite" => Some(Engine::Sqlite),
            "postgres" | "postgresql" => Some(Engine::Postgres),
            _ => None,
        }
    }

    /// `sqlite` or `postgres`.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }

    /// The statement that opens a write transaction. SQLite must take the write lock up front:
    /// a deferred transaction that upgrades from read to write fails with SQLITE_BUSY under
    /// concurrency instead of waiting.
    pub(super) fn begin_write(self) -> &'static str {
        match self {
            Engine::Sqlite => "BEGIN IMMEDIATE",
            Engine::Postgres => "BEGIN",
        }
    }

    /// The statement that opens a transaction scoped to `tenant` for PostgreSQL's row-level
    /// security policies, in one round trip: PostgreSQL's simple query protocol runs `BEGIN`
    /// and the `SET LOCAL` together, where a bound `set_config` after `BEGIN` was a second
    /// round trip on every transaction (docs/benchmarks.md, 2026-12-02, 15:00). `SET LOCAL` is
    /// a utility statement, which PostgreSQL runs without planning it; the `SELECT set_config`
    /// it replaces was planned anew on every transaction (a simple query keeps no plan), about
    /// 16 µs of the database's CPU each. SQLite has no row-level security; the tenant predicate
    /// in each query is its only wall.
    pub(super) fn begin_scoped(
        self,
        tenant: &TenantId,
        write: bool,
    ) -> sqlx::AssertSqlSafe<String> {
        let statement = match (self, write) {
            (Engine::Sqlite, true) => "BEGIN IMMEDIATE".to_owned(),
            (Engine::Sqlite, false) => "BEGIN".to_owned(),
            (Engine::Postgres, _) => format!(
                "BEGIN; SET LOCAL chemchat.tenant_id = {}",
                quoted(tenant.as_str())
            ),
        };
        sqlx::AssertSqlSafe(statement)
    }

    /// Scopes the transaction to one tenant for PostgreSQL's row-level security policies, for
    /// a transaction begun by another statement than [`Self::begin_scoped`].
    pub(super) async fn scope_to_tenant(
        self,
        tx: &mut TxOn<'_>,
        tenant: &TenantId,
    ) -> StoreResult<()> {
        if self == Engine::Postgres {
            sqlx::query("SELECT set_config('chemchat.tenant_id', $1, true)")
                .bind(tenant.as_str())
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    /// A subquery of the strings in the JSON array bound at `param` (e.g. `$3`). The `Any` driver
    /// cannot bind arrays, so a list of ids travels as one JSON text parameter instead of
    /// splicing values into the SQL.
    pub(super) fn json_strings(self, param: &str) -> String {
        match self {
            Engine::Sqlite => format!("SELECT value FROM json_each({param})"),
            Engine::Postgres => {
                format!("SELECT value FROM jsonb_array_elements_text({param}::jsonb)")
            }
        }
    }

    /// A subquery of the objects in the JSON array bound at `param`, one column per `(name,
    /// type)` (`type`: `text` or `bigint`). A batch of any size then travels in one statement
    /// whose text never changes, so each engine prepares it once.
    pub(super) fn json_rows(self, param: &str, columns: &[(&str, &str)]) -> String {
        match self {
            Engine::Sqlite => {
                let columns: Vec<String> = columns
                    .iter()
                    .map(|(name, _)| format!("json_extract(value, '$.{name}') AS {name}"))
                    .collect();
                format!("SELECT {} FROM json_each({param})", columns.join(", "))
            }
            Engine::Postgres => {
                let columns: Vec<String> = columns
                    .iter()
                    .map(|(name, kind)| format!("{name} {kind}"))
                    .collect();
                format!(
                    "SELECT * FROM jsonb_to_recordset({param}::jsonb) AS r({})",
                    columns.join(", ")
                )
            }
        }
    }

    /// A left join that finds at most one row of `table` (named `alias`) for each row on its
    /// left, by `condition`, giving `columns`. On PostgreSQL it is a `LATERAL` subquery with
    /// `LIMIT 1`, run once per row and answered with an index lookup: joined plainly to a batch's
    /// JSON rows, whose count its planner cannot see (it guesses 100), PostgreSQL hash-joined
    /// the batch against every row the tenant has in `table`, a cost that grew with the table
    /// (the send batch's read took 3.1 ms on average at 17 000 messages; docs/benchmarks.md,
    /// 2026-12-03, 07:50). SQLite's planner probes the index already.
    ///
    /// With [`RowLock::ForUpdate`] the probe also locks the row it finds for the rest of the
    /// transaction (`FOR UPDATE` inside the subquery), so one statement both reads and locks. It
    /// runs once per row on its left, in their order: a caller that locks several rows gives them
    /// in one agreed order (a send batch: conversation id), so two transactions locking
    /// overlapping sets cannot deadlock. SQLite's `BEGIN IMMEDIATE` already holds the whole
    /// database.
    pub(super) fn left_probe(
        self,
        table: &str,
        alias: &str,
        columns: &str,
        condition: &str,
        lock: RowLock,
    ) -> String {
        let locking = match lock {
            RowLock::None => "",
            RowLock::ForUpdate => " FOR UPDATE",
        };
        match self {
            Engine::Sqlite => format!("LEFT JOIN {table} {alias} ON {condition}"),
            Engine::Postgres => format!(
                "LEFT JOIN LATERAL (SELECT {columns} FROM {table} {alias} WHERE {condition} \
                 LIMIT 1{locking}) AS {alias} ON true"
            ),
        }
    }

    /// Locks the tenant row for the rest of the transaction, so quota checks (count, then insert)
    /// cannot race. SQLite's `BEGIN IMMEDIATE` already serialises writers.
    pub(super) async fn lock_tenant(self, tx: &mut Tx, tenant: &TenantId) -> StoreResult<()> {
        if self == Engine::Postgres {
            sqlx::query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE")
                .bind(tenant.as_str())
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
        Ok(())
    }
}

/// A JSON array of strings, to bind where [`Engine::json_strings`] reads it.
pub(super) fn json_list(items: impl Iterator<Item = String>) -> String {
    serde_json::Value::Array(items.map(serde_json::Value::String).collect()).to_string()
}

/// `value` as an SQL string literal. A tenant id holds lowercase letters, digits and dashes
/// only, so the quotes are the only character to double; doubling them keeps the literal closed
/// whatever it holds (a backslash is plain with `standard_conforming_strings`, on since
/// PostgreSQL 9.1, and refused here anyway).
fn quoted(value: &str) -> String {
    let kept: String = value.chars().filter(|c| *c != '\\').collect();
    format!("'{}'", kept.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_is_one_index_lookup_per_row_on_postgres() {
        let condition = "m.tenant_id = $1 AND m.id = k.id";
        assert_eq!(
            Engine::Postgres.left_probe("messages", "m", "id", condition, RowLock::None),
            "LEFT JOIN LATERAL (SELECT id FROM messages m WHERE m.tenant_id = $1 AND m.id = k.id \
             LIMIT 1) AS m ON true"
        );
        assert_eq!(
            Engine::Sqlite.left_probe("messages", "m", "id", condition, RowLock::None),
            "LEFT JOIN messages m ON m.tenant_id = $1 AND m.id = k.id"
        );
    }

    #[test]
    fn a_locking_probe_locks_the_row_it_finds_on_postgres_only() {
        let condition = "c.tenant_id = $1 AND c.id = k.conversation";
        assert_eq!(
            Engine::Postgres.left_probe(
                "conversations",
                "c",
                "last_seq",
                condition,
                RowLock::ForUpdate
            ),
            "LEFT JOIN LATERAL (SELECT last_seq FROM conversations c WHERE c.tenant_id = $1 \
             AND c.id = k.conversation LIMIT 1 FOR UPDATE) AS c ON true"
        );
        assert_eq!(
            Engine::Sqlite.left_probe(
                "conversations",
                "c",
                "last_seq",
                condition,
                RowLock::ForUpdate
            ),
            "LEFT JOIN conversations c ON c.tenant_id = $1 AND c.id = k.conversation"
        );
    }

    #[test]
    fn a_scoped_transaction_sets_its_tenant_without_a_planned_statement() {
        let tenant = TenantId::parse("acme").expect("a valid tenant id");
        assert_eq!(
            Engine::Postgres.begin_scoped(&tenant, true).0,
            "BEGIN; SET LOCAL chemchat.tenant_id = 'acme'"
        );
        assert_eq!(
            Engine::Sqlite.begin_scoped(&tenant, true).0,
            "BEGIN IMMEDIATE"
        );
    }

    #[test]
    fn engine_follows_the_scheme() {
        assert_eq!(
            Engine::from_url("sqlite://data/chemchat.db"),
            Some(Engine::Sqlite)
        );
        assert_eq!(Engine::from_url("sqlite::memory:"), Some(Engine::Sqlite));
        assert_eq!(
            Engine::from_url("postgres://u@h/db"),
            Some(Engine::Postgres)
        );
        assert_eq!(
            Engine::from_url("postgresql://u@h/db"),
            Some(Engine::Postgres)
        );
        assert_eq!(Engine::from_url("mysql://u@h/db"), None);
        assert_eq!(Engine::from_url("no scheme"), None);
    }

    #[test]
    fn a_literal_stays_closed_whatever_it_holds() {
        assert_eq!(quoted("acme-1"), "'acme-1'");
        assert_eq!(
            quoted("a'; DROP TABLE users; --"),
            "'a''; DROP TABLE users; --'"
        );
        assert_eq!(quoted("a\\'b"), "'a''b'");
    }
}

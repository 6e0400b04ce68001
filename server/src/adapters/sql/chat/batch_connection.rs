//! The writer's connection as the send loop holds it, with the transaction it may hold between
//! two batches. Under load a batch follows another at once, on the same connection and for the
//! same tenant; its `BEGIN` then goes with the previous batch's `COMMIT`, as one statement string
//! in one round trip, rather than in a round trip of its own — one of a batch's four
//! (docs/benchmarks.md, 2026-12-06, 05:40). The statements after a `COMMIT` belong to the next
//! transaction, so that batch sees everything the previous one committed, as it would have.
//!
//! A transaction is begun that way only for the sends already waiting (`sends.rs` asks for the
//! tenant of the oldest right before committing, and nothing but the loop takes them), so it is
//! never left open on an idle connection. A connection counts as in a transaction from the moment
//! a `BEGIN` is sent until its `COMMIT` or `ROLLBACK` is answered, and one dropped meanwhile — the
//! loop stopped between two batches, or a statement cut short — is closed rather than pooled
//! inside a transaction (the hazard `begin.rs` guards the callers' transactions against).
//!
//! On PostgreSQL a batch's writes ride on the same string, ahead of the `COMMIT`: a statement
//! prepared once per session (`PREPARE`, its name following from its text) and run by name with
//! its values as literals (`EXECUTE`), so its plan is kept as a bound statement's would be. Values
//! as literals in a statement parsed and planned at every batch cost in planning what they saved
//! in round trips (docs/benchmarks.md, 2026-12-05, 08:40); by name they cost neither
//! (2026-12-06, 11:20). A prepared statement outlives a rollback and a return to the pool but
//! not the session, so the names a session holds are read with each `BEGIN` sent on its own —
//! behind a transaction-pooling proxy, a new transaction may be another session.

use super::super::{Engine, METRIC_TRANSACTIONS, db};
use super::rows::{NAMED_WRITES_PREFIX, NamedWrites};
use crate::domain::TenantId;
use crate::ports::StoreResult;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Executor, Row};
use std::collections::HashSet;

/// A connection of the writer, the tenant whose transaction is open on it, and the writes
/// statements its session holds prepared.
pub(super) struct BatchConnection {
    connection: PoolConnection<Any>,
    open: Option<TenantId>,
    prepared: HashSet<String>,
}

impl BatchConnection {
    pub(super) fn new(connection: PoolConnection<Any>) -> Self {
        Self {
            connection,
            open: None,
            prepared: HashSet::new(),
        }
    }

    /// The connection, for the statements of the open transaction.
    pub(super) fn statements(&mut self) -> &mut AnyConnection {
        &mut self.connection
    }

    /// Opens a write transaction scoped to `tenant`, unless the last commit opened it.
    pub(super) async fn begin(&mut self, engine: Engine, tenant: &TenantId) -> StoreResult<()> {
        if self.open.as_ref() == Some(tenant) {
            return Ok(());
        }
        self.rollback().await;
        self.open = Some(tenant.clone());
        let mut begin = engine.begin_scoped(tenant, true).0;
        if engine == Engine::Postgres {
            // Which writes statements the session holds, learnt in the same round trip: the
            // pooled connection may have prepared some for an earlier loop, and behind a
            // transaction-pooling proxy each transaction begun on its own may be another
            // session, one that holds none.
            begin.push_str(&format!(
                "; SELECT name FROM pg_prepared_statements \
                 WHERE starts_with(name, '{NAMED_WRITES_PREFIX}')"
            ));
        }
        let names = match self
            .connection
            .fetch_all(sqlx::raw_sql(sqlx::AssertSqlSafe(begin)))
            .await
        {
            Ok(rows) => rows,
            Err(error) => {
                // Its `SET LOCAL` may have failed after the `BEGIN`.
                self.abandon();
                return Err(db(error));
            }
        };
        self.prepared = names
            .iter()
            .filter_map(|row| row.try_get::<String, _>(0).ok())
            .collect();
        metrics::counter!(METRIC_TRANSACTIONS, "kind" => "write").increment(1);
        Ok(())
    }

    /// Commits the open transaction and, when `next` names a tenant, opens that tenant's in the
    /// same round trip. `writes`, the open transaction's last statement, go first in the same
    /// statement string — prepared there too when the session does not hold them yet — so the
    /// writes, the commit and the next begin take one round trip (PostgreSQL only: a simple
    /// query's string). An error `before_commit` recognises is one the writes raise on purpose
    /// (PostgreSQL skips the rest of the string): the transaction is rolled back and the
    /// connection kept. On any other error the connection is abandoned: which statement failed
    /// cannot be told apart from here.
    pub(super) async fn commit(
        &mut self,
        engine: Engine,
        writes: Option<NamedWrites>,
        next: Option<TenantId>,
        before_commit: fn(&sqlx::Error) -> bool,
    ) -> Result<(), sqlx::Error> {
        let mut sql = String::new();
        if let Some(writes) = &writes {
            if !self.prepared.contains(&writes.name) {
                sql.push_str(&writes.prepare());
                sql.push_str(";\n");
            }
            sql.push_str(&writes.execute());
            sql.push_str(";\n");
        }
        sql.push_str("COMMIT");
        if let Some(tenant) = &next {
            sql.push_str("; ");
            sql.push_str(&engine.begin_scoped(tenant, true).0);
        }
        let result = self
            .connection
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
            .await;
        if let Err(error) = result {
            if before_commit(&error) {
                // The writes ran, so they were prepared; preparing outlives a rollback.
                self.prepared.extend(writes.map(|w| w.name));
                self.rollback().await;
            } else {
                self.abandon();
            }
            return Err(error);
        }
        self.prepared.extend(writes.map(|w| w.name));
        if next.is_some() {
            metrics::counter!(METRIC_TRANSACTIONS, "kind" => "write").increment(1);
        }
        self.open = next;
        Ok(())
    }

    /// Rolls back the open transaction, if any (a connection whose rollback failed is
    /// abandoned).
    pub(super) async fn rollback(&mut self) {
        if self.open.is_none() {
            return;
        }
        match self.connection.execute(sqlx::raw_sql("ROLLBACK")).await {
            Ok(_) => self.open = None,
            Err(_) => self.abandon(),
        }
    }

    /// After a statement that failed midway, whether a transaction is open is not known: the
    /// connection is closed once dropped rather than pooled in that state.
    fn abandon(&mut self) {
        self.connection.close_on_drop();
        self.open = None;
    }
}

impl Drop for BatchConnection {
    fn drop(&mut self) {
        if self.open.is_some() {
            self.connection.close_on_drop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::any::AnyPoolOptions;

    /// A pool of one connection to a new SQLite database, where a second `BEGIN` on a connection
    /// inside a transaction fails: what tells whether one is open.
    async fn one_connection() -> (tempfile::TempDir, sqlx::AnyPool) {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        (dir, pool)
    }

    async fn in_transaction(connection: &mut AnyConnection) -> bool {
        let refused = connection.execute(sqlx::raw_sql("BEGIN")).await.is_err();
        if !refused {
            connection.execute(sqlx::raw_sql("ROLLBACK")).await.unwrap();
        }
        refused
    }

    /// A batch of `tenant` committed on the pool's connection, the next one's transaction begun
    /// with the commit.
    async fn committed_with_the_next_begun(
        pool: &sqlx::AnyPool,
        tenant: &TenantId,
    ) -> BatchConnection {
        let mut batch = BatchConnection::new(pool.acquire().await.unwrap());
        batch.begin(Engine::Sqlite, tenant).await.unwrap();
        batch
            .commit(Engine::Sqlite, None, Some(tenant.clone()), |_| false)
            .await
            .unwrap();
        batch
    }

    #[tokio::test]
    async fn a_commit_opens_the_next_batch_s_transaction_only_when_asked() {
        let (_dir, pool) = one_connection().await;
        let tenant = TenantId::parse("acme").unwrap();
        let mut batch = committed_with_the_next_begun(&pool, &tenant).await;
        assert!(
            in_transaction(batch.statements()).await,
            "the next one is open"
        );
        // Begun already: no statement of its own.
        batch.begin(Engine::Sqlite, &tenant).await.unwrap();
        batch
            .commit(Engine::Sqlite, None, None, |_| false)
            .await
            .unwrap();
        assert!(!in_transaction(batch.statements()).await);
    }

    #[tokio::test]
    async fn a_connection_dropped_with_a_transaction_open_is_not_pooled() {
        let (_dir, pool) = one_connection().await;
        let tenant = TenantId::parse("acme").unwrap();
        drop(committed_with_the_next_begun(&pool, &tenant).await);
        let mut next = pool.acquire().await.unwrap();
        assert!(!in_transaction(&mut next).await, "a new connection, idle");
    }
}

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
//! inside a transaction (the hazard `begin.rs` guards the callers' transactions against). On a
//! SQLite file the statements run on the batches' own connection (`direct_writer.rs`), which stays
//! with them: there what a dropped batch left open is rolled back instead.

use super::super::{Engine, METRIC_TRANSACTIONS, db};
use super::direct_writer::{DirectWriter, direct_db};
use crate::domain::TenantId;
use crate::ports::StoreResult;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Executor};

/// A connection of the writer, and the tenant whose transaction is open on it.
pub(super) struct BatchConnection {
    connection: PoolConnection<Any>,
    open: Option<TenantId>,
    /// On a SQLite file, where the batch's statements run (`direct_writer.rs`): `connection` is
    /// then held as the writer's turn and sends nothing.
    direct: Option<DirectWriter>,
}

impl BatchConnection {
    pub(super) fn new(connection: PoolConnection<Any>, direct: Option<DirectWriter>) -> Self {
        Self {
            connection,
            open: None,
            direct,
        }
    }

    /// The connection, for the statements of the open transaction when they go through sqlx.
    pub(super) fn statements(&mut self) -> &mut AnyConnection {
        &mut self.connection
    }

    /// The batches' own connection, when their statements run there instead.
    pub(super) fn direct(&self) -> Option<&DirectWriter> {
        self.direct.as_ref()
    }

    /// Opens a write transaction scoped to `tenant`, unless the last commit opened it.
    pub(super) async fn begin(&mut self, engine: Engine, tenant: &TenantId) -> StoreResult<()> {
        if self.open.as_ref() == Some(tenant) {
            return Ok(());
        }
        self.rollback().await;
        self.open = Some(tenant.clone());
        let begin = engine.begin_scoped(tenant, true);
        if let Err(error) = self.execute(begin).await {
            // Its `SET LOCAL` may have failed after the `BEGIN`.
            self.abandon();
            return Err(error);
        }
        metrics::counter!(METRIC_TRANSACTIONS, "kind" => "write").increment(1);
        Ok(())
    }

    /// Commits the open transaction and, when `next` names a tenant, opens that tenant's in the
    /// same round trip. On an error the connection is abandoned: whether the commit or the begin
    /// after it failed cannot be told apart from here.
    pub(super) async fn commit(
        &mut self,
        engine: Engine,
        next: Option<TenantId>,
    ) -> StoreResult<()> {
        let sql = match &next {
            Some(tenant) => format!("COMMIT; {}", engine.begin_scoped(tenant, true).0),
            None => "COMMIT".to_owned(),
        };
        if let Err(error) = self.execute(sqlx::AssertSqlSafe(sql)).await {
            self.abandon();
            return Err(error);
        }
        if next.is_some() {
            metrics::counter!(METRIC_TRANSACTIONS, "kind" => "write").increment(1);
        }
        self.open = next;
        Ok(())
    }

    /// Runs `sql`, statements without parameters, where the batch's statements run.
    async fn execute(&mut self, sql: sqlx::AssertSqlSafe<String>) -> StoreResult<()> {
        match &self.direct {
            Some(direct) => direct.execute_batch(&sql.0).map_err(direct_db),
            None => self
                .connection
                .execute(sqlx::raw_sql(sql))
                .await
                .map(drop)
                .map_err(db),
        }
    }

    /// Rolls back the open transaction, if any (a connection whose rollback failed is
    /// abandoned).
    pub(super) async fn rollback(&mut self) {
        if self.open.is_none() {
            return;
        }
        if let Some(direct) = &self.direct {
            direct.roll_back();
            self.open = None;
            return;
        }
        match self.connection.execute(sqlx::raw_sql("ROLLBACK")).await {
            Ok(_) => self.open = None,
            Err(_) => self.abandon(),
        }
    }

    /// After a statement that failed midway, whether a transaction is open is not known: the
    /// connection is closed once dropped rather than pooled in that state. The batches' own
    /// connection stays with them, so there SQLite is asked, and what is open rolled back.
    fn abandon(&mut self) {
        match &self.direct {
            Some(direct) => direct.roll_back(),
            None => self.connection.close_on_drop(),
        }
        self.open = None;
    }
}

impl Drop for BatchConnection {
    fn drop(&mut self) {
        if self.open.is_some() {
            self.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::direct_writer::DirectSource;
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
        let mut batch = BatchConnection::new(pool.acquire().await.unwrap(), None);
        batch.begin(Engine::Sqlite, tenant).await.unwrap();
        batch
            .commit(Engine::Sqlite, Some(tenant.clone()))
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
        batch.commit(Engine::Sqlite, None).await.unwrap();
        assert!(!in_transaction(batch.statements()).await);
    }

    #[tokio::test]
    async fn the_batches_own_connection_chains_transactions_and_ends_what_a_drop_left_open() {
        let (dir, pool) = one_connection().await;
        let direct = DirectSource::new(&dir.path().join("t.db"))
            .writer()
            .unwrap();
        let tenant = TenantId::parse("acme").unwrap();
        let mut batch = BatchConnection::new(pool.acquire().await.unwrap(), Some(direct.clone()));
        batch.begin(Engine::Sqlite, &tenant).await.unwrap();
        assert!(direct.in_transaction());
        assert!(
            !in_transaction(batch.statements()).await,
            "the writer's turn is held, and sends nothing"
        );
        batch
            .commit(Engine::Sqlite, Some(tenant.clone()))
            .await
            .unwrap();
        assert!(direct.in_transaction(), "the next one is open");
        drop(batch);
        assert!(
            !direct.in_transaction(),
            "rolled back, rather than keeping SQLite's write lock"
        );
        let mut next = pool.acquire().await.unwrap();
        assert!(!in_transaction(&mut next).await);
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

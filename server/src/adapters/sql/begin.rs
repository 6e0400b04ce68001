//! Beginning a transaction so that a caller who gives up cannot leave it open.
//!
//! sqlx 0.9.0 counts a transaction as begun only once its `BEGIN` is answered
//! (transact-rs/sqlx#4393, fixed upstream after that release): a `begin` dropped while the
//! statement is in flight hands its connection back to the pool inside a transaction that nothing
//! ends. The next borrower's statements then run inside it — on PostgreSQL still scoped to the
//! first caller's tenant and holding whatever the `BEGIN` locked — until someone commits. A
//! request is dropped whenever its client goes away, so every transaction of the store begins
//! here: the `BEGIN` runs in a task of its own, which always sees the answer; when the caller
//! is gone by then, the task drops the transaction, which sqlx rolls back on the connection's
//! next use.

use super::{SqlStore, Tx};
use sqlx::{AnyPool, SqlSafeStr};
use tracing::Instrument;

impl SqlStore {
    /// Begins a transaction on `pool` with `statement`, even if the caller is dropped mid-way.
    /// The task lives for one round trip; the store's `close` waits for those in flight
    /// (`SqlStore::begins`) before it closes the pools.
    pub(super) async fn begin_on(
        &self,
        pool: &AnyPool,
        statement: impl SqlSafeStr,
    ) -> Result<Tx, sqlx::Error> {
        let pool = pool.clone();
        let statement = statement.into_sql_str();
        let begin = async move { pool.begin_with(statement).await };
        match self.begins.spawn(begin.in_current_span()).await {
            Ok(begun) => begun,
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Err(join) => Err(sqlx::Error::Io(std::io::Error::other(join))),
        }
    }
}

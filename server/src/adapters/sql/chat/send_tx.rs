//! A send batch's transaction in two round trips: its `BEGIN` — on PostgreSQL with the lock of
//! the batch's conversations — travels with the batch's read, and its writes travel with its
//! `COMMIT`. Each round trip of the single writer is time every queued send waits; four of them
//! (begin, read, writes, commit) were most of a PostgreSQL batch's time, its statements under
//! half of it (docs/benchmarks.md, 2026-12-05).
//!
//! PostgreSQL runs several statements in one round trip only over its simple query protocol,
//! which takes no parameters, so the batch's queries carry their values as literals
//! (`Engine::literal`); SQLite's driver takes several statements only without parameters too.
//!
//! sqlx's `Transaction` cannot carry either (`begin_with` answers no rows, and its commit is a
//! statement of its own), so this transaction keeps track of itself: one that fails is rolled
//! back before its connection serves again, and one dropped while open — the batches' thread
//! stopping mid-batch — closes its connection rather than hand it back to the pool inside a
//! transaction.

use futures::stream::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Either};

/// A send batch's open transaction on one of the writer's connections.
pub(super) struct SendTx<'c> {
    connection: &'c mut PoolConnection<Any>,
    open: bool,
}

impl<'c> SendTx<'c> {
    /// Begins with `begin` and runs `read` after it in the same round trip (both statements
    /// with their values in their text); the transaction and the rows of `read`.
    pub(super) async fn begin_reading(
        connection: &'c mut PoolConnection<Any>,
        begin: &str,
        read: &str,
    ) -> Result<(Self, Vec<AnyRow>), sqlx::Error> {
        // Open from before the `BEGIN` is sent: dropped from here on, the connection closes.
        let mut tx = Self {
            connection,
            open: true,
        };
        match last_statements_rows(tx.connection, format!("{begin};\n{read}")).await {
            Ok(rows) => Ok((tx, rows)),
            Err(err) => {
                tx.rollback().await;
                Err(err)
            }
        }
    }

    /// The connection, for the statements a batch runs between its read and its writes.
    pub(super) fn connection(&mut self) -> &mut AnyConnection {
        self.connection
    }

    /// Runs `writes` (statements with their values in their text, if there are any) and
    /// commits, in one round trip. When a write fails nothing of the batch stays, and the
    /// driver's error is returned as it is.
    pub(super) async fn commit_writing(
        mut self,
        writes: Option<String>,
    ) -> Result<(), sqlx::Error> {
        let sql = match writes {
            Some(writes) => format!("{writes};\nCOMMIT"),
            None => "COMMIT".to_owned(),
        };
        let done = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut **self.connection)
            .await;
        match done {
            Ok(_) => {
                self.open = false;
                Ok(())
            }
            Err(err) => {
                self.rollback().await;
                Err(err)
            }
        }
    }

    /// Ends the transaction without its writes. A connection that cannot roll back is closed
    /// when the transaction drops.
    pub(super) async fn rollback(&mut self) {
        let rolled_back = sqlx::raw_sql("ROLLBACK")
            .execute(&mut **self.connection)
            .await;
        if rolled_back.is_ok() {
            self.open = false;
        }
    }
}

impl Drop for SendTx<'_> {
    fn drop(&mut self) {
        if self.open {
            self.connection.close_on_drop();
        }
    }
}

/// Runs `sql`, one or more statements, and returns the rows of the last: each statement's end
/// comes as a result.
async fn last_statements_rows(
    connection: &mut AnyConnection,
    sql: String,
) -> Result<Vec<AnyRow>, sqlx::Error> {
    let mut results = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).fetch_many(connection);
    let mut last = Vec::new();
    let mut current = Vec::new();
    while let Some(result) = results.try_next().await? {
        match result {
            Either::Left(_) => last = std::mem::take(&mut current),
            Either::Right(row) => current.push(row),
        }
    }
    if !current.is_empty() {
        // A driver that did not end the last statement with a result.
        last = current;
    }
    Ok(last)
}

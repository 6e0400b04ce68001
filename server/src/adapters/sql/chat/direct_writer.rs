//! SQLite's send batches, run whole on the thread that holds the writer. Through sqlx, every
//! statement of a batch and every row it reads is a message to sqlx's worker thread and one
//! back, each waking the other thread: at 500 messages a second the batches' thread spent three
//! quarters of its time being put to sleep and woken between them, and under load each hand-off
//! waited for a core (docs/benchmarks.md, 2026-12-07). Here the batches' thread runs the
//! statements itself, on a connection of its own to the same file, with its statements prepared
//! once and kept.
//!
//! The writer's turn does not change: a batch still holds the store's single writer connection
//! (`connect.rs`), which sends nothing meanwhile, so the store's other writes queue for it in
//! order as before, and this connection only ever writes while the turn is the batches'.
//!
//! Only a database file gets one: an in-memory database is private to the connection that
//! opened it, and its batches keep to sqlx's connection.

use super::super::connect::{SQLITE_PRAGMAS, SQLITE_WRITER_PRAGMAS};
use crate::ports::{StoreError, StoreResult};
use crate::telemetry::STATEMENT_TARGET;
use rusqlite::{Connection, OpenFlags, Row, ToSql};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Statements the connection keeps prepared: a batch's few shapes, with room to spare.
const KEPT_STATEMENTS: usize = 64;

/// Where the batches' own connection comes from, opened on the batches' thread by the first
/// batch (building a store opens nothing) and closed with the store's send queue.
#[derive(Debug)]
pub(in super::super) struct DirectSource {
    file: PathBuf,
    opened: Mutex<Option<DirectWriter>>,
}

impl DirectSource {
    pub(in super::super) fn new(file: &Path) -> Self {
        Self {
            file: file.to_owned(),
            opened: Mutex::new(None),
        }
    }

    /// The connection, opened on first use.
    pub(super) fn writer(&self) -> StoreResult<DirectWriter> {
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(writer) = &*opened {
            return Ok(writer.clone());
        }
        let writer = DirectWriter::open(&self.file)?;
        *opened = Some(writer.clone());
        Ok(writer)
    }

    /// Closes the connection once the batch that may still hold it lets go.
    pub(super) fn close(&self) {
        self.opened.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// The batches' connection. Only the batches' thread uses it, one batch at a time; the lock is
/// what lets that thread's futures hold it across their awaits.
#[derive(Clone)]
pub(super) struct DirectWriter {
    connection: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for DirectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectWriter").finish_non_exhaustive()
    }
}

impl DirectWriter {
    fn open(file: &Path) -> StoreResult<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(file, flags).map_err(direct_db)?;
        for pragma in SQLITE_PRAGMAS.iter().chain(SQLITE_WRITER_PRAGMAS) {
            // `journal_mode` answers with a row, which `execute_batch` reads and drops.
            connection.execute_batch(pragma).map_err(direct_db)?;
        }
        connection.set_prepared_statement_cache_capacity(KEPT_STATEMENTS);
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A statement that panicked left nothing half-changed here: SQLite rolls back what the
        // statement did, and `BatchConnection` ends the transaction.
        self.connection.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `sql`, which may hold several statements, none of them with parameters.
    pub(super) fn execute_batch(&self, sql: &str) -> rusqlite::Result<()> {
        self.lock().execute_batch(sql)
    }

    /// Whether a transaction is open on the connection.
    #[cfg(test)]
    pub(super) fn in_transaction(&self) -> bool {
        !self.lock().is_autocommit()
    }

    /// Rolls back whatever transaction is open; whether one still is after a failure, SQLite
    /// tells.
    pub(super) fn roll_back(&self) {
        let connection = self.lock();
        if !connection.is_autocommit() {
            let _ = connection.execute_batch("ROLLBACK");
        }
    }

    /// Runs one statement; `params[n - 1]` is its `$n`.
    pub(super) fn execute(&self, sql: &str, params: &[&dyn ToSql]) -> rusqlite::Result<()> {
        let started = Instant::now();
        let connection = self.lock();
        let mut statement = connection.prepare_cached(sql)?;
        bind(&mut statement, params)?;
        let changed = statement.raw_execute()?;
        report(sql, started, 0, changed);
        Ok(())
    }

    /// The rows of one query, each mapped by `map`; `params[n - 1]` is its `$n`.
    pub(super) fn query<T>(
        &self,
        sql: &str,
        params: &[&dyn ToSql],
        mut map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<Vec<T>> {
        let started = Instant::now();
        let connection = self.lock();
        let mut statement = connection.prepare_cached(sql)?;
        bind(&mut statement, params)?;
        let mut rows = statement.raw_query();
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            found.push(map(row)?);
        }
        drop(rows);
        // What a `RETURNING` clause's statement changed; 0 for a plain query.
        let changed = usize::try_from(connection.changes()).unwrap_or(usize::MAX);
        let changed = if statement.readonly() { 0 } else { changed };
        report(sql, started, found.len(), changed);
        Ok(found)
    }
}

/// Tells the statement spans (`chemchat_backends::telemetry`) of a finished statement, with the
/// fields sqlx gives its own, so a send's trace shows its batch's statements on this path too.
fn report(sql: &str, started: Instant, returned: usize, changed: usize) {
    tracing::debug!(
        target: STATEMENT_TARGET,
        rows_returned = returned as u64,
        rows_affected = changed as u64,
        elapsed_secs = started.elapsed().as_secs_f64(),
        db.statement = sql,
    );
}

/// Binds each of the statement's parameters by its number: the store's SQL numbers them `$n`
/// for both engines, and SQLite numbers a named parameter by where it first appears instead.
fn bind(statement: &mut rusqlite::Statement<'_>, params: &[&dyn ToSql]) -> rusqlite::Result<()> {
    for index in 1..=statement.parameter_count() {
        let number = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(index);
        // `$0` names no parameter: an error like a number past the end, never an underflow.
        let value = number
            .checked_sub(1)
            .and_then(|at| params.get(at))
            .ok_or(rusqlite::Error::InvalidParameterCount(number, params.len()))?;
        statement.raw_bind_parameter(index, *value)?;
    }
    Ok(())
}

/// Whether `err` is a NOT NULL constraint on `table` failing (what a guard raises on purpose).
pub(super) fn not_null_failed_on(err: &rusqlite::Error, table: &str) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(e, Some(message))
        if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_NOTNULL && message.contains(table))
}

/// The store's error for a failure of the batches' connection: a locked or busy database is
/// unavailable for now, as sqlx's are (`db`).
pub(super) fn direct_db(err: rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(err.into())
        }
        _ => StoreError::Other(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_writer() -> (tempfile::TempDir, DirectWriter) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.db");
        Connection::open(&file)
            .unwrap()
            .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT NOT NULL, b INTEGER)")
            .unwrap();
        let writer = DirectSource::new(&file).writer().unwrap();
        (dir, writer)
    }

    #[test]
    fn parameters_are_bound_by_their_number_not_by_where_they_appear() {
        let (_dir, writer) = file_writer();
        writer
            .execute(
                "INSERT INTO t (b, a) SELECT $2, $1 WHERE $2 > 0",
                &[&"one", &7_i64],
            )
            .unwrap();
        let rows = writer
            .query("SELECT a, b FROM t WHERE b = $1", &[&7_i64], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .unwrap();
        assert_eq!(rows, vec![("one".to_owned(), 7)]);
    }

    #[test]
    fn a_missing_parameter_is_an_error_not_a_null() {
        let (_dir, writer) = file_writer();
        let err = writer
            .execute("INSERT INTO t (a, b) VALUES ($1, $2)", &[&"one"])
            .unwrap_err();
        assert!(matches!(err, rusqlite::Error::InvalidParameterCount(2, 1)));
        let zero = writer
            .execute("INSERT INTO t (a) VALUES ($0)", &[&"one"])
            .unwrap_err();
        assert!(matches!(zero, rusqlite::Error::InvalidParameterCount(0, 1)));
    }

    #[test]
    fn a_not_null_guard_is_told_apart_from_other_failures() {
        let (_dir, writer) = file_writer();
        let null = writer
            .execute("INSERT INTO t (a) VALUES (NULL)", &[])
            .unwrap_err();
        assert!(not_null_failed_on(&null, "t.a"));
        assert!(!not_null_failed_on(&null, "elsewhere"));
        let syntax = writer
            .execute("INSERT INTO nowhere VALUES (1)", &[])
            .unwrap_err();
        assert!(!not_null_failed_on(&syntax, "t.a"));
    }

    #[test]
    fn the_writer_pragmas_hold_on_the_batches_connection() {
        let (_dir, writer) = file_writer();
        let read = |pragma: &str| {
            writer
                .query(&format!("PRAGMA {pragma}"), &[], |row| row.get::<_, i64>(0))
                .unwrap()
        };
        assert_eq!(read("foreign_keys"), vec![1]);
        assert_eq!(read("wal_autocheckpoint"), vec![0]);
        assert_eq!(read("busy_timeout"), vec![10_000]);
    }

    #[test]
    fn a_rollback_ends_whatever_transaction_a_failure_left_open() {
        let (_dir, writer) = file_writer();
        writer.execute_batch("BEGIN IMMEDIATE").unwrap();
        writer
            .execute("INSERT INTO t (a) VALUES ($1)", &[&"kept?"])
            .unwrap();
        assert!(writer.in_transaction());
        writer.roll_back();
        assert!(!writer.in_transaction());
        let count = writer
            .query("SELECT count(*) FROM t", &[], |row| row.get::<_, i64>(0))
            .unwrap();
        assert_eq!(count, vec![0]);
    }
}

//! Opening a pool for the engine the URL names, and applying that engine's migrations.

use super::{Engine, SqlStore, migration_turn};
use sqlx::AnyConnection;
use sqlx::AnyPool;
use sqlx::Connection;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{Executor, pool::PoolConnectionMetadata};
use std::path::Path;
use std::sync::Once;
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL's scheme names no supported engine.
    #[error(
        "unsupported database URL scheme in '{0}': expected sqlite://path or postgres://user@host/db"
    )]
    UnsupportedScheme(String),
    /// The SQLite file's folder could not be created.
    #[error("cannot create the folder for the SQLite database '{path}': {source}")]
    Folder {
        /// The folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The database did not accept a connection.
    #[error("cannot connect to the {engine} database: {source}")]
    Connect {
        /// Which engine.
        engine: &'static str,
        /// Why.
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error("cannot migrate the {engine} database: {source}")]
    Migrate {
        /// Which engine.
        engine: &'static str,
        /// Why.
        source: sqlx::migrate::MigrateError,
    },
}

/// Opens a pool for `url`; the engine follows the scheme. Does not migrate.
pub async fn connect(url: &str, max_connections: u32) -> Result<SqlStore, ConnectError> {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);

    let engine =
        Engine::from_url(url).ok_or_else(|| ConnectError::UnsupportedScheme(redact(url)))?;
    let url = match engine {
        Engine::Sqlite => prepare_sqlite(url)?,
        Engine::Postgres => url.to_owned(),
    };
    let pool = open_pool(engine, &url, max_connections, Role::Reader).await?;
    let store = SqlStore::new(pool, engine);
    if engine == Engine::Sqlite && !url.contains(":memory:") {
        // One writer connection (see `SqlStore::writer`); an in-memory database is per
        // connection, so it keeps the one pool.
        let writer = open_pool(engine, &url, 1, Role::Writer).await?;
        return Ok(store.with_writer(writer, Path::new(sqlite_path_and_query(&url).0)));
    }
    if engine == Engine::Postgres {
        return Ok(store.with_send_pool(&url));
    }
    Ok(store)
}

/// What a SQLite pool's connections are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Reader,
    /// The single writer, which leaves checkpoints to the checkpointer (`checkpoint.rs`).
    Writer,
}

async fn open_pool(
    engine: Engine,
    url: &str,
    connections: u32,
    role: Role,
) -> Result<AnyPool, ConnectError> {
    let options = AnyPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(5));
    // A SQLite connection is a file handle in this process and cannot go stale, so it is not
    // pinged before each use: a ping is one more round trip to sqlx's worker thread on every
    // transaction, and each round trip wakes two threads. A PostgreSQL connection can be cut by
    // a restart or the network, and is checked.
    let options = match (engine, role) {
        (Engine::Sqlite, Role::Reader) => options
            .test_before_acquire(false)
            .after_connect(sqlite_reader_pragmas),
        (Engine::Sqlite, Role::Writer) => options
            .test_before_acquire(false)
            .after_connect(sqlite_writer_pragmas),
        (Engine::Postgres, _) => options,
    };
    options
        .connect(url)
        .await
        .map_err(|source| ConnectError::Connect {
            engine: engine.name(),
            source,
        })
}

/// The migrations of `engine`, for a role that may only check them.
pub fn migrator(engine: Engine) -> &'static Migrator {
    match engine {
        Engine::Sqlite => &SQLITE_MIGRATIONS,
        Engine::Postgres => &POSTGRES_MIGRATIONS,
    }
}

/// Applies the engine's pending migrations. Safe to run from several replicas at once: on
/// PostgreSQL they take turns (`migration_turn.rs`) on a connection of their own, and SQLite
/// serialises writers.
pub async fn migrate(store: &SqlStore) -> Result<(), ConnectError> {
    let failed = |source| ConnectError::Migrate {
        engine: store.engine.name(),
        source,
    };
    let migrations = migrator(store.engine);
    if store.engine != Engine::Postgres {
        return migrations.run(store.pool()).await.map_err(failed);
    }
    // Out of the pool: closing it ends the turn, whether the migrations ran or not.
    let mut connection = store
        .pool()
        .acquire()
        .await
        .map_err(|e| failed(MigrateError::Execute(e)))?
        .detach();
    let outcome = match migration_turn::take_turn(&mut connection).await {
        Ok(()) => migrations.run(&mut connection).await,
        Err(e) => Err(MigrateError::Execute(e)),
    };
    // Were the close to fail, the connection is dropped all the same: its session, and the
    // turn, end with its socket.
    let _ = connection.close().await;
    outcome.map_err(failed)
}

/// The path of a SQLite URL's file (or `:memory:`), and what follows its `?`.
fn sqlite_path_and_query(url: &str) -> (&str, &str) {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    rest.split_once('?').unwrap_or((rest, ""))
}

/// Creates the database file's folder and asks sqlx to create the file when missing.
fn prepare_sqlite(url: &str) -> Result<String, ConnectError> {
    let (path, query) = sqlite_path_and_query(url);
    if path != ":memory:"
        && let Some(folder) = std::path::Path::new(path).parent()
        && !folder.as_os_str().is_empty()
    {
        std::fs::create_dir_all(folder).map_err(|source| ConnectError::Folder {
            path: folder.display().to_string(),
            source,
        })?;
    }
    if query.contains("mode=") {
        Ok(url.to_owned())
    } else {
        Ok(format!("sqlite://{path}?mode=rwc"))
    }
}

/// WAL lets readers proceed while one writer commits; the busy timeout makes writers queue rather
/// than fail; foreign keys are off by default in SQLite.
pub(super) const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 10000",
    "PRAGMA foreign_keys = ON",
];

/// The writer's pragmas beyond [`SQLITE_PRAGMAS`]: see [`sqlite_writer_pragmas`]. The send
/// batches' own connection to the file (`chat/direct_writer.rs`) takes them too.
pub(super) const SQLITE_WRITER_PRAGMAS: &[&str] = &[
    "PRAGMA wal_autocheckpoint = 0",
    "PRAGMA journal_size_limit = 67108864",
    "PRAGMA temp_store = MEMORY",
];

/// Applies [`SQLITE_PRAGMAS`] to a pooled connection.
fn sqlite_pragmas(
    conn: &mut AnyConnection,
    _meta: PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        for pragma in SQLITE_PRAGMAS {
            conn.execute(*pragma).await?;
        }
        Ok(())
    })
}

/// A reader's pragmas: the common ones and a page cache of 256 KiB instead of SQLite's 2 MiB.
/// Each of the pool's connections keeps a cache of its own, mostly of the same hot pages, and
/// the pool grows to its maximum in a connection storm: sixteen 2 MiB caches were a third of the
/// memory 10 000 idle WebSocket connections cost (14.7 KiB each, 10.9 with this;
/// docs/benchmarks.md, 2026-12-02). A page missing from it is a copy from the operating
/// system's cache, which holds the file anyway. The writer keeps the default: its batches
/// update the same index pages over and over.
fn sqlite_reader_pragmas(
    conn: &mut AnyConnection,
    meta: PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        sqlite_pragmas(conn, meta).await?;
        conn.execute("PRAGMA cache_size = -256").await?;
        Ok(())
    })
}

/// The writer's pragmas: the common ones, automatic checkpoints off (the checkpointer copies
/// the log from a reader connection, so no commit waits for a copy and an fsync), the log
/// file cut back to 64 MiB when it starts over after a burst, and statement journals kept in
/// memory. A batch's multi-row statements run inside its transaction, so each keeps the pages
/// it changes in a statement journal; past 64 KiB SQLite spills that journal to a temporary
/// file, which a send batch did almost every time — a file created, written page by page and
/// deleted per batch, 14 % of the writer's time at 2 000 messages a second (docs/benchmarks.md,
/// 2026-12-07).
fn sqlite_writer_pragmas(
    conn: &mut AnyConnection,
    meta: PoolConnectionMetadata,
) -> futures::future::BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(async move {
        sqlite_pragmas(conn, meta).await?;
        for pragma in SQLITE_WRITER_PRAGMAS {
            conn.execute(*pragma).await?;
        }
        Ok(())
    })
}

/// The URL without its password, for error messages.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let credentials = &url[start + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..start + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/chat"),
            "postgres://app:***@db:5432/chat"
        );
        assert_eq!(redact("postgres://app@db/chat"), "postgres://app@db/chat");
        assert_eq!(
            redact("sqlite://data/chemchat.db"),
            "sqlite://data/chemchat.db"
        );
    }
}

//! SQLite's WAL checkpoints, moved off the send path.
//!
//! By default SQLite checkpoints inside a commit: the transaction that grows the write-ahead log
//! past 1 000 pages copies the log into the database file and syncs it before it returns, so
//! every few seconds under load one batch of sends (and every message behind it) waits for a
//! copy and an fsync. The writer connection therefore has automatic checkpoints switched off,
//! and this loop checkpoints from a reader connection instead. `PASSIVE` never takes the
//! writer's lock: sends keep committing while it copies, and the log starts over from the
//! beginning at the first commit after a checkpoint that caught up.

use super::db;
use crate::ports::StoreResult;
use sqlx::AnyPool;
use std::time::Duration;

/// How often the log is copied back into the database. Short enough that the log stays a few
/// megabytes under a heavy send load; a checkpoint with nothing to copy costs one statement.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Pages the log may hold before a checkpoint is logged as falling behind (readers that keep an
/// old snapshot stop a passive checkpoint short; the next one goes on from there).
const BEHIND_PAGES: i64 = 50_000;

/// Copies the write-ahead log into the database file on a timer.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    pool: AnyPool,
}

impl Checkpointer {
    pub(super) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// One passive checkpoint: returns the log's size and the pages copied so far, in pages.
    pub async fn checkpoint(&self) -> StoreResult<(i64, i64)> {
        let (_busy, log, copied): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        Ok((log, copied))
    }

    /// Checkpoints every [`CHECKPOINT_EVERY`] until the task is cancelled.
    pub async fn run(self) {
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match self.checkpoint().await {
                Ok((log, copied)) if log - copied > BEHIND_PAGES => {
                    tracing::warn!(log, copied, "SQLite checkpoint falling behind");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "SQLite checkpoint failed"),
            }
        }
    }
}

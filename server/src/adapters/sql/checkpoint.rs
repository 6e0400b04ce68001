//! SQLite's WAL checkpoints, moved off the send path.
//!
//! By default SQLite checkpoints inside a commit: the transaction that grows the write-ahead log
//! past 1 000 pages copies the log into the database file and syncs it before it returns, so
//! every few seconds under load one batch of sends (and every message behind it) waits for a
//! copy and an fsync. The writer connection therefore has automatic checkpoints switched off,
//! and this loop checkpoints from a reader connection instead. `PASSIVE` never takes the
//! writer's lock: sends keep committing while it copies.
//!
//! The log starts over from its beginning only at a commit whose transaction began after a
//! checkpoint had copied all of it. Under a steady send load no transaction does: the send loop
//! begins each batch's transaction with the previous one's commit, before anything copies the
//! frames that commit wrote. The log then only grew — 180 MB after a few seconds at 2 000
//! messages a second — every frame written to a new part of the file, which cost the kernel a
//! fresh page of cache for each (docs/benchmarks.md, 2026-12-07). So once the log holds more
//! than [`RESTART_AFTER_FRAMES`], the checkpointer asks the send loop ([`LogRestart`]) to end its
//! chain of transactions after the batch it runs and copy the few frames written since this
//! loop's last pass itself, with no transaction open: the next batch begins on a log copied in
//! full, and its commit writes from the log's beginning again.

use super::db;
use crate::ports::StoreResult;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the log is copied back into the database (at 2 000 messages a second the sends
/// write about 30 MB of it in between); a checkpoint with nothing to copy costs one statement.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Pages the log may hold before a checkpoint is logged as falling behind (readers that keep an
/// old snapshot stop a passive checkpoint short; the next one goes on from there).
const BEHIND_PAGES: i64 = 50_000;

/// Frames the log may hold before it is made to start over: 64 MiB of 4 KiB pages, the size the
/// writer's `journal_size_limit` cuts the file back to when it does.
const RESTART_AFTER_FRAMES: i64 = 16_384;

/// Frames written since the checkpointer's previous pass that the writer may be left to copy.
const SHORT_TAIL_FRAMES: i64 = 256;

/// Passes at most to bring the frames left for the writer under [`SHORT_TAIL_FRAMES`].
const MAX_CATCH_UP_PASSES: usize = 8;

/// The checkpointer's request that the writer let the log start over; the send loop answers it
/// with [`LogRestart::let_start_over`].
#[derive(Debug, Default)]
pub(super) struct LogRestart {
    wanted: AtomicBool,
}

impl LogRestart {
    /// Whether a restart is asked for (the send loop then ends its chain after this batch).
    pub(super) fn wanted(&self) -> bool {
        self.wanted.load(Ordering::Relaxed)
    }

    /// On the writer's `connection`, with no transaction open: copies what the log holds beyond
    /// the checkpointer's last pass, so that the next transaction begins on a log copied in
    /// full. A reader holding an old snapshot can stop the copy short; the checkpointer asks
    /// again after its next pass.
    pub(super) async fn let_start_over(&self, connection: &mut AnyConnection) {
        if !self.wanted.swap(false, Ordering::Relaxed) {
            return;
        }
        if let Err(error) = passive(connection).await {
            tracing::warn!(%error, "SQLite checkpoint on the writer failed");
        }
    }
}

/// One passive checkpoint on `on`: the log's size and the frames copied so far.
async fn passive<'e>(on: impl Executor<'e, Database = Any>) -> Result<(i64, i64), sqlx::Error> {
    let (_busy, log, copied): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(on)
        .await?;
    Ok((log, copied))
}

/// Copies the write-ahead log into the database file on a timer.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    pool: AnyPool,
    restart: Arc<LogRestart>,
    restart_after: i64,
}

impl Checkpointer {
    pub(super) fn new(pool: AnyPool, restart: Arc<LogRestart>) -> Self {
        Self {
            pool,
            restart,
            restart_after: RESTART_AFTER_FRAMES,
        }
    }

    /// The same checkpointer, asking for a restart once the log holds `frames` (tests, which
    /// cannot write 64 MiB quickly).
    pub fn restarting_after(mut self, frames: i64) -> Self {
        self.restart_after = frames;
        self
    }

    /// One passive checkpoint: returns the log's size and the pages copied so far, in pages.
    /// A log grown past its bound is made to start over by the writer ([`LogRestart`]).
    pub async fn checkpoint(&self) -> StoreResult<(i64, i64)> {
        let (log, copied) = passive(&self.pool).await.map_err(db)?;
        if log >= self.restart_after {
            self.catch_up(log).await?;
            self.restart.wanted.store(true, Ordering::Relaxed);
        }
        Ok((log, copied))
    }

    /// Passes back to back, before a restart is asked for, until one finds few frames written
    /// since the one before it: the writer's own copy, during which sends wait, then holds only
    /// those. A first pass over a long log takes long enough for the next sends to write
    /// thousands of frames (p95 rose by 5–12 ms when the writer copied them).
    async fn catch_up(&self, mut log: i64) -> StoreResult<()> {
        for _ in 0..MAX_CATCH_UP_PASSES {
            let (now, _copied) = passive(&self.pool).await.map_err(db)?;
            // Fewer frames than before: the log started over meanwhile.
            if now.saturating_sub(log) <= SHORT_TAIL_FRAMES {
                break;
            }
            log = now;
        }
        Ok(())
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

//! PostgreSQL's first statistics of a new database, taken as soon as its tables fill.
//!
//! A new database has no statistics until autovacuum's first analyze, a minute or more into its
//! life (never, where autovacuum is off). Without them the planner prices every equality at the
//! same default selectivity, so on a small table the index of the send key (tenant,
//! conversation, sender, client id) and the index of the conversation's history (tenant,
//! conversation, seq) look alike — and a prepared statement keeps the generic plan it made on
//! its sixth run, while the table was small, until something invalidates it. A send batch's read
//! that took the history's index walked each conversation's whole history for every send: 30–150
//! ms a batch once the conversations held a few thousand messages, and every send behind it
//! waited (docs/benchmarks.md, 2026-12-05, 22:30).
//!
//! So the server analyzes each table of its schema that has never been analyzed once it holds
//! [`FIRST_ANALYZE_AT`] bytes (its size, which every backend sees at once, where the counters of
//! changes reach the statistics views up to seconds later). An `ANALYZE` also invalidates the
//! plans kept for the table, so the next run of each statement plans again, with statistics.
//! Autovacuum does the rest.
//! The loop ends once `messages` has statistics, or at once when the server's role does not own
//! it (a tenant's role: the platform's server does it).

use super::db;
use crate::ports::StoreResult;
use sqlx::AnyPool;
use std::time::Duration;

/// The size at which a never-analyzed table is analyzed: 64 pages, about 1 500 messages. A plan
/// made with statistics of a smaller table may still scan it whole, which is right while it
/// is that small and stays in the cache as it grows; from this size on, the send key's index
/// costs less than any scan. Until then a wrong index walks at most a few hundred rows.
pub const FIRST_ANALYZE_AT: i64 = 64 * 8192;

/// How often the tables are looked at until `messages` has statistics.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// The table every send reads and writes, and the one that grows fastest: once it has
/// statistics, the loop's work is done (the others are analyzed by autovacuum or by a later
/// start of the server).
const GROWS_FASTEST: &str = "messages";

/// Takes the first statistics of a new PostgreSQL database's tables.
#[derive(Debug, Clone)]
pub struct FirstStatistics {
    pool: AnyPool,
}

/// What one look at the tables found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatisticsRound {
    /// The tables analyzed in this round.
    pub analyzed: Vec<String>,
    /// Whether `messages` has statistics now (or cannot be analyzed by this role), so no
    /// further round is needed.
    pub done: bool,
}

impl FirstStatistics {
    pub(super) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// Analyzes each never-analyzed table of the schema, owned by this role, of at least
    /// `bytes`.
    pub async fn round(&self, bytes: i64) -> StoreResult<StatisticsRound> {
        let waiting: Vec<(String, i64, bool)> = sqlx::query_as(
            "SELECT s.relname::text, pg_relation_size(s.relid), pg_has_role(c.relowner, 'USAGE') \
             FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
             WHERE s.schemaname = current_schema() \
             AND s.last_analyze IS NULL AND s.last_autoanalyze IS NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut analyzed = Vec::new();
        let mut done = true;
        for (table, size, owned) in waiting {
            if !owned {
                continue;
            }
            if size < bytes {
                done &= table != GROWS_FASTEST;
                continue;
            }
            // The name comes from the catalogue of our own schema; quoted all the same.
            let statement = format!("ANALYZE \"{}\"", table.replace('"', "\"\""));
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&self.pool)
                .await
                .map_err(db)?;
            analyzed.push(table);
        }
        Ok(StatisticsRound { analyzed, done })
    }

    /// Looks every [`LOOK_EVERY`] until `messages` has statistics, or the task is cancelled.
    pub async fn run(self) {
        let mut every = tokio::time::interval(LOOK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match self.round(FIRST_ANALYZE_AT).await {
                Ok(round) => {
                    for table in &round.analyzed {
                        tracing::info!(%table, "first statistics of a new table taken");
                    }
                    if round.done {
                        return;
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "first statistics: looking at the tables failed")
                }
            }
        }
    }
}

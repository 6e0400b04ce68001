//! The outbox relay's side of the event table: claiming unshipped events, marking them shipped,
//! and counting the backlog. The relay is the one reader across tenants (PostgreSQL admits it
//! through the `outbox_relay` policy, which it opts into per transaction).
//!
//! **Claiming on PostgreSQL**: a relay takes a transaction-scoped advisory lock per conversation
//! it ships (`pg_try_advisory_xact_lock`, skipping conversations another replica holds — the
//! `SKIP LOCKED` idea at conversation grain), then reads their waiting events in a second
//! statement. Row-level `SKIP LOCKED` alone would not do: a second replica could take a
//! conversation's later events while the first still ships its earlier ones, and Kafka would
//! receive them out of order. The second statement has a fresh snapshot, taken once the lock was
//! granted — after the commit of the relay that held it, which releases its locks only once its
//! commit is visible — so events another relay shipped just before are not shipped again. The
//! advisory lock is the whole exclusion: every relay takes it before it reads a conversation's
//! events, so the rows are not locked as well (`FOR UPDATE` wrote a lock into every claimed
//! row, in the heap and in the write-ahead log, before the mark wrote each row again). The claim
//! keeps its transaction open until the events are marked shipped; dropping it rolls back and
//! frees the conversations for any relay.
//!
//! **SQLite** is one process's database: its single relay reads without locks and marks in a
//! short write transaction, so the database's write lock is never held while the event log
//! (possibly a remote broker) is called.

use super::super::{Engine, SqlStore, Tx, db};
use super::rows::{EVENT_COLUMNS, EventRow};
use crate::ports::StoreResult;
use crate::ports::chat::{OutboxClaim, OutboxWaiting, StoredEvent};
use async_trait::async_trait;
use std::collections::BTreeMap;

/// Conversations one claim may lock at most.
const CONVERSATIONS_PER_CLAIM: i64 = 64;

pub(super) async fn claim(store: &SqlStore, limit: u32) -> StoreResult<Box<dyn OutboxClaim>> {
    match store.engine {
        Engine::Postgres => claim_locked(store, limit).await,
        Engine::Sqlite => {
            metrics::counter!(super::super::METRIC_TRANSACTIONS, "kind" => "relay").increment(1);
            // One statement, its own snapshot: no BEGIN and COMMIT round trips around it.
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE published_at IS NULL \
                 ORDER BY tenant_id, conversation_id, event_seq LIMIT $1"
            );
            let rows: Vec<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(i64::from(limit))
                .fetch_all(&store.pool)
                .await
                .map_err(db)?;
            let reached_limit = rows.len() >= limit as usize;
            Ok(Box::new(Claim {
                events: to_events(rows)?,
                reached_limit,
                held: None,
                store: store.clone(),
            }))
        }
    }
}

async fn claim_locked(store: &SqlStore, limit: u32) -> StoreResult<Box<dyn OutboxClaim>> {
    let mut tx = relay_tx(store, true).await?;
    // Oldest waiting conversations first, chosen among the oldest few batches' worth of waiting
    // events (an index range, however large the backlog); the LIMIT applies before the lock
    // attempts, which PostgreSQL never pushes into a limited subquery.
    let claimed: Vec<(String,)> = sqlx::query_as(
        "SELECT tenant_id || '/' || conversation_id FROM ( \
           SELECT tenant_id, conversation_id, MIN(created_at) AS oldest FROM ( \
             SELECT tenant_id, conversation_id, created_at FROM events \
             WHERE published_at IS NULL ORDER BY created_at LIMIT $2) oldest_events \
           GROUP BY tenant_id, conversation_id ORDER BY oldest LIMIT $1) waiting \
         WHERE pg_try_advisory_xact_lock(hashtextextended(tenant_id || '/' || conversation_id, 0))",
    )
    .bind(CONVERSATIONS_PER_CLAIM)
    .bind(i64::from(limit) * 4)
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    let mut reached_limit = claimed.len() >= CONVERSATIONS_PER_CLAIM as usize;
    let events = if claimed.is_empty() {
        Vec::new()
    } else {
        let keys: Vec<String> = claimed.into_iter().map(|(key,)| key).collect();
        let keys = serde_json::Value::from(keys).to_string();
        // Joined on the two key columns (not on their concatenation) so each claimed
        // conversation is a range of the partial index `events_outbox_by_conversation`.
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events e JOIN ( \
               SELECT split_part(key, '/', 1) AS t, split_part(key, '/', 2) AS c \
               FROM jsonb_array_elements_text(CAST($1 AS jsonb)) AS claimed(key)) k \
             ON e.tenant_id = k.t AND e.conversation_id = k.c \
             WHERE e.published_at IS NULL \
             ORDER BY e.tenant_id, e.conversation_id, e.event_seq LIMIT $2"
        );
        let rows: Vec<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(keys)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        reached_limit |= rows.len() >= limit as usize;
        to_events(rows)?
    };
    Ok(Box::new(Claim {
        events,
        reached_limit,
        held: Some(tx),
        store: store.clone(),
    }))
}

pub(super) async fn backlog(store: &SqlStore) -> StoreResult<u64> {
    let mut tx = relay_tx(store, false).await?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE published_at IS NULL")
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// How many events wait and when the oldest was committed, in one statement.
pub(super) async fn waiting(store: &SqlStore) -> StoreResult<OutboxWaiting> {
    let mut tx = relay_tx(store, false).await?;
    let (count, oldest_ms): (i64, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM events WHERE published_at IS NULL")
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(OutboxWaiting {
        events: u64::try_from(count).unwrap_or(0),
        oldest_ms,
    })
}

/// Events claimed by one relay; `held` is the open transaction holding the locks (PostgreSQL).
struct Claim {
    events: Vec<StoredEvent>,
    reached_limit: bool,
    held: Option<Tx>,
    store: SqlStore,
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("events", &self.events.len())
            .field("reached_limit", &self.reached_limit)
            .field("locked", &self.held.is_some())
            .finish()
    }
}

#[async_trait]
impl OutboxClaim for Claim {
    fn events(&self) -> &[StoredEvent] {
        &self.events
    }

    fn reached_limit(&self) -> bool {
        self.reached_limit
    }

    async fn shipped(self: Box<Self>, at_ms: i64) -> StoreResult<()> {
        let Claim {
            events,
            held,
            store,
            ..
        } = *self;
        if events.is_empty() {
            return match held {
                Some(tx) => tx.commit().await.map_err(db),
                None => Ok(()),
            };
        }
        match held {
            Some(mut tx) => {
                mark(store.engine, &mut *tx, &events, at_ms).await?;
                tx.commit().await.map_err(db)
            }
            None => {
                // SQLite: one statement is its own transaction, so the single writer is held
                // for that statement alone, not across the round trips of BEGIN and COMMIT
                // through a runtime busy with the connections the sends are waking.
                metrics::counter!(super::super::METRIC_TRANSACTIONS, "kind" => "relay")
                    .increment(1);
                mark(store.engine, &store.writer, &events, at_ms).await
            }
        }
    }
}

/// Marks the events shipped in one statement, whatever the number of conversations: a claim
/// holds, per conversation, a run of consecutive event seqs (a conversation's events commit in
/// seq order and are shipped as a prefix of what waits). One statement, not one per
/// conversation, because on SQLite every statement is a round trip to the single writer that
/// the sends queue behind.
async fn mark<'c>(
    engine: Engine,
    executor: impl sqlx::Executor<'c, Database = sqlx::Any>,
    events: &[StoredEvent],
    at_ms: i64,
) -> StoreResult<()> {
    let mut ranges: BTreeMap<(&str, String), (i64, i64)> = BTreeMap::new();
    for event in events {
        let key = (event.tenant.as_str(), event.conversation_id.to_string());
        let range = ranges
            .entry(key)
            .or_insert((event.event_seq, event.event_seq));
        range.0 = range.0.min(event.event_seq);
        range.1 = range.1.max(event.event_seq);
    }
    let runs: Vec<serde_json::Value> = ranges
        .into_iter()
        .map(|((tenant, conversation), (low, high))| {
            serde_json::json!({ "tenant": tenant, "conversation": conversation, "low": low, "high": high })
        })
        .collect();
    let sql = format!(
        "UPDATE events SET published_at = $1 FROM ({}) AS run \
         WHERE events.tenant_id = run.tenant AND events.conversation_id = run.conversation \
           AND events.event_seq BETWEEN run.low AND run.high AND events.published_at IS NULL",
        engine.json_rows(
            "$2",
            &[
                ("tenant", "text"),
                ("conversation", "text"),
                ("low", "bigint"),
                ("high", "bigint"),
            ]
        )
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(at_ms)
        .bind(serde_json::Value::from(runs).to_string())
        .execute(executor)
        .await
        .map_err(db)?;
    Ok(())
}

fn to_events(rows: Vec<EventRow>) -> StoreResult<Vec<StoredEvent>> {
    rows.into_iter().map(StoredEvent::try_from).collect()
}

/// A transaction of the outbox relay, which alone reads across tenants.
async fn relay_tx(store: &SqlStore, write: bool) -> StoreResult<Tx> {
    store.worker("outbox_relay", "relay", write).await
}

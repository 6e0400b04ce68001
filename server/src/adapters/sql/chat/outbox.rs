//! The outbox relay's side of the store: claiming waiting events, marking them shipped, and
//! counting the backlog. A waiting event is a row of `outbox` (its keys, written by a trigger on
//! `events` in the event's own transaction); shipping it deletes that row, so the event log
//! itself is written once. The relay is the one reader across tenants (PostgreSQL admits it
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
//! outbox rows, so the rows are not locked as well. The claim keeps its transaction open until
//! the events are marked shipped; dropping it rolls back and frees the conversations for any
//! relay.
//!
//! **SQLite** is one process's database: its single relay reads without locks and marks in a
//! short write transaction, so the database's write lock is never held while the event log
//! (possibly a remote broker) is called.
//!
//! An outbox row whose event is gone (its conversation was deleted before the relay came) is
//! claimed like any other and deleted with the shipped ones; there is nothing to ship for it.

use super::super::{Engine, SqlStore, Tx, db};
use super::rows::{OUTBOX_COLUMNS, OutboxRow};
use crate::ports::StoreResult;
use crate::ports::chat::{OutboxClaim, OutboxWaiting, StoredEvent};
use async_trait::async_trait;
use std::collections::BTreeMap;

/// The claim's join from outbox rows (`o`) to the events they name (`e`), which may be gone.
const WITH_EVENT: &str = "LEFT JOIN events e ON e.tenant_id = o.tenant_id \
     AND e.conversation_id = o.conversation_id AND e.event_seq = o.event_seq";

/// Conversations one claim may lock at most.
const CONVERSATIONS_PER_CLAIM: i64 = 64;

pub(super) async fn claim(store: &SqlStore, limit: u32) -> StoreResult<Box<dyn OutboxClaim>> {
    match store.engine {
        Engine::Postgres => claim_locked(store, limit).await,
        Engine::Sqlite => {
            metrics::counter!(super::super::METRIC_TRANSACTIONS, "kind" => "relay").increment(1);
            // One statement, its own snapshot: no BEGIN and COMMIT round trips around it.
            let sql = format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox o {WITH_EVENT} \
                 ORDER BY o.tenant_id, o.conversation_id, o.event_seq LIMIT $1"
            );
            let rows: Vec<OutboxRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(i64::from(limit))
                .fetch_all(&store.pool)
                .await
                .map_err(db)?;
            let reached_limit = rows.len() >= limit as usize;
            let (keys, events) = split(rows)?;
            Ok(Box::new(Claim {
                keys,
                events,
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
             SELECT tenant_id, conversation_id, created_at FROM outbox \
             ORDER BY created_at LIMIT $2) oldest_events \
           GROUP BY tenant_id, conversation_id ORDER BY oldest LIMIT $1) waiting \
         WHERE pg_try_advisory_xact_lock(hashtextextended(tenant_id || '/' || conversation_id, 0))",
    )
    .bind(CONVERSATIONS_PER_CLAIM)
    .bind(i64::from(limit) * 4)
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    let mut reached_limit = claimed.len() >= CONVERSATIONS_PER_CLAIM as usize;
    let (keys, events) = if claimed.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let keys: Vec<String> = claimed.into_iter().map(|(key,)| key).collect();
        let keys = serde_json::Value::from(keys).to_string();
        // Joined on the two key columns (not on their concatenation) so each claimed
        // conversation is a range of the outbox's primary key.
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox o JOIN ( \
               SELECT split_part(key, '/', 1) AS t, split_part(key, '/', 2) AS c \
               FROM jsonb_array_elements_text(CAST($1 AS jsonb)) AS claimed(key)) k \
             ON o.tenant_id = k.t AND o.conversation_id = k.c {WITH_EVENT} \
             ORDER BY o.tenant_id, o.conversation_id, o.event_seq LIMIT $2"
        );
        let rows: Vec<OutboxRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(keys)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        reached_limit |= rows.len() >= limit as usize;
        split(rows)?
    };
    Ok(Box::new(Claim {
        keys,
        events,
        reached_limit,
        held: Some(tx),
        store: store.clone(),
    }))
}

pub(super) async fn backlog(store: &SqlStore) -> StoreResult<u64> {
    let mut tx = relay_tx(store, false).await?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
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
        sqlx::query_as("SELECT COUNT(*), MIN(created_at) FROM outbox")
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(OutboxWaiting {
        events: u64::try_from(count).unwrap_or(0),
        oldest_ms,
    })
}

/// Events claimed by one relay: the outbox rows taken (`keys`, each conversation's a run of
/// consecutive seqs), the events they name that still exist, and (PostgreSQL) `held`, the open
/// transaction holding the locks.
struct Claim {
    keys: Vec<OutboxKey>,
    events: Vec<StoredEvent>,
    reached_limit: bool,
    held: Option<Tx>,
    store: SqlStore,
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claim")
            .field("keys", &self.keys.len())
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

    async fn shipped(self: Box<Self>) -> StoreResult<()> {
        let Claim {
            keys, held, store, ..
        } = *self;
        if keys.is_empty() {
            return match held {
                Some(tx) => tx.commit().await.map_err(db),
                None => Ok(()),
            };
        }
        match held {
            Some(mut tx) => {
                mark(store.engine, &mut *tx, &keys).await?;
                tx.commit().await.map_err(db)
            }
            None => {
                // SQLite: one statement is its own transaction, so the single writer is held
                // for that statement alone, not across the round trips of BEGIN and COMMIT
                // through a runtime busy with the connections the sends are waking.
                metrics::counter!(super::super::METRIC_TRANSACTIONS, "kind" => "relay")
                    .increment(1);
                mark(store.engine, &store.writer, &keys).await
            }
        }
    }
}

/// Deletes the claimed outbox rows in one statement, whatever the number of conversations: a
/// claim holds, per conversation, a run of consecutive seqs (a conversation's events commit in
/// seq order and are shipped as a prefix of what waits). One statement, not one per
/// conversation, because on SQLite every statement is a round trip to the single writer that
/// the sends queue behind.
async fn mark<'c>(
    engine: Engine,
    executor: impl sqlx::Executor<'c, Database = sqlx::Any>,
    keys: &[OutboxKey],
) -> StoreResult<()> {
    let mut ranges: BTreeMap<(&str, &str), (i64, i64)> = BTreeMap::new();
    for key in keys {
        let range = ranges
            .entry((key.tenant.as_str(), key.conversation.as_str()))
            .or_insert((key.event_seq, key.event_seq));
        range.0 = range.0.min(key.event_seq);
        range.1 = range.1.max(key.event_seq);
    }
    let runs: Vec<serde_json::Value> = ranges
        .into_iter()
        .map(|((tenant, conversation), (low, high))| {
            serde_json::json!({ "tenant": tenant, "conversation": conversation, "low": low, "high": high })
        })
        .collect();
    // Driven from the runs into the outbox's primary key on both engines (a row-value `IN`),
    // however long the outbox has grown while the log was down.
    let sql = format!(
        "DELETE FROM outbox WHERE (tenant_id, conversation_id, event_seq) IN ( \
           SELECT o.tenant_id, o.conversation_id, o.event_seq FROM ({}) AS run \
           JOIN outbox o ON o.tenant_id = run.tenant AND o.conversation_id = run.conversation \
            AND o.event_seq BETWEEN run.low AND run.high)",
        engine.json_rows(
            "$1",
            &[
                ("tenant", "text"),
                ("conversation", "text"),
                ("low", "bigint"),
                ("high", "bigint"),
            ]
        )
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(serde_json::Value::from(runs).to_string())
        .execute(executor)
        .await
        .map_err(db)?;
    Ok(())
}

/// The outbox rows a claim took, and the events of those whose event still exists.
fn split(rows: Vec<OutboxRow>) -> StoreResult<(Vec<OutboxKey>, Vec<StoredEvent>)> {
    let mut keys = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        keys.push(OutboxKey {
            tenant: row.tenant_id.clone(),
            conversation: row.conversation_id.clone(),
            event_seq: row.event_seq,
        });
        if let Some(event) = row.into_event() {
            events.push(StoredEvent::try_from(event)?);
        }
    }
    Ok((keys, events))
}

/// One outbox row's key.
struct OutboxKey {
    tenant: String,
    conversation: String,
    event_seq: i64,
}

/// A transaction of the outbox relay, which alone reads across tenants.
async fn relay_tx(store: &SqlStore, write: bool) -> StoreResult<Tx> {
    store.worker("outbox_relay", "relay", write).await
}

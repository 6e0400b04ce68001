//! The event log: appending under the conversation's lock, delta sync, and the outbox relay's
//! reads.

use super::super::{SqlStore, Tx, db};
use super::rows::{BatchWrite, EVENT_COLUMNS, EventRow, conversation_id};
use crate::domain::{ConversationId, ConversationKind, EventId, TenantId, UserId};
use crate::ports::chat::{ChatEvent, StoredEvent, SyncPage, SyncPosition};
use crate::ports::{StoreError, StoreResult};
use crate::telemetry::TraceParent;

/// What the conversation row says once locked.
#[derive(Debug, Clone, Copy)]
pub(super) struct Locked {
    pub kind: ConversationKind,
    pub last_seq: i64,
}

/// Takes the conversation row's write lock for the rest of the transaction (a no-op update: on
/// PostgreSQL it locks the row; SQLite's `BEGIN IMMEDIATE` already holds the database lock).
/// Every writer of a conversation's messages or events goes through this lock first, so they
/// all lock in the same order and the sequences advance one transaction at a time.
pub(super) async fn lock_conversation(
    tx: &mut Tx,
    tenant: &TenantId,
    id: ConversationId,
) -> StoreResult<Option<Locked>> {
    let row: Option<(String, i64)> = sqlx::query_as(
        "UPDATE conversations SET last_event_seq = last_event_seq \
         WHERE tenant_id = $1 AND id = $2 RETURNING kind, last_seq",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    row.map(|(kind, last_seq)| {
        Ok(Locked {
            kind: ConversationKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("bad kind '{kind}'")))?,
            last_seq,
        })
    })
    .transpose()
}

/// Allocates the conversation's next event seq and writes the event. Call with the conversation
/// locked.
pub(super) async fn append(
    tx: &mut Tx,
    tenant: &TenantId,
    conversation: ConversationId,
    event: ChatEvent<'_>,
    at_ms: i64,
) -> StoreResult<StoredEvent> {
    let event_seq: i64 = sqlx::query_scalar(
        "UPDATE conversations SET last_event_seq = last_event_seq + 1 \
         WHERE tenant_id = $1 AND id = $2 RETURNING last_event_seq",
    )
    .bind(tenant.as_str())
    .bind(conversation.to_string())
    .fetch_one(&mut **tx)
    .await
    .map_err(db)?;
    insert(tx, tenant, conversation, event_seq, event, at_ms).await
}

/// Writes an event whose seq the caller already allocated; returns it as committed consumers
/// will see it (the caller hands it to the store's commit listener after the commit).
pub(super) async fn insert(
    tx: &mut Tx,
    tenant: &TenantId,
    conversation: ConversationId,
    event_seq: i64,
    event: ChatEvent<'_>,
    at_ms: i64,
) -> StoreResult<StoredEvent> {
    let stored = stored(tenant, conversation, event_seq, event, at_ms);
    let message_id = stored.payload.message().map(|m| m.id.clone());
    sqlx::query(
        "INSERT INTO events (tenant_id, conversation_id, event_seq, id, kind, message_id, payload, \
         created_at, trace_parent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant.as_str())
    .bind(conversation.to_string())
    .bind(event_seq)
    .bind(stored.id.to_string())
    .bind(stored.kind().as_str())
    .bind(message_id)
    .bind(stored.payload.to_json())
    .bind(at_ms)
    .bind(stored.trace.as_ref().map(TraceParent::as_str))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(stored)
}

/// An event as it will be stored, with a new id.
pub(super) fn stored(
    tenant: &TenantId,
    conversation: ConversationId,
    event_seq: i64,
    event: ChatEvent<'_>,
    at_ms: i64,
) -> StoredEvent {
    StoredEvent {
        tenant: tenant.clone(),
        id: EventId::generate(),
        conversation_id: conversation,
        event_seq,
        payload: event.to_payload(),
        created_at_ms: at_ms,
        trace: TraceParent::current(),
    }
}

/// The write of many events of one tenant in one statement (their seqs already allocated).
pub(super) fn insert_all(events: &[StoredEvent]) -> BatchWrite {
    let rows: Vec<serde_json::Value> = events
        .iter()
        .map(|event| {
            serde_json::json!({
                "conversation": event.conversation_id.to_string(),
                "event_seq": event.event_seq,
                "id": event.id.to_string(),
                "kind": event.kind().as_str(),
                "message": event.payload.message().map(|m| m.id.clone()),
                "payload": event.payload.to_json(),
                "at": event.created_at_ms,
                "trace": event.trace.as_ref().map(TraceParent::as_str),
            })
        })
        .collect();
    BatchWrite {
        sql: "INSERT INTO events (tenant_id, conversation_id, event_seq, id, kind, message_id, \
              payload, created_at, trace_parent) SELECT $1, conversation, event_seq, id, kind, \
              message, payload, at, trace FROM ({rows}) AS batch",
        columns: &[
            ("conversation", "text"),
            ("event_seq", "bigint"),
            ("id", "text"),
            ("kind", "text"),
            ("message", "text"),
            ("payload", "text"),
            ("at", "bigint"),
            ("trace", "text"),
        ],
        rows,
    }
}

/// Commits a transaction that wrote `written`, then tells the store's commit listener: the only
/// way an event leaves the store before the outbox relay ships it, and only once committed.
pub(super) async fn commit(store: &SqlStore, tx: Tx, written: &[StoredEvent]) -> StoreResult<()> {
    tx.commit().await.map_err(db)?;
    store.committed(written);
    Ok(())
}

/// One of the user's memberships, current or past, as sync needs it.
struct Membership {
    conversation: ConversationId,
    joined_event_seq: i64,
    left_event_seq: Option<i64>,
    last_event_seq: i64,
}

async fn memberships(tx: &mut Tx, tenant: &TenantId, user: UserId) -> StoreResult<Vec<Membership>> {
    let rows: Vec<(String, i64, Option<i64>, i64)> = sqlx::query_as(
        "SELECT m.conversation_id, m.joined_event_seq, m.left_event_seq, c.last_event_seq \
         FROM conversation_members m JOIN conversations c \
           ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id \
         WHERE m.tenant_id = $1 AND m.user_id = $2 ORDER BY m.conversation_id",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    rows.into_iter()
        .map(|(id, joined_event_seq, left_event_seq, last_event_seq)| {
            Ok(Membership {
                conversation: conversation_id(&id)?,
                joined_event_seq,
                left_event_seq,
                last_event_seq,
            })
        })
        .collect()
}

pub(super) async fn position(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
) -> StoreResult<SyncPosition> {
    let mut tx = store.read(tenant).await?;
    let all = memberships(&mut tx, tenant, user).await?;
    tx.commit().await.map_err(db)?;
    Ok(all
        .into_iter()
        .filter(|m| m.left_event_seq.is_none())
        .map(|m| (m.conversation, m.last_event_seq))
        .collect())
}

/// Events after `since`, conversation by conversation. A conversation's committed events always
/// form a prefix of its event seqs (each is numbered under the row lock and committed before the
/// next can be numbered), so reading `(from, last_event_seq]` can never skip one that commits
/// later.
pub(super) async fn sync(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    since: &SyncPosition,
    limit: u32,
) -> StoreResult<SyncPage> {
    let mut tx = store.read(tenant).await?;
    let mut events = Vec::new();
    let mut position = SyncPosition::new();
    let mut has_more = false;
    for m in memberships(&mut tx, tenant, user).await? {
        // Events before joining are not the member's; after leaving, the removal is the last.
        let from = since
            .get(&m.conversation)
            .copied()
            .unwrap_or(m.joined_event_seq)
            .max(m.joined_event_seq);
        let until = m
            .left_event_seq
            .unwrap_or(m.last_event_seq)
            .min(m.last_event_seq);
        let mut reached = from;
        let remaining = i64::from(limit) - i64::try_from(events.len()).unwrap_or(i64::MAX);
        if from < until && remaining > 0 {
            let sql = format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE tenant_id = $1 AND conversation_id = $2 \
                 AND event_seq > $3 AND event_seq <= $4 ORDER BY event_seq LIMIT $5"
            );
            let rows: Vec<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant.as_str())
                .bind(m.conversation.to_string())
                .bind(from)
                .bind(until)
                .bind(remaining)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
            for row in rows {
                let event = StoredEvent::try_from(row)?;
                reached = event.event_seq;
                events.push(event);
            }
        }
        if reached < until {
            has_more = true;
        }
        // A conversation the user left stays in the position too: were it dropped, the next
        // sync could not tell "delivered up to the removal" from "never seen" and would repeat.
        position.insert(m.conversation, reached);
    }
    tx.commit().await.map_err(db)?;
    Ok(SyncPage {
        events,
        position,
        has_more,
    })
}

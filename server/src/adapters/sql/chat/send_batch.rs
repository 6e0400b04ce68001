//! One batch of sends in one transaction. Whatever sends of a tenant queued while the writer was
//! busy (see `sends.rs`) are checked, numbered and written with the same few statements however
//! many there are: one read of what the store knows of each send (conversation, membership, an
//! earlier twin) that on PostgreSQL also locks the batch's conversations, in id order, then the
//! writes — the day's quota usage, one update of the counters, one insert of the messages and
//! one of their events — sent together, so a batch is four round trips (begin, read, writes,
//! commit), three when it follows another on the loop's connection (`batch_connection.rs`). The
//! lock rides on the read rather than on the `BEGIN`'s round trip: that was a statement of its
//! own, planned anew for every batch (its id list came as literals). On a SQLite file there is
//! no round trip: the same statements run on the batches' thread itself (`direct_writer.rs`).
//!
//! The quota is counted with the writes, guarded: when the batch's messages do not all fit, the
//! guard fails the whole write (nothing of it stays) and the batch runs again counting its sends
//! one by one first, so the quota's last messages still go through. A full quota is the rare
//! case; the usual batch saves the round trip a separate count would cost.

use super::super::engine::RowLock;
use super::super::{Engine, SqlStore, db};
use super::batch_connection::BatchConnection;
use super::direct_writer::{direct_db, not_null_failed_on};
use super::rows::{BatchWrite, execute_all, execute_direct, floor, load_message, message_id, role};
use super::{attachments, events};
use crate::domain::{ConversationId, Floor, FloorRefusal, MediaId, Speaker, TenantId, UserId};
use crate::ports::MediaItem;
use crate::ports::StoreError;
use crate::ports::StoreResult;
use crate::ports::chat::{ChatEvent, DailyQuota, Message, NewMessage, SendOutcome, StoredEvent};
use crate::telemetry::TraceParent;
use serde_json::{Value, json};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection};
use std::collections::{BTreeMap, HashMap};

/// One send waiting in a batch.
#[derive(Debug)]
pub(super) struct QueuedSend {
    /// The message, if it turns out to be new.
    pub message: NewMessage,
    /// The tenant's daily quota, when it has one.
    pub quota: Option<DailyQuota>,
    /// The sender's trace: the batch runs in the send loop, not in the caller's task, so each
    /// send brings its own.
    pub trace: Option<TraceParent>,
}

/// Messages committed (counter, labelled `conversation_type` and `message_type`).
pub const METRIC_SENT: &str = "chat_messages_sent_total";

/// What the store says about one send before anything is written.
struct Known {
    /// The conversation's counters, when it exists and the sender is a current member.
    counters: Option<(i64, i64)>,
    /// The conversation's floor and what it needs to know of the sender.
    floor: Option<(Floor, Speaker)>,
    /// The message an earlier send with the same key stored.
    twin: Option<String>,
    /// The conversation's kind (`dm`, `group`), for the sent-messages metric.
    conversation_kind: Option<String>,
}

/// The decision for one send.
enum Plan {
    /// Stored now (its index among the new messages).
    New(usize),
    /// A retry of a message stored earlier.
    Stored(String),
    /// A retry of a send earlier in this batch.
    SameAs(usize),
    NotFound,
    QuotaExceeded,
    /// Attachments the sender may not attach.
    Refused(Vec<MediaId>),
    /// The floor refused the sender.
    Silenced(FloorRefusal),
}

/// A batch committed: what each send became, and the events its transaction wrote, for the
/// caller to hand to the fan-out once it has let go of the writer.
pub(super) struct Committed {
    /// In the order of the batch's sends.
    pub outcomes: Vec<SendOutcome>,
    pub events: Vec<StoredEvent>,
}

/// When a batch counts its messages against the daily quota.
#[derive(Clone, Copy)]
enum QuotaCount {
    /// With the writes, guarded: the usual case, no round trip of its own.
    WithWrites,
    /// Before deciding, one send at a time if they do not all fit.
    First,
}

/// Why an attempt at a batch did not commit.
enum Failed {
    /// The quota's guard stopped the writes: the batch goes again, counting first.
    QuotaFull,
    Store(StoreError),
}

impl From<StoreError> for Failed {
    fn from(err: StoreError) -> Self {
        Failed::Store(err)
    }
}

/// Runs one batch on `connection`, one of the writer's. `next`, asked right before the commit,
/// names the tenant whose batch follows on this connection, if one does: its transaction is
/// begun with the commit (`batch_connection.rs`).
pub(super) async fn run(
    store: &SqlStore,
    connection: &mut BatchConnection,
    tenant: &TenantId,
    sends: &[&QueuedSend],
    next: &(dyn Fn() -> Option<TenantId> + Sync),
) -> StoreResult<Committed> {
    let first = attempt(
        store,
        connection,
        tenant,
        sends,
        QuotaCount::WithWrites,
        next,
    )
    .await;
    let retried = match first {
        Err(Failed::QuotaFull) => {
            attempt(store, connection, tenant, sends, QuotaCount::First, next).await
        }
        other => other,
    };
    retried.map_err(|failed| match failed {
        Failed::Store(err) => err,
        // A batch that counts first writes no guard, so this is not reached.
        Failed::QuotaFull => StoreError::Other(anyhow::anyhow!("the quota's guard failed again")),
    })
}

/// One attempt at the batch, in one transaction: committed whole or rolled back.
async fn attempt(
    store: &SqlStore,
    connection: &mut BatchConnection,
    tenant: &TenantId,
    sends: &[&QueuedSend],
    quota_count: QuotaCount,
    next: &(dyn Fn() -> Option<TenantId> + Sync),
) -> Result<Committed, Failed> {
    connection.begin(store.engine, tenant).await?;
    let (committed, kinds) = match write(store, connection, tenant, sends, quota_count).await {
        Ok(written) => written,
        Err(failed) => {
            connection.rollback().await;
            return Err(failed);
        }
    };
    connection.commit(store.engine, next()).await?;
    for (outcome, kind) in committed.outcomes.iter().zip(&kinds) {
        if let SendOutcome::Sent(message) = outcome {
            count_sent(kind.as_deref(), message);
        }
    }
    Ok(committed)
}

/// The batch's statements, in its transaction: what it committed once it commits, and the kind
/// of each send's conversation (for the sent-messages metric).
async fn write(
    store: &SqlStore,
    connection: &mut BatchConnection,
    tenant: &TenantId,
    sends: &[&QueuedSend],
    quota_count: QuotaCount,
) -> Result<(Committed, Vec<Option<String>>), Failed> {
    let known = read_known(store, connection, tenant, sends).await?;

    // Decide in queue order: twins of a send earlier in the batch repeat it.
    let mut counters: HashMap<ConversationId, (i64, i64)> = HashMap::new();
    let mut first_of_key: HashMap<(ConversationId, UserId, &str), usize> = HashMap::new();
    // Slow mode counts sends earlier in this batch as sent.
    let mut paced: HashMap<(ConversationId, UserId), i64> = HashMap::new();
    let mut plans = Vec::with_capacity(sends.len());
    let mut kinds = Vec::with_capacity(sends.len());
    for (i, (send, known)) in sends.iter().zip(known).enumerate() {
        let m = &send.message;
        kinds.push(known.conversation_kind.clone());
        let key = (m.conversation_id, m.sender_id, m.client_message_id.as_str());
        let plan = if let Some(id) = known.twin {
            Plan::Stored(id)
        } else if let Some(&first) = first_of_key.get(&key) {
            Plan::SameAs(first)
        } else if let (Some(found), Some((floor, mut speaker))) = (known.counters, known.floor) {
            let pace_key = (m.conversation_id, m.sender_id);
            if let Some(&at) = paced.get(&pace_key) {
                speaker.last_sent_ms = Some(at);
            }
            match floor.admits(&speaker, m.at_ms) {
                Ok(()) => {
                    counters.entry(m.conversation_id).or_insert(found);
                    first_of_key.insert(key, i);
                    if floor.paces(speaker.role) {
                        paced.insert(pace_key, m.at_ms);
                    }
                    Plan::New(0)
                }
                Err(refusal) => Plan::Silenced(refusal),
            }
        } else {
            Plan::NotFound
        };
        plans.push(plan);
    }
    let media = check_attachments(store, connection, tenant, sends, &mut plans).await?;
    let mut quota_write = match (quota_count, QuotaPlan::of(sends, &plans)) {
        (_, QuotaPlan::Nothing) => None,
        (QuotaCount::WithWrites, QuotaPlan::Guarded(write)) => Some(write),
        _ => {
            count_quota(connection, tenant, sends, &mut plans).await?;
            None
        }
    };

    // Number the new messages, per conversation in queue order.
    let mut messages = Vec::new();
    let mut stored = Vec::new();
    for (send, plan) in sends.iter().zip(plans.iter_mut()) {
        let Plan::New(index) = plan else { continue };
        let m = &send.message;
        let (seq, event_seq) = counters
            .get_mut(&m.conversation_id)
            .map(|c| {
                c.0 += 1;
                c.1 += 1;
                *c
            })
            .unwrap_or_default();
        let message = new_message(m, seq, &media);
        let mut event = events::stored(
            tenant,
            m.conversation_id,
            event_seq,
            ChatEvent::MessageCreated(&message),
            m.at_ms,
        );
        event.trace.clone_from(&send.trace);
        stored.push(event);
        *index = messages.len();
        messages.push(message);
    }
    // Paced senders whose sends were all refused later (quota, attachments) keep their turn.
    paced.retain(|key, _| {
        messages
            .iter()
            .any(|m| (m.conversation_id, m.sender_id) == *key)
    });
    // Every write of the batch at once: one round trip to the writer on SQLite. The quota's
    // guard goes first there, so nothing else runs when it fails; on PostgreSQL the writes are
    // one statement, which fails whole wherever the guard is, and it goes last so the statement
    // keeps the name its first clause gives it in traces (`WITH messages`).
    let mut writes = Vec::new();
    if store.engine == Engine::Sqlite {
        writes.extend(quota_write.take());
    }
    if !paced.is_empty() {
        writes.push(note_paced_sends(&paced));
    }
    if !messages.is_empty() {
        writes.push(advance_counters(&counters, &messages));
        writes.push(insert_messages(&messages));
        writes.extend(attachments::links(&messages));
        writes.push(events::insert_all(&stored));
    }
    writes.extend(quota_write);
    if !writes.is_empty() {
        write_all(store, connection, tenant, writes).await?;
    }
    let mut outcomes = Vec::with_capacity(plans.len());
    for plan in &plans {
        outcomes.push(match plan {
            Plan::New(index) => SendOutcome::Sent(messages[*index].clone()),
            Plan::Stored(id) => match load_message(
                ReadOn::of(store, connection).await?.connection(),
                tenant,
                message_id(id)?,
            )
            .await?
            {
                Some(original) => SendOutcome::Duplicate(original),
                None => SendOutcome::NotFound,
            },
            Plan::SameAs(first) => match &plans[*first] {
                Plan::New(index) => SendOutcome::Duplicate(messages[*index].clone()),
                Plan::Refused(ids) => SendOutcome::InvalidAttachments(ids.clone()),
                Plan::Silenced(refusal) => SendOutcome::Refused(*refusal),
                _ => SendOutcome::QuotaExceeded,
            },
            Plan::NotFound => SendOutcome::NotFound,
            Plan::QuotaExceeded => SendOutcome::QuotaExceeded,
            Plan::Refused(ids) => SendOutcome::InvalidAttachments(ids.clone()),
            Plan::Silenced(refusal) => SendOutcome::Refused(*refusal),
        });
    }
    Ok((
        Committed {
            outcomes,
            events: stored,
        },
        kinds,
    ))
}

/// Messages sent (the original system's `chat_messages_sent_total`), by conversation kind and
/// by what the message carries: bounded labels only.
fn count_sent(conversation_kind: Option<&str>, message: &Message) {
    let conversation_type = match conversation_kind {
        Some("dm") => "dm",
        Some("group") => "group",
        _ => "other",
    };
    let message_type = if message.attachments.is_empty() {
        "text"
    } else if message
        .attachments
        .iter()
        .all(|a| a.content_type.starts_with("image/"))
    {
        "image"
    } else {
        "file"
    };
    metrics::counter!(METRIC_SENT, "conversation_type" => conversation_type,
        "message_type" => message_type)
    .increment(1);
}

/// One row per send, in order: the conversation's counters and floor if the sender is a current
/// member, what the floor needs to know of the sender, and the id of a message already stored
/// under the same key. On PostgreSQL the read locks each conversation it finds until the batch
/// commits, so no other transaction moves its counters meanwhile; the rows go to the database
/// ordered by conversation id, the order every batch locks in.
async fn read_known(
    store: &SqlStore,
    connection: &mut BatchConnection,
    tenant: &TenantId,
    sends: &[&QueuedSend],
) -> StoreResult<Vec<Known>> {
    let mut in_lock_order: Vec<(usize, &&QueuedSend)> = sends.iter().enumerate().collect();
    in_lock_order.sort_by_key(|(_, s)| s.message.conversation_id);
    let rows: Vec<Value> = in_lock_order
        .into_iter()
        .map(|(i, s)| {
            json!({
                "i": i,
                "conversation": s.message.conversation_id.to_string(),
                "sender": s.message.sender_id.to_string(),
                "client": s.message.client_message_id,
            })
        })
        .collect();
    let engine = store.engine;
    let sql = format!(
        "SELECT k.i, m.user_id, c.last_seq, c.last_event_seq, msg.id, m.role, m.muted_until, \
         m.last_sent_at, c.posting, c.slow_mode_seconds, c.kind FROM ({}) AS k {} {} {}",
        engine.json_rows(
            "$2",
            &[
                ("i", "bigint"),
                ("conversation", "text"),
                ("sender", "text"),
                ("client", "text"),
            ]
        ),
        engine.left_probe(
            "conversations",
            "c",
            "last_seq, last_event_seq, posting, slow_mode_seconds, kind",
            "c.tenant_id = $1 AND c.id = k.conversation",
            RowLock::ForUpdate,
        ),
        engine.left_probe(
            "conversation_members",
            "m",
            "user_id, role, muted_until, last_sent_at",
            "m.tenant_id = $1 AND m.conversation_id = k.conversation AND m.user_id = k.sender \
             AND m.left_event_seq IS NULL",
            RowLock::None,
        ),
        engine.left_probe(
            "messages",
            "msg",
            "id",
            "msg.tenant_id = $1 AND msg.conversation_id = k.conversation \
             AND msg.sender_id = k.sender AND msg.client_message_id = k.client",
            RowLock::None,
        ),
    );
    type Row = (
        i64,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<i64>,
        Option<String>,
    );
    let rows = Value::Array(rows).to_string();
    let found: Vec<Row> = if let Some(direct) = connection.direct() {
        direct
            .query(&sql, &[&tenant.as_str(), &rows], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                    r.get(10)?,
                ))
            })
            .map_err(direct_db)?
    } else {
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(rows)
            .fetch_all(connection.statements())
            .await
            .map_err(db)?
    };
    let mut known: Vec<Known> = sends
        .iter()
        .map(|_| Known {
            counters: None,
            floor: None,
            twin: None,
            conversation_kind: None,
        })
        .collect();
    for row in found {
        let (i, member, last_seq, last_event_seq, twin, role_text) =
            (row.0, row.1, row.2, row.3, row.4, row.5);
        let (muted_until_ms, last_sent_ms, posting, slow_mode) = (row.6, row.7, row.8, row.9);
        let Some(slot) = usize::try_from(i).ok().and_then(|i| known.get_mut(i)) else {
            continue;
        };
        if let (Some(_), Some(seq), Some(event_seq)) = (member, last_seq, last_event_seq) {
            slot.counters = Some((seq, event_seq));
        }
        if let (Some(role_text), Some(posting), Some(slow_mode)) = (role_text, posting, slow_mode) {
            let speaker = Speaker {
                role: role(&role_text)?,
                muted_until_ms,
                last_sent_ms,
            };
            slot.floor = Some((floor(&posting, slow_mode)?, speaker));
        }
        slot.twin = twin;
        slot.conversation_kind = row.10;
    }
    Ok(known)
}

/// Remembers when each paced sender (a member of a slow-mode conversation) last posted.
fn note_paced_sends(paced: &HashMap<(ConversationId, UserId), i64>) -> BatchWrite {
    let rows: Vec<Value> = paced
        .iter()
        .map(|((conversation, user), at)| {
            json!({
                "conversation": conversation.to_string(),
                "sender": user.to_string(),
                "at": at,
            })
        })
        .collect();
    BatchWrite {
        sql: "UPDATE conversation_members SET last_sent_at = k.at FROM ({rows}) AS k \
              WHERE conversation_members.tenant_id = $1 \
                AND conversation_members.conversation_id = k.conversation \
                AND conversation_members.user_id = k.sender",
        columns: &[
            ("conversation", "text"),
            ("sender", "text"),
            ("at", "bigint"),
        ],
        rows,
    }
}

/// How the new sends of a batch meet the tenant's daily quota.
enum QuotaPlan {
    /// No quota, or nothing new.
    Nothing,
    /// Counted with the writes by this guarded statement.
    Guarded(BatchWrite),
    /// Counted before the writes: the sends carry different quotas (a day ended while they
    /// queued), or they cannot all fit whatever the usage.
    First,
}

impl QuotaPlan {
    fn of(sends: &[&QueuedSend], plans: &[Plan]) -> Self {
        let new: Vec<Option<DailyQuota>> = sends
            .iter()
            .zip(plans)
            .filter(|(_, plan)| matches!(plan, Plan::New(_)))
            .map(|(send, _)| send.quota)
            .collect();
        let Some(&Some(quota)) = new.first() else {
            return if new.iter().any(Option::is_some) {
                QuotaPlan::First
            } else {
                QuotaPlan::Nothing
            };
        };
        let count = new.len() as u64;
        if new.iter().any(|q| *q != Some(quota)) || count > quota.max {
            return QuotaPlan::First;
        }
        QuotaPlan::Guarded(add_to_usage(quota, count))
    }
}

/// Adds `count` messages to the day's usage, failing the statement — and with it the batch's
/// writes — when that would pass the maximum: the update then writes NULL into a NOT NULL
/// column, which both engines refuse with an error [`quota_guard_failed`] recognises.
fn add_to_usage(quota: DailyQuota, count: u64) -> BatchWrite {
    let max = i64::try_from(quota.max).unwrap_or(i64::MAX);
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    BatchWrite {
        sql: "INSERT INTO tenant_daily_usage (tenant_id, day, messages) \
              SELECT $1, k.day, k.n FROM ({rows}) AS k WHERE true \
              ON CONFLICT (tenant_id, day) DO UPDATE SET messages = CASE \
                WHEN tenant_daily_usage.messages + excluded.messages \
                     <= (SELECT k.max FROM ({rows}) AS k) \
                THEN tenant_daily_usage.messages + excluded.messages END",
        columns: &[("day", "bigint"), ("n", "bigint"), ("max", "bigint")],
        rows: vec![json!({ "day": quota.day, "n": count, "max": max })],
    }
}

/// The error [`add_to_usage`] raises on purpose.
fn quota_guard_failed(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e)
        if e.kind() == sqlx::error::ErrorKind::NotNullViolation
            && e.message().contains(QUOTA_TABLE))
}

/// The table whose NOT NULL column the quota's guard fails on.
const QUOTA_TABLE: &str = "tenant_daily_usage";

/// Runs the batch's writes on its connection, telling the quota's guard failing apart.
async fn write_all(
    store: &SqlStore,
    connection: &mut BatchConnection,
    tenant: &TenantId,
    writes: Vec<BatchWrite>,
) -> Result<(), Failed> {
    if let Some(direct) = connection.direct() {
        return execute_direct(store.engine, direct, tenant, writes).map_err(|err| {
            if not_null_failed_on(&err, QUOTA_TABLE) {
                Failed::QuotaFull
            } else {
                Failed::Store(direct_db(err))
            }
        });
    }
    execute_all(store, connection.statements(), tenant, writes)
        .await
        .map_err(|err| {
            if quota_guard_failed(&err) {
                Failed::QuotaFull
            } else {
                Failed::Store(db(err))
            }
        })
}

/// Where the batch reads rows it does not write (media items, messages stored before it): in
/// its transaction, or — when its statements run on its own connection — on a reader. That
/// reader sees what the transaction sees of them: the batch has held SQLite's write lock since
/// its `BEGIN IMMEDIATE`, so nothing has committed since the transaction began.
enum ReadOn<'c> {
    Batch(&'c mut AnyConnection),
    Reader(PoolConnection<Any>),
}

impl<'c> ReadOn<'c> {
    async fn of(store: &SqlStore, connection: &'c mut BatchConnection) -> StoreResult<Self> {
        if connection.direct().is_some() {
            let reader = store.pool().acquire().await.map_err(db)?;
            return Ok(ReadOn::Reader(reader));
        }
        Ok(ReadOn::Batch(connection.statements()))
    }

    fn connection(&mut self) -> &mut AnyConnection {
        match self {
            ReadOn::Batch(connection) => connection,
            ReadOn::Reader(reader) => reader,
        }
    }
}

/// Counts the new sends against the tenant's daily quota: all at once when they fit (the usual
/// case: one statement), else one by one so the quota's last messages still go through.
async fn count_quota(
    connection: &mut BatchConnection,
    tenant: &TenantId,
    sends: &[&QueuedSend],
    plans: &mut [Plan],
) -> StoreResult<()> {
    let new: Vec<usize> = (0..plans.len())
        .filter(|&i| matches!(plans[i], Plan::New(_)))
        .collect();
    let quotas: Vec<DailyQuota> = new.iter().filter_map(|&i| sends[i].quota).collect();
    let Some(&quota) = quotas.first() else {
        return Ok(());
    };
    let uniform = quotas.len() == new.len() && quotas.iter().all(|q| *q == quota);
    if uniform && count_all(connection, tenant, quota, quotas.len()).await? {
        return Ok(());
    }
    for i in new {
        if let Some(quota) = sends[i].quota
            && !count_all(connection, tenant, quota, 1).await?
        {
            plans[i] = Plan::QuotaExceeded;
        }
    }
    Ok(())
}

/// Adds `count` messages to today's usage if they all fit; `false` (nothing counted) if not.
/// The usage row is only touched for tenants with a quota, so unlimited tenants have no hot row.
async fn count_all(
    connection: &mut BatchConnection,
    tenant: &TenantId,
    quota: DailyQuota,
    count: usize,
) -> StoreResult<bool> {
    const SQL: &str = "INSERT INTO tenant_daily_usage (tenant_id, day, messages) \
        VALUES ($1, $2, $3) \
        ON CONFLICT (tenant_id, day) DO UPDATE SET messages = tenant_daily_usage.messages + $3 \
        WHERE tenant_daily_usage.messages + $3 <= $4 RETURNING messages";
    let max = i64::try_from(quota.max).unwrap_or(i64::MAX);
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    if count > max {
        return Ok(false);
    }
    if let Some(direct) = connection.direct() {
        let counted = direct
            .query(SQL, &[&tenant.as_str(), &quota.day, &count, &max], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(direct_db)?;
        return Ok(!counted.is_empty());
    }
    let counted: Option<i64> = sqlx::query_scalar(SQL)
        .bind(tenant.as_str())
        .bind(quota.day)
        .bind(count)
        .bind(max)
        .fetch_optional(connection.statements())
        .await
        .map_err(db)?;
    Ok(counted.is_some())
}

/// Reads the items the new sends attach (only when some do: most sends carry none) and refuses
/// the sends whose attachments are not the sender's to attach.
async fn check_attachments(
    store: &SqlStore,
    connection: &mut BatchConnection,
    tenant: &TenantId,
    sends: &[&QueuedSend],
    plans: &mut [Plan],
) -> StoreResult<HashMap<MediaId, MediaItem>> {
    let mut wanted: Vec<MediaId> = Vec::new();
    for (send, plan) in sends.iter().zip(plans.iter()) {
        if matches!(plan, Plan::New(_)) {
            wanted.extend_from_slice(&send.message.attachments);
        }
    }
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let mut reader = ReadOn::of(store, connection).await?;
    let found = attachments::items(store, reader.connection(), tenant, wanted.into_iter()).await?;
    for (send, plan) in sends.iter().zip(plans.iter_mut()) {
        if !matches!(plan, Plan::New(_)) {
            continue;
        }
        let m = &send.message;
        let refused = attachments::refused(&m.attachments, m.sender_id, &found);
        if !refused.is_empty() {
            *plan = Plan::Refused(refused);
        }
    }
    Ok(found)
}

fn new_message(m: &NewMessage, seq: i64, media: &HashMap<MediaId, MediaItem>) -> Message {
    Message {
        id: m.id,
        conversation_id: m.conversation_id,
        seq,
        sender_id: m.sender_id,
        client_message_id: m.client_message_id.clone(),
        kind: m.kind.clone(),
        content: Some(m.content.clone()),
        version: 1,
        created_at_ms: m.at_ms,
        edited_at_ms: None,
        deleted_at_ms: None,
        reactions: Vec::new(),
        attachments: m
            .attachments
            .iter()
            .filter_map(|id| media.get(id).cloned())
            .collect(),
    }
}

/// Moves each conversation's counters past the messages numbered in this batch.
fn advance_counters(
    counters: &HashMap<ConversationId, (i64, i64)>,
    messages: &[Message],
) -> BatchWrite {
    let mut latest: BTreeMap<ConversationId, i64> = BTreeMap::new();
    for message in messages {
        let at = latest.entry(message.conversation_id).or_insert(0);
        *at = (*at).max(message.created_at_ms);
    }
    let rows: Vec<Value> = latest
        .iter()
        .filter_map(|(id, at)| {
            let (seq, event_seq) = counters.get(id)?;
            Some(json!({
                "id": id.to_string(),
                "last_seq": seq,
                "last_event_seq": event_seq,
                "at": at,
            }))
        })
        .collect();
    BatchWrite {
        sql: "UPDATE conversations SET last_seq = k.last_seq, last_event_seq = k.last_event_seq, \
              last_activity_at = k.at FROM ({rows}) AS k \
              WHERE conversations.tenant_id = $1 AND conversations.id = k.id",
        columns: &[
            ("id", "text"),
            ("last_seq", "bigint"),
            ("last_event_seq", "bigint"),
            ("at", "bigint"),
        ],
        rows,
    }
}

fn insert_messages(messages: &[Message]) -> BatchWrite {
    let rows: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "id": m.id.to_string(),
                "conversation": m.conversation_id.to_string(),
                "seq": m.seq,
                "sender": m.sender_id.to_string(),
                "client": m.client_message_id,
                "kind": m.kind,
                "content": m.content,
                "names": attachments::searchable_names(&m.attachments),
                "at": m.created_at_ms,
            })
        })
        .collect();
    BatchWrite {
        sql: "INSERT INTO messages (tenant_id, id, conversation_id, seq, sender_id, \
              client_message_id, kind, content, attachment_names, created_at) \
              SELECT $1, id, conversation, seq, sender, client, kind, content, names, at \
              FROM ({rows}) AS k",
        columns: &[
            ("id", "text"),
            ("conversation", "text"),
            ("seq", "bigint"),
            ("sender", "text"),
            ("client", "text"),
            ("kind", "text"),
            ("content", "text"),
            ("names", "text"),
            ("at", "bigint"),
        ],
        rows,
    }
}

//! Chat row shapes and the small reads several chat operations share.

use super::super::rows::parse_user_id;
use super::super::{Engine, SqlStore, Tx, db};
use super::direct_writer::DirectWriter;
use crate::domain::{ConversationId, ConversationKind, EventId, Floor, MessageId, Role, TenantId};
use crate::ports::StoreError;
use crate::ports::chat::{
    Conversation, EventKind, EventPayload, Member, Message, ReactionGroup, StoredEvent,
};
use crate::telemetry::TraceParent;
use sqlx::AnyConnection;

/// The columns [`MessageRow`] reads, in order.
pub(super) const MESSAGE_COLUMNS: &str = "id, conversation_id, seq, sender_id, client_message_id, \
     kind, content, version, created_at, edited_at, deleted_at";

#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    id: String,
    conversation_id: String,
    seq: i64,
    sender_id: String,
    client_message_id: String,
    kind: String,
    content: Option<String>,
    version: i64,
    created_at: i64,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;

    fn try_from(row: MessageRow) -> Result<Self, StoreError> {
        Ok(Message {
            id: message_id(&row.id)?,
            conversation_id: conversation_id(&row.conversation_id)?,
            seq: row.seq,
            sender_id: parse_user_id(&row.sender_id)?,
            client_message_id: row.client_message_id,
            kind: row.kind,
            content: row.content,
            version: row.version,
            created_at_ms: row.created_at,
            edited_at_ms: row.edited_at,
            deleted_at_ms: row.deleted_at,
            reactions: Vec::new(),
            attachments: Vec::new(),
        })
    }
}

pub(super) fn message_id(raw: &str) -> Result<MessageId, StoreError> {
    MessageId::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("bad message id '{raw}'")))
}

pub(super) fn conversation_id(raw: &str) -> Result<ConversationId, StoreError> {
    ConversationId::parse(raw)
        .ok_or_else(|| StoreError::Corrupt(format!("bad conversation id '{raw}'")))
}

/// The floor as stored: who posts (`everyone` | `admins`) and the slow-mode interval.
pub(super) fn floor(posting: &str, slow_mode_seconds: i64) -> Result<Floor, StoreError> {
    let read_only = match posting {
        "everyone" => false,
        "admins" => true,
        other => return Err(StoreError::Corrupt(format!("bad posting '{other}'"))),
    };
    let slow_mode_seconds = u32::try_from(slow_mode_seconds)
        .map_err(|_| StoreError::Corrupt(format!("bad slow mode {slow_mode_seconds}")))?;
    Ok(Floor {
        read_only,
        slow_mode_seconds,
    })
}

/// The stored form of who may post.
pub(super) fn posting(floor: &Floor) -> &'static str {
    if floor.read_only {
        "admins"
    } else {
        "everyone"
    }
}

pub(super) fn role(raw: &str) -> Result<Role, StoreError> {
    Role::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("bad role '{raw}'")))
}

/// The columns [`ConversationRow`] reads, in order, qualified by the alias `c`.
pub(super) const CONVERSATION_COLUMNS: &str = "c.id, c.kind, c.name, c.created_by, c.created_at, c.last_activity_at, c.last_seq, \
     c.posting, c.slow_mode_seconds, c.retention_seconds, c.legal_hold, c.retention_from";

#[derive(sqlx::FromRow)]
pub(super) struct ConversationRow {
    id: String,
    kind: String,
    name: Option<String>,
    created_by: String,
    created_at: i64,
    last_activity_at: i64,
    last_seq: i64,
    posting: String,
    slow_mode_seconds: i64,
    retention_seconds: Option<i64>,
    legal_hold: i64,
    retention_from: String,
}

impl ConversationRow {
    /// The id as stored.
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn into_conversation(
        self,
        members: Vec<Member>,
    ) -> Result<Conversation, StoreError> {
        Ok(Conversation {
            id: conversation_id(&self.id)?,
            kind: ConversationKind::parse(&self.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("bad kind '{}'", self.kind)))?,
            name: self.name,
            created_by: parse_user_id(&self.created_by)?,
            created_at_ms: self.created_at,
            last_activity_ms: self.last_activity_at,
            last_seq: self.last_seq,
            floor: floor(&self.posting, self.slow_mode_seconds)?,
            retention: crate::domain::Retention {
                seconds: self
                    .retention_seconds
                    .map(|s| {
                        u32::try_from(s).map_err(|_| StoreError::Corrupt(format!("retention {s}")))
                    })
                    .transpose()?,
                legal_hold: self.legal_hold != 0,
                from: crate::domain::RetentionClock::parse(&self.retention_from).ok_or_else(
                    || StoreError::Corrupt(format!("retention from '{}'", self.retention_from)),
                )?,
            },
            members,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct EventRow {
    tenant_id: String,
    conversation_id: String,
    event_seq: i64,
    id: String,
    kind: String,
    payload: String,
    created_at: i64,
    trace_parent: Option<String>,
}

/// The columns [`EventRow`] reads, in order.
pub(super) const EVENT_COLUMNS: &str =
    "tenant_id, conversation_id, event_seq, id, kind, payload, created_at, trace_parent";

/// An outbox row and the event it names; the event's columns are null once it is gone.
#[derive(sqlx::FromRow)]
pub(super) struct OutboxRow {
    pub(super) tenant_id: String,
    pub(super) conversation_id: String,
    pub(super) event_seq: i64,
    id: Option<String>,
    kind: Option<String>,
    payload: Option<String>,
    created_at: i64,
    trace_parent: Option<String>,
}

/// The columns [`OutboxRow`] reads, in order, from `outbox o LEFT JOIN events e`.
pub(super) const OUTBOX_COLUMNS: &str = "o.tenant_id, o.conversation_id, o.event_seq, e.id, \
     e.kind, e.payload, o.created_at, e.trace_parent";

impl OutboxRow {
    /// The event the row names, if it still exists.
    pub(super) fn into_event(self) -> Option<EventRow> {
        Some(EventRow {
            tenant_id: self.tenant_id,
            conversation_id: self.conversation_id,
            event_seq: self.event_seq,
            id: self.id?,
            kind: self.kind?,
            payload: self.payload?,
            created_at: self.created_at,
            trace_parent: self.trace_parent,
        })
    }
}

impl TryFrom<EventRow> for StoredEvent {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(StoredEvent {
            tenant: TenantId::parse(&row.tenant_id)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            id: EventId::parse(&row.id)
                .ok_or_else(|| StoreError::Corrupt(format!("bad event id '{}'", row.id)))?,
            conversation_id: conversation_id(&row.conversation_id)?,
            event_seq: row.event_seq,
            payload: EventKind::parse(&row.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("bad event kind '{}'", row.kind)))
                .and_then(|kind| {
                    EventPayload::from_json(kind, &row.payload)
                        .map_err(|e| StoreError::Corrupt(format!("{kind} payload: {e}")))
                })?,
            created_at_ms: row.created_at,
            trace: row.trace_parent.as_deref().and_then(TraceParent::parse),
        })
    }
}

/// A conversation with its current members, whoever asks.
pub(super) async fn load_conversation(
    tx: &mut Tx,
    tenant: &TenantId,
    id: ConversationId,
) -> Result<Option<Conversation>, StoreError> {
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.tenant_id = $1 AND c.id = $2"
    );
    let row: Option<ConversationRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    let Some(row) = row else { return Ok(None) };
    let members = load_members(tx, tenant, id).await?;
    row.into_conversation(members).map(Some)
}

/// The current members of a conversation, earliest first.
pub(super) async fn load_members(
    tx: &mut Tx,
    tenant: &TenantId,
    id: ConversationId,
) -> Result<Vec<Member>, StoreError> {
    // Each member with the name and avatar a client shows, so a conversation renders without
    // one profile request per member.
    type Row = (
        String,
        String,
        i64,
        i64,
        i64,
        String,
        Option<String>,
        Option<i64>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT m.user_id, m.role, m.joined_at, m.last_read_seq, m.last_delivered_seq, \
         u.display_name, \
         u.avatar_media_id, m.muted_until FROM conversation_members m JOIN users u \
           ON u.tenant_id = m.tenant_id AND u.id = m.user_id \
         WHERE m.tenant_id = $1 AND m.conversation_id = $2 AND m.left_event_seq IS NULL \
         ORDER BY m.joined_at, m.user_id",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    rows.into_iter()
        .map(
            |(
                user,
                role_text,
                joined_at,
                last_read_seq,
                delivered,
                display_name,
                avatar,
                muted,
            )| {
                Ok(Member {
                    user_id: parse_user_id(&user)?,
                    role: role(&role_text)?,
                    joined_at_ms: joined_at,
                    last_read_seq,
                    last_delivered_seq: delivered,
                    display_name,
                    avatar: avatar
                        .as_deref()
                        .map(super::super::rows::media_id)
                        .transpose()?,
                    muted_until_ms: muted,
                })
            },
        )
        .collect()
}

/// The role of a current member, `None` for anyone else.
pub(super) async fn member_role(
    tx: &mut Tx,
    tenant: &TenantId,
    conversation: ConversationId,
    user: &str,
) -> Result<Option<Role>, StoreError> {
    let raw: Option<String> = sqlx::query_scalar(
        "SELECT role FROM conversation_members WHERE tenant_id = $1 AND conversation_id = $2 \
         AND user_id = $3 AND left_event_seq IS NULL",
    )
    .bind(tenant.as_str())
    .bind(conversation.to_string())
    .bind(user)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    raw.as_deref().map(role).transpose()
}

/// Messages from their rows, in the rows' order.
pub(super) fn messages_of(rows: Vec<MessageRow>) -> crate::ports::StoreResult<Vec<Message>> {
    rows.into_iter().map(Message::try_from).collect()
}

/// One message with its reactions.
pub(super) async fn load_message(
    tx: &mut AnyConnection,
    tenant: &TenantId,
    id: MessageId,
) -> Result<Option<Message>, StoreError> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND id = $2");
    let row: Option<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
    let Some(mut message) = row.map(Message::try_from).transpose()? else {
        return Ok(None);
    };
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT message_id, emoji, user_id FROM reactions WHERE tenant_id = $1 AND message_id = $2 \
         ORDER BY created_at, emoji, user_id",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    attach_reactions(std::slice::from_mut(&mut message), rows)?;
    super::attachments::load_one(tx, tenant, &mut message).await?;
    Ok(Some(message))
}

/// Groups `(message_id, emoji, user_id)` rows, in their order, onto the messages they belong to.
pub(super) fn attach_reactions(
    messages: &mut [Message],
    rows: Vec<(String, String, String)>,
) -> Result<(), StoreError> {
    for (message, emoji, user) in rows {
        let message = message_id(&message)?;
        let user = parse_user_id(&user)?;
        let Some(target) = messages.iter_mut().find(|m| m.id == message) else {
            continue;
        };
        match target.reactions.iter_mut().find(|g| g.emoji == emoji) {
            Some(group) => group.user_ids.push(user),
            None => target.reactions.push(ReactionGroup {
                emoji,
                user_ids: vec![user],
            }),
        }
    }
    Ok(())
}

/// One write over a batch of rows: `sql` reads the tenant as `$1` and the rows as the subquery
/// `{rows}`, given as JSON objects with the named, typed `columns` (see `Engine::json_rows`).
#[derive(Debug)]
pub(super) struct BatchWrite {
    pub sql: &'static str,
    pub columns: &'static [(&'static str, &'static str)],
    pub rows: Vec<serde_json::Value>,
}

impl BatchWrite {
    /// The statement, its rows read from the parameter `param`.
    fn statement(&self, engine: Engine, param: &str) -> String {
        self.sql
            .replace("{rows}", &engine.json_rows(param, self.columns))
    }
}

/// Runs `writes` one after another on the send batches' own connection to a SQLite file
/// (`direct_writer.rs`), each a statement prepared once and kept, stopping at the first that
/// fails; the error is returned as it is, as [`execute_all`]'s.
pub(super) fn execute_direct(
    engine: Engine,
    direct: &DirectWriter,
    tenant: &TenantId,
    writes: Vec<BatchWrite>,
) -> rusqlite::Result<()> {
    for write in writes {
        let sql = write.statement(engine, "$2");
        let json = serde_json::Value::Array(write.rows).to_string();
        direct.execute(&sql, &[&tenant.as_str(), &json])?;
    }
    Ok(())
}

/// Runs `writes` as one query. On SQLite they travel as one multi-statement query: each
/// statement is a round trip to sqlx's worker thread that wakes two threads, and a batch of sends
/// holds the single writer for all of them. PostgreSQL's extended protocol takes one statement
/// per query, so there the writes become one statement, all but the last as data-modifying
/// `WITH` clauses: one round trip instead of one per write. They run on one snapshot and in no
/// set order, so no write may read what another writes; foreign keys are checked at the end of
/// the statement, so a row may still refer to one inserted beside it.
///
/// The driver's error is returned as it is, for a caller that acts on one (a statement's guard
/// that failed on purpose). On SQLite the statements after a failed one do not run.
pub(super) async fn execute_all(
    store: &SqlStore,
    tx: &mut AnyConnection,
    tenant: &TenantId,
    writes: Vec<BatchWrite>,
) -> Result<(), sqlx::Error> {
    let engine = store.engine;
    // The tenant is `$1`; each statement's rows are the parameter after the previous one's.
    let mut statements: Vec<String> = writes
        .iter()
        .enumerate()
        .map(|(i, write)| write.statement(engine, &format!("${}", i + 2)))
        .collect();
    let Some(last) = statements.pop() else {
        return Ok(());
    };
    let sql = match engine {
        Engine::Sqlite => {
            statements.push(last);
            statements.join(";\n")
        }
        Engine::Postgres if statements.is_empty() => last,
        Engine::Postgres => {
            let clauses: Vec<String> = statements
                .iter()
                .enumerate()
                .map(|(i, statement)| format!("w{i} AS ({statement})"))
                .collect();
            format!("WITH {}\n{last}", clauses.join(",\n"))
        }
    };
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(tenant.as_str());
    for write in writes {
        query = query.bind(serde_json::Value::Array(write.rows).to_string());
    }
    query.execute(&mut *tx).await?;
    Ok(())
}

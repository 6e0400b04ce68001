//! The store's side of search: which conversations a user may search, reloading hits for a
//! viewer, and finding conversations by name. The full-text index itself is `sql/search.rs`.

use super::super::engine::json_list;
use super::super::{SqlStore, Tx, db};
use super::rows::{
    MESSAGE_COLUMNS, MessageRow, attach_reactions, conversation_id, load_conversation, messages_of,
};
use crate::domain::{ConversationId, MessageId, TenantId, UserId};
use crate::ports::StoreResult;
use crate::ports::chat::{ActivityCursor, Conversation, Message, MessageText};

/// Candidates read per round while looking for conversations by name.
const NAME_BATCH: i64 = 200;

pub(super) async fn conversation_ids(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
) -> StoreResult<Vec<ConversationId>> {
    let mut tx = store.read(tenant).await?;
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT conversation_id FROM conversation_members WHERE tenant_id = $1 AND user_id = $2 \
         AND left_event_seq IS NULL ORDER BY conversation_id",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    rows.iter().map(|id| conversation_id(id)).collect()
}

pub(super) async fn messages_by_id(
    store: &SqlStore,
    tenant: &TenantId,
    viewer: UserId,
    ids: &[MessageId],
) -> StoreResult<Vec<Message>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = json_list(ids.iter().map(ToString::to_string));
    let in_list = store.engine.json_strings("$3");
    // Membership is checked in the same statement, as of now: a member who left no longer
    // reads the conversation's messages, whatever an index says.
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND id IN ({in_list}) \
         AND EXISTS (SELECT 1 FROM conversation_members cm WHERE cm.tenant_id = $1 \
           AND cm.conversation_id = messages.conversation_id AND cm.user_id = $2 \
           AND cm.left_event_seq IS NULL)"
    );
    let mut tx = store.read(tenant).await?;
    let rows: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(viewer.to_string())
        .bind(list.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let mut messages = messages_of(rows)?;
    let sql = format!(
        "SELECT message_id, emoji, user_id FROM reactions WHERE tenant_id = $1 \
         AND message_id IN ({}) ORDER BY created_at, emoji, user_id",
        store.engine.json_strings("$2")
    );
    let reactions: Vec<(String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(list.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    super::attachments::load(store.engine, &mut tx, tenant, &mut messages).await?;
    tx.commit().await.map_err(db)?;
    attach_reactions(&mut messages, reactions)?;
    Ok(messages)
}

/// The text the store holds now of `ids`, for consumers of the event log (which carries none):
/// one read of the messages and one of their attachments, whoever their members are.
pub(super) async fn message_texts(
    store: &SqlStore,
    tenant: &TenantId,
    ids: &[MessageId],
) -> StoreResult<Vec<MessageText>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = json_list(ids.iter().map(ToString::to_string));
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND id IN ({})",
        store.engine.json_strings("$2")
    );
    let mut tx = store.read(tenant).await?;
    let rows: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(list.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let mut messages = messages_of(rows)?;
    super::attachments::load(store.engine, &mut tx, tenant, &mut messages).await?;
    tx.commit().await.map_err(db)?;
    Ok(messages
        .into_iter()
        .map(|m| MessageText {
            id: m.id,
            content: m.content.filter(|_| m.deleted_at_ms.is_none()),
            file_names: m
                .attachments
                .into_iter()
                .map(|a| a.filename.as_str().to_owned())
                .collect(),
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct NamedRow {
    id: String,
    name: Option<String>,
    last_activity_at: i64,
    peer_username: Option<String>,
    peer_display_name: Option<String>,
}

impl NamedRow {
    /// Whether the name a member sees contains `needle` (already lower-case).
    fn matches(&self, needle: &str) -> bool {
        [&self.name, &self.peer_username, &self.peer_display_name]
            .into_iter()
            .flatten()
            .any(|text| text.to_lowercase().contains(needle))
    }
}

/// Case folding happens here rather than in SQL: SQLite's `lower()` and `LIKE` fold ASCII only,
/// and both engines must give the same answer for "Ülrich" and "ülrich". A user's conversation
/// list is read in batches, newest first, until the page is full.
pub(super) async fn find_conversations(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    text: &str,
    after: Option<ActivityCursor>,
    limit: u32,
) -> StoreResult<Vec<Conversation>> {
    let needle = text.to_lowercase();
    let want = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut tx = store.read(tenant).await?;
    let mut found = Vec::new();
    let mut position = after;
    loop {
        let rows = named_batch(&mut tx, tenant, user, position).await?;
        let exhausted = rows.len() < usize::try_from(NAME_BATCH).unwrap_or(usize::MAX);
        for row in &rows {
            position = Some(ActivityCursor {
                activity_ms: row.last_activity_at,
                id: conversation_id(&row.id)?,
            });
            if found.len() < want && row.matches(&needle) {
                found.push(conversation_id(&row.id)?);
            }
        }
        if exhausted || found.len() >= want {
            break;
        }
    }
    let mut conversations = Vec::with_capacity(found.len());
    for id in found {
        if let Some(conversation) = load_conversation(&mut tx, tenant, id).await? {
            conversations.push(conversation);
        }
    }
    tx.commit().await.map_err(db)?;
    Ok(conversations)
}

/// One batch of the user's current conversations after `after`, with a DM's other member.
async fn named_batch(
    tx: &mut Tx,
    tenant: &TenantId,
    user: UserId,
    after: Option<ActivityCursor>,
) -> StoreResult<Vec<NamedRow>> {
    let page_filter = if after.is_some() {
        "AND (c.last_activity_at < $4 OR (c.last_activity_at = $4 AND c.id < $5))"
    } else {
        ""
    };
    let sql = format!(
        "SELECT c.id, c.name, c.last_activity_at, u.username AS peer_username, \
           u.display_name AS peer_display_name \
         FROM conversation_members m JOIN conversations c \
           ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id \
         LEFT JOIN conversation_members p ON c.kind = 'dm' AND p.tenant_id = c.tenant_id \
           AND p.conversation_id = c.id AND p.user_id <> m.user_id \
         LEFT JOIN users u ON u.tenant_id = p.tenant_id AND u.id = p.user_id \
         WHERE m.tenant_id = $1 AND m.user_id = $2 AND m.left_event_seq IS NULL {page_filter} \
         ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $3"
    );
    let mut query = sqlx::query_as::<_, NamedRow>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(user.to_string())
        .bind(NAME_BATCH);
    if let Some(cursor) = after {
        query = query.bind(cursor.activity_ms).bind(cursor.id.to_string());
    }
    query.fetch_all(&mut **tx).await.map_err(db)
}

//! Creating, reading and listing conversations.

use super::super::{SqlStore, Tx, db};
use super::events;
use super::rows::{
    CONVERSATION_COLUMNS, ConversationRow, MESSAGE_COLUMNS, MessageRow, load_conversation,
    load_members, load_message,
};
use crate::domain::{ConversationId, Floor, TenantId, UNREAD_COUNT_CAP, UserId};
use crate::ports::StoreResult;
use crate::ports::chat::{
    ActivityCursor, ChatEvent, Conversation, ConversationCreation, ConversationSummary, Message,
    NewConversation, UnreadPosition,
};

pub(super) async fn create(
    store: &SqlStore,
    tenant: &TenantId,
    new: &NewConversation,
    max_conversations: Option<u64>,
) -> StoreResult<ConversationCreation> {
    let mut tx = store.write(tenant).await?;
    // Serialises creations of the tenant on PostgreSQL, so the quota count and the DM lookup
    // cannot race with another creation.
    store.engine.lock_tenant(&mut tx, tenant).await?;
    if let Some(key) = &new.dm_key {
        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM conversations WHERE tenant_id = $1 AND dm_key = $2")
                .bind(tenant.as_str())
                .bind(key.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        if let Some(id) = existing {
            let id = super::rows::conversation_id(&id)?;
            if let Some(conversation) = load_conversation(&mut tx, tenant, id).await? {
                tx.commit().await.map_err(db)?;
                return Ok(ConversationCreation::Existing(conversation));
            }
        }
    }
    let unknown = unknown_users(&mut tx, tenant, new.members.iter().map(|(u, _)| *u)).await?;
    if !unknown.is_empty() {
        return Ok(ConversationCreation::UnknownUsers(unknown));
    }
    if let Some(max) = max_conversations {
        let count: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM conversations WHERE tenant_id = $1")
                .bind(tenant.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db)?;
        if u64::try_from(count).unwrap_or(0) >= max {
            return Ok(ConversationCreation::QuotaExceeded);
        }
    }
    sqlx::query(
        "INSERT INTO conversations (tenant_id, id, kind, name, dm_key, created_by, created_at, \
         last_activity_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(tenant.as_str())
    .bind(new.id.to_string())
    .bind(new.kind.as_str())
    .bind(new.name.as_deref())
    .bind(new.dm_key.as_deref())
    .bind(new.created_by.to_string())
    .bind(new.at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    for (user, role) in &new.members {
        sqlx::query(
            "INSERT INTO conversation_members (tenant_id, conversation_id, user_id, role, \
             joined_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant.as_str())
        .bind(new.id.to_string())
        .bind(user.to_string())
        .bind(role.as_str())
        .bind(new.at_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    let members = super::rows::load_members(&mut tx, tenant, new.id).await?;
    let conversation = Conversation {
        id: new.id,
        kind: new.kind,
        name: new.name.clone(),
        created_by: new.created_by,
        created_at_ms: new.at_ms,
        last_activity_ms: new.at_ms,
        last_seq: 0,
        floor: Floor::default(),
        retention: crate::domain::Retention::default(),
        members,
    };
    let event = events::append(
        &mut tx,
        tenant,
        new.id,
        ChatEvent::ConversationCreated(&conversation),
        new.at_ms,
    )
    .await?;
    events::commit(store, tx, &[event]).await?;
    Ok(ConversationCreation::Created(conversation))
}

/// The ids among `users` that are no users of the tenant (a deleted account is none).
pub(super) async fn unknown_users(
    tx: &mut Tx,
    tenant: &TenantId,
    users: impl Iterator<Item = UserId>,
) -> StoreResult<Vec<UserId>> {
    let mut unknown = Vec::new();
    for user in users {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .bind(tenant.as_str())
        .bind(user.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
        if found.is_none() {
            unknown.push(user);
        }
    }
    Ok(unknown)
}

pub(super) async fn get(
    store: &SqlStore,
    tenant: &TenantId,
    id: ConversationId,
    viewer: UserId,
) -> StoreResult<Option<Conversation>> {
    let mut tx = store.read(tenant).await?;
    let conversation = load_conversation(&mut tx, tenant, id).await?;
    tx.commit().await.map_err(db)?;
    Ok(conversation.filter(|c| c.members.iter().any(|m| m.user_id == viewer)))
}

#[derive(sqlx::FromRow)]
struct ListRow {
    #[sqlx(flatten)]
    conversation: ConversationRow,
    unread: i64,
}

pub(super) async fn list(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    after: Option<ActivityCursor>,
    limit: u32,
) -> StoreResult<Vec<ConversationSummary>> {
    let page_filter = if after.is_some() {
        "AND (c.last_activity_at < $4 OR (c.last_activity_at = $4 AND c.id < $5))"
    } else {
        ""
    };
    let unread = unread_count();
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS}, \
           {unread} AS unread \
         FROM conversation_members m JOIN conversations c \
           ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id \
         WHERE m.tenant_id = $1 AND m.user_id = $2 AND m.left_event_seq IS NULL {page_filter} \
         ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $3"
    );
    let mut tx = store.read(tenant).await?;
    let mut query = sqlx::query_as::<_, ListRow>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(user.to_string())
        .bind(i64::from(limit));
    if let Some(cursor) = after {
        query = query.bind(cursor.activity_ms).bind(cursor.id.to_string());
    }
    let rows = query.fetch_all(&mut *tx).await.map_err(db)?;
    let mut summaries = Vec::with_capacity(rows.len());
    for row in rows {
        let id = super::rows::conversation_id(row.conversation.id())?;
        let members = load_members(&mut tx, tenant, id).await?;
        let conversation = row.conversation.into_conversation(members)?;
        let last_message = last_message(&mut tx, tenant, &conversation).await?;
        summaries.push(ConversationSummary {
            conversation,
            last_message,
            unread: row.unread,
        });
    }
    tx.commit().await.map_err(db)?;
    Ok(summaries)
}

pub(super) async fn unread_positions(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    limit: u32,
) -> StoreResult<Vec<UnreadPosition>> {
    let mut tx = store.read(tenant).await?;
    let sql = format!(
        "SELECT c.id, c.last_seq, m.last_read_seq, {} \
         FROM conversation_members m JOIN conversations c \
           ON c.tenant_id = m.tenant_id AND c.id = m.conversation_id \
         WHERE m.tenant_id = $1 AND m.user_id = $2 AND m.left_event_seq IS NULL \
         ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $3",
        unread_count()
    );
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(user.to_string())
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    rows.into_iter()
        .map(|(id, last_seq, last_read_seq, unread)| {
            Ok(UnreadPosition {
                conversation_id: super::rows::conversation_id(&id)?,
                last_seq,
                last_read_seq,
                unread,
            })
        })
        .collect()
}

/// Others' messages past the member's read pointer that are not tombstones,
/// counted up to [`UNREAD_COUNT_CAP`] so a long absence costs a bounded scan.
/// Correlated on the row aliased `m` (`conversation_members`).
fn unread_count() -> String {
    format!(
        "(SELECT COUNT(*) FROM (SELECT 1 FROM messages x \
           WHERE x.tenant_id = m.tenant_id AND x.conversation_id = m.conversation_id \
             AND x.seq > m.last_read_seq AND x.sender_id <> m.user_id \
             AND x.deleted_at IS NULL LIMIT {UNREAD_COUNT_CAP}) AS capped)"
    )
}

async fn last_message(
    tx: &mut Tx,
    tenant: &TenantId,
    conversation: &Conversation,
) -> StoreResult<Option<Message>> {
    if conversation.last_seq == 0 {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND conversation_id = $2 \
         AND seq = $3"
    );
    let row: Option<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(conversation.id.to_string())
        .bind(conversation.last_seq)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    match row {
        Some(row) => load_message(tx, tenant, Message::try_from(row)?.id).await,
        None => Ok(None),
    }
}

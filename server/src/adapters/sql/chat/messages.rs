//! Sending and reading messages.

use super::super::{SqlStore, db};
use super::rows::{
    MESSAGE_COLUMNS, MessageRow, attach_reactions, load_message, member_role, messages_of,
};
use crate::domain::{ConversationId, MessageId, TenantId, UserId};
use crate::ports::StoreResult;
use crate::ports::chat::{HistoryPage, Message, MessageEdit};

pub(super) async fn history(
    store: &SqlStore,
    tenant: &TenantId,
    conversation: ConversationId,
    viewer: UserId,
    page: HistoryPage,
    limit: u32,
) -> StoreResult<Option<Vec<Message>>> {
    let mut tx = store.read(tenant).await?;
    if member_role(&mut tx, tenant, conversation, &viewer.to_string())
        .await?
        .is_none()
    {
        return Ok(None);
    }
    // Pages before a seq are read newest first (so LIMIT keeps the nearest) and then reversed.
    let (bound, filter, order) = match page {
        HistoryPage::Latest => (i64::MAX, "seq < $3", "DESC"),
        HistoryPage::Before(seq) => (seq, "seq < $3", "DESC"),
        HistoryPage::After(seq) => (seq, "seq > $3", "ASC"),
    };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND conversation_id = $2 \
         AND {filter} ORDER BY seq {order} LIMIT $4"
    );
    let rows: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(conversation.to_string())
        .bind(bound)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let mut messages = messages_of(rows)?;
    messages.sort_by_key(|m| m.seq);
    if let (Some(first), Some(last)) = (messages.first(), messages.last()) {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT r.message_id, r.emoji, r.user_id FROM reactions r JOIN messages m \
               ON m.tenant_id = r.tenant_id AND m.id = r.message_id \
             WHERE r.tenant_id = $1 AND r.conversation_id = $2 AND m.seq BETWEEN $3 AND $4 \
             ORDER BY r.created_at, r.emoji, r.user_id",
        )
        .bind(tenant.as_str())
        .bind(conversation.to_string())
        .bind(first.seq)
        .bind(last.seq)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        attach_reactions(&mut messages, rows)?;
        super::attachments::load(store.engine, &mut tx, tenant, &mut messages).await?;
    }
    tx.commit().await.map_err(db)?;
    Ok(Some(messages))
}

pub(super) async fn edits(
    store: &SqlStore,
    tenant: &TenantId,
    id: MessageId,
    viewer: UserId,
) -> StoreResult<Option<Vec<MessageEdit>>> {
    let mut tx = store.read(tenant).await?;
    let Some(message) = load_message(&mut tx, tenant, id).await? else {
        return Ok(None);
    };
    let member = member_role(
        &mut tx,
        tenant,
        message.conversation_id,
        &viewer.to_string(),
    )
    .await?;
    if member.is_none() {
        return Ok(None);
    }
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT version, content, edited_at FROM message_edits WHERE tenant_id = $1 \
         AND message_id = $2 ORDER BY version",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(Some(
        rows.into_iter()
            .map(|(version, content, replaced_at_ms)| MessageEdit {
                version,
                content,
                replaced_at_ms,
            })
            .collect(),
    ))
}

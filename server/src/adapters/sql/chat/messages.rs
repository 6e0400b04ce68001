//! Sending and reading messages.

use super::super::{SqlStore, Tx, db};
use super::events;
use super::rows::{
    MESSAGE_COLUMNS, MessageRow, attach_reactions, load_message, member_role, message_id,
};
use crate::domain::{ConversationId, MessageId, TenantId, UserId};
use crate::ports::StoreResult;
use crate::ports::chat::{
    ChatEvent, DailyQuota, HistoryPage, Message, MessageEdit, NewMessage, SendOutcome,
};

/// One transaction: dedupe → next seq under the conversation's row lock → message (deduped again
/// by its unique key) → quota → event. A concurrent twin that committed while this one waited for
/// the lock is visible to the insert (PostgreSQL's read committed gives each statement a fresh
/// snapshot; SQLite serialises writers), and rolling back returns the seq to the counter.
pub(super) async fn send(
    store: &SqlStore,
    tenant: &TenantId,
    new: &NewMessage,
    quota: Option<DailyQuota>,
) -> StoreResult<SendOutcome> {
    let mut tx = store.write(tenant).await?;
    if let Some(original) = find_by_client_id(&mut tx, tenant, new).await? {
        tx.commit().await.map_err(db)?;
        return Ok(SendOutcome::Duplicate(original));
    }
    let allocated: Option<(i64, i64)> = sqlx::query_as(
        "UPDATE conversations SET last_seq = last_seq + 1, last_event_seq = last_event_seq + 1, \
         last_activity_at = $3 WHERE tenant_id = $1 AND id = $2 \
         AND EXISTS (SELECT 1 FROM conversation_members m WHERE m.tenant_id = $1 \
           AND m.conversation_id = $2 AND m.user_id = $4 AND m.left_event_seq IS NULL) \
         RETURNING last_seq, last_event_seq",
    )
    .bind(tenant.as_str())
    .bind(new.conversation_id.to_string())
    .bind(new.at_ms)
    .bind(new.sender_id.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    // No row: no such conversation, or the sender is not a member (checked in the same
    // statement: every round trip under the lock costs a busy conversation throughput).
    let Some((seq, event_seq)) = allocated else {
        return Ok(SendOutcome::NotFound);
    };
    let sender = new.sender_id.to_string();
    // The authoritative dedupe: a twin that committed while this transaction waited for the
    // lock makes the insert a no-op; rolling back returns the seq to the counter.
    let inserted = sqlx::query(
        "INSERT INTO messages (tenant_id, id, conversation_id, seq, sender_id, client_message_id, \
         kind, content, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (tenant_id, conversation_id, sender_id, client_message_id) DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(new.id.to_string())
    .bind(new.conversation_id.to_string())
    .bind(seq)
    .bind(sender.as_str())
    .bind(new.client_message_id.as_str())
    .bind(new.kind.as_str())
    .bind(new.content.as_str())
    .bind(new.at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?
    .rows_affected();
    if inserted == 0 {
        tx.rollback().await.map_err(db)?;
        let mut tx = store.read(tenant).await?;
        let original = find_by_client_id(&mut tx, tenant, new).await?;
        tx.commit().await.map_err(db)?;
        return Ok(original.map_or(SendOutcome::NotFound, SendOutcome::Duplicate));
    }
    if let Some(quota) = quota
        && !count_against_quota(&mut tx, tenant, quota).await?
    {
        return Ok(SendOutcome::QuotaExceeded);
    }
    let message = Message {
        id: new.id,
        conversation_id: new.conversation_id,
        seq,
        sender_id: new.sender_id,
        client_message_id: new.client_message_id.clone(),
        kind: new.kind.clone(),
        content: Some(new.content.clone()),
        version: 1,
        created_at_ms: new.at_ms,
        edited_at_ms: None,
        deleted_at_ms: None,
        reactions: Vec::new(),
    };
    let event = ChatEvent::MessageCreated(&message);
    let event = events::insert(
        &mut tx,
        tenant,
        new.conversation_id,
        event_seq,
        event,
        new.at_ms,
    )
    .await?;
    events::commit(store, tx, &[event]).await?;
    Ok(SendOutcome::Sent(message))
}

async fn find_by_client_id(
    tx: &mut Tx,
    tenant: &TenantId,
    new: &NewMessage,
) -> StoreResult<Option<Message>> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT id FROM messages WHERE tenant_id = $1 AND conversation_id = $2 \
         AND sender_id = $3 AND client_message_id = $4",
    )
    .bind(tenant.as_str())
    .bind(new.conversation_id.to_string())
    .bind(new.sender_id.to_string())
    .bind(new.client_message_id.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    match id {
        Some(id) => load_message(tx, tenant, message_id(&id)?).await,
        None => Ok(None),
    }
}

/// Counts one message against today's quota; `false` when the quota is used up. The counter row
/// is only touched for tenants with a quota, so unlimited tenants have no hot row.
async fn count_against_quota(
    tx: &mut Tx,
    tenant: &TenantId,
    quota: DailyQuota,
) -> StoreResult<bool> {
    let max = i64::try_from(quota.max).unwrap_or(i64::MAX);
    if max == 0 {
        return Ok(false);
    }
    let counted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO tenant_daily_usage (tenant_id, day, messages) VALUES ($1, $2, 1) \
         ON CONFLICT (tenant_id, day) DO UPDATE SET messages = tenant_daily_usage.messages + 1 \
         WHERE tenant_daily_usage.messages < $3 RETURNING messages",
    )
    .bind(tenant.as_str())
    .bind(quota.day)
    .bind(max)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    Ok(counted.is_some())
}

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
    let mut messages = rows
        .into_iter()
        .map(Message::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
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

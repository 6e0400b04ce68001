//! The chat side of an account's end: leaving every conversation inside the deletion's
//! transaction, erasing the user's messages in bounded batches, and reading them for export.

use super::super::{SqlStore, Tx, db};
use super::changes::scrub;
use super::events::{self, lock_conversation};
use super::members::set_role;
use super::rows::{MESSAGE_COLUMNS, MessageRow, conversation_id, message_id, messages_of};
use crate::domain::{ConversationId, ConversationKind, MessageId, Role, TenantId, UserId};
use crate::ports::StoreResult;
use crate::ports::chat::{ChatEvent, Message, StoredEvent};

/// Inside `tx`, removes `user` from every conversation they are a current member of, in id
/// order (the order every multi-conversation writer locks in). A group whose last owner they
/// were passes to the longest-standing admin, else the longest-standing member, so no group
/// is left that no one can manage. Returns the events to commit.
pub(in super::super) async fn leave_everywhere(
    tx: &mut Tx,
    tenant: &TenantId,
    user: UserId,
    at_ms: i64,
) -> StoreResult<Vec<StoredEvent>> {
    let memberships: Vec<(String, String)> = sqlx::query_as(
        "SELECT conversation_id, role FROM conversation_members \
         WHERE tenant_id = $1 AND user_id = $2 AND left_event_seq IS NULL \
         ORDER BY conversation_id",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    let mut written = Vec::with_capacity(memberships.len());
    for (id, role) in memberships {
        let id = conversation_id(&id)?;
        let Some(locked) = lock_conversation(tx, tenant, id).await? else {
            continue;
        };
        if locked.kind == ConversationKind::Group
            && role == Role::Owner.as_str()
            && let Some(heir) = heir(tx, tenant, id, user).await?
        {
            set_role(tx, tenant, id, heir, Role::Owner).await?;
            let event = ChatEvent::MemberAdded {
                conversation_id: id,
                user_id: heir,
                role: Role::Owner,
                by: user,
            };
            written.push(events::append(tx, tenant, id, event, at_ms).await?);
        }
        let event = ChatEvent::MemberRemoved {
            conversation_id: id,
            user_id: user,
            by: user,
        };
        let event = events::append(tx, tenant, id, event, at_ms).await?;
        sqlx::query(
            "UPDATE conversation_members SET left_event_seq = $4 \
             WHERE tenant_id = $1 AND conversation_id = $2 AND user_id = $3",
        )
        .bind(tenant.as_str())
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(event.event_seq)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        super::members::stamp_after_leaving(tx, tenant, id, user, at_ms).await?;
        written.push(event);
    }
    Ok(written)
}

/// Who takes over a group its last owner leaves; `None` when another owner remains or no one
/// else is left.
async fn heir(
    tx: &mut Tx,
    tenant: &TenantId,
    id: ConversationId,
    leaving: UserId,
) -> StoreResult<Option<UserId>> {
    let others: Vec<(String, String)> = sqlx::query_as(
        "SELECT user_id, role FROM conversation_members \
         WHERE tenant_id = $1 AND conversation_id = $2 AND user_id <> $3 \
         AND left_event_seq IS NULL ORDER BY joined_at, user_id",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .bind(leaving.to_string())
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    if others.iter().any(|(_, role)| role == Role::Owner.as_str()) {
        return Ok(None);
    }
    let pick = others
        .iter()
        .find(|(_, role)| role == Role::Admin.as_str())
        .or_else(|| others.first());
    pick.map(|(user, _)| super::super::rows::parse_user_id(user))
        .transpose()
}

/// Turns up to `limit` of the user's remaining messages into tombstones in one transaction,
/// each with its `message.deleted` event, locking their conversations in id order. Returns how
/// many it erased and the open transaction, for the caller to finish.
pub(in super::super) async fn erase_batch(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    limit: u32,
    at_ms: i64,
) -> StoreResult<(Tx, Vec<StoredEvent>)> {
    let mut tx = store.write(tenant).await?;
    let picked: Vec<(String, String)> = sqlx::query_as(
        "SELECT conversation_id, id FROM messages \
         WHERE tenant_id = $1 AND sender_id = $2 AND deleted_at IS NULL \
         ORDER BY conversation_id, seq LIMIT $3",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await
    .map_err(db)?;
    let written = tombstone_batch(&mut tx, tenant, picked, at_ms).await?;
    Ok((tx, written))
}

/// Turns the `(conversation id, message id)` pairs, sorted by conversation, into tombstones
/// with their `message.deleted` events, locking each conversation once, in id order (the order
/// every multi-conversation writer locks in). Returns the events to commit.
pub(in super::super) async fn tombstone_batch(
    tx: &mut Tx,
    tenant: &TenantId,
    picked: Vec<(String, String)>,
    at_ms: i64,
) -> StoreResult<Vec<StoredEvent>> {
    let mut written = Vec::with_capacity(picked.len());
    let mut locked: Option<ConversationId> = None;
    for (conversation, id) in picked {
        let conversation = conversation_id(&conversation)?;
        if locked != Some(conversation) {
            if lock_conversation(tx, tenant, conversation).await?.is_none() {
                continue;
            }
            locked = Some(conversation);
        }
        let Some(tombstone) = scrub(tx, tenant, message_id(&id)?, at_ms).await? else {
            continue;
        };
        let event = ChatEvent::MessageDeleted(&tombstone);
        written.push(events::append(tx, tenant, conversation, event, at_ms).await?);
    }
    Ok(written)
}

/// Commits a transaction of this module with the events it wrote, which then go out.
pub(in super::super) async fn commit(
    store: &SqlStore,
    tx: Tx,
    written: &[StoredEvent],
) -> StoreResult<()> {
    events::commit(store, tx, written).await
}

/// The user's messages that are not tombstones, oldest first, after `after`.
pub(in super::super) async fn sent_by(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    after: Option<(i64, MessageId)>,
    limit: u32,
) -> StoreResult<Vec<Message>> {
    let (after_ms, after_id) = match after {
        Some((at, id)) => (Some(at), Some(id.to_string())),
        None => (None, None),
    };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND sender_id = $2 \
         AND deleted_at IS NULL \
         AND ($3 IS NULL OR created_at > $3 OR (created_at = $3 AND id > $4)) \
         ORDER BY created_at, id LIMIT $5"
    );
    let mut tx = store.read(tenant).await?;
    let rows: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(user.to_string())
        .bind(after_ms)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let mut messages = messages_of(rows)?;
    super::attachments::load(store.engine, &mut tx, tenant, &mut messages).await?;
    tx.commit().await.map_err(db)?;
    Ok(messages)
}

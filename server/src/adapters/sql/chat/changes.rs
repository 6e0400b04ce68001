//! Changes to a sent message: edits, deletion (tombstones) and reactions. Each locks the
//! conversation first, like a send, so every writer of a conversation locks in the same order.

use super::super::{SqlStore, Tx, db};
use super::events::{self, lock_conversation};
use super::rows::{load_message, member_role};
use crate::domain::{FloorRefusal, MessageId, Role, TenantId, UserId, may_delete_message};
use crate::ports::StoreResult;
use crate::ports::chat::{
    ChatEvent, Message, MessageChange, MessageEditRequest, ReactionChange, StoredEvent,
};

/// Opens a write transaction on the message's conversation, locked, with the message and the
/// actor's role; `None` when the message does not exist or the actor is not a member.
async fn open(
    store: &SqlStore,
    tenant: &TenantId,
    id: MessageId,
    actor: UserId,
) -> StoreResult<Option<(Tx, Message, Role)>> {
    let Some((mut tx, message)) = open_message(store, tenant, id).await? else {
        return Ok(None);
    };
    let Some(role) =
        member_role(&mut tx, tenant, message.conversation_id, &actor.to_string()).await?
    else {
        return Ok(None);
    };
    Ok(Some((tx, message, role)))
}

/// The message read under its conversation's write lock, whoever asks.
async fn open_message(
    store: &SqlStore,
    tenant: &TenantId,
    id: MessageId,
) -> StoreResult<Option<(Tx, Message)>> {
    let mut tx = store.write(tenant).await?;
    Ok(lock_message(&mut tx, tenant, id)
        .await?
        .map(|message| (tx, message)))
}

/// Locks the message's conversation inside `tx` and reads the message under that lock.
async fn lock_message(
    tx: &mut Tx,
    tenant: &TenantId,
    id: MessageId,
) -> StoreResult<Option<Message>> {
    let Some(message) = load_message(tx, tenant, id).await? else {
        return Ok(None);
    };
    if lock_conversation(tx, tenant, message.conversation_id)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    // Re-read under the lock: the first read may predate a concurrent change.
    load_message(tx, tenant, id).await
}

pub(super) async fn edit(
    store: &SqlStore,
    tenant: &TenantId,
    edit: &MessageEditRequest,
) -> StoreResult<MessageChange> {
    let Some((mut tx, message, _)) = open(store, tenant, edit.id, edit.editor).await? else {
        return Ok(MessageChange::NotFound);
    };
    if message.deleted_at_ms.is_some() {
        return Ok(MessageChange::Deleted);
    }
    if message.sender_id != edit.editor {
        return Ok(MessageChange::Forbidden);
    }
    // A mute silences edits too: otherwise a muted member could rewrite old messages instead.
    let muted_until: Option<i64> = sqlx::query_scalar(
        "SELECT muted_until FROM conversation_members WHERE tenant_id = $1 \
         AND conversation_id = $2 AND user_id = $3",
    )
    .bind(tenant.as_str())
    .bind(message.conversation_id.to_string())
    .bind(edit.editor.to_string())
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    if let Some(until_ms) = muted_until.filter(|until| *until > edit.at_ms) {
        return Ok(MessageChange::Silenced(FloorRefusal::Muted { until_ms }));
    }
    if edit.expected_version.is_some_and(|v| v != message.version) {
        return Ok(MessageChange::Stale {
            current: message.version,
        });
    }
    sqlx::query(
        "INSERT INTO message_edits (tenant_id, message_id, version, content, edited_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(tenant.as_str())
    .bind(edit.id.to_string())
    .bind(message.version)
    .bind(message.content.as_deref().unwrap_or_default())
    .bind(edit.at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    sqlx::query(
        "UPDATE messages SET content = $3, version = version + 1, edited_at = $4 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(edit.id.to_string())
    .bind(edit.content.as_str())
    .bind(edit.at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    finish(store, tx, tenant, edit.id, edit.at_ms, |m| {
        ChatEvent::MessageUpdated(m)
    })
    .await
}

pub(super) async fn delete(
    store: &SqlStore,
    tenant: &TenantId,
    id: MessageId,
    actor: UserId,
    at_ms: i64,
) -> StoreResult<MessageChange> {
    let Some((tx, message, role)) = open(store, tenant, id, actor).await? else {
        return Ok(MessageChange::NotFound);
    };
    if !may_delete_message(message.sender_id == actor, role) {
        return Ok(MessageChange::Forbidden);
    }
    tombstone(store, tx, tenant, message, at_ms).await
}

/// A tenant moderator's deletion inside `tx` (the transaction that closes the report): no
/// membership of the conversation needed, the use case checked the tenant role. The
/// `message.deleted` event to hand over after the commit; `None` when the message is gone or
/// already deleted.
pub(in crate::adapters::sql) async fn delete_as_moderator_in(
    tx: &mut Tx,
    tenant: &TenantId,
    id: MessageId,
    at_ms: i64,
) -> StoreResult<Option<StoredEvent>> {
    let Some(message) = lock_message(tx, tenant, id).await? else {
        return Ok(None);
    };
    if message.deleted_at_ms.is_some() {
        return Ok(None);
    }
    let Some(tombstone) = scrub(tx, tenant, id, at_ms).await? else {
        return Ok(None);
    };
    let event = ChatEvent::MessageDeleted(&tombstone);
    let written = events::append(tx, tenant, tombstone.conversation_id, event, at_ms).await?;
    Ok(Some(written))
}

async fn tombstone(
    store: &SqlStore,
    mut tx: Tx,
    tenant: &TenantId,
    message: Message,
    at_ms: i64,
) -> StoreResult<MessageChange> {
    let id = message.id;
    if message.deleted_at_ms.is_some() {
        tx.commit().await.map_err(db)?;
        return Ok(MessageChange::Done(message));
    }
    scrub(&mut tx, tenant, id, at_ms).await?;
    finish(store, tx, tenant, id, at_ms, |m| {
        ChatEvent::MessageDeleted(m)
    })
    .await
}

/// Turns a message into a tombstone inside `tx`, which holds its conversation's lock: the text,
/// file names, reactions and edit history go, its attachments are released, and its earlier
/// events carry the tombstone instead of the text. The caller appends `message.deleted`.
pub(super) async fn scrub(
    tx: &mut Tx,
    tenant: &TenantId,
    id: MessageId,
    at_ms: i64,
) -> StoreResult<Option<Message>> {
    sqlx::query(
        "UPDATE messages SET content = NULL, attachment_names = NULL, deleted_at = $3 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .bind(at_ms)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    for sql in [
        "DELETE FROM reactions WHERE tenant_id = $1 AND message_id = $2",
        "DELETE FROM message_edits WHERE tenant_id = $1 AND message_id = $2",
    ] {
        sqlx::query(sql)
            .bind(tenant.as_str())
            .bind(id.to_string())
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    super::attachments::release(tx, tenant, id, at_ms).await?;
    let Some(tombstone) = load_message(tx, tenant, id).await? else {
        return Ok(None);
    };
    // The text leaves the event log too: earlier events of this message now carry the tombstone.
    sqlx::query(
        "UPDATE events SET payload = $4 WHERE tenant_id = $1 AND conversation_id = $2 \
         AND message_id = $3",
    )
    .bind(tenant.as_str())
    .bind(tombstone.conversation_id.to_string())
    .bind(id.to_string())
    .bind(ChatEvent::MessageDeleted(&tombstone).to_payload().to_json())
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(Some(tombstone))
}

pub(super) async fn react(
    store: &SqlStore,
    tenant: &TenantId,
    id: MessageId,
    user: UserId,
    emoji: &str,
    change: ReactionChange,
    at_ms: i64,
) -> StoreResult<MessageChange> {
    let Some((mut tx, message, _)) = open(store, tenant, id, user).await? else {
        return Ok(MessageChange::NotFound);
    };
    if message.deleted_at_ms.is_some() {
        return Ok(MessageChange::Deleted);
    }
    let present = matches!(change, ReactionChange::Add { .. });
    if let ReactionChange::Add { max_distinct } = change {
        // Under the conversation's write lock (`open`), so two adds cannot both pass.
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM reactions WHERE tenant_id = $1 AND message_id = $2 \
             AND user_id = $3 AND emoji <> $4",
        )
        .bind(tenant.as_str())
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(emoji)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if others >= i64::from(max_distinct) {
            return Ok(MessageChange::LimitReached);
        }
    }
    let changed = if present {
        sqlx::query(
            "INSERT INTO reactions (tenant_id, message_id, user_id, emoji, conversation_id, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tenant_id, message_id, user_id, emoji) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(emoji)
        .bind(message.conversation_id.to_string())
        .bind(at_ms)
        .execute(&mut *tx)
        .await
    } else {
        sqlx::query(
            "DELETE FROM reactions WHERE tenant_id = $1 AND message_id = $2 AND user_id = $3 \
             AND emoji = $4",
        )
        .bind(tenant.as_str())
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(emoji)
        .execute(&mut *tx)
        .await
    }
    .map_err(db)?
    .rows_affected();
    let Some(current) = load_message(&mut tx, tenant, id).await? else {
        return Ok(MessageChange::NotFound);
    };
    if changed == 1 {
        let event = if present {
            ChatEvent::ReactionAdded(&current, user, emoji)
        } else {
            ChatEvent::ReactionRemoved(&current, user, emoji)
        };
        let event = events::append(&mut tx, tenant, current.conversation_id, event, at_ms).await?;
        events::commit(store, tx, &[event]).await?;
    } else {
        tx.commit().await.map_err(db)?;
    }
    Ok(MessageChange::Done(current))
}

/// Reloads the message, appends its event, commits.
async fn finish(
    store: &SqlStore,
    mut tx: Tx,
    tenant: &TenantId,
    id: MessageId,
    at_ms: i64,
    event: fn(&Message) -> ChatEvent<'_>,
) -> StoreResult<MessageChange> {
    let Some(message) = load_message(&mut tx, tenant, id).await? else {
        return Ok(MessageChange::NotFound);
    };
    let written = events::append(
        &mut tx,
        tenant,
        message.conversation_id,
        event(&message),
        at_ms,
    )
    .await?;
    events::commit(store, tx, &[written]).await?;
    Ok(MessageChange::Done(message))
}

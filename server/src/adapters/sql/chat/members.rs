//! Membership changes and read pointers, each under the conversation's lock so the role rules
//! see facts that cannot change before commit.

use super::super::{SqlStore, Tx, db};
use super::conversations::unknown_users;
use super::events::{self, Locked, lock_conversation};
use super::rows::{load_conversation, member_role};
use crate::domain::{ConversationId, Role, TenantId, UserId, may_grant, may_remove};
use crate::ports::StoreResult;
use crate::ports::chat::{ChatEvent, MembershipOutcome, Pointer, StoredEvent};

pub(super) async fn add(
    store: &SqlStore,
    tenant: &TenantId,
    id: ConversationId,
    actor: UserId,
    members: &[(UserId, Role)],
    at_ms: i64,
) -> StoreResult<MembershipOutcome> {
    let Some((mut tx, locked, actor_role)) = open_as_member(store, tenant, id, actor).await? else {
        return Ok(MembershipOutcome::NotFound);
    };
    let unknown = unknown_users(&mut tx, tenant, members.iter().map(|(u, _)| *u)).await?;
    if !unknown.is_empty() {
        return Ok(MembershipOutcome::UnknownUsers(unknown));
    }
    let mut written = Vec::new();
    for &(user, role) in members {
        let current = member_role(&mut tx, tenant, id, &user.to_string()).await?;
        if current == Some(role) {
            continue;
        }
        let others = other_owners(&mut tx, tenant, id, user).await?;
        if let Err(denied) = may_grant(locked.kind, actor_role, role, current, others) {
            return Ok(MembershipOutcome::Denied(denied));
        }
        // The member sees events from the one announcing them on, and history from before
        // they joined does not count as unread.
        let (joined_event_seq, read_from): (i64, i64) = sqlx::query_as(
            "SELECT last_event_seq, last_seq FROM conversations WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.as_str())
        .bind(id.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if current.is_some() {
            set_role(&mut tx, tenant, id, user, role).await?;
        } else {
            // A former member rejoins in place; a new one is inserted.
            sqlx::query(
                "INSERT INTO conversation_members (tenant_id, conversation_id, user_id, role, \
                 joined_at, joined_event_seq, last_read_seq, last_delivered_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
                 ON CONFLICT (tenant_id, conversation_id, user_id) DO UPDATE SET role = $4, \
                 joined_at = $5, joined_event_seq = $6, left_event_seq = NULL, \
                 last_read_seq = $7, last_delivered_seq = $7",
            )
            .bind(tenant.as_str())
            .bind(id.to_string())
            .bind(user.to_string())
            .bind(role.as_str())
            .bind(at_ms)
            .bind(joined_event_seq)
            .bind(read_from)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        let event = ChatEvent::MemberAdded {
            conversation_id: id,
            user_id: user,
            role,
            by: actor,
        };
        written.push(events::append(&mut tx, tenant, id, event, at_ms).await?);
    }
    finish(store, tx, tenant, id, &written).await
}

pub(super) async fn remove(
    store: &SqlStore,
    tenant: &TenantId,
    id: ConversationId,
    actor: UserId,
    target: UserId,
    at_ms: i64,
) -> StoreResult<MembershipOutcome> {
    let Some((mut tx, locked, actor_role)) = open_as_member(store, tenant, id, actor).await? else {
        return Ok(MembershipOutcome::NotFound);
    };
    let Some(target_role) = member_role(&mut tx, tenant, id, &target.to_string()).await? else {
        return Ok(MembershipOutcome::NotAMember);
    };
    let others = other_owners(&mut tx, tenant, id, target).await?;
    if let Err(denied) = may_remove(
        locked.kind,
        actor_role,
        target_role,
        actor == target,
        others,
    ) {
        return Ok(MembershipOutcome::Denied(denied));
    }
    let event = ChatEvent::MemberRemoved {
        conversation_id: id,
        user_id: target,
        by: actor,
    };
    // The removal is the last event the former member receives.
    let event = events::append(&mut tx, tenant, id, event, at_ms).await?;
    let event_seq = event.event_seq;
    sqlx::query(
        "UPDATE conversation_members SET left_event_seq = $4 \
         WHERE tenant_id = $1 AND conversation_id = $2 AND user_id = $3",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .bind(target.to_string())
    .bind(event_seq)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    stamp_after_leaving(&mut tx, tenant, id, target, at_ms).await?;
    finish(store, tx, tenant, id, &[event]).await
}

/// A member left: messages only they had not read may now be read by every member who stays
/// (retention counted from reading starts for them).
pub(super) async fn stamp_after_leaving(
    tx: &mut Tx,
    tenant: &TenantId,
    id: ConversationId,
    user: UserId,
    at_ms: i64,
) -> StoreResult<()> {
    let read: Option<i64> = sqlx::query_scalar(
        "SELECT last_read_seq FROM conversation_members \
         WHERE tenant_id = $1 AND conversation_id = $2 AND user_id = $3",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .bind(user.to_string())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    stamp_read_by_all(tx, tenant, id, read.unwrap_or(0), i64::MAX, at_ms).await
}

/// A write transaction with the conversation locked, its kind and counters, and the actor's
/// role; `None` when there is no such conversation or the actor is not a current member.
pub(super) async fn open_as_member(
    store: &SqlStore,
    tenant: &TenantId,
    id: ConversationId,
    actor: UserId,
) -> StoreResult<Option<(Tx, Locked, Role)>> {
    let mut tx = store.write(tenant).await?;
    let Some(locked) = lock_conversation(&mut tx, tenant, id).await? else {
        return Ok(None);
    };
    let role = member_role(&mut tx, tenant, id, &actor.to_string()).await?;
    Ok(role.map(|role| (tx, locked, role)))
}

async fn finish(
    store: &SqlStore,
    mut tx: Tx,
    tenant: &TenantId,
    id: ConversationId,
    written: &[StoredEvent],
) -> StoreResult<MembershipOutcome> {
    let conversation = load_conversation(&mut tx, tenant, id).await?;
    events::commit(store, tx, written).await?;
    Ok(conversation.map_or(MembershipOutcome::NotFound, MembershipOutcome::Done))
}

/// Gives a current member another role.
pub(super) async fn set_role(
    tx: &mut Tx,
    tenant: &TenantId,
    id: ConversationId,
    user: UserId,
    role: Role,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE conversation_members SET role = $4 \
         WHERE tenant_id = $1 AND conversation_id = $2 AND user_id = $3",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .bind(user.to_string())
    .bind(role.as_str())
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Current owners other than `user`.
async fn other_owners(
    tx: &mut Tx,
    tenant: &TenantId,
    id: ConversationId,
    user: UserId,
) -> StoreResult<u64> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM conversation_members WHERE tenant_id = $1 AND conversation_id = $2 \
         AND role = 'owner' AND left_event_seq IS NULL AND user_id <> $3",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .bind(user.to_string())
    .fetch_one(&mut **tx)
    .await
    .map_err(db)?;
    Ok(u64::try_from(count).unwrap_or(0))
}

pub(super) async fn move_pointer(
    store: &SqlStore,
    tenant: &TenantId,
    id: ConversationId,
    user: UserId,
    pointer: Pointer,
    seq: i64,
    at_ms: i64,
) -> StoreResult<Option<i64>> {
    let mut tx = store.write(tenant).await?;
    let Some(locked) = lock_conversation(&mut tx, tenant, id).await? else {
        return Ok(None);
    };
    let target = seq.min(locked.last_seq);
    let read_before = match pointer {
        Pointer::Read => pointer_of(&mut tx, tenant, id, user, "last_read_seq").await?,
        Pointer::Delivered => None,
    };
    // Reading implies delivery: the read pointer carries the delivered one along.
    let (update, column) = match pointer {
        Pointer::Read => (
            "UPDATE conversation_members SET last_read_seq = $4, last_delivered_seq = \
             CASE WHEN last_delivered_seq < $4 THEN $4 ELSE last_delivered_seq END \
             WHERE tenant_id = $1 AND conversation_id = $2 AND user_id = $3 \
             AND left_event_seq IS NULL AND last_read_seq < $4",
            "last_read_seq",
        ),
        Pointer::Delivered => (
            "UPDATE conversation_members SET last_delivered_seq = $4 \
             WHERE tenant_id = $1 AND conversation_id = $2 AND user_id = $3 \
             AND left_event_seq IS NULL AND last_delivered_seq < $4",
            "last_delivered_seq",
        ),
    };
    let moved = sqlx::query(update)
        .bind(tenant.as_str())
        .bind(id.to_string())
        .bind(user.to_string())
        .bind(target)
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
    let mut written = None;
    if moved == 1 {
        let event = match pointer {
            Pointer::Read => ChatEvent::ReceiptRead {
                conversation_id: id,
                user_id: user,
                seq: target,
            },
            Pointer::Delivered => ChatEvent::ReceiptDelivered {
                conversation_id: id,
                user_id: user,
                seq: target,
            },
        };
        written = Some(events::append(&mut tx, tenant, id, event, at_ms).await?);
        if let Some(before) = read_before {
            stamp_read_by_all(&mut tx, tenant, id, before, target, at_ms).await?;
        }
    }
    let now = pointer_of(&mut tx, tenant, id, user, column).await?;
    events::commit(store, tx, written.as_slice()).await?;
    Ok(now)
}

/// A member's pointer (`column`) in a conversation they belong to.
async fn pointer_of(
    tx: &mut Tx,
    tenant: &TenantId,
    id: ConversationId,
    user: UserId,
    column: &str,
) -> StoreResult<Option<i64>> {
    let sql = format!(
        "SELECT {column} FROM conversation_members WHERE tenant_id = $1 \
         AND conversation_id = $2 AND user_id = $3 AND left_event_seq IS NULL"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(id.to_string())
        .bind(user.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)
}

/// In a conversation whose retention counts from reading, stamps the messages this read
/// completed: those the reader just passed (`after` < seq ≤ `up_to`) that every other current
/// member but their sender has read too. Only the member who reads a message last can complete
/// it, so the messages they passed are the only candidates.
async fn stamp_read_by_all(
    tx: &mut Tx,
    tenant: &TenantId,
    id: ConversationId,
    after: i64,
    up_to: i64,
    at_ms: i64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE messages SET read_by_all_at = $5 WHERE tenant_id = $1 AND conversation_id = $2 \
         AND seq > $3 AND seq <= $4 AND deleted_at IS NULL AND read_by_all_at IS NULL \
         AND EXISTS (SELECT 1 FROM conversations c WHERE c.tenant_id = $1 AND c.id = $2 \
           AND c.retention_from = 'read') \
         AND NOT EXISTS (SELECT 1 FROM conversation_members m WHERE m.tenant_id = $1 \
           AND m.conversation_id = $2 AND m.left_event_seq IS NULL \
           AND m.user_id <> messages.sender_id AND m.last_read_seq < messages.seq)",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .bind(after)
    .bind(up_to)
    .bind(at_ms)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

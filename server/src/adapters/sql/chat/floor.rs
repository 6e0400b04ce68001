//! A conversation's name and floor (read-only, slow mode) and its members' mutes, each changed
//! under the conversation's lock with its event, so the rules see facts that cannot change
//! before commit and every device learns of the change in order with the messages.

use super::super::{SqlStore, Tx, audit, db};
use super::events::{self, lock_conversation};
use super::members::open_as_member;
use super::rows::{load_conversation, member_role, posting};
use crate::domain::{ConversationId, TenantId, UserId, may_manage, may_mute};
use crate::ports::StoreResult;
use crate::ports::chat::{
    ChatEvent, ConversationChange, MembershipOutcome, MuteChange, StoredEvent,
};

pub(super) async fn update(
    store: &SqlStore,
    tenant: &TenantId,
    id: ConversationId,
    actor: UserId,
    change: &ConversationChange,
    at_ms: i64,
) -> StoreResult<MembershipOutcome> {
    let Some((mut tx, locked, actor_role)) = open_as_member(store, tenant, id, actor).await? else {
        return Ok(MembershipOutcome::NotFound);
    };
    if let Err(denied) = may_manage(locked.kind, actor_role) {
        return Ok(MembershipOutcome::Denied(denied));
    }
    let Some(mut conversation) = load_conversation(&mut tx, tenant, id).await? else {
        return Ok(MembershipOutcome::NotFound);
    };
    let before = (
        conversation.name.clone(),
        conversation.floor,
        conversation.retention,
    );
    if let Some(name) = &change.name {
        conversation.name = Some(name.clone());
    }
    if let Some(read_only) = change.read_only {
        conversation.floor.read_only = read_only;
    }
    if let Some(seconds) = change.slow_mode_seconds {
        conversation.floor.slow_mode_seconds = seconds;
    }
    if let Some(retention) = change.retention_seconds {
        conversation.retention.seconds = retention;
    }
    if let Some(from) = change.retention_from {
        conversation.retention.from = from;
    }
    let after = (
        conversation.name.clone(),
        conversation.floor,
        conversation.retention,
    );
    if after == before {
        // Nothing changes: no write, no event.
        return Ok(MembershipOutcome::Done(conversation));
    }
    sqlx::query(
        "UPDATE conversations SET name = $3, posting = $4, slow_mode_seconds = $5, \
         retention_seconds = $6, retention_from = $7 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .bind(conversation.name.as_deref())
    .bind(posting(&conversation.floor))
    .bind(i64::from(conversation.floor.slow_mode_seconds))
    .bind(conversation.retention.seconds.map(i64::from))
    .bind(conversation.retention.from.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let event = ChatEvent::ConversationUpdated {
        conversation: &conversation,
        by: actor,
    };
    let event = events::append(&mut tx, tenant, id, event, at_ms).await?;
    events::commit(store, tx, &[event]).await?;
    Ok(MembershipOutcome::Done(conversation))
}

pub(super) async fn mute(
    store: &SqlStore,
    tenant: &TenantId,
    id: ConversationId,
    change: &MuteChange,
) -> StoreResult<MembershipOutcome> {
    let mut tx = store.write(tenant).await?;
    let (outcome, written) = mute_in(&mut tx, tenant, id, change).await?;
    if let Some(event) = written {
        events::commit(store, tx, &[event]).await?;
    }
    Ok(outcome)
}

/// A mute set or lifted inside `tx`, with the event to hand over after the commit; no event
/// when refused (nothing was written).
pub(in crate::adapters::sql) async fn mute_in(
    tx: &mut Tx,
    tenant: &TenantId,
    id: ConversationId,
    change: &MuteChange,
) -> StoreResult<(MembershipOutcome, Option<StoredEvent>)> {
    let refused = |outcome| Ok((outcome, None));
    let Some(locked) = lock_conversation(tx, tenant, id).await? else {
        return refused(MembershipOutcome::NotFound);
    };
    let actor_role = member_role(tx, tenant, id, &change.actor.to_string()).await?;
    if actor_role.is_none() && !change.moderator {
        return refused(MembershipOutcome::NotFound);
    }
    let target = change.target.to_string();
    let Some(target_role) = member_role(tx, tenant, id, &target).await? else {
        return refused(MembershipOutcome::NotAMember);
    };
    if let Err(denied) = may_mute(locked.kind, actor_role, target_role, change.moderator) {
        return refused(MembershipOutcome::Denied(denied));
    }
    sqlx::query(
        "UPDATE conversation_members SET muted_until = $4 \
         WHERE tenant_id = $1 AND conversation_id = $2 AND user_id = $3",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .bind(&target)
    .bind(change.until_ms)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    audit::insert(tx, tenant, &change.audit).await?;
    let event = ChatEvent::MemberMuted {
        conversation_id: id,
        user_id: change.target,
        until_ms: change.until_ms,
        by: change.actor,
    };
    let event = events::append(tx, tenant, id, event, change.at_ms).await?;
    let Some(conversation) = load_conversation(tx, tenant, id).await? else {
        return refused(MembershipOutcome::NotFound);
    };
    Ok((MembershipOutcome::Done(conversation), Some(event)))
}

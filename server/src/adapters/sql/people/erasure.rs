//! An account's end: the deletion's one transaction, the eraser's batches over the deleted
//! user's messages, and the reads of the account's export.

use super::super::chat::erasure::{commit, erase_batch, leave_everywhere, sent_by};
use super::super::media::{MEDIA_COLUMNS, MediaRow};
use super::super::{SqlStore, Tx, audit, db, sessions};
use super::accounts::keeps_an_owner;
use crate::domain::{DELETED_USER_NAME, DeletedMessages, MediaId, MessageId, TenantId, UserId};
use crate::ports::chat::Message;
use crate::ports::{
    AccountChange, AccountErasure, ErasureProgress, MediaItem, SessionScope, StoreError,
    StoreResult,
};

/// Audit detail keys that name a person; they leave the entries of a deleted account.
const NAMING_KEYS: [&str; 3] = ["login", "username", "email"];

pub(super) async fn delete_account(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    erasure: &AccountErasure,
) -> StoreResult<AccountChange> {
    let mut tx = store.write(tenant).await?;
    if let Err(refused) = keeps_an_owner(store, &mut tx, tenant, user, false).await? {
        return Ok(refused);
    }
    let names: Option<(String, String, Option<i64>)> = sqlx::query_as(
        "SELECT username, email, deleted_at FROM users WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    let Some((username, email, None)) = names else {
        return Ok(AccountChange::NotFound);
    };
    let at_ms = erasure.audit.at_ms;
    let written = leave_everywhere(&mut tx, tenant, user, at_ms).await?;
    sessions::revoke(
        &mut tx,
        tenant,
        user,
        &SessionScope::All,
        at_ms,
        "account deleted",
    )
    .await?;
    erase_profile(&mut tx, tenant, user, erasure.pseudonym, at_ms).await?;
    release_media(&mut tx, tenant, user).await?;
    pseudonymise_audit(
        &mut tx,
        tenant,
        user,
        erasure.pseudonym,
        &[&username, &email],
    )
    .await?;
    audit::insert(&mut tx, tenant, &erasure.audit).await?;
    if erasure.messages == DeletedMessages::Erase {
        sqlx::query(
            "INSERT INTO erasures (tenant_id, user_id, requested_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, user_id) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(user.to_string())
        .bind(at_ms)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    commit(store, tx, &written).await?;
    Ok(AccountChange::Changed)
}

/// Hands the deleted user's media that no message carries to the sweeper's next round, with
/// no grace period: no one will attach them again.
async fn release_media(tx: &mut Tx, tenant: &TenantId, user: UserId) -> StoreResult<()> {
    sqlx::query(
        "UPDATE media SET unreferenced_since = 0 WHERE tenant_id = $1 AND uploader_id = $2 \
         AND NOT EXISTS (SELECT 1 FROM message_attachments a \
           WHERE a.tenant_id = $1 AND a.media_id = media.id)",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Empties the row of everything personal. It stays so kept messages and old ids resolve to
/// "Deleted user"; the username and email are replaced by unique values no one can log in
/// with (the password hash is empty, which matches no password).
async fn erase_profile(
    tx: &mut Tx,
    tenant: &TenantId,
    user: UserId,
    pseudonym: UserId,
    at_ms: i64,
) -> StoreResult<()> {
    let handle = pseudonym.to_string().replace('-', "");
    sqlx::query(
        "UPDATE users SET username = $3, email = $4, display_name = $5, name_key = '', \
         password_hash = '', mfa_secret = NULL, mfa_last_step = 0, tenant_role = 'member', \
         status = 'banned', suspended_until = NULL, status_text = '', avatar_media_id = NULL, \
         deleted_at = $6, updated_at = $6 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(format!("deleted-{handle}"))
    .bind(format!("{handle}@deleted.invalid"))
    .bind(DELETED_USER_NAME)
    .bind(at_ms)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    // Nothing reaches a deleted account's browsers any more, and its preferences go with it.
    for table in [
        "push_subscriptions",
        "notification_preferences",
        "notification_mail_queue",
        "notification_mail_sent",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND user_id = $2"
        )))
        .bind(tenant.as_str())
        .bind(user.to_string())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// The trail keeps what happened and when, not who: the user's entries (as actor or target,
/// and failed logins that named them) carry the pseudonym, no address or client, and no
/// detail that names them.
async fn pseudonymise_audit(
    tx: &mut Tx,
    tenant: &TenantId,
    user: UserId,
    pseudonym: UserId,
    names: &[&str],
) -> StoreResult<()> {
    let target = format!("user:{user}");
    let rows: Vec<(String, Option<String>, Option<String>, String)> = sqlx::query_as(
        "SELECT id, user_id, target, detail FROM audit_log WHERE tenant_id = $1 \
         AND (user_id = $2 OR target = $3 OR (user_id IS NULL AND action LIKE 'login%'))",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(&target)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    let own = user.to_string();
    for (id, actor, entry_target, detail) in rows {
        let mut detail: serde_json::Value = serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?;
        let names_them = NAMING_KEYS.iter().any(|key| {
            detail
                .get(key)
                .and_then(|v| v.as_str())
                .is_some_and(|v| names.iter().any(|n| n.eq_ignore_ascii_case(v)))
        });
        let theirs =
            actor.as_deref() == Some(own.as_str()) || entry_target.as_deref() == Some(&target);
        if !theirs && !names_them {
            continue;
        }
        if let Some(map) = detail.as_object_mut() {
            for key in NAMING_KEYS {
                map.remove(key);
            }
        }
        let actor = (actor.as_deref() == Some(own.as_str())).then(|| pseudonym.to_string());
        let new_target =
            (entry_target.as_deref() == Some(&target)).then(|| format!("user:{pseudonym}"));
        let scrub_client = actor.is_some();
        sqlx::query(
            "UPDATE audit_log SET user_id = COALESCE($3, user_id), target = COALESCE($4, target), \
             ip = CASE WHEN $5 = 1 THEN NULL ELSE ip END, \
             user_agent = CASE WHEN $5 = 1 THEN NULL ELSE user_agent END, detail = $6 \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.as_str())
        .bind(&id)
        .bind(actor)
        .bind(new_target)
        .bind(i64::from(scrub_client))
        .bind(detail.to_string())
        .execute(&mut **tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// A transaction that may find the erasure work items of every tenant.
async fn eraser_tx(store: &SqlStore) -> StoreResult<Tx> {
    store.worker("eraser", "read", false).await
}

pub(super) async fn next_erasure(store: &SqlStore) -> StoreResult<Option<(TenantId, UserId)>> {
    let mut tx = eraser_tx(store).await?;
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT tenant_id, user_id FROM erasures ORDER BY requested_at, tenant_id, user_id LIMIT 1",
    )
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    let Some((tenant, user)) = row else {
        return Ok(None);
    };
    let tenant = TenantId::parse(&tenant).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Some((tenant, super::super::rows::parse_user_id(&user)?)))
}

pub(super) async fn erase_messages(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    limit: u32,
    at_ms: i64,
) -> StoreResult<ErasureProgress> {
    let (mut tx, written) = erase_batch(store, tenant, user, limit, at_ms).await?;
    let erased = u32::try_from(written.len()).unwrap_or(u32::MAX);
    let done = erased < limit;
    if done {
        sqlx::query("DELETE FROM erasures WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        // Attachments of the erased messages were released with them.
        release_media(&mut tx, tenant, user).await?;
    }
    commit(store, tx, &written).await?;
    Ok(ErasureProgress { erased, done })
}

pub(super) async fn messages_sent_by(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    after: Option<(i64, MessageId)>,
    limit: u32,
) -> StoreResult<Vec<Message>> {
    sent_by(store, tenant, user, after, limit).await
}

pub(super) async fn media_uploaded_by(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    after: Option<(i64, MediaId)>,
    limit: u32,
) -> StoreResult<Vec<MediaItem>> {
    let (after_ms, after_id) = match after {
        Some((at, id)) => (Some(at), Some(id.to_string())),
        None => (None, None),
    };
    let sql = format!(
        "SELECT {MEDIA_COLUMNS} FROM media m WHERE m.tenant_id = $1 AND m.uploader_id = $2 \
         AND m.status <> 'deleting' \
         AND ($3 IS NULL OR m.created_at > $3 OR (m.created_at = $3 AND m.id > $4)) \
         ORDER BY m.created_at, m.id LIMIT $5"
    );
    let mut tx = store.read(tenant).await?;
    let rows: Vec<MediaRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(user.to_string())
        .bind(after_ms)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    rows.into_iter().map(MediaItem::try_from).collect()
}

//! Changes to an account that end sessions or need the tenant's other owners: the password,
//! the tenant role, the status, an MFA reset. Each revokes what it ends and writes its audit
//! entry in its transaction.

use super::super::rows::tenant_role;
use super::super::{SqlStore, Tx, audit, db, sessions};
use crate::domain::{AccountStatus, SessionId, TenantId, TenantRole, UserId};
use crate::ports::{AccountChange, AuditEntry, SessionScope, StoreResult};

pub(super) async fn change_password(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    password_hash: &str,
    keep: Option<SessionId>,
    entry: &AuditEntry,
) -> StoreResult<bool> {
    let mut tx = store.write(tenant).await?;
    let changed = sqlx::query(
        "UPDATE users SET password_hash = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(password_hash)
    .bind(entry.at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    if changed.rows_affected() == 0 {
        return Ok(false);
    }
    let scope = keep.map_or(SessionScope::All, SessionScope::AllExcept);
    sessions::revoke(&mut tx, tenant, user, &scope, entry.at_ms, "password").await?;
    audit::insert(&mut tx, tenant, entry).await?;
    tx.commit().await.map_err(db)?;
    Ok(true)
}

/// The user's tenant role, `None` when there is no such user; the row stays locked on
/// PostgreSQL until the transaction ends.
async fn role_for_update(
    store: &SqlStore,
    tx: &mut Tx,
    tenant: &TenantId,
    user: UserId,
) -> StoreResult<Option<TenantRole>> {
    // Changes of roles serialise on the tenant row, so two owners stepping down at once
    // cannot both see the other one as the remaining owner.
    store.engine.lock_tenant(tx, tenant).await?;
    let raw: Option<String> = sqlx::query_scalar(
        "SELECT tenant_role FROM users WHERE tenant_id = $1 AND id = $2 \
             AND deleted_at IS NULL",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    raw.as_deref().map(tenant_role).transpose()
}

async fn other_owners(tx: &mut Tx, tenant: &TenantId, user: UserId) -> StoreResult<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND id <> $2 \
         AND tenant_role = 'owner' AND status = 'active'",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .fetch_one(&mut **tx)
    .await
    .map_err(db)
}

/// Whether a change of `user` leaves the tenant an active owner: `Err(NotFound)` when there is
/// no such user, `Err(LastOwner)` when the user is its only active owner and would stop being
/// one (`stays_owner` false).
pub(super) async fn keeps_an_owner(
    store: &SqlStore,
    tx: &mut Tx,
    tenant: &TenantId,
    user: UserId,
    stays_owner: bool,
) -> StoreResult<Result<(), AccountChange>> {
    let Some(role) = role_for_update(store, tx, tenant, user).await? else {
        return Ok(Err(AccountChange::NotFound));
    };
    if role == TenantRole::Owner && !stays_owner && other_owners(tx, tenant, user).await? == 0 {
        return Ok(Err(AccountChange::LastOwner));
    }
    Ok(Ok(()))
}

pub(super) async fn set_role(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    role: TenantRole,
    entry: &AuditEntry,
) -> StoreResult<AccountChange> {
    let mut tx = store.write(tenant).await?;
    if let Err(refused) =
        keeps_an_owner(store, &mut tx, tenant, user, role == TenantRole::Owner).await?
    {
        return Ok(refused);
    }
    sqlx::query(
        "UPDATE users SET tenant_role = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(role.as_str())
    .bind(entry.at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit::insert(&mut tx, tenant, entry).await?;
    tx.commit().await.map_err(db)?;
    Ok(AccountChange::Changed)
}

pub(super) async fn set_status(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    status: AccountStatus,
    entry: &AuditEntry,
) -> StoreResult<AccountChange> {
    let mut tx = store.write(tenant).await?;
    let change = set_status_in(store, &mut tx, tenant, user, status, entry).await?;
    if change == AccountChange::Changed {
        tx.commit().await.map_err(db)?;
    }
    Ok(change)
}

/// The status set inside `tx`, which the caller commits when it answers `Changed`.
pub(in crate::adapters::sql) async fn set_status_in(
    store: &SqlStore,
    tx: &mut Tx,
    tenant: &TenantId,
    user: UserId,
    status: AccountStatus,
    entry: &AuditEntry,
) -> StoreResult<AccountChange> {
    let stays = status == AccountStatus::Active;
    if let Err(refused) = keeps_an_owner(store, tx, tenant, user, stays).await? {
        return Ok(refused);
    }
    sqlx::query(
        "UPDATE users SET status = $3, suspended_until = $4, updated_at = $5 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(status.as_str())
    .bind(status.until_ms())
    .bind(entry.at_ms)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    if status != AccountStatus::Active {
        let reason = status.as_str();
        sessions::revoke(tx, tenant, user, &SessionScope::All, entry.at_ms, reason).await?;
    }
    audit::insert(tx, tenant, entry).await?;
    Ok(AccountChange::Changed)
}

pub(super) async fn reset_mfa(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    entry: &AuditEntry,
) -> StoreResult<AccountChange> {
    let mut tx = store.write(tenant).await?;
    let reset = sqlx::query(
        "UPDATE users SET mfa_secret = NULL, mfa_last_step = 0, updated_at = $3 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(entry.at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    if reset.rows_affected() == 0 {
        return Ok(AccountChange::NotFound);
    }
    sessions::revoke(
        &mut tx,
        tenant,
        user,
        &SessionScope::All,
        entry.at_ms,
        "mfa reset",
    )
    .await?;
    audit::insert(&mut tx, tenant, entry).await?;
    tx.commit().await.map_err(db)?;
    Ok(AccountChange::Changed)
}

//! User rows, including the MFA secret and the last accepted TOTP step.

use super::audit;
use super::rows::UserRow;
use super::{SqlStore, db, sessions};
use crate::domain::{TenantId, TenantRole, UserId, name_key};
use crate::ports::{
    AuditEntry, MfaChange, NewUser, SessionScope, StoreResult, StoredUser, UserCreation,
};

const COLUMNS: &str = "id, username, email, display_name, password_hash, mfa_secret, \
    mfa_last_step, created_at, tenant_role, status, suspended_until, avatar_media_id, status_text, \
    deleted_at, email_verified_at";

pub(super) async fn create(
    store: &SqlStore,
    tenant: &TenantId,
    user: &NewUser,
    max_users: Option<u64>,
) -> StoreResult<UserCreation> {
    let mut tx = store.write(tenant).await?;
    store.engine.lock_tenant(&mut tx, tenant).await?;

    // Name the clash precisely rather than reporting a bare constraint violation.
    let clash: Option<(String, String)> = sqlx::query_as(
        "SELECT username, email FROM users WHERE tenant_id = $1 AND (username = $2 OR email = $3) \
         LIMIT 1",
    )
    .bind(tenant.as_str())
    .bind(user.username.as_str())
    .bind(user.email.as_str())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    if let Some((username, _)) = clash {
        let outcome = if username == user.username {
            UserCreation::UsernameTaken
        } else {
            UserCreation::EmailTaken
        };
        return Ok(outcome);
    }
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND deleted_at IS NULL",
    )
    .bind(tenant.as_str())
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    if max_users.is_some_and(|max| u64::try_from(count).unwrap_or(0) >= max) {
        return Ok(UserCreation::QuotaExceeded);
    }
    // Spent only when everything else admits the user, so a refused registration keeps it.
    if let Some(code_hash) = &user.invite
        && !super::people::invites::redeem(&mut tx, tenant, code_hash, user.created_at_ms).await?
    {
        return Ok(UserCreation::InvalidInvite);
    }
    let role = if user.owner_if_first && count == 0 {
        TenantRole::Owner
    } else {
        user.role
    };
    sqlx::query(
        "INSERT INTO users (tenant_id, id, username, email, display_name, password_hash, \
         created_at, updated_at, tenant_role, name_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)",
    )
    .bind(tenant.as_str())
    .bind(user.id.to_string())
    .bind(user.username.as_str())
    .bind(user.email.as_str())
    .bind(user.display_name.as_str())
    .bind(user.password_hash.as_str())
    .bind(user.created_at_ms)
    .bind(role.as_str())
    .bind(name_key(&user.display_name))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(UserCreation::Created)
}

pub(super) async fn by_id(
    store: &SqlStore,
    tenant: &TenantId,
    id: UserId,
) -> StoreResult<Option<StoredUser>> {
    fetch_one_user(store, tenant, "id = $2", &id.to_string()).await
}

pub(super) async fn by_login(
    store: &SqlStore,
    tenant: &TenantId,
    login: &str,
) -> StoreResult<Option<StoredUser>> {
    fetch_one_user(store, tenant, "(username = $2 OR email = $2)", login).await
}

async fn fetch_one_user(
    store: &SqlStore,
    tenant: &TenantId,
    predicate: &'static str,
    value: &str,
) -> StoreResult<Option<StoredUser>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE tenant_id = $1 AND {predicate}");
    let mut tx = store.read(tenant).await?;
    let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(value)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    row.map(StoredUser::try_from).transpose()
}

pub(super) async fn set_mfa_secret(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    change: MfaChange<'_>,
    entry: &AuditEntry,
) -> StoreResult<()> {
    let mut tx = store.write(tenant).await?;
    sqlx::query(
        "UPDATE users SET mfa_secret = $3, mfa_last_step = $4, updated_at = $5 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(change.secret)
    .bind(change.step)
    .bind(change.now_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let others = SessionScope::AllExcept(change.keep);
    sessions::revoke(&mut tx, tenant, user, &others, change.now_ms, "mfa").await?;
    audit::insert(&mut tx, tenant, entry).await?;
    tx.commit().await.map_err(db)
}

pub(super) async fn consume_totp_step(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    step: i64,
) -> StoreResult<bool> {
    let mut tx = store.write(tenant).await?;
    let done = sqlx::query(
        "UPDATE users SET mfa_last_step = $3 \
         WHERE tenant_id = $1 AND id = $2 AND mfa_last_step < $3",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(step)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(done.rows_affected() == 1)
}

//! Single-use tokens sent by email: issued, then redeemed once for a password reset or the
//! proof of an address, each redemption in one transaction with what it does.

use super::super::rows::parse_user_id;
use super::super::{SqlStore, Tx, audit, db, sessions};
use crate::domain::{TenantId, TokenPurpose, UserId};
use crate::ports::{AuditEntry, NewAccountToken, SessionScope, StoreResult};

pub(super) async fn issue(
    store: &SqlStore,
    tenant: &TenantId,
    token: &NewAccountToken,
) -> StoreResult<()> {
    let mut tx = store.write(tenant).await?;
    // Only the newest link of a kind works: an older mail someone else may have read is void.
    sqlx::query(
        "UPDATE account_tokens SET used_at = $4 WHERE tenant_id = $1 AND user_id = $2 \
         AND purpose = $3 AND used_at IS NULL",
    )
    .bind(tenant.as_str())
    .bind(token.user.to_string())
    .bind(token.purpose.as_str())
    .bind(token.at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    sqlx::query(
        "INSERT INTO account_tokens (tenant_id, token_hash, user_id, purpose, email, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.as_str())
    .bind(&token.hash)
    .bind(token.user.to_string())
    .bind(token.purpose.as_str())
    .bind(&token.email)
    .bind(token.at_ms)
    .bind(token.expires_at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)
}

/// Spends the token when it is unused, unexpired, of `purpose`, and its account still exists
/// with the address it was sent to; returns that account.
async fn redeem(
    tx: &mut Tx,
    tenant: &TenantId,
    hash: &str,
    purpose: TokenPurpose,
    now_ms: i64,
) -> StoreResult<Option<UserId>> {
    // Marking it used first takes its row lock, so two redemptions cannot both succeed.
    let spent: Option<(String, String)> = sqlx::query_as(
        "UPDATE account_tokens SET used_at = $4 WHERE tenant_id = $1 AND token_hash = $2 \
         AND purpose = $3 AND used_at IS NULL AND expires_at > $4 RETURNING user_id, email",
    )
    .bind(tenant.as_str())
    .bind(hash)
    .bind(purpose.as_str())
    .bind(now_ms)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    let Some((user, email)) = spent else {
        return Ok(None);
    };
    let current: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM users WHERE tenant_id = $1 AND id = $2 AND email = $3 \
         AND deleted_at IS NULL",
    )
    .bind(tenant.as_str())
    .bind(&user)
    .bind(&email)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    current.map(|_| parse_user_id(&user)).transpose()
}

/// `entry` as the token's user did it.
fn as_user(entry: &AuditEntry, user: UserId) -> AuditEntry {
    AuditEntry {
        user_id: Some(user),
        target: Some(format!("user:{user}")),
        ..entry.clone()
    }
}

pub(super) async fn reset_password(
    store: &SqlStore,
    tenant: &TenantId,
    hash: &str,
    password_hash: &str,
    entry: &AuditEntry,
) -> StoreResult<Option<UserId>> {
    let mut tx = store.write(tenant).await?;
    let now = entry.at_ms;
    let Some(user) = redeem(&mut tx, tenant, hash, TokenPurpose::PasswordReset, now).await? else {
        return Ok(None);
    };
    // The link reached the address, so the address is proven too.
    sqlx::query(
        "UPDATE users SET password_hash = $3, updated_at = $4, \
         email_verified_at = COALESCE(email_verified_at, $4) WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(password_hash)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    sessions::revoke(
        &mut tx,
        tenant,
        user,
        &SessionScope::All,
        now,
        "password reset",
    )
    .await?;
    audit::insert(&mut tx, tenant, &as_user(entry, user)).await?;
    tx.commit().await.map_err(db)?;
    Ok(Some(user))
}

pub(super) async fn verify_email(
    store: &SqlStore,
    tenant: &TenantId,
    hash: &str,
    entry: &AuditEntry,
) -> StoreResult<Option<UserId>> {
    let mut tx = store.write(tenant).await?;
    let now = entry.at_ms;
    let purpose = TokenPurpose::EmailVerification;
    let Some(user) = redeem(&mut tx, tenant, hash, purpose, now).await? else {
        return Ok(None);
    };
    sqlx::query(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $3), updated_at = $3 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit::insert(&mut tx, tenant, &as_user(entry, user)).await?;
    tx.commit().await.map_err(db)?;
    Ok(Some(user))
}

//! Devices and login sessions (refresh-token families) with rotation and reuse detection.

use super::engine::json_list;
use super::{SqlStore, Tx, audit, db};
use crate::domain::{SessionId, TenantId, UserId};
use crate::ports::{AuditEntry, NewSession, Rotation, SessionScope, StoreResult, TokenSwap};

pub(super) async fn start(
    store: &SqlStore,
    tenant: &TenantId,
    session: &NewSession,
    entry: &AuditEntry,
) -> StoreResult<()> {
    let mut tx = store.write(tenant).await?;
    sqlx::query(
        "INSERT INTO devices (tenant_id, user_id, id, created_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (tenant_id, user_id, id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
    )
    .bind(tenant.as_str())
    .bind(session.user_id.to_string())
    .bind(session.device_id.as_str())
    .bind(session.created_at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    sqlx::query(
        "INSERT INTO sessions (tenant_id, id, user_id, device_id, current_token_id, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant.as_str())
    .bind(session.id.to_string())
    .bind(session.user_id.to_string())
    .bind(session.device_id.as_str())
    .bind(session.token_id.as_str())
    .bind(session.created_at_ms)
    .bind(session.expires_at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    audit::insert(&mut tx, tenant, entry).await?;
    tx.commit().await.map_err(db)
}

pub(super) async fn rotate(
    store: &SqlStore,
    tenant: &TenantId,
    session: SessionId,
    swap: TokenSwap<'_>,
    on_reuse: &AuditEntry,
) -> StoreResult<Rotation> {
    let mut tx = store.write(tenant).await?;
    // Compare-and-swap: only the holder of the current token moves the session on.
    let swapped = sqlx::query(
        "UPDATE sessions SET current_token_id = $4, rotated_at = $5, expires_at = $6 \
         WHERE tenant_id = $1 AND id = $2 AND current_token_id = $3 \
         AND revoked_at IS NULL AND expires_at > $5",
    )
    .bind(tenant.as_str())
    .bind(session.to_string())
    .bind(swap.presented)
    .bind(swap.next)
    .bind(swap.now_ms)
    .bind(swap.expires_at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    if swapped.rows_affected() == 1 {
        tx.commit().await.map_err(db)?;
        return Ok(Rotation::Rotated);
    }
    // The token is signed by us and names this session, so if it is not the current one it was
    // rotated before: a replay. Revoke the whole family while it is still live.
    let revoked = sqlx::query(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = 'reuse' \
         WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL AND expires_at > $3 \
         AND current_token_id <> $4",
    )
    .bind(tenant.as_str())
    .bind(session.to_string())
    .bind(swap.now_ms)
    .bind(swap.presented)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let outcome = if revoked.rows_affected() == 1 {
        audit::insert(&mut tx, tenant, on_reuse).await?;
        Rotation::Reused
    } else {
        Rotation::Invalid
    };
    tx.commit().await.map_err(db)?;
    Ok(outcome)
}

pub(super) async fn active(
    store: &SqlStore,
    tenant: &TenantId,
    session: SessionId,
    now_ms: i64,
) -> StoreResult<bool> {
    let mut tx = store.read(tenant).await?;
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM sessions WHERE tenant_id = $1 AND id = $2 \
         AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(tenant.as_str())
    .bind(session.to_string())
    .bind(now_ms)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(found.is_some())
}

pub(super) async fn live(
    store: &SqlStore,
    tenant: &TenantId,
    sessions: &[SessionId],
    now_ms: i64,
) -> StoreResult<Vec<SessionId>> {
    if sessions.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id FROM sessions WHERE tenant_id = $1 AND revoked_at IS NULL \
         AND expires_at > $2 AND id IN ({})",
        store.engine.json_strings("$3")
    );
    let mut tx = store.read(tenant).await?;
    let ids: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(now_ms)
        .bind(json_list(sessions.iter().map(SessionId::to_string)))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(ids.iter().filter_map(|id| SessionId::parse(id)).collect())
}

pub(super) async fn end(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    scope: &SessionScope,
    now_ms: i64,
    entry: &AuditEntry,
) -> StoreResult<u64> {
    let mut tx = store.write(tenant).await?;
    let ended = revoke(&mut tx, tenant, user, scope, now_ms, "logout").await?;
    audit::insert(&mut tx, tenant, entry).await?;
    tx.commit().await.map_err(db)?;
    Ok(ended)
}

/// Revokes the user's live sessions in `scope` inside the caller's transaction.
pub(super) async fn revoke(
    tx: &mut Tx,
    tenant: &TenantId,
    user: UserId,
    scope: &SessionScope,
    now_ms: i64,
    reason: &str,
) -> StoreResult<u64> {
    // One statement for every scope: the id and device filters are off when their parameter is
    // NULL, and `$7` keeps one session out.
    let (session, device, except) = match scope {
        SessionScope::Session(id) => (Some(id.to_string()), None, None),
        SessionScope::Device(device) => (None, Some(device.as_str()), None),
        SessionScope::All => (None, None, None),
        SessionScope::AllExcept(id) => (None, None, Some(id.to_string())),
    };
    let ended = sqlx::query(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
         WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL \
         AND ($5 IS NULL OR id = $5) AND ($6 IS NULL OR device_id = $6) \
         AND ($7 IS NULL OR id <> $7)",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(now_ms)
    .bind(reason)
    .bind(session)
    .bind(device)
    .bind(except)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(ended.rows_affected())
}

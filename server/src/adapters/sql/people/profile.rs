//! Changing one's own profile, and keeping an avatar readable and out of the media sweeper's
//! reach while it is one.

use super::super::rows::{PUBLIC_USER_COLUMNS, PublicUserRow};
use super::super::{SqlStore, Tx, db};
use crate::domain::{MediaId, TenantId, UserId, name_key};
use crate::ports::{ProfileChange, ProfileUpdate, PublicUser, StoreResult};

pub(super) async fn update(
    store: &SqlStore,
    tenant: &TenantId,
    user: UserId,
    change: &ProfileChange,
) -> StoreResult<ProfileUpdate> {
    let mut tx = store.write(tenant).await?;
    let current: Option<Option<String>> =
        sqlx::query_scalar("SELECT avatar_media_id FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(user.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
    let Some(previous) = current else {
        return Ok(ProfileUpdate::NotFound);
    };
    if let Some(Some(avatar)) = change.avatar
        && !is_own_ready_image(&mut tx, tenant, user, avatar).await?
    {
        return Ok(ProfileUpdate::AvatarRefused);
    }
    // NULL parameters leave their column as it is; `$7` = 1 clears the avatar.
    let (set_avatar, clear_avatar) = match change.avatar {
        Some(Some(avatar)) => (Some(avatar.to_string()), 0_i64),
        Some(None) => (None, 1),
        None => (None, 0),
    };
    sqlx::query(
        "UPDATE users SET display_name = COALESCE($3, display_name), \
         name_key = COALESCE($4, name_key), status_text = COALESCE($5, status_text), \
         avatar_media_id = CASE WHEN $7 = 1 THEN NULL ELSE COALESCE($6, avatar_media_id) END, \
         updated_at = $8 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(user.to_string())
    .bind(change.display_name.as_deref())
    .bind(change.display_name.as_deref().map(name_key))
    .bind(change.status_text.as_deref())
    .bind(set_avatar.as_deref())
    .bind(clear_avatar)
    .bind(change.now_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    if let (Some(_), Some(previous)) = (change.avatar, previous) {
        release_avatar(&mut tx, tenant, &previous, change.now_ms).await?;
    }
    if let Some(Some(avatar)) = change.avatar {
        sqlx::query("UPDATE media SET unreferenced_since = NULL WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(avatar.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    let sql = format!("SELECT {PUBLIC_USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2");
    let row: PublicUserRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(user.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(ProfileUpdate::Updated(PublicUser::try_from(row)?))
}

async fn is_own_ready_image(
    tx: &mut Tx,
    tenant: &TenantId,
    user: UserId,
    avatar: MediaId,
) -> StoreResult<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM media WHERE tenant_id = $1 AND id = $2 AND uploader_id = $3 \
         AND status = 'ready' AND content_type LIKE 'image/%' AND content_type <> 'image/svg+xml'",
    )
    .bind(tenant.as_str())
    .bind(avatar.to_string())
    .bind(user.to_string())
    .fetch_optional(&mut **tx)
    .await
    .map_err(db)?;
    Ok(found.is_some())
}

/// The avatar an update replaced is unreferenced from now unless a message or someone's
/// profile still carries it; the sweeper deletes it after the grace period.
async fn release_avatar(
    tx: &mut Tx,
    tenant: &TenantId,
    media: &str,
    at_ms: i64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE media SET unreferenced_since = $3 WHERE tenant_id = $1 AND id = $2 \
         AND unreferenced_since IS NULL \
         AND NOT EXISTS (SELECT 1 FROM message_attachments a \
           WHERE a.tenant_id = $1 AND a.media_id = $2) \
         AND NOT EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = $1 AND u.avatar_media_id = $2)",
    )
    .bind(tenant.as_str())
    .bind(media)
    .bind(at_ms)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

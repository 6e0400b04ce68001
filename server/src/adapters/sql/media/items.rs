//! The request side: recording uploads, completing direct uploads, reading and authorising.

use super::super::{SqlStore, db};
use super::rows::{add_usage, select, used};
use crate::domain::media::MediaStatus;
use crate::domain::{MediaId, TenantId, UserId};
use crate::ports::{Completion, MediaItem, MediaWrite, NewMedia, StorageQuota, StoreResult};

fn signed(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

pub(in super::super) async fn create(
    store: &SqlStore,
    tenant: &TenantId,
    new: &NewMedia,
    quota: StorageQuota,
) -> StoreResult<MediaWrite> {
    let mut tx = store.write(tenant).await?;
    let counted = new.status != MediaStatus::AwaitingUpload;
    if counted
        && let Err(used) = add_usage(&mut tx, tenant, signed(new.size), quota.max_bytes).await?
    {
        return Ok(MediaWrite::QuotaExceeded { used });
    }
    sqlx::query(
        "INSERT INTO media (tenant_id, id, uploader_id, filename, content_type, size, \
         stored_bytes, status, created_at, unreferenced_since) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(tenant.as_str())
    .bind(new.id.to_string())
    .bind(new.uploader_id.to_string())
    .bind(new.filename.as_str())
    .bind(new.content_type.as_str())
    .bind(signed(new.size))
    .bind(if counted { signed(new.size) } else { 0 })
    .bind(new.status.as_str())
    .bind(new.at_ms)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let item = select(&mut tx, tenant, new.id).await?;
    tx.commit().await.map_err(db)?;
    Ok(item.map_or(MediaWrite::Conflict, MediaWrite::Done))
}

pub(in super::super) async fn complete(
    store: &SqlStore,
    tenant: &TenantId,
    id: MediaId,
    uploader: UserId,
    completion: &Completion,
    quota: StorageQuota,
) -> StoreResult<MediaWrite> {
    let mut tx = store.write(tenant).await?;
    let waiting = select(&mut tx, tenant, id)
        .await?
        .is_some_and(|m| m.uploader_id == uploader && m.status == MediaStatus::AwaitingUpload);
    if !waiting {
        return Ok(MediaWrite::Conflict);
    }
    let size = signed(completion.size);
    if let Err(used) = add_usage(&mut tx, tenant, size, quota.max_bytes).await? {
        return Ok(MediaWrite::QuotaExceeded { used });
    }
    sqlx::query(
        "UPDATE media SET size = $3, stored_bytes = $3, content_type = $4, status = $5 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .bind(size)
    .bind(completion.content_type.as_str())
    .bind(completion.status.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let item = select(&mut tx, tenant, id).await?;
    tx.commit().await.map_err(db)?;
    Ok(item.map_or(MediaWrite::Conflict, MediaWrite::Done))
}

pub(in super::super) async fn get(
    store: &SqlStore,
    tenant: &TenantId,
    id: MediaId,
) -> StoreResult<Option<MediaItem>> {
    let mut tx = store.read(tenant).await?;
    let item = select(&mut tx, tenant, id).await?;
    tx.commit().await.map_err(db)?;
    Ok(item)
}

pub(in super::super) async fn may_read(
    store: &SqlStore,
    tenant: &TenantId,
    id: MediaId,
    viewer: UserId,
) -> StoreResult<bool> {
    let mut tx = store.read(tenant).await?;
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM media m WHERE m.tenant_id = $1 AND m.id = $2 AND (m.uploader_id = $3 \
         OR EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = $1 AND u.avatar_media_id = $2) \
         OR EXISTS (SELECT 1 FROM message_attachments a JOIN conversation_members cm \
           ON cm.tenant_id = a.tenant_id AND cm.conversation_id = a.conversation_id \
           AND cm.user_id = $3 AND cm.left_event_seq IS NULL \
           WHERE a.tenant_id = $1 AND a.media_id = $2))",
    )
    .bind(tenant.as_str())
    .bind(id.to_string())
    .bind(viewer.to_string())
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(found.is_some())
}

pub(in super::super) async fn storage_used(
    store: &SqlStore,
    tenant: &TenantId,
) -> StoreResult<u64> {
    let mut tx = store.read(tenant).await?;
    let bytes = used(&mut tx, tenant).await?;
    tx.commit().await.map_err(db)?;
    Ok(bytes)
}

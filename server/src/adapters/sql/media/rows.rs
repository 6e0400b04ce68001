//! The media row and the usage counter, shared by the request side and the worker side.

use super::super::rows::parse_user_id;
use super::super::{Tx, db};
use crate::domain::media::{FileName, MediaStatus};
use crate::domain::{MediaId, TenantId};
use crate::ports::{MediaItem, Rendition, StoreError, StoreResult};

/// The columns [`MediaRow`] reads, in order, qualified by the alias `m`.
pub(in super::super) const MEDIA_COLUMNS: &str = "m.id, m.uploader_id, m.filename, \
     m.content_type, m.size, m.status, m.failure, m.width, m.height, m.placeholder, m.variants, \
     m.created_at";

#[derive(sqlx::FromRow)]
pub(in super::super) struct MediaRow {
    id: String,
    uploader_id: String,
    filename: String,
    content_type: String,
    size: i64,
    status: String,
    failure: Option<String>,
    width: Option<i64>,
    height: Option<i64>,
    placeholder: Option<String>,
    variants: String,
    created_at: i64,
}

pub(in super::super) fn media_id(raw: &str) -> Result<MediaId, StoreError> {
    MediaId::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("bad media id '{raw}'")))
}

impl TryFrom<MediaRow> for MediaItem {
    type Error = StoreError;

    fn try_from(row: MediaRow) -> Result<Self, StoreError> {
        let dimension = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok());
        Ok(MediaItem {
            id: media_id(&row.id)?,
            uploader_id: parse_user_id(&row.uploader_id)?,
            filename: FileName::from_stored(row.filename),
            content_type: row.content_type,
            size: u64::try_from(row.size).unwrap_or(0),
            status: MediaStatus::from_stored(&row.status, row.failure)
                .ok_or_else(|| StoreError::Corrupt(format!("bad media status '{}'", row.status)))?,
            width: dimension(row.width),
            height: dimension(row.height),
            placeholder: row.placeholder,
            variants: serde_json::from_str::<Vec<Rendition>>(&row.variants)
                .map_err(|e| StoreError::Corrupt(format!("media variants: {e}")))?,
            created_at_ms: row.created_at,
        })
    }
}

/// An item, whoever asks.
pub(in super::super) async fn select(
    tx: &mut Tx,
    tenant: &TenantId,
    id: MediaId,
) -> StoreResult<Option<MediaItem>> {
    let sql = format!("SELECT {MEDIA_COLUMNS} FROM media m WHERE m.tenant_id = $1 AND m.id = $2");
    let row: Option<MediaRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    row.map(MediaItem::try_from).transpose()
}

/// Adds `bytes` (possibly negative) to the tenant's usage if the result stays within `max`;
/// `Err(used)` with the current usage when it would not. Freeing bytes always succeeds.
pub(in super::super) async fn add_usage(
    tx: &mut Tx,
    tenant: &TenantId,
    bytes: i64,
    max: Option<u64>,
) -> StoreResult<Result<(), u64>> {
    let max = max.map_or(i64::MAX, |m| i64::try_from(m).unwrap_or(i64::MAX));
    let counted: Option<i64> = if bytes > max {
        None
    } else {
        sqlx::query_scalar(
            "INSERT INTO tenant_storage (tenant_id, bytes) \
             VALUES ($1, CASE WHEN $2 > 0 THEN $2 ELSE 0 END) \
             ON CONFLICT (tenant_id) DO UPDATE SET bytes = tenant_storage.bytes + $2 \
             WHERE $2 <= 0 OR tenant_storage.bytes + $2 <= $3 RETURNING bytes",
        )
        .bind(tenant.as_str())
        .bind(bytes)
        .bind(max)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?
    };
    if counted.is_some() {
        return Ok(Ok(()));
    }
    Ok(Err(used(tx, tenant).await?))
}

/// Bytes the tenant stores.
pub(in super::super) async fn used(tx: &mut Tx, tenant: &TenantId) -> StoreResult<u64> {
    let bytes: Option<i64> =
        sqlx::query_scalar("SELECT bytes FROM tenant_storage WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?;
    Ok(bytes.and_then(|b| u64::try_from(b).ok()).unwrap_or(0))
}

//! Uploads: multipart through the server, and direct ones (announce, PUT to storage, complete).

use super::{media_not_found, quota_exceeded, refused, too_large};
use crate::app::auth::{Grant, GrantKind};
use crate::app::{App, AppError, AppResult, ErrorCode};
use crate::domain::media::{
    FileName, MediaStatus, MediaType, SNIFF_BYTES, Variant, blob_key, blob_prefix, sniff,
};
use crate::domain::{Action, MediaId, Subject, Tenant, UserId, ValidationError};
use crate::ports::{
    BlobBody, Completion, MediaItem, MediaWrite, NewMedia, StorageQuota, read_head,
};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use std::net::IpAddr;

/// A file arriving through the server.
#[allow(missing_debug_implementations)]
pub struct Upload {
    /// The client's file name.
    pub filename: String,
    /// The size the client announced (`Content-Length`), when it did.
    pub declared_size: Option<u64>,
    /// The bytes.
    pub body: BlobBody,
    /// The client's address, whose upload budget is charged.
    pub address: IpAddr,
}

/// A direct upload the client announces.
#[derive(Debug, Clone)]
pub struct DirectUploadRequest {
    /// The file name.
    pub filename: String,
    /// Its exact size in bytes.
    pub size: u64,
    /// The type the client believes it is (checked against the bytes at completion).
    pub content_type: String,
    /// The client's address.
    pub address: IpAddr,
}

/// Where to put the bytes of an announced upload.
#[derive(Debug, Clone)]
pub struct DirectUpload {
    /// The item, `awaiting_upload`.
    pub item: MediaItem,
    /// Where to `PUT` the bytes: the store's presigned URL, or (local storage) the server's own
    /// signed path, relative to the API's origin.
    pub url: String,
    /// Headers the `PUT` must carry.
    pub headers: Vec<(String, String)>,
    /// When the URL stops working, Unix milliseconds.
    pub expires_at_ms: i64,
}

/// Reads the start of `body` (at least [`SNIFF_BYTES`] unless the body is shorter) and gives it
/// back with the body, which still yields every byte.
async fn peek(body: BlobBody) -> AppResult<(Bytes, BlobBody)> {
    // Fused: the body may already have ended here, and a stream must not be polled after its end.
    let mut body = body.fuse();
    let mut head = BytesMut::new();
    while head.len() < SNIFF_BYTES {
        match body.next().await {
            Some(chunk) => {
                head.extend_from_slice(&chunk.map_err(crate::ports::BlobError::Interrupted)?)
            }
            None => break,
        }
    }
    let head = head.freeze();
    let first = futures::stream::once({
        let head = head.clone();
        async move { Ok(head) }
    });
    Ok((head, Box::pin(first.chain(body))))
}

impl App {
    fn upload_budgets<'a>(tenant: &'a Tenant, caller: UserId, address: IpAddr) -> [Subject<'a>; 3] {
        [
            Subject::User(&tenant.id, caller),
            Subject::Tenant(&tenant.id),
            Subject::Address(address),
        ]
    }

    /// What the tenant may still store, checked before a byte is written (the transaction that
    /// records the item checks again).
    async fn storage_room(&self, tenant: &Tenant, size: Option<u64>) -> AppResult<u64> {
        let Some(max) = tenant.quotas.max_storage_bytes else {
            return Ok(u64::MAX);
        };
        let used = self.store.storage_used(&tenant.id).await?;
        let room = max.saturating_sub(used);
        if size.is_some_and(|size| size > room) || room == 0 {
            return Err(quota_exceeded(tenant, used));
        }
        Ok(room)
    }

    /// Stores a file arriving through the server, streaming it to storage with a running size
    /// check; images go to the pipeline, everything else is ready at once.
    #[tracing::instrument(name = "upload", skip_all, fields(tenant = %tenant.id))]
    pub async fn upload(
        &self,
        tenant: &Tenant,
        caller: UserId,
        upload: Upload,
    ) -> AppResult<MediaItem> {
        let filename = FileName::parse(&upload.filename)?;
        let cap = self.media.upload_cap(tenant);
        if upload.declared_size.is_some_and(|size| size > cap) {
            return Err(too_large(cap));
        }
        self.charge(
            tenant.tier,
            Action::Upload,
            &Self::upload_budgets(tenant, caller, upload.address),
        )
        .await?;
        let room = self.storage_room(tenant, upload.declared_size).await?;
        let (head, body) = peek(upload.body).await?;
        let kind = sniff(&head).map_err(refused)?;
        let id = MediaId::generate();
        let limit = cap.min(room);
        let size = match self
            .media
            .blobs
            .put(&blob_key(&tenant.id, id, Variant::Original), body, limit)
            .await
        {
            Err(crate::ports::BlobError::TooLarge { .. }) if limit < cap => {
                let used = self.store.storage_used(&tenant.id).await?;
                return Err(quota_exceeded(tenant, used));
            }
            other => other?,
        };
        let new = NewMedia {
            id,
            uploader_id: caller,
            filename,
            content_type: kind.mime.to_owned(),
            size,
            status: initial_status(kind),
            at_ms: self.clock.now_ms(),
        };
        self.record(tenant, &new).await
    }

    async fn record(&self, tenant: &Tenant, new: &NewMedia) -> AppResult<MediaItem> {
        let quota = StorageQuota {
            max_bytes: tenant.quotas.max_storage_bytes,
        };
        match self.store.create_media(&tenant.id, new, quota).await {
            Ok(MediaWrite::Done(item)) => {
                self.stored(&item);
                self.report_storage(&tenant.id).await;
                Ok(item)
            }
            Ok(MediaWrite::QuotaExceeded { used }) => {
                self.discard(tenant, new.id).await;
                Err(quota_exceeded(tenant, used))
            }
            Ok(MediaWrite::Conflict) => Err(AppError::internal(anyhow::anyhow!(
                "media {} vanished while it was recorded",
                new.id
            ))),
            Err(e) => {
                self.discard(tenant, new.id).await;
                Err(e.into())
            }
        }
    }

    /// Deletes the objects of an item that was not recorded (best effort: the sweeper cannot
    /// find objects without a row, so this is their one chance).
    async fn discard(&self, tenant: &Tenant, id: MediaId) {
        if let Err(e) = self
            .media
            .blobs
            .delete_prefix(&blob_prefix(&tenant.id, id))
            .await
        {
            tracing::warn!(error = %e, media = %id, "could not delete the objects of a refused upload");
        }
    }

    fn stored(&self, item: &MediaItem) {
        if item.status == MediaStatus::Pending {
            self.media.wake.notify_one();
        }
    }

    /// Announces a direct upload: checks name, size and quota, records the item as awaiting its
    /// bytes, and hands out where to put them.
    #[tracing::instrument(name = "announce_upload", skip_all, fields(tenant = %tenant.id))]
    pub async fn announce_upload(
        &self,
        tenant: &Tenant,
        caller: UserId,
        request: DirectUploadRequest,
    ) -> AppResult<DirectUpload> {
        let filename = FileName::parse(&request.filename)?;
        let cap = self.media.upload_cap(tenant);
        if request.size == 0 {
            return Err(ValidationError::new("size", "must be at least 1 byte").into());
        }
        if request.size > cap {
            return Err(too_large(cap));
        }
        let declared =
            MediaType::from_mime(request.content_type.trim()).ok_or_else(|| AppError {
                field: Some("contentType"),
                ..AppError::new(
                    ErrorCode::UnsupportedMediaType,
                    format!("files of type {:?} are not accepted", request.content_type),
                )
            })?;
        self.charge(
            tenant.tier,
            Action::Upload,
            &Self::upload_budgets(tenant, caller, request.address),
        )
        .await?;
        self.storage_room(tenant, Some(request.size)).await?;
        let new = NewMedia {
            id: MediaId::generate(),
            uploader_id: caller,
            filename,
            content_type: declared.mime.to_owned(),
            size: request.size,
            status: MediaStatus::AwaitingUpload,
            at_ms: self.clock.now_ms(),
        };
        let item = self.record(tenant, &new).await?;
        let ttl = self.media.upload_url_ttl;
        let expires_at_ms = new.at_ms + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let key = blob_key(&tenant.id, item.id, Variant::Original);
        let (url, headers) = match self
            .media
            .blobs
            .presign_put(&key, ttl, request.size, declared.mime)
            .await?
        {
            Some(presigned) => (presigned.url, presigned.headers),
            None => {
                let grant = Grant {
                    kind: GrantKind::Upload,
                    tenant: tenant.id.clone(),
                    user: caller,
                    media: item.id,
                    variant: None,
                };
                let token = self.sign_grant(&grant, expires_at_ms)?;
                (
                    format!("/api/v1/media/{}/blob?token={token}", item.id),
                    vec![("content-type".to_owned(), declared.mime.to_owned())],
                )
            }
        };
        Ok(DirectUpload {
            item,
            url,
            headers,
            expires_at_ms,
        })
    }

    pub(crate) fn sign_grant(&self, grant: &Grant, expires_at_ms: i64) -> AppResult<String> {
        let at = time::OffsetDateTime::from_unix_timestamp(expires_at_ms / 1000)
            .map_err(AppError::internal)?;
        self.tokens
            .issue_grant(grant, at)
            .map_err(AppError::internal)
    }

    /// The bytes of a direct upload to local storage, sent to the server's signed URL.
    pub async fn receive_upload(&self, id: MediaId, token: &str, body: BlobBody) -> AppResult<()> {
        let grant = self
            .tokens
            .verify_grant(GrantKind::Upload, token)
            .ok()
            .filter(|grant| grant.media == id)
            .ok_or_else(|| AppError::unauthenticated("the upload URL is invalid or has expired"))?;
        let item = self
            .store
            .media(&grant.tenant, grant.media)
            .await?
            .filter(|item| item.uploader_id == grant.user)
            .ok_or_else(media_not_found)?;
        if item.status != MediaStatus::AwaitingUpload {
            return Err(AppError::new(
                ErrorCode::UploadMismatch,
                "this upload is already complete",
            ));
        }
        let key = blob_key(&grant.tenant, item.id, Variant::Original);
        self.media.blobs.put(&key, body, item.size).await?;
        Ok(())
    }

    /// Completes a direct upload: the stored object must have the announced size and an accepted
    /// type; its actual size counts against the quota.
    #[tracing::instrument(name = "complete_upload", skip_all, fields(tenant = %tenant.id))]
    pub async fn complete_upload(
        &self,
        tenant: &Tenant,
        caller: UserId,
        id: MediaId,
    ) -> AppResult<MediaItem> {
        self.charge_media_read(tenant, caller).await?;
        let item = self
            .store
            .media(&tenant.id, id)
            .await?
            .filter(|item| item.uploader_id == caller)
            .ok_or_else(media_not_found)?;
        if item.status != MediaStatus::AwaitingUpload {
            return Err(AppError::new(
                ErrorCode::UploadMismatch,
                "this upload is already complete",
            ));
        }
        let key = blob_key(&tenant.id, id, Variant::Original);
        let blobs = self.media.blobs.as_ref();
        let Some(size) = blobs.size(&key).await? else {
            return Err(AppError::new(
                ErrorCode::UploadMismatch,
                "nothing was uploaded yet: PUT the bytes to the upload URL first",
            ));
        };
        if size != item.size {
            blobs.delete_prefix(&blob_prefix(&tenant.id, id)).await?;
            return Err(AppError::new(
                ErrorCode::UploadMismatch,
                format!(
                    "{size} bytes were uploaded, {} announced; upload again",
                    item.size
                ),
            ));
        }
        let head = read_head(blobs, &key, SNIFF_BYTES as u64).await?;
        let kind = match sniff(&head) {
            Ok(kind) => kind,
            Err(refusal) => {
                blobs.delete_prefix(&blob_prefix(&tenant.id, id)).await?;
                return Err(refused(refusal));
            }
        };
        let completion = Completion {
            size,
            content_type: kind.mime.to_owned(),
            status: initial_status(kind),
        };
        let quota = StorageQuota {
            max_bytes: tenant.quotas.max_storage_bytes,
        };
        match self
            .store
            .complete_media(&tenant.id, id, caller, &completion, quota)
            .await?
        {
            MediaWrite::Done(item) => {
                self.stored(&item);
                self.report_storage(&tenant.id).await;
                Ok(item)
            }
            MediaWrite::QuotaExceeded { used } => Err(quota_exceeded(tenant, used)),
            MediaWrite::Conflict => Err(AppError::new(
                ErrorCode::UploadMismatch,
                "this upload is already complete",
            )),
        }
    }
}

/// Images wait for the pipeline; everything else is ready once stored.
fn initial_status(kind: MediaType) -> MediaStatus {
    if kind.is_image() {
        MediaStatus::Pending
    } else {
        MediaStatus::Ready
    }
}

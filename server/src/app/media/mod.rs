//! Media: uploads (through the server, or straight to storage), metadata, downloads, the image
//! pipeline and the sweeper of unreferenced items.
//!
//! **Invariant**: an item's bytes count against its tenant's `maxStorageBytes` in the same
//! transaction that records them; the quota is checked against the declared size before any byte
//! is stored and against the actual size when the item is recorded.

mod download;
mod pipeline;
mod sweeper;
mod upload;

pub use download::{Download, RangeRequest};
pub use pipeline::MediaPipeline;
pub use sweeper::MediaSweeper;
pub use upload::{DirectUpload, DirectUploadRequest, Upload};

use super::{AppError, ErrorCode};
use crate::domain::Tenant;
use crate::domain::media::{SniffRefusal, default_upload_cap};
use crate::ports::{BlobError, BlobStore, ImagePipeline};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How media behave, and where they go.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// Where the bytes live.
    pub blobs: Arc<dyn BlobStore>,
    /// Decodes and renders images.
    pub images: Arc<dyn ImagePipeline>,
    /// Largest upload for every tier; `None`: the tier's default.
    pub max_upload_bytes: Option<u64>,
    /// How long an upload URL stays valid.
    pub upload_url_ttl: Duration,
    /// How long a download URL stays valid (at most 5 minutes).
    pub download_url_ttl: Duration,
    /// How long an unreferenced item is kept before the sweeper deletes it.
    pub grace: Duration,
    /// Wakes the pipeline when an image is stored.
    pub wake: Arc<Notify>,
}

impl MediaSettings {
    /// Media in `blobs`, with the defaults of everything else.
    pub fn new(blobs: Arc<dyn BlobStore>, images: Arc<dyn ImagePipeline>) -> Self {
        Self {
            blobs,
            images,
            max_upload_bytes: None,
            upload_url_ttl: Duration::from_secs(15 * 60),
            download_url_ttl: Duration::from_secs(5 * 60),
            grace: Duration::from_secs(24 * 3600),
            wake: Arc::new(Notify::new()),
        }
    }

    /// The largest upload the tenant may make.
    pub fn upload_cap(&self, tenant: &Tenant) -> u64 {
        self.max_upload_bytes
            .unwrap_or_else(|| default_upload_cap(tenant.tier))
    }
}

/// Bytes each tenant stores, as of its last upload or deletion (gauge, label `tenant`).
pub const METRIC_STORED_BYTES: &str = "chemchat_media_stored_bytes";

impl super::App {
    /// Reports the tenant's stored bytes (after a change to them).
    pub(crate) async fn report_storage(&self, tenant: &crate::domain::TenantId) {
        if let Ok(bytes) = self.store.storage_used(tenant).await {
            metrics::gauge!(METRIC_STORED_BYTES, "tenant" => tenant.to_string()).set(bytes as f64);
        }
    }
}

/// Items the caller may not see and items that do not exist look the same.
pub(crate) fn media_not_found() -> AppError {
    AppError::new(ErrorCode::MediaNotFound, "no such media")
}

fn too_large(cap: u64) -> AppError {
    AppError {
        field: Some("file"),
        ..AppError::new(
            ErrorCode::PayloadTooLarge,
            format!("the file is larger than this tenant's upload limit of {cap} bytes"),
        )
    }
}

fn quota_exceeded(tenant: &Tenant, used: u64) -> AppError {
    AppError::new(
        ErrorCode::QuotaExceeded,
        format!(
            "quota maxStorageBytes ({}) reached for tenant '{}' ({used} bytes stored); delete \
             media or raise the quota",
            tenant.quotas.max_storage_bytes.unwrap_or_default(),
            tenant.id
        ),
    )
    .retry_after(Duration::from_secs(3600))
}

fn refused(refusal: SniffRefusal) -> AppError {
    let message = match refusal {
        SniffRefusal::Empty => "the file is empty".to_owned(),
        SniffRefusal::NotAllowed(mime) => format!(
            "files of type {mime} are not accepted (images: JPEG, PNG, GIF, WebP; video, audio, \
             PDF, text, office documents and archives are)"
        ),
        SniffRefusal::Unknown => "the file's type is not recognised; it is not accepted".to_owned(),
    };
    AppError {
        field: Some("file"),
        ..AppError::new(ErrorCode::UnsupportedMediaType, message)
    }
}

impl From<BlobError> for AppError {
    fn from(err: BlobError) -> Self {
        match err {
            BlobError::NotFound => media_not_found(),
            BlobError::TooLarge { limit } => too_large(limit),
            BlobError::Interrupted(e) => AppError {
                source: Some(e.into()),
                ..AppError::new(ErrorCode::InvalidBody, "the upload was interrupted")
            },
            BlobError::Unavailable(e) => AppError {
                source: Some(e),
                ..AppError::new(
                    ErrorCode::ServiceUnavailable,
                    "media storage is unavailable; retry",
                )
                .retry_after(Duration::from_secs(5))
            },
        }
    }
}

//! The media part of the store: uploaded items, their renditions, what references them, and each
//! tenant's storage usage, which changes in the same transaction as the item it counts.

use super::StoreResult;
use crate::domain::media::{FileName, MediaStatus, Variant};
use crate::domain::{MediaId, TenantId, UserId};
use async_trait::async_trait;
use std::fmt::Debug;

/// A media item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaItem {
    /// Id.
    pub id: MediaId,
    /// Who uploaded it.
    pub uploader_id: UserId,
    /// The name it is shown and downloaded under.
    pub filename: FileName,
    /// The sniffed MIME type.
    pub content_type: String,
    /// Bytes of the original (declared, while awaiting a direct upload).
    pub size: u64,
    /// Where it is in its life.
    pub status: MediaStatus,
    /// Pixels across, as displayed (images, once processed).
    pub width: Option<u32>,
    /// Pixels down, as displayed.
    pub height: Option<u32>,
    /// A blurhash to paint while the picture loads.
    pub placeholder: Option<String>,
    /// The renditions besides the original.
    pub variants: Vec<Rendition>,
    /// Uploaded at, Unix milliseconds.
    pub created_at_ms: i64,
}

/// A stored rendition of an image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rendition {
    /// Which one.
    #[serde(with = "variant_name")]
    pub variant: Variant,
    /// Its MIME type.
    pub content_type: String,
    /// Its bytes.
    pub size: u64,
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
}

mod variant_name {
    use crate::domain::media::Variant;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &Variant, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Variant, D::Error> {
        let name = String::deserialize(d)?;
        Variant::parse(&name).ok_or_else(|| D::Error::custom(format!("unknown variant {name}")))
    }
}

/// A media item to record.
#[derive(Debug, Clone)]
pub struct NewMedia {
    /// Id.
    pub id: MediaId,
    /// Uploader.
    pub uploader_id: UserId,
    /// File name.
    pub filename: FileName,
    /// Sniffed (or, for a direct upload, declared until completion) MIME type.
    pub content_type: String,
    /// Bytes stored (or declared).
    pub size: u64,
    /// `Pending`, `Ready`, or `AwaitingUpload` for a direct upload (which counts no usage yet).
    pub status: MediaStatus,
    /// Now, Unix milliseconds.
    pub at_ms: i64,
}

/// The tenant's storage quota, checked in the transaction that adds bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageQuota {
    /// `maxStorageBytes`, `None` for unlimited.
    pub max_bytes: Option<u64>,
}

/// Outcome of recording bytes against the quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaWrite {
    /// Done; the item as it is now.
    Done(MediaItem),
    /// The bytes do not fit: this much is already used.
    QuotaExceeded {
        /// Bytes the tenant stores now.
        used: u64,
    },
    /// No such item, or not in the state the change needs (e.g. completing twice).
    Conflict,
}

/// What the pipeline made of an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// Renditions stored; dimensions known. `original_size` is the size after metadata removal.
    Ready {
        /// Pixels across.
        width: u32,
        /// Pixels down.
        height: u32,
        /// Blurhash.
        placeholder: String,
        /// The renditions stored.
        variants: Vec<Rendition>,
        /// The original's size now.
        original_size: u64,
    },
    /// The pipeline refused it.
    Failed(String),
}

/// Persistence of media items. Each method is one transaction.
#[async_trait]
pub trait MediaStore: Send + Sync + Debug + 'static {
    /// Records an item; unless it awaits a direct upload, its bytes count against the quota.
    async fn create_media(
        &self,
        tenant: &TenantId,
        new: &NewMedia,
        quota: StorageQuota,
    ) -> StoreResult<MediaWrite>;

    /// Completes a direct upload by `uploader`: the actual size and sniffed type, counted
    /// against the quota; the item becomes `status`.
    async fn complete_media(
        &self,
        tenant: &TenantId,
        id: MediaId,
        uploader: UserId,
        completion: &Completion,
        quota: StorageQuota,
    ) -> StoreResult<MediaWrite>;

    /// An item, whoever asks (callers check [`MediaStore::may_read_media`]).
    async fn media(&self, tenant: &TenantId, id: MediaId) -> StoreResult<Option<MediaItem>>;

    /// Whether `viewer` may read the item: its uploader, a current member of a conversation in
    /// which a message carries it, or anyone in the tenant when it is someone's avatar.
    async fn may_read_media(
        &self,
        tenant: &TenantId,
        id: MediaId,
        viewer: UserId,
    ) -> StoreResult<bool>;

    /// Bytes the tenant stores.
    async fn storage_used(&self, tenant: &TenantId) -> StoreResult<u64>;

    /// Pipeline: leases up to `limit` pending items of any tenant for `lease_ms`, oldest first;
    /// an item whose lease ran out (a worker died) is leased again.
    async fn lease_pending_media(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<(TenantId, MediaId)>>;

    /// Pipeline: records the outcome; renditions add their bytes to the usage (the quota was
    /// checked when the original was accepted).
    async fn finish_media(
        &self,
        tenant: &TenantId,
        id: MediaId,
        outcome: &Processed,
    ) -> StoreResult<()>;

    /// Sweeper: items of any tenant unreferenced since before `before_ms` (never attached, or
    /// every message carrying them deleted), or announced and never uploaded; marks each
    /// `Deleting` and takes its bytes off the usage.
    async fn take_unreferenced_media(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<(TenantId, MediaId)>>;

    /// Sweeper: forgets an item whose objects are gone.
    async fn forget_media(&self, tenant: &TenantId, id: MediaId) -> StoreResult<()>;
}

/// A direct upload's completion as the server found the stored object.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Its size.
    pub size: u64,
    /// Its sniffed MIME type.
    pub content_type: String,
    /// `Pending` (an image for the pipeline) or `Ready`.
    pub status: MediaStatus,
}

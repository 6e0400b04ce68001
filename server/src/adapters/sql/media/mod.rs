//! The media part of the SQL store.

mod items;
mod rows;
mod worker;

pub(super) use rows::{MEDIA_COLUMNS, MediaRow};

use super::SqlStore;
use crate::domain::{MediaId, TenantId, UserId};
use crate::ports::{
    Completion, MediaItem, MediaStore, MediaWrite, NewMedia, Processed, StorageQuota, StoreResult,
};
use async_trait::async_trait;

#[async_trait]
impl MediaStore for SqlStore {
    async fn create_media(
        &self,
        tenant: &TenantId,
        new: &NewMedia,
        quota: StorageQuota,
    ) -> StoreResult<MediaWrite> {
        items::create(self, tenant, new, quota).await
    }

    async fn complete_media(
        &self,
        tenant: &TenantId,
        id: MediaId,
        uploader: UserId,
        completion: &Completion,
        quota: StorageQuota,
    ) -> StoreResult<MediaWrite> {
        items::complete(self, tenant, id, uploader, completion, quota).await
    }

    async fn media(&self, tenant: &TenantId, id: MediaId) -> StoreResult<Option<MediaItem>> {
        items::get(self, tenant, id).await
    }

    async fn may_read_media(
        &self,
        tenant: &TenantId,
        id: MediaId,
        viewer: UserId,
    ) -> StoreResult<bool> {
        items::may_read(self, tenant, id, viewer).await
    }

    async fn storage_used(&self, tenant: &TenantId) -> StoreResult<u64> {
        items::storage_used(self, tenant).await
    }

    async fn lease_pending_media(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<(TenantId, MediaId)>> {
        worker::lease(self, now_ms, lease_ms, limit).await
    }

    async fn finish_media(
        &self,
        tenant: &TenantId,
        id: MediaId,
        outcome: &Processed,
    ) -> StoreResult<()> {
        worker::finish(self, tenant, id, outcome).await
    }

    async fn take_unreferenced_media(
        &self,
        before_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<(TenantId, MediaId)>> {
        worker::take_unreferenced(self, before_ms, limit).await
    }

    async fn forget_media(&self, tenant: &TenantId, id: MediaId) -> StoreResult<()> {
        worker::forget(self, tenant, id).await
    }
}

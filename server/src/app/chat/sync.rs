//! Delta sync: every event the caller missed, across its conversations, exactly once.

use super::MAX_SYNC_LIMIT;
use super::conversations::invalid_query;
use super::cursor::{decode_sync, encode_sync};
use crate::app::{App, AppResult};
use crate::domain::{Tenant, UserId};
use crate::ports::chat::StoredEvent;

/// A page of sync.
#[derive(Debug, Clone)]
pub struct SyncResult {
    /// Events, in order within each conversation.
    pub events: Vec<StoredEvent>,
    /// Pass back as `since` next time.
    pub cursor: String,
    /// More events are waiting: call again with `cursor` at once.
    pub has_more: bool,
}

impl App {
    /// The events after `since`. Without `since`, returns no events and a cursor for "now": a
    /// client starts by loading history, then syncs from that cursor.
    #[tracing::instrument(name = "sync", skip_all, fields(tenant = %tenant.id))]
    pub async fn sync(
        &self,
        tenant: &Tenant,
        caller: UserId,
        since: Option<&str>,
        limit: u32,
    ) -> AppResult<SyncResult> {
        if limit == 0 || limit > MAX_SYNC_LIMIT {
            return Err(invalid_query(
                "limit",
                format!("must be 1-{MAX_SYNC_LIMIT}"),
            ));
        }
        let Some(since) = since else {
            let position = self.store.sync_position(&tenant.id, caller).await?;
            return Ok(SyncResult {
                events: Vec::new(),
                cursor: encode_sync(&position),
                has_more: false,
            });
        };
        let position = decode_sync(since)
            .ok_or_else(|| invalid_query("since", "is not a cursor this server issued".into()))?;
        let page = self
            .store
            .sync(&tenant.id, caller, &position, limit)
            .await?;
        Ok(SyncResult {
            events: page.events,
            cursor: encode_sync(&page.position),
            has_more: page.has_more,
        })
    }
}

//! The sweeper: deletes media nothing references any more (never attached, every message that
//! carried them deleted, or announced and never uploaded) once the grace period has passed —
//! every rendition from storage, then the row.

use super::MediaSettings;
use crate::domain::media::blob_prefix;
use crate::ports::{Clock, Store};
use std::sync::Arc;
use std::time::Duration;

/// Items taken per round.
const BATCH: u32 = 100;

/// Items deleted (counter).
pub const METRIC_SWEPT: &str = "chemchat_media_swept_total";

/// The sweeper's loop.
#[derive(Debug, Clone)]
pub struct MediaSweeper {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    media: MediaSettings,
    every: Duration,
}

impl MediaSweeper {
    /// A sweeper that looks every `every`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        media: MediaSettings,
        every: Duration,
    ) -> Self {
        Self {
            store,
            clock,
            media,
            every,
        }
    }

    /// Runs until its task is cancelled.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // Rounds until the backlog is gone, so a large one drains without waiting a tick
            // per batch; a failure waits for the next tick.
            loop {
                match self.round().await {
                    Ok(n) if n == BATCH as usize => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "media sweeper: round failed");
                        break;
                    }
                }
            }
        }
    }

    /// Deletes one batch; returns how many items it took.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let grace = i64::try_from(self.media.grace.as_millis()).unwrap_or(i64::MAX);
        let before = self.clock.now_ms().saturating_sub(grace);
        let taken = self.store.take_unreferenced_media(before, BATCH).await?;
        for (tenant, id) in &taken {
            // An item whose objects cannot be deleted now stays `deleting` and is taken again.
            self.media
                .blobs
                .delete_prefix(&blob_prefix(tenant, *id))
                .await?;
            self.store.forget_media(tenant, *id).await?;
            metrics::counter!(METRIC_SWEPT).increment(1);
        }
        let tenants: std::collections::BTreeSet<_> = taken.iter().map(|(t, _)| t).collect();
        for tenant in tenants {
            let bytes = self.store.storage_used(tenant).await?;
            metrics::gauge!(super::METRIC_STORED_BYTES, "tenant" => tenant.to_string())
                .set(bytes as f64);
        }
        Ok(taken.len())
    }
}

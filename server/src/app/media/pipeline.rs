//! The image pipeline's loop: leases pending items (of every tenant), renders each off the async
//! threads, stores the renditions and the stripped original, records the outcome. A worker that
//! dies leaves its lease to run out; the item is then leased again, at most a few times.

use super::MediaSettings;
use crate::app::backoff::Backoff;
use crate::domain::media::{Variant, blob_key};
use crate::domain::{MediaId, TenantId};
use crate::ports::{Clock, Processed, Rendition, Store};
use bytes::Bytes;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Largest original the pipeline decodes; larger images are kept but get no renditions.
pub const MAX_PROCESSED_BYTES: u64 = 64 * 1024 * 1024;
/// How long one item may take, reading and storing included. An image that takes longer (a
/// pathological file within the pixel limit, a store that stalls) fails with a reason rather
/// than holding the pipeline; the decoder thread itself cannot be interrupted and finishes in
/// the background, its output dropped.
pub const ITEM_DEADLINE: Duration = Duration::from_secs(60);
/// How long a lease lasts: longer than an item may take, so no item is leased twice at once.
const LEASE: Duration = Duration::from_secs(120);
/// Items leased at once.
const BATCH: u32 = 4;
/// How often the pipeline looks for work nobody woke it for (another instance's uploads,
/// leases that ran out).
const POLL: Duration = Duration::from_secs(5);

/// Items processed (counter, label `outcome`: `ready` or `failed`).
pub const METRIC_PROCESSED: &str = "chemchat_media_processed_total";
/// Seconds one item took (histogram).
pub const METRIC_PROCESSING_SECONDS: &str = "chemchat_media_processing_seconds";

/// The pipeline's loop.
#[derive(Debug, Clone)]
pub struct MediaPipeline {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    media: MediaSettings,
}

impl MediaPipeline {
    /// A pipeline over the store's pending items.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, media: MediaSettings) -> Self {
        Self {
            store,
            clock,
            media,
        }
    }

    /// Runs until its task is cancelled.
    pub async fn run(self) {
        let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        loop {
            match self.round().await {
                Ok(0) => {
                    backoff.succeeded();
                    let _ = tokio::time::timeout(POLL, self.media.wake.notified()).await;
                }
                Ok(_) => backoff.succeeded(),
                Err(e) => {
                    tracing::warn!(error = %e, "media pipeline: cannot lease work");
                    tokio::time::sleep(backoff.failed()).await;
                }
            }
        }
    }

    /// Processes one batch; returns how many items it leased.
    pub async fn round(&self) -> Result<usize, crate::ports::StoreError> {
        let lease_ms = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        let leased = self
            .store
            .lease_pending_media(self.clock.now_ms(), lease_ms, BATCH)
            .await?;
        for (tenant, id) in &leased {
            let started = std::time::Instant::now();
            // Each item is a trace of its own: the upload that queued it ended long ago.
            let span = tracing::info_span!(parent: None, "media.process", otel.kind = "consumer",
                tenant = %tenant, media = %id, outcome = tracing::field::Empty);
            let outcome = self.process(tenant, *id).instrument(span.clone()).await;
            let label = if matches!(outcome, Processed::Ready { .. }) {
                "ready"
            } else {
                "failed"
            };
            if let Processed::Failed(reason) = &outcome {
                tracing::info!(%tenant, media = %id, %reason, "media processing failed");
            }
            span.record("outcome", label);
            let recorded = self
                .store
                .finish_media(tenant, *id, &outcome)
                .instrument(span)
                .await;
            if let Err(e) = recorded {
                // The lease runs out and the item is processed again.
                tracing::warn!(error = %e, media = %id, "media pipeline: cannot record the outcome");
                continue;
            }
            metrics::counter!(METRIC_PROCESSED, "outcome" => label).increment(1);
            metrics::histogram!(METRIC_PROCESSING_SECONDS).record(started.elapsed().as_secs_f64());
        }
        Ok(leased.len())
    }

    async fn process(&self, tenant: &TenantId, id: MediaId) -> Processed {
        match tokio::time::timeout(ITEM_DEADLINE, self.try_process(tenant, id)).await {
            Ok(Ok(processed)) => processed,
            Ok(Err(reason)) => Processed::Failed(reason),
            Err(_) => Processed::Failed(format!(
                "processing took longer than {} s",
                ITEM_DEADLINE.as_secs()
            )),
        }
    }

    async fn try_process(&self, tenant: &TenantId, id: MediaId) -> Result<Processed, String> {
        let item = self
            .store
            .media(tenant, id)
            .await
            .map_err(|e| format!("store: {e}"))?
            .ok_or("the item is gone")?;
        if item.size > MAX_PROCESSED_BYTES {
            return Err(format!(
                "the image is larger than {MAX_PROCESSED_BYTES} bytes, the most the server decodes"
            ));
        }
        let key = blob_key(tenant, id, Variant::Original);
        let original = self.read(&key).await?;
        let images = Arc::clone(&self.media.images);
        let content_type = item.content_type.clone();
        let output = tokio::task::spawn_blocking(move || images.process(&original, &content_type))
            .await
            .map_err(|e| format!("the image decoder stopped: {e}"))??;
        let blobs = &self.media.blobs;
        let mut variants = Vec::with_capacity(output.renditions.len());
        for rendition in output.renditions {
            let size = rendition.bytes.len() as u64;
            blobs
                .put_bytes(
                    &blob_key(tenant, id, rendition.variant),
                    Bytes::from(rendition.bytes),
                    rendition.content_type,
                )
                .await
                .map_err(|e| e.to_string())?;
            variants.push(Rendition {
                variant: rendition.variant,
                content_type: rendition.content_type.to_owned(),
                size,
                width: rendition.width,
                height: rendition.height,
            });
        }
        let original_size = match output.stripped_original {
            Some(stripped) => {
                let size = stripped.len() as u64;
                blobs
                    .put_bytes(&key, Bytes::from(stripped), &item.content_type)
                    .await
                    .map_err(|e| e.to_string())?;
                size
            }
            None => item.size,
        };
        Ok(Processed::Ready {
            width: output.width,
            height: output.height,
            placeholder: output.placeholder,
            variants,
            original_size,
        })
    }

    async fn read(&self, key: &str) -> Result<Vec<u8>, String> {
        let mut read = self
            .media
            .blobs
            .get(key, None)
            .await
            .map_err(|e| e.to_string())?;
        let mut bytes = Vec::with_capacity(usize::try_from(read.size).unwrap_or(0));
        while let Some(chunk) = read.body.next().await {
            bytes.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
            if bytes.len() as u64 > MAX_PROCESSED_BYTES {
                return Err("the image is too large to decode".to_owned());
            }
        }
        Ok(bytes)
    }
}

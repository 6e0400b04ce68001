//! The search indexer: a consumer of the event log (consumer group `chemchat-search-indexer`)
//! that applies message events to an external search index. It commits its position only after
//! the index accepted a batch, so a crash or an index outage re-delivers rather than loses; the
//! index's own versioning makes re-delivery harmless (see the Elasticsearch adapter). The log
//! carries no text: each batch's messages are read back from the store first.

use crate::app::backoff::Backoff;
use crate::app::chat::with_text;
use crate::ports::chat::StoredEvent;
use crate::ports::{EventConsumer, EventLog, SearchIndex, Store};
use crate::telemetry::batch_span;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// The indexer's purpose, naming its consumer group.
pub const PURPOSE: &str = "search-indexer";
/// Events applied per bulk request at most.
const BATCH: usize = 500;
/// First wait after a failure; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest wait between attempts while the index or the log is down.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Events applied to the index (counter).
pub const METRIC_INDEXED: &str = "chemchat_search_indexed_events_total";
/// Failed attempts to apply a batch (counter).
pub const METRIC_FAILURES: &str = "chemchat_search_index_failures_total";

/// Feeds committed events to a search index that wants them.
#[derive(Debug, Clone)]
pub struct SearchIndexer {
    store: Arc<dyn Store>,
    log: Arc<dyn EventLog>,
    index: Arc<dyn SearchIndex>,
}

impl SearchIndexer {
    /// An indexer reading `log` into `index`, with the text of messages read from `store`.
    pub fn new(store: Arc<dyn Store>, log: Arc<dyn EventLog>, index: Arc<dyn SearchIndex>) -> Self {
        Self { store, log, index }
    }

    /// Subscribes now — so an in-process log delivers everything the relay ships from here on —
    /// and returns the task that applies events until the process ends, retrying with
    /// exponential back-off whenever the log or the index fails.
    pub async fn start(self) -> impl Future<Output = ()> + Send + 'static {
        let first = self.log.consumer(PURPOSE).await.ok();
        self.run(first)
    }

    async fn run(self, mut first: Option<Box<dyn EventConsumer>>) {
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        loop {
            let consumer = match first.take() {
                Some(consumer) => Ok(consumer),
                None => self.log.consumer(PURPOSE).await,
            };
            let error = match consumer {
                Ok(consumer) => self.consume(consumer, &mut backoff).await,
                Err(error) => error.into(),
            };
            metrics::counter!(METRIC_FAILURES).increment(1);
            let wait = backoff.failed();
            tracing::warn!(error = %error, retry_in = ?wait, "search indexer failed");
            tokio::time::sleep(wait).await;
        }
    }

    /// Applies batches until reading fails; a failed apply is retried with the same batch
    /// (nothing is committed past it).
    async fn consume(
        &self,
        mut consumer: Box<dyn EventConsumer>,
        backoff: &mut Backoff,
    ) -> anyhow::Error {
        loop {
            let batch = match consumer.next_batch(BATCH).await {
                Ok(batch) => batch,
                Err(error) => return error.into(),
            };
            let span = batch_span(
                tracing::info_span!("search.index", otel.kind = "consumer", events = batch.len()),
                batch.iter().filter_map(|e| e.trace.as_ref()),
            );
            self.index_batch(&batch, backoff).instrument(span).await;
            if let Err(error) = consumer.commit().await {
                return error.into();
            }
        }
    }

    /// Indexes one batch, retrying until the store and the index take it.
    async fn index_batch(&self, batch: &[Arc<StoredEvent>], backoff: &mut Backoff) {
        let batch = loop {
            match with_text(self.store.as_ref(), batch).await {
                Ok(batch) => break batch,
                Err(error) => {
                    metrics::counter!(METRIC_FAILURES).increment(1);
                    let wait = backoff.failed();
                    tracing::warn!(error = %error, retry_in = ?wait, "indexer: store unavailable");
                    tokio::time::sleep(wait).await;
                }
            }
        };
        while let Err(error) = self.index.apply(&batch).await {
            metrics::counter!(METRIC_FAILURES).increment(1);
            let wait = backoff.failed();
            tracing::warn!(error = %error, retry_in = ?wait, "search index refused a batch");
            tokio::time::sleep(wait).await;
        }
        backoff.succeeded();
        metrics::counter!(METRIC_INDEXED).increment(batch.len() as u64);
    }
}

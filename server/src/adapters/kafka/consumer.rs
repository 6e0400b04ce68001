//! A consumer group member reading the event stream for one purpose.

use super::KafkaSettings;
use super::record;
use crate::ports::chat::StoredEvent;
use crate::ports::{EventConsumer, EventLogError};
use crate::telemetry::TraceParent;
use anyhow::Context;
use async_trait::async_trait;
use futures::FutureExt;
use rdkafka::ClientContext;
use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Headers;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaErrorCode;
use std::sync::Arc;

/// Records that could not be read (skipped, so one bad record cannot stop a consumer).
pub const METRIC_UNREADABLE: &str = "chemchat_consumer_unreadable_total";

/// Records the consumer group has not yet read, per purpose (gauge, from librdkafka's
/// statistics every few seconds).
pub const METRIC_LAG: &str = "chemchat_consumer_lag";

/// How often librdkafka reports its statistics (and so the lag).
const STATISTICS_INTERVAL_MS: &str = "5000";

/// Reads `chemchat.<tenant>.events` topics as part of the purpose's consumer group.
pub struct KafkaConsumer {
    purpose: String,
    consumer: StreamConsumer<LagReport>,
}

/// Publishes the consumer's lag from librdkafka's statistics (on librdkafka's thread).
struct LagReport {
    purpose: String,
}

impl ClientContext for LagReport {
    fn stats(&self, statistics: Statistics) {
        // Partitions not (yet) assigned report -1.
        let lag: i64 = statistics
            .topics
            .values()
            .flat_map(|topic| topic.partitions.values())
            .filter(|partition| partition.partition >= 0 && partition.consumer_lag >= 0)
            .map(|partition| partition.consumer_lag)
            .sum();
        metrics::gauge!(METRIC_LAG, "purpose" => self.purpose.clone()).set(lag as f64);
    }
}

impl ConsumerContext for LagReport {}

impl std::fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

impl KafkaConsumer {
    /// Joins the purpose's group and subscribes to the tenant's topic, or to every tenant's
    /// (by pattern, re-evaluated every 10 s so new tenants are picked up).
    pub fn subscribe(settings: &KafkaSettings, purpose: &str) -> anyhow::Result<Self> {
        let consumer: StreamConsumer<LagReport> = ClientConfig::new()
            .set("bootstrap.servers", &settings.brokers)
            .set(
                "group.id",
                chemchat_crds::contract::consumer_group(settings.tenant.as_deref(), purpose),
            )
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            // A replica that dies hands its partitions over within seconds, not the default 45.
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .set("topic.metadata.refresh.interval.ms", "10000")
            .set("statistics.interval.ms", STATISTICS_INTERVAL_MS)
            .create_with_context(LagReport {
                purpose: purpose.to_owned(),
            })
            .context("cannot create the Kafka consumer")?;
        let topic = match &settings.tenant {
            Some(tenant) => chemchat_crds::contract::events_topic(tenant),
            None => r"^chemchat\..+\.events$".to_owned(),
        };
        consumer
            .subscribe(&[&topic])
            .with_context(|| format!("cannot subscribe to {topic}"))?;
        Ok(Self {
            purpose: purpose.to_owned(),
            consumer,
        })
    }

    fn read(&self, message: &impl Message) -> Option<Arc<StoredEvent>> {
        let decoded = message
            .payload()
            .ok_or(record::DecodeError::Invalid("value"))
            .and_then(record::decode);
        match decoded {
            Ok(mut event) => {
                event.trace = message
                    .headers()
                    .and_then(|headers| {
                        headers
                            .iter()
                            .find(|header| header.key == record::HEADER_TRACEPARENT)
                    })
                    .and_then(|header| header.value)
                    .and_then(|value| std::str::from_utf8(value).ok())
                    .and_then(TraceParent::parse);
                Some(Arc::new(event))
            }
            Err(error) => {
                metrics::counter!(METRIC_UNREADABLE, "purpose" => self.purpose.clone())
                    .increment(1);
                tracing::warn!(purpose = %self.purpose, topic = message.topic(),
                    partition = message.partition(), offset = message.offset(), %error,
                    "skipping an unreadable event record");
                None
            }
        }
    }
}

#[async_trait]
impl EventConsumer for KafkaConsumer {
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Arc<StoredEvent>>, EventLogError> {
        let mut batch = Vec::new();
        while batch.is_empty() {
            let message = self
                .consumer
                .recv()
                .await
                .map_err(|e| EventLogError(e.into()))?;
            batch.extend(self.read(&message));
        }
        // Whatever else is already here, without waiting.
        while batch.len() < max {
            match self.consumer.recv().now_or_never() {
                Some(Ok(message)) => batch.extend(self.read(&message)),
                Some(Err(error)) => return Err(EventLogError(error.into())),
                None => break,
            }
        }
        Ok(batch)
    }

    /// Asynchronous: the offsets go out with the next request, so a crash may re-deliver the
    /// last batch (consumers are idempotent) but the runtime never blocks on the broker.
    async fn commit(&mut self) -> Result<(), EventLogError> {
        match self.consumer.commit_consumer_state(CommitMode::Async) {
            Ok(()) => Ok(()),
            // Nothing consumed since the last commit.
            Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::NoOffset)) => Ok(()),
            Err(error) => Err(EventLogError(error.into())),
        }
    }
}

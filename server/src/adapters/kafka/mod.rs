//! The Kafka adapter of the `EventLog` port: the outbox relay produces each tenant's events to
//! `chemchat.<tenant>.events`, keyed by conversation id so every conversation keeps its order;
//! consumers read with one consumer group per purpose.
//!
//! The producer is idempotent (`enable.idempotence`): librdkafka then keeps order per partition
//! across retries and never leaves a gap behind a failed record, which is what lets a consumer
//! trust per-conversation order. Live delivery does not wait for it: sockets get events from
//! the store's commit listener, so a broker outage grows the outbox backlog and nothing else.

mod consumer;
pub mod record;

use crate::ports::chat::StoredEvent;
use crate::ports::{EventConsumer, EventLog, EventLogError};
use anyhow::Context;
use async_trait::async_trait;
pub use chemchat_backends::topics::TopicSettings;
use chemchat_backends::topics::{DEFAULT_TIMEOUT, TopicAdmin};
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tracing::Instrument;

/// How long a record may wait for the broker before its send fails (and the relay retries).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to reach the brokers.
#[derive(Debug, Clone)]
pub struct KafkaSettings {
    /// `host:port[,host:port…]`.
    pub brokers: String,
    /// Only this tenant's topic is consumed (a pinned server); `None` consumes every tenant's.
    pub tenant: Option<String>,
    /// Settings of a topic the server has to create itself (normally the operator did).
    pub topic: TopicSettings,
}

/// Ships events to Kafka.
#[derive(Clone)]
pub struct KafkaEventLog {
    settings: KafkaSettings,
    /// Replaced after a failed batch: an idempotent producer whose records timed out during an
    /// outage can stay fenced for good (seen against tansu: `ProducerFenced` on every retry).
    producer: Arc<std::sync::Mutex<FutureProducer>>,
    admin: TopicAdmin,
    /// Topics known to exist, so each is checked once per process.
    topics: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for KafkaEventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaEventLog")
            .field("brokers", &self.settings.brokers)
            .finish_non_exhaustive()
    }
}

impl KafkaEventLog {
    /// A producer for these brokers; fails when they cannot be reached.
    pub async fn connect(settings: KafkaSettings) -> anyhow::Result<Self> {
        let producer = producer(&settings.brokers)?;
        let admin = TopicAdmin::new(&settings.brokers, DEFAULT_TIMEOUT)?;
        // Fail at start-up, naming the brokers, rather than at the first message.
        let probe =
            chemchat_crds::contract::events_topic(settings.tenant.as_deref().unwrap_or("default"));
        admin.describe(&probe).await?;
        Ok(Self {
            settings,
            producer: Arc::new(std::sync::Mutex::new(producer)),
            admin,
            topics: Arc::default(),
        })
    }

    fn producer(&self) -> FutureProducer {
        self.producer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Starts over with a new producer (a new producer id) after a failed batch; the batch is
    /// shipped again by the relay, so the worst outcome is the duplicates the dedupe rule allows.
    fn renew_producer(&self, cause: &EventLogError) {
        match producer(&self.settings.brokers) {
            Ok(fresh) => {
                tracing::info!(error = %cause, "renewing the Kafka producer after a failed batch");
                *self.producer.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
            }
            Err(error) => tracing::warn!(error = %error, "cannot renew the Kafka producer"),
        }
    }

    async fn produce(&self, events: &[StoredEvent]) -> Result<(), EventLogError> {
        let producer = self.producer();
        let mut deliveries = Vec::with_capacity(events.len());
        for event in events {
            deliveries.push(send(&producer, event)?);
        }
        for delivery in futures::future::join_all(deliveries).await {
            match delivery {
                Ok(Ok(_)) => {}
                Ok(Err((error, _))) => return Err(EventLogError(error.into())),
                Err(_) => {
                    return Err(EventLogError(anyhow::anyhow!(
                        "the Kafka producer dropped a record"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Makes sure the topic exists (the operator creates it in a cluster; a server on its own
    /// creates it with its configured settings).
    async fn ensure_topic(&self, topic: &str) -> Result<(), EventLogError> {
        let mut known = self.topics.lock().await;
        if known.contains(topic) {
            return Ok(());
        }
        let exists = self
            .admin
            .describe(topic)
            .await
            .map_err(|e| EventLogError(e.into()))?;
        if exists.is_none() {
            // Create only: an existing topic's settings belong to whoever made it.
            self.admin
                .ensure(topic, self.settings.topic)
                .await
                .map_err(|e| EventLogError(e.into()))?;
        }
        known.insert(topic.to_owned());
        Ok(())
    }
}

#[async_trait]
impl EventLog for KafkaEventLog {
    async fn publish(&self, events: &[StoredEvent]) -> Result<(), EventLogError> {
        // Each tenant's topic is checked once per batch, not once per event.
        let topics: BTreeSet<&str> = events.iter().map(|e| e.tenant.as_str()).collect();
        for tenant in topics {
            self.ensure_topic(&chemchat_crds::contract::events_topic(tenant))
                .await?;
        }
        let span = tracing::info_span!(
            "kafka.produce",
            otel.name = "chemchat.events publish",
            otel.kind = "producer",
            messaging.system = "kafka",
            messaging.batch.message_count = events.len()
        );
        let produced = self.produce(events).instrument(span).await;
        if let Err(error) = &produced {
            self.renew_producer(error);
        }
        produced
    }

    async fn consumer(&self, purpose: &str) -> Result<Box<dyn EventConsumer>, EventLogError> {
        let consumer =
            consumer::KafkaConsumer::subscribe(&self.settings, purpose).map_err(EventLogError)?;
        Ok(Box::new(consumer))
    }
}

/// An idempotent producer: librdkafka keeps order per partition across retries and never leaves
/// a gap behind a failed record.
fn producer(brokers: &str) -> anyhow::Result<FutureProducer> {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set(
            "message.timeout.ms",
            DELIVERY_TIMEOUT.as_millis().to_string(),
        )
        .create()
        .context("cannot create the Kafka producer")
}

/// Enqueues one event's record (in order: one batch is one round of acks).
fn send(producer: &FutureProducer, event: &StoredEvent) -> Result<DeliveryFuture, EventLogError> {
    let topic = chemchat_crds::contract::events_topic(event.tenant.as_str());
    let key = event.conversation_id.to_string();
    let id = event.id.to_string();
    let version = record::SCHEMA_VERSION.to_string();
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: record::HEADER_EVENT_ID,
            value: Some(id.as_str()),
        })
        .insert(Header {
            key: record::HEADER_EVENT_KIND,
            value: Some(event.kind().as_str()),
        })
        .insert(Header {
            key: record::HEADER_SCHEMA_VERSION,
            value: Some(version.as_str()),
        });
    // The trace of the change the record describes: consumers continue it.
    let headers = match &event.trace {
        Some(trace) => headers.insert(Header {
            key: record::HEADER_TRACEPARENT,
            value: Some(trace.as_str()),
        }),
        None => headers,
    };
    let value = record::encode(event);
    let record = FutureRecord::to(&topic)
        .key(&key)
        .payload(&value)
        .headers(headers);
    producer
        .send_result(record)
        .map_err(|(error, _)| EventLogError(error.into()))
}

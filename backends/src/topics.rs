//! A tenant's Kafka topics through the admin API: create, grow, retune and delete.
//!
//! Every call is bounded: the client gives up on connecting, on metadata and on admin requests
//! after the timeout it was built with, so an unreachable broker is an [`Error::Unreachable`]
//! naming the brokers within seconds rather than librdkafka's default minute.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::RDKafkaErrorCode;

use crate::Deleted;
use crate::error::{Error, Result};

mod requests;

use requests::Op;

/// How long one admin step may take before the brokers count as unreachable.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The topic config key of the retention.
const RETENTION_MS: &str = "retention.ms";

/// What a tenant's topic should look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopicSettings {
    /// Partitions; can grow, never shrink.
    pub partitions: i32,
    /// Copies of each partition; applied when the topic is created only (changing it needs a
    /// partition reassignment, which is an operation for a person, not a reconcile loop).
    pub replication_factor: i32,
    /// `retention.ms`; `-1` keeps events forever.
    pub retention_ms: i64,
}

impl Default for TopicSettings {
    /// What a server creates when it finds its topic missing (outside a cluster, where the
    /// operator has not made it): six partitions, one copy, a week of events.
    fn default() -> Self {
        Self {
            partitions: 6,
            replication_factor: 1,
            retention_ms: 7 * 24 * 3600 * 1000,
        }
    }
}

impl TopicSettings {
    fn check(&self) -> Result<()> {
        let bad = |what, detail: String| Err(Error::Invalid { what, detail });
        if self.partitions < 1 {
            return bad("partitions", format!("{} (at least 1)", self.partitions));
        }
        if self.replication_factor < 1 {
            return bad(
                "replication factor",
                format!("{} (at least 1)", self.replication_factor),
            );
        }
        if self.retention_ms < -1 {
            return bad(
                "retention.ms",
                format!("{} (-1 or more)", self.retention_ms),
            );
        }
        Ok(())
    }
}

/// What [`TopicAdmin::ensure`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicOutcome {
    /// The topic did not exist and was created with the settings.
    Created,
    /// The topic existed and was changed; each entry says what, e.g. `partitions 1 → 3`.
    Altered {
        /// The changes, in the order they were made.
        what: Vec<String>,
    },
    /// The topic existed and already matched.
    Unchanged,
}

/// A topic as the brokers describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicDescription {
    /// The topic.
    pub name: String,
    /// Partitions.
    pub partitions: i32,
    /// Replicas of the first partition.
    pub replication_factor: i32,
    /// `retention.ms`, when the brokers report it.
    pub retention_ms: Option<i64>,
}

/// Admin operations on one Kafka cluster.
#[derive(Clone)]
pub struct TopicAdmin {
    client: Arc<AdminClient<DefaultClientContext>>,
    brokers: String,
    timeout: Duration,
}

impl std::fmt::Debug for TopicAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicAdmin")
            .field("brokers", &self.brokers)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl TopicAdmin {
    /// A client for the comma-separated `brokers`. It connects lazily: an unreachable broker
    /// shows on the first call, not here.
    pub fn new(brokers: &str, timeout: Duration) -> Result<Self> {
        if brokers.trim().is_empty() {
            return Err(Error::Invalid {
                what: "Kafka bootstrap servers",
                detail: "empty".to_owned(),
            });
        }
        let ms = timeout.as_millis().clamp(1000, 300_000).to_string();
        let client = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("socket.timeout.ms", &ms)
            .set("socket.connection.setup.timeout.ms", &ms)
            .set("metadata.max.age.ms", "30000")
            // Describing a missing topic must not create it.
            .set("allow.auto.create.topics", "false")
            .create::<AdminClient<DefaultClientContext>>()
            .map_err(|e| Error::Invalid {
                what: "Kafka client settings",
                detail: e.to_string(),
            })?;
        Ok(Self {
            client: Arc::new(client),
            brokers: brokers.to_owned(),
            timeout,
        })
    }

    /// The bootstrap servers, as given.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// Makes the topic match `settings`: creates it if missing; otherwise sets `retention.ms`
    /// when it differs and adds partitions when there are fewer. More partitions than asked
    /// for is [`Error::PartitionsCannotShrink`], returned after any retention change was made.
    pub async fn ensure(&self, name: &str, settings: TopicSettings) -> Result<TopicOutcome> {
        settings.check()?;
        let current = match self.describe(name).await? {
            Some(current) => current,
            None => {
                if self.create(name, settings).await? {
                    return Ok(TopicOutcome::Created);
                }
                // Created by someone else since we looked: check it like any existing topic.
                self.describe_after_race(name).await?
            }
        };
        let mut what = Vec::new();
        if current.retention_ms != Some(settings.retention_ms) {
            self.set_retention(name, settings.retention_ms).await?;
            let before = current
                .retention_ms
                .map_or_else(|| "unset".to_owned(), |r| r.to_string());
            what.push(format!("retention.ms {before} → {}", settings.retention_ms));
        }
        if settings.partitions < current.partitions {
            return Err(Error::PartitionsCannotShrink {
                topic: name.to_owned(),
                current: current.partitions,
                wanted: settings.partitions,
            });
        }
        if settings.partitions > current.partitions {
            self.add_partitions(name, settings.partitions).await?;
            what.push(format!(
                "partitions {} → {}",
                current.partitions, settings.partitions
            ));
        }
        Ok(if what.is_empty() {
            TopicOutcome::Unchanged
        } else {
            TopicOutcome::Altered { what }
        })
    }

    /// The topic's partitions, replication and retention; `None` when it does not exist.
    pub async fn describe(&self, name: &str) -> Result<Option<TopicDescription>> {
        let Some((partitions, replication_factor)) = self.layout(name).await? else {
            return Ok(None);
        };
        let config = self.config(name).await?;
        let retention_ms = config
            .get(RETENTION_MS)
            .and_then(|e| e.value.as_deref())
            .and_then(|v| v.parse().ok());
        Ok(Some(TopicDescription {
            name: name.to_owned(),
            partitions,
            replication_factor,
            retention_ms,
        }))
    }

    /// Deletes the topic and its events; a topic that does not exist is `AlreadyGone`.
    pub async fn delete(&self, name: &str) -> Result<Deleted> {
        if self.layout(name).await?.is_none() {
            return Ok(Deleted::AlreadyGone);
        }
        let results = self
            .client
            .delete_topics(&[name], &self.options())
            .await
            .map_err(|e| self.admin_error(Op::Delete, name, e))?;
        match self.single(Op::Delete, name, results, |(_, code)| code)? {
            Ok(_) => Ok(Deleted::Deleted),
            Err(RDKafkaErrorCode::UnknownTopicOrPartition) => Ok(Deleted::AlreadyGone),
            Err(code) => Err(self.refused(Op::Delete, name, code)),
        }
    }
}

//! Creating a tenant's topic when the server finds it missing. In a cluster the operator has
//! created (and tuned) it already, so this never alters an existing topic.

use anyhow::Context;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;
use std::sync::Arc;
use std::time::Duration;

/// How long an admin call or a metadata request may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Partitions, replication and retention of a topic the server creates.
#[derive(Debug, Clone, Copy)]
pub struct TopicSettings {
    /// Partitions: the most consumers of one purpose that can share a tenant's stream.
    pub partitions: i32,
    /// Copies of each partition.
    pub replication_factor: i32,
    /// How long records are kept, in milliseconds.
    pub retention_ms: i64,
}

impl Default for TopicSettings {
    fn default() -> Self {
        Self {
            partitions: 6,
            replication_factor: 1,
            retention_ms: 7 * 24 * 3600 * 1000,
        }
    }
}

/// Creates missing topics.
#[derive(Debug)]
pub struct TopicCreator {
    client: Arc<AdminClient<DefaultClientContext>>,
}

impl TopicCreator {
    /// An admin client for these brokers (connects lazily).
    pub fn connect(brokers: &str) -> anyhow::Result<Self> {
        let client = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("socket.timeout.ms", ADMIN_TIMEOUT.as_millis().to_string())
            .create()
            .context("cannot create the Kafka admin client")?;
        Ok(Self {
            client: Arc::new(client),
        })
    }

    /// Fails unless a broker answers a metadata request within the admin timeout.
    pub async fn check_reachable(&self) -> anyhow::Result<()> {
        // librdkafka's metadata call blocks; keep it off the async workers.
        let client = Arc::clone(&self.client);
        tokio::task::spawn_blocking(move || client.inner().fetch_metadata(None, ADMIN_TIMEOUT))
            .await?
            .map(|_| ())
            .map_err(Into::into)
    }

    /// Creates `topic` unless it exists.
    pub async fn create_if_missing(
        &self,
        topic: &str,
        settings: &TopicSettings,
    ) -> anyhow::Result<()> {
        let retention = settings.retention_ms.to_string();
        let new = NewTopic::new(
            topic,
            settings.partitions,
            TopicReplication::Fixed(settings.replication_factor),
        )
        .set("retention.ms", &retention);
        let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
        let results = self.client.create_topics([&new], &options).await?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => anyhow::bail!("cannot create topic {name}: {code}"),
            }
        }
        Ok(())
    }
}

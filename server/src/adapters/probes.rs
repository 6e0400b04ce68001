//! `/health`'s probes of the dependencies whose adapters do not probe themselves: Redis, the
//! Kafka brokers and the search server. Each holds a client of its own, made once, so a check
//! is one round trip and never disturbs the adapters' connections.

use crate::ports::Probe;
use anyhow::Context;
use async_trait::async_trait;
use chemchat_backends::search_index::IndexAdmin;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use redis::aio::ConnectionManager;
use std::sync::Arc;
use std::time::Duration;

/// Longest a broker metadata request may take.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(2);

/// `PING` on a connection of the probe's own.
#[derive(Clone)]
pub struct RedisProbe {
    connection: ConnectionManager,
}

impl std::fmt::Debug for RedisProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProbe").finish_non_exhaustive()
    }
}

impl RedisProbe {
    /// Connects to the Redis at `url`.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        Ok(Self {
            connection: super::redis::connect(&client).await?,
        })
    }
}

#[async_trait]
impl Probe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> anyhow::Result<()> {
        let mut connection = self.connection.clone();
        let pong: String = redis::cmd("PING").query_async(&mut connection).await?;
        anyhow::ensure!(pong == "PONG", "unexpected answer to PING: {pong}");
        Ok(())
    }
}

/// A metadata request to the brokers (librdkafka's call blocks, so it runs on the blocking pool).
#[derive(Clone)]
pub struct KafkaProbe {
    client: Arc<BaseConsumer>,
}

impl std::fmt::Debug for KafkaProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaProbe").finish_non_exhaustive()
    }
}

impl KafkaProbe {
    /// A client of `brokers` (nothing is contacted until the first check).
    pub fn new(brokers: &str) -> anyhow::Result<Self> {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .create()
            .context("cannot create the Kafka health client")?;
        Ok(Self {
            client: Arc::new(client),
        })
    }
}

#[async_trait]
impl Probe for KafkaProbe {
    fn name(&self) -> &'static str {
        "kafka"
    }

    async fn check(&self) -> anyhow::Result<()> {
        let client = Arc::clone(&self.client);
        let brokers = tokio::task::spawn_blocking(move || {
            client
                .fetch_metadata(None, KAFKA_TIMEOUT)
                .map(|metadata| metadata.brokers().len())
        })
        .await??;
        anyhow::ensure!(brokers > 0, "the cluster lists no brokers");
        Ok(())
    }
}

/// The search server's root (`GET /`), through the index adapter's own client settings.
#[derive(Debug, Clone)]
pub struct SearchProbe {
    admin: IndexAdmin,
}

impl SearchProbe {
    /// A client of the search server at `url` (credentials may ride in it).
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Self {
            admin: IndexAdmin::new(url, None, Duration::from_secs(2))?,
        })
    }
}

#[async_trait]
impl Probe for SearchProbe {
    fn name(&self) -> &'static str {
        "search"
    }

    async fn check(&self) -> anyhow::Result<()> {
        self.admin
            .client()
            .info()
            .send()
            .await?
            .error_for_status_code()?;
        Ok(())
    }
}

//! The admin requests behind [`TopicAdmin`]'s public methods, and how their failures become
//! [`Error`]s: no answer in time is `Unreachable`, an API the broker does not offer is
//! `Unsupported`, anything else is `Rejected` with the broker's error code.

use std::time::Duration;

use rdkafka::admin::{
    AdminOptions, AlterConfig, ConfigResource, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use super::{RETENTION_MS, TopicAdmin, TopicDescription, TopicSettings};
use crate::error::{Backend, Error, Result};

/// The admin requests this module makes: what each is called in messages, and its Kafka API.
#[derive(Clone, Copy, Debug)]
pub(super) enum Op {
    /// Metadata of one topic.
    Describe,
    DescribeConfigs,
    Create,
    AlterConfigs,
    CreatePartitions,
    Delete,
}

impl Op {
    fn verb(self) -> &'static str {
        match self {
            Self::Describe => "describe topic",
            Self::DescribeConfigs => "describe the configs of topic",
            Self::Create => "create topic",
            Self::AlterConfigs => "alter the configs of topic",
            Self::CreatePartitions => "add partitions to topic",
            Self::Delete => "delete topic",
        }
    }

    fn api(self) -> &'static str {
        match self {
            Self::Describe => "Metadata",
            Self::DescribeConfigs => "DescribeConfigs",
            Self::Create => "CreateTopics",
            Self::AlterConfigs => "AlterConfigs",
            Self::CreatePartitions => "CreatePartitions",
            Self::Delete => "DeleteTopics",
        }
    }
}

impl TopicAdmin {
    /// Partition count and replication factor from the metadata, `None` for a missing topic.
    /// The metadata call blocks inside librdkafka, so it runs on the blocking pool.
    pub(super) async fn layout(&self, name: &str) -> Result<Option<(i32, i32)>> {
        let client = self.client.clone();
        let (topic, timeout) = (name.to_owned(), self.timeout);
        let fetched = tokio::task::spawn_blocking(move || {
            let metadata = client.inner().fetch_metadata(Some(&topic), timeout)?;
            Ok::<_, KafkaError>(
                metadata
                    .topics()
                    .iter()
                    .find(|t| t.name() == topic)
                    .map(|t| {
                        let partitions = t.partitions();
                        let replicas = partitions.first().map_or(0, |p| p.replicas().len());
                        (
                            t.error().map(RDKafkaErrorCode::from),
                            i32::try_from(partitions.len()).unwrap_or(i32::MAX),
                            i32::try_from(replicas).unwrap_or(i32::MAX),
                        )
                    }),
            )
        })
        .await
        .map_err(|e| self.rejected(Op::Describe, name, e.to_string()))?;
        let found = fetched.map_err(|e| Error::Unreachable {
            backend: Backend::Kafka,
            address: self.brokers.clone(),
            detail: format!("no metadata within {:?}: {e}", self.timeout),
        })?;
        match found {
            None | Some((Some(RDKafkaErrorCode::UnknownTopicOrPartition), _, _)) => Ok(None),
            Some((None, partitions, replicas)) => Ok(Some((partitions, replicas))),
            Some((Some(code), _, _)) => Err(self.refused(Op::Describe, name, code)),
        }
    }

    /// After "already exists" the metadata may lag the controller for a moment.
    pub(super) async fn describe_after_race(&self, name: &str) -> Result<TopicDescription> {
        for _ in 0..10 {
            if let Some(found) = self.describe(name).await? {
                return Ok(found);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(self.rejected(
            Op::Describe,
            name,
            "the brokers say it exists but do not list it".to_owned(),
        ))
    }

    pub(super) async fn config(&self, name: &str) -> Result<ConfigResource> {
        let results = self
            .client
            .describe_configs(&[ResourceSpecifier::Topic(name)], &self.options())
            .await
            .map_err(|e| self.admin_error(Op::DescribeConfigs, name, e))?;
        self.single(Op::DescribeConfigs, name, results, |code| code)?
            .map_err(|code| self.refused(Op::DescribeConfigs, name, code))
    }

    /// True when created, false when it already existed.
    pub(super) async fn create(&self, name: &str, settings: TopicSettings) -> Result<bool> {
        let retention = settings.retention_ms.to_string();
        let topic = NewTopic::new(
            name,
            settings.partitions,
            TopicReplication::Fixed(settings.replication_factor),
        )
        .set(RETENTION_MS, &retention);
        let results = self
            .client
            .create_topics(&[topic], &self.options())
            .await
            .map_err(|e| self.admin_error(Op::Create, name, e))?;
        match self.single(Op::Create, name, results, |(_, code)| code)? {
            Ok(_) => Ok(true),
            Err(RDKafkaErrorCode::TopicAlreadyExists) => Ok(false),
            Err(code) => Err(self.refused(Op::Create, name, code)),
        }
    }

    /// Sets `retention.ms`. AlterConfigs (the only config call rdkafka 0.39 offers) replaces
    /// every dynamic setting of the topic, so the ones already set are sent along unchanged.
    pub(super) async fn set_retention(&self, name: &str, retention_ms: i64) -> Result<()> {
        let current = self.config(name).await?;
        let retention = retention_ms.to_string();
        let keep: Vec<(String, String)> = current
            .entries
            .iter()
            .filter(|e| e.source == ConfigSource::DynamicTopic && e.name != RETENTION_MS)
            .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
            .collect();
        let mut alter =
            AlterConfig::new(ResourceSpecifier::Topic(name)).set(RETENTION_MS, &retention);
        for (key, value) in &keep {
            alter = alter.set(key, value);
        }
        let results = self
            .client
            .alter_configs(&[alter], &self.options())
            .await
            .map_err(|e| self.admin_error(Op::AlterConfigs, name, e))?;
        self.single(Op::AlterConfigs, name, results, |(_, code)| code)?
            .map(drop)
            .map_err(|code| self.refused(Op::AlterConfigs, name, code))
    }

    pub(super) async fn add_partitions(&self, name: &str, total: i32) -> Result<()> {
        let partitions = NewPartitions::new(name, usize::try_from(total).unwrap_or(1));
        let results = self
            .client
            .create_partitions(&[partitions], &self.options())
            .await
            .map_err(|e| self.admin_error(Op::CreatePartitions, name, e))?;
        self.single(Op::CreatePartitions, name, results, |(_, code)| code)?
            .map(drop)
            .map_err(|code| self.refused(Op::CreatePartitions, name, code))
    }

    /// The answer for the one topic of a request; no answer at all is a refusal.
    pub(super) fn single<T, E>(
        &self,
        op: Op,
        topic: &str,
        results: Vec<std::result::Result<T, E>>,
        code: fn(E) -> RDKafkaErrorCode,
    ) -> Result<std::result::Result<T, RDKafkaErrorCode>> {
        results
            .into_iter()
            .next()
            .map(|r| r.map_err(code))
            .ok_or_else(|| self.rejected(op, topic, "no answer".to_owned()))
    }

    pub(super) fn options(&self) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(self.timeout))
            .operation_timeout(Some(self.timeout))
    }

    /// A failed admin request: no answer in time is unreachable, anything else a refusal.
    pub(super) fn admin_error(&self, op: Op, topic: &str, err: KafkaError) -> Error {
        // rdkafka's `rdkafka_error_code()` is `None` for admin errors; the code is inside.
        let code = match &err {
            KafkaError::AdminOp(code) => Some(*code),
            other => other.rdkafka_error_code(),
        };
        match code {
            Some(
                RDKafkaErrorCode::OperationTimedOut
                | RDKafkaErrorCode::RequestTimedOut
                | RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown,
            ) => Error::Unreachable {
                backend: Backend::Kafka,
                address: self.brokers.clone(),
                detail: format!(
                    "{} {topic}: no answer within {:?}: {err}",
                    op.verb(),
                    self.timeout
                ),
            },
            Some(code) => self.refused(op, topic, code),
            None => self.rejected(op, topic, err.to_string()),
        }
    }

    /// The brokers' answer to one topic of a request.
    pub(super) fn refused(&self, op: Op, topic: &str, code: RDKafkaErrorCode) -> Error {
        match code {
            // librdkafka's verdict when the broker does not list the API in ApiVersions.
            RDKafkaErrorCode::UnsupportedFeature | RDKafkaErrorCode::UnsupportedVersion => {
                Error::Unsupported {
                    backend: Backend::Kafka,
                    address: self.brokers.clone(),
                    api: op.api(),
                    operation: op.verb(),
                    resource: topic.to_owned(),
                }
            }
            code => self.rejected(op, topic, code.to_string()),
        }
    }

    pub(super) fn rejected(&self, op: Op, topic: &str, detail: String) -> Error {
        Error::Rejected {
            backend: Backend::Kafka,
            address: self.brokers.clone(),
            operation: op.verb(),
            resource: topic.to_owned(),
            detail,
        }
    }
}

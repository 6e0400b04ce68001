//! The tenant's event topic (`chemchat.<tenant>.events`) as a [`Provisioner`]: condition
//! `TopicsReady`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chemchat_backends::Deleted;
use chemchat_backends::topics::{TopicAdmin, TopicOutcome, TopicSettings};
use chemchat_crds::contract::events_topic;
use chemchat_crds::tenant::DeletionPolicy;

use super::{CleanupOutcome, ProvisionStatus, Provisioner, Target};
use crate::error::{Error, Result};
use crate::observe::types::TOPICS_READY;
use crate::plan::ResolvedKafka;

/// Kafka topics through the admin API. One admin client per bootstrap-servers string is kept
/// for the operator's lifetime: a client is a librdkafka instance with its own threads and
/// connections, too heavy to build on every reconcile of every tenant.
#[derive(Debug)]
pub struct KafkaTopics {
    timeout: Duration,
    admins: Mutex<HashMap<String, TopicAdmin>>,
}

impl KafkaTopics {
    /// Topics through clients that give up on a step after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            admins: Mutex::new(HashMap::new()),
        }
    }

    fn admin(&self, brokers: &str) -> chemchat_backends::Result<TopicAdmin> {
        let mut admins = self.admins.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(admin) = admins.get(brokers) {
            return Ok(admin.clone());
        }
        let admin = TopicAdmin::new(brokers, self.timeout)?;
        admins.insert(brokers.to_owned(), admin.clone());
        Ok(admin)
    }
}

fn settings(kafka: &ResolvedKafka) -> TopicSettings {
    TopicSettings {
        partitions: kafka.partitions,
        replication_factor: kafka.replication_factor,
        retention_ms: kafka.retention_ms,
    }
}

#[async_trait]
impl Provisioner for KafkaTopics {
    fn name(&self) -> &'static str {
        "kafka"
    }

    async fn ensure(&self, target: &Target) -> Option<ProvisionStatus> {
        let Some(kafka) = &target.kafka else {
            return Some(ProvisionStatus::ready(
                TOPICS_READY,
                "NotConfigured",
                "the cluster has no spec.kafka: the server relays events in process".to_owned(),
            ));
        };
        let topic = events_topic(&target.tenant);
        let settings = settings(kafka);
        let outcome = match self.admin(&kafka.brokers) {
            Ok(admin) => admin.ensure(&topic, settings).await,
            Err(err) => Err(err),
        };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(err) => return Some(ProvisionStatus::failed(TOPICS_READY, &err)),
        };
        let mut status = ProvisionStatus::ready(
            TOPICS_READY,
            "Provisioned",
            format!(
                "topic {topic} on {}: {} partitions, retention.ms {}",
                kafka.brokers, settings.partitions, settings.retention_ms
            ),
        );
        status.changed = match outcome {
            TopicOutcome::Created => Some((
                "TopicCreated",
                format!(
                    "created topic {topic}: {} partitions, replication factor {}, retention.ms {}",
                    settings.partitions, settings.replication_factor, settings.retention_ms
                ),
            )),
            TopicOutcome::Altered { what } => Some((
                "TopicAltered",
                format!("topic {topic}: {}", what.join(", ")),
            )),
            TopicOutcome::Unchanged => None,
        };
        Some(status)
    }

    async fn cleanup(&self, target: &Target, policy: DeletionPolicy) -> Result<CleanupOutcome> {
        let Some(kafka) = &target.kafka else {
            return Ok(CleanupOutcome::NotConfigured);
        };
        let topic = events_topic(&target.tenant);
        if policy == DeletionPolicy::Retain {
            return Ok(CleanupOutcome::Retained(format!("topic {topic}")));
        }
        let deleted = match self.admin(&kafka.brokers) {
            Ok(admin) => admin.delete(&topic).await,
            Err(err) => Err(err),
        };
        match deleted {
            Ok(Deleted::Deleted) => Ok(CleanupOutcome::Deleted(format!("topic {topic}"))),
            Ok(Deleted::AlreadyGone) => Ok(CleanupOutcome::AlreadyGone(format!("topic {topic}"))),
            Err(err) => Err(Error::Cleanup {
                provisioner: "kafka",
                message: err.to_string(),
            }),
        }
    }
}

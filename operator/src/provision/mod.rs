//! The tenant's data outside the garbage collector's reach, one [`Provisioner`] per backend:
//! the namespace ([`KubernetesCleanup`]), the Kafka topic ([`KafkaTopics`]), the search
//! index ([`SearchIndex`]) and, for cleanup, the tenant's S3 user ([`S3Users`]). Each reconcile asks every provisioner to `ensure` its part and
//! turns the answers into conditions; the finalizer asks each to `cleanup`.

mod kafka;
mod kubernetes;
mod s3_user;
mod search;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chemchat_backends::BasicAuth;
use chemchat_backends::object_storage_users::AccessKey;
use chemchat_crds::cluster::ObjectStorageSpec;
use chemchat_crds::tenant::DeletionPolicy;

use crate::error::Result;
use crate::plan::{ResolvedKafka, ResolvedSearch};

pub use kafka::KafkaTopics;
pub use kubernetes::KubernetesCleanup;
pub use s3_user::S3Users;
pub use search::SearchIndex;

/// How long a backend may take to answer one step before it counts as unreachable: short, so
/// one dead backend delays a reconcile by seconds, not by librdkafka's default minute.
pub const BACKEND_TIMEOUT: Duration = Duration::from_secs(5);

/// What a provisioner works on: the tenant and where its backends are, resolved from the
/// cluster spec, the tenant's overrides and the cluster's credentials Secret.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// The tenant id (its resource name).
    pub tenant: String,
    /// The cluster's Kafka and the tenant's topic settings, when the cluster has Kafka.
    pub kafka: Option<ResolvedKafka>,
    /// The cluster's search backend and the tenant's index settings, when it has one.
    pub search: Option<ResolvedSearch>,
    /// Basic-auth credentials of the search backend (`credentialsSecretRef`).
    pub search_credentials: Option<BasicAuth>,
    /// The object storage and the cluster's key, when the tenant has an S3 user of its own
    /// (`tenantCredentials: PerTenant`); set for cleanup only.
    pub s3_user: Option<S3UserTarget>,
}

/// Where a tenant's S3 user is, and the key that may delete it.
#[derive(Clone, Debug)]
pub struct S3UserTarget {
    /// The cluster's object storage.
    pub storage: ObjectStorageSpec,
    /// The cluster's key; `None` when its Secret is gone (the cleanup then says so).
    pub cluster_key: Option<AccessKey>,
}

/// One backend's condition after `ensure`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvisionStatus {
    /// Condition type, e.g. `TopicsReady`.
    pub condition: &'static str,
    /// The condition's status.
    pub ready: bool,
    /// CamelCase reason: `Provisioned`, `NotConfigured`, `BackendUnreachable`, …
    pub reason: &'static str,
    /// What a person needs to know; stable while nothing changes, so no-op passes write nothing.
    pub message: String,
    /// A retry may fix it (the backend did not answer or refused): the reconcile fails after
    /// writing the status, so `error_policy` backs off.
    pub retry: bool,
    /// What this pass changed, as an Event `(reason, note)`; `None` when nothing changed.
    pub changed: Option<(&'static str, String)>,
}

impl ProvisionStatus {
    /// A ready condition.
    pub fn ready(condition: &'static str, reason: &'static str, message: String) -> Self {
        Self {
            condition,
            ready: true,
            reason,
            message,
            retry: false,
            changed: None,
        }
    }

    /// The condition for a backend call that failed, by the kind of failure.
    pub fn failed(condition: &'static str, err: &chemchat_backends::Error) -> Self {
        use chemchat_backends::Error as E;
        let (reason, retry) = match err {
            E::Unreachable { .. } => ("BackendUnreachable", true),
            E::Rejected { .. } => ("BackendError", true),
            // Retrying cannot fix these; a spec change will.
            E::PartitionsCannotShrink { .. } => ("PartitionsCannotShrink", false),
            E::Unsupported { .. } => ("UnsupportedByBackend", false),
            E::Invalid { .. } => ("InvalidSettings", false),
        };
        Self {
            condition,
            ready: false,
            reason,
            message: err.to_string(),
            retry,
            changed: None,
        }
    }
}

/// What a cleanup did, for the Event that reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CleanupOutcome {
    /// The data was deleted.
    Deleted(String),
    /// The data was kept, as `deletionPolicy: Retain` asks.
    Retained(String),
    /// There was nothing left to delete (the backend or the data had already vanished).
    AlreadyGone(String),
    /// The cluster has no such backend, so the tenant has nothing there.
    NotConfigured,
}

/// A backend holding tenant data.
///
/// Contract: both methods are idempotent. `cleanup` counts a backend or object that no longer
/// exists as cleaned ([`CleanupOutcome::AlreadyGone`]), so the finalizer never sticks forever
/// on data that is gone; a backend that does not answer is an error, retried with backoff,
/// because deleting the tenant must not leak its topic or index silently.
#[async_trait]
pub trait Provisioner: Send + Sync + std::fmt::Debug {
    /// Short name for events, logs and errors.
    fn name(&self) -> &'static str;

    /// Creates or updates what this backend holds for the tenant and reports it as a
    /// condition; `None` for a provisioner without a condition of its own (the namespace is
    /// applied and reported with the other children).
    async fn ensure(&self, _target: &Target) -> Option<ProvisionStatus> {
        None
    }

    /// Removes (or keeps, per `policy`) what this backend holds for the tenant.
    async fn cleanup(&self, target: &Target, policy: DeletionPolicy) -> Result<CleanupOutcome>;
}

/// The production provisioners, in cleanup order: the namespace first (so the server stops
/// writing), then the topic, the index and the tenant's S3 user.
pub fn all(client: kube::Client, timeout: Duration) -> Vec<Arc<dyn Provisioner>> {
    vec![
        Arc::new(KubernetesCleanup::new(client)),
        Arc::new(KafkaTopics::new(timeout)),
        Arc::new(SearchIndex::new(timeout)),
        Arc::new(S3Users::new(timeout)),
    ]
}

//! What the finalizer cleans up outside the garbage collector's reach, one [`Provisioner`] per
//! backend. This issue ships the Kubernetes one; the Kafka topics and the search index arrive
//! as further implementations registered in the same list.

use async_trait::async_trait;
use chemchat_crds::ChemChatTenant;
use chemchat_crds::tenant::DeletionPolicy;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams};
use kube::{Client, ResourceExt};

use crate::error::Result;
use crate::labels::tenant_namespace;

/// What a cleanup did, for the Event that reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CleanupOutcome {
    /// The data was deleted.
    Deleted(String),
    /// The data was kept, as `deletionPolicy: Retain` asks.
    Retained(String),
    /// There was nothing left to delete (the backend or the data had already vanished).
    AlreadyGone(String),
}

/// A backend holding tenant data, cleaned up when the tenant is deleted.
///
/// Contract: `cleanup` is idempotent, and a backend or object that no longer exists counts as
/// cleaned (return [`CleanupOutcome::AlreadyGone`]), so the finalizer never sticks forever.
#[async_trait]
pub trait Provisioner: Send + Sync + std::fmt::Debug {
    /// Short name for events, logs and errors.
    fn name(&self) -> &'static str;
    /// Removes (or keeps, per `policy`) what this backend holds for the tenant.
    async fn cleanup(
        &self,
        tenant: &ChemChatTenant,
        policy: DeletionPolicy,
    ) -> Result<CleanupOutcome>;
}

/// The tenant namespace. Its children go with the tenant through owner references either
/// way; with `Delete` the operator deletes the namespace itself so everything stored in it
/// (including objects other tools created there) is gone before the finalizer is released.
#[derive(Clone)]
pub struct KubernetesCleanup {
    client: Client,
}

impl std::fmt::Debug for KubernetesCleanup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubernetesCleanup")
    }
}

impl KubernetesCleanup {
    /// Cleanup through this client.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Provisioner for KubernetesCleanup {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    async fn cleanup(
        &self,
        tenant: &ChemChatTenant,
        policy: DeletionPolicy,
    ) -> Result<CleanupOutcome> {
        let namespace = tenant_namespace(&tenant.name_any());
        match policy {
            DeletionPolicy::Retain => Ok(CleanupOutcome::Retained(format!(
                "namespace {namespace} is left to the garbage collector"
            ))),
            DeletionPolicy::Delete => {
                let api: Api<Namespace> = Api::all(self.client.clone());
                match api.delete(&namespace, &DeleteParams::background()).await {
                    Ok(_) => Ok(CleanupOutcome::Deleted(format!("namespace {namespace}"))),
                    Err(kube::Error::Api(s)) if s.is_not_found() => Ok(
                        CleanupOutcome::AlreadyGone(format!("namespace {namespace}")),
                    ),
                    Err(err) => Err(err.into()),
                }
            }
        }
    }
}

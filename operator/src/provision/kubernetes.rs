//! The tenant namespace, as a [`Provisioner`] for cleanup only.

use async_trait::async_trait;
use chemchat_crds::tenant::DeletionPolicy;
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DeleteParams};

use super::{CleanupOutcome, Provisioner, Target};
use crate::error::Result;
use crate::labels::tenant_namespace;

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

    async fn cleanup(&self, target: &Target, policy: DeletionPolicy) -> Result<CleanupOutcome> {
        let namespace = tenant_namespace(&target.tenant);
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
                    // A namespace already terminating answers a second delete with 409.
                    Err(kube::Error::Api(s)) if s.code == 409 => Ok(CleanupOutcome::Deleted(
                        format!("namespace {namespace} (terminating)"),
                    )),
                    Err(err) => Err(err.into()),
                }
            }
        }
    }
}

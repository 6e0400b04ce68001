//! Deleting a tenant's PostgreSQL rows on deletion under `deletionPolicy: Delete`: wait until
//! the tenant namespace is gone (its servers have stopped writing), then run the purge Job
//! ([`crate::build::purge_job`]) and follow it. The Job object is the record: it stays, owned by
//! the tenant, until the tenant is gone, so a later pass sees it `Complete` and does not purge
//! twice.

use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::Api;
use kube::{Client, ResourceExt};

use crate::build::{purge_job, purge_job_name};
use crate::error::Result;
use crate::jobs::{JobState, advance};
use crate::labels::tenant_namespace;

/// Where the purge of a tenant's rows stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PurgeStep {
    /// The rows are gone; the note says by which Job.
    Done(String),
    /// Not finished yet (the namespace is terminating, or the Job runs); look again soon.
    Waiting(String),
    /// The Job failed; the next attempt replaces it.
    Failed(String),
}

/// Advances the purge of `tenant`'s rows by one step; idempotent.
pub async fn purge_rows(
    client: &Client,
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
) -> Result<PurgeStep> {
    let name = tenant.name_any();
    let namespace = tenant_namespace(&name);
    if Api::<Namespace>::all(client.clone())
        .get_opt(&namespace)
        .await?
        .is_some()
    {
        return Ok(PurgeStep::Waiting(format!(
            "waiting for namespace {namespace} to be gone (its servers stop writing) \
             before the rows are purged"
        )));
    }
    let job_name = purge_job_name(&name);
    let platform = cluster.namespace().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(client.clone(), &platform);
    let existing = jobs.get_opt(&job_name).await?;
    Ok(
        match advance(&jobs, existing, &purge_job(tenant, cluster)).await? {
            JobState::Started => PurgeStep::Waiting(format!(
                "purging the rows of tenant {name}: Job {platform}/{job_name} started"
            )),
            JobState::Running => PurgeStep::Waiting(format!(
                "purging the rows of tenant {name}: Job {platform}/{job_name} running"
            )),
            JobState::Complete => {
                PurgeStep::Done(format!("rows of tenant {name} (Job {platform}/{job_name})"))
            }
            JobState::Replacing => PurgeStep::Waiting(format!(
                "purging the rows of tenant {name}: replacing the failed Job {platform}/{job_name}"
            )),
            JobState::Failed(why) => PurgeStep::Failed(format!("purge {why}")),
        },
    )
}

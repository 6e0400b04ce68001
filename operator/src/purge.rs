//! Deleting a tenant's PostgreSQL rows on deletion under `deletionPolicy: Delete`: wait until
//! the tenant namespace is gone (its servers have stopped writing), then run the purge Job
//! ([`crate::build::purge_job`]) and follow it. The Job object is the record: it stays, owned by
//! the tenant, until the tenant is gone, so a later pass sees it `Complete` and does not purge
//! twice.

use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::build::{purge_job, purge_job_name};
use crate::error::Result;
use crate::labels::tenant_namespace;

/// Marks a failed purge Job whose failure was reported; the next attempt replaces it.
const FAILURE_REPORTED: &str = "chemchat.io/failure-reported";

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
    let Some(job) = jobs.get_opt(&job_name).await? else {
        match jobs
            .create(&PostParams::default(), &purge_job(tenant, cluster))
            .await
        {
            Ok(_) => {}
            // Created by a previous pass whose answer was lost: follow that one.
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(err) => return Err(err.into()),
        }
        return Ok(PurgeStep::Waiting(format!(
            "purging the rows of tenant {name}: Job {platform}/{job_name} started"
        )));
    };
    let finished = |type_: &str| {
        job.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == type_ && c.status == "True"))
    };
    if finished("Complete").is_some() {
        return Ok(PurgeStep::Done(format!(
            "rows of tenant {name} (Job {platform}/{job_name})"
        )));
    }
    if let Some(failed) = finished("Failed") {
        // The failed Job stays for one backoff period, so its pods' logs can be read; the
        // attempt after that replaces it.
        if job.annotations().contains_key(FAILURE_REPORTED) {
            match jobs.delete(&job_name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(err) => return Err(err.into()),
            }
            return Ok(PurgeStep::Waiting(format!(
                "purging the rows of tenant {name}: replacing the failed Job {platform}/{job_name}"
            )));
        }
        let why = format!(
            "purge Job {platform}/{job_name} failed ({}: {}); `kubectl logs -n {platform} \
             job/{job_name}` says why; it is retried with backoff",
            failed.reason.as_deref().unwrap_or("Failed"),
            failed.message.as_deref().unwrap_or("")
        );
        let mark = json!({"metadata": {"annotations": {FAILURE_REPORTED: "true"}}});
        jobs.patch(&job_name, &PatchParams::default(), &Patch::Merge(&mark))
            .await?;
        return Ok(PurgeStep::Failed(why));
    }
    Ok(PurgeStep::Waiting(format!(
        "purging the rows of tenant {name}: Job {platform}/{job_name} running"
    )))
}

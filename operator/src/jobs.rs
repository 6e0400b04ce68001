//! Following a Job of the server image (the purge, the database role) to its end: the Job
//! object is the record of what it did, and a failure is kept for one backoff period, so its
//! pods' logs can be read, before the next attempt replaces it.

use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::error::Result;

/// Marks a failed Job whose failure was reported; the next attempt replaces it.
const FAILURE_REPORTED: &str = "chemchat.io/failure-reported";

/// Where a Job stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Created by this pass (or by one whose answer was lost).
    Started,
    /// Not finished.
    Running,
    /// Finished successfully.
    Complete,
    /// Failed; the message says why and how to read its logs. Reported once.
    Failed(String),
    /// A failed Job already reported, deleted so the next pass starts a new one.
    Replacing,
}

/// Advances the Job `desired` by one step: creates it when missing, else reads how it went.
/// `existing` is the Job as read (`None`: not there).
pub async fn advance(jobs: &Api<Job>, existing: Option<Job>, desired: &Job) -> Result<JobState> {
    let name = desired.name_any();
    let Some(job) = existing else {
        match jobs.create(&PostParams::default(), desired).await {
            Ok(_) => {}
            // Created by a previous pass whose answer was lost: follow that one.
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(err) => return Err(err.into()),
        }
        return Ok(JobState::Started);
    };
    let finished = |type_: &str| {
        job.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == type_ && c.status == "True"))
            .cloned()
    };
    if finished("Complete").is_some() {
        return Ok(JobState::Complete);
    }
    let Some(failed) = finished("Failed") else {
        return Ok(JobState::Running);
    };
    if job.annotations().contains_key(FAILURE_REPORTED) {
        delete(jobs, &name).await?;
        return Ok(JobState::Replacing);
    }
    let namespace = job.namespace().unwrap_or_default();
    let why = format!(
        "Job {namespace}/{name} failed ({}: {}); `kubectl logs -n {namespace} job/{name}` says \
         why; it is retried with backoff",
        failed.reason.as_deref().unwrap_or("Failed"),
        failed.message.as_deref().unwrap_or("")
    );
    let mark = json!({"metadata": {"annotations": {FAILURE_REPORTED: "true"}}});
    jobs.patch(&name, &PatchParams::default(), &Patch::Merge(&mark))
        .await?;
    Ok(JobState::Failed(why))
}

/// The Job has finished, one way or the other: none of its pods runs any more.
pub fn finished(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| {
            c.iter()
                .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        })
}

/// Deletes a Job and its pods; one already gone is fine.
pub async fn delete(jobs: &Api<Job>, name: &str) -> Result<()> {
    match jobs.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(err) => Err(err.into()),
    }
}

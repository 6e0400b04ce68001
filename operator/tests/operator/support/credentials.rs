//! What the database role and Redis user tests share: the platform namespace's collections,
//! the writes of a pass, the Jobs' arguments and the end of a rotation (the retire Job
//! completes, the tenant settles, a further pass writes nothing).

use std::sync::Arc;

use chemchat_operator::context::Context;
use chemchat_operator::tenant::reconcile;
use serde_json::Value;

use super::world::{TENANT, current, finish_job, tenant_condition};
use super::{EVENTS, FakeApi, Recorded, event_note, events};

/// Secrets of the cluster's (platform) namespace.
pub const PLATFORM_SECRETS: &str = "/api/v1/namespaces/chemchat-system/secrets";
/// Jobs of the cluster's (platform) namespace.
pub const PLATFORM_JOBS: &str = "/apis/batch/v1/namespaces/chemchat-system/jobs";

/// The writes of `log`, Events aside.
pub fn writes(log: &[Recorded]) -> Vec<String> {
    log.iter()
        .filter(|r| r.is_write() && r.path != EVENTS)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The tenant's phase and its Ready condition.
pub fn phase_and_ready(fake: &FakeApi) -> (Value, Value) {
    let status = fake.get(TENANT).unwrap()["status"].clone();
    let ready = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned()
        .unwrap();
    (status["phase"].clone(), ready)
}

/// The container of the Job at `job`.
pub fn job_container(fake: &FakeApi, job: &str) -> Value {
    fake.get(job).unwrap()["spec"]["template"]["spec"]["containers"][0].clone()
}

/// The `chemchat-server` arguments of the Job at `job`.
pub fn job_args(fake: &FakeApi, job: &str) -> Value {
    job_container(fake, job)["args"].clone()
}

/// The annotation `key` of the object at `path` (null when it has none).
pub fn annotation(fake: &FakeApi, path: &str, key: &str) -> Value {
    fake.get(path).unwrap()["metadata"]["annotations"][key].clone()
}

/// The retire Job at `job` completes: the next pass notes it on the password Secret at
/// `secret`, settles the tenant and posts one Event `reason`, whose note it returns; a further
/// pass then writes nothing.
pub async fn retire_completes(
    fake: &FakeApi,
    ctx: &Arc<Context>,
    secret: &str,
    job: &str,
    reason: &str,
) -> String {
    finish_job(fake, job, "Complete");
    fake.take_log();
    reconcile(current(fake), ctx.clone()).await.unwrap();
    assert_eq!(
        annotation(fake, secret, "chemchat.io/older-credential-retired"),
        "true"
    );
    assert_eq!(tenant_condition(fake, "Progressing")["reason"], "Settled");
    let note = event_note(&fake.take_log(), reason);

    reconcile(current(fake), ctx.clone()).await.unwrap();
    let log = fake.take_log();
    assert!(events(&log).is_empty());
    assert!(writes(&log).is_empty(), "{:?}", writes(&log));
    note
}

//! A tenant's own Redis user against the scripted API server: after the database role, the
//! password Secret and the user Job in the cluster's namespace; the tenant's children only once
//! the Job is complete, and then with the tenant's Redis URL — never the cluster's; a failed Job
//! is reported and replaced; a deleted password Secret runs the Job again; a deleted tenant's
//! purge Job gets the cluster's Redis URL, to delete the user.

use std::time::Duration;

use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use chemchat_operator::build::purge_job;
use chemchat_operator::tenant::reconcile;
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use crate::support::world::{
    REDIS_JOB, REDIS_PASSWORD, REDIS_SECRET, TENANT, cluster_object, current, tenant, world,
};
use crate::support::{EVENTS, FakeApi, Recorded, decoded};

const SECRETS: &str = "/api/v1/namespaces/chemchat-system/secrets";
const JOBS: &str = "/apis/batch/v1/namespaces/chemchat-system/jobs";
const TENANT_ENV: &str = "/api/v1/namespaces/chemchat-acme/secrets/chemchat-server-env";
const POLL: Action = Action::requeue(Duration::from_secs(5));

fn writes(log: &[Recorded]) -> Vec<String> {
    log.iter()
        .filter(|r| r.is_write() && r.path != EVENTS)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn ready(fake: &FakeApi) -> (Value, Value) {
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

fn finish_job(fake: &FakeApi, outcome: &str) {
    fake.edit(REDIS_JOB, |job| {
        job["status"] = json!({"conditions": [{"type": outcome, "status": "True",
            "reason": if outcome == "Failed" { "BackoffLimitExceeded" } else { "Completed" },
            "message": ""}]});
    });
}

/// A world where acme has its database role but no Redis user yet.
fn new_user() -> (std::sync::Arc<chemchat_operator::context::Context>, FakeApi) {
    let (ctx, fake) = world(tenant("Free", json!({})));
    fake.remove(REDIS_SECRET);
    fake.remove(REDIS_JOB);
    (ctx, fake)
}

#[tokio::test]
async fn a_tenant_gets_its_redis_user_then_its_own_redis_url() {
    let (ctx, fake) = new_user();
    assert_eq!(reconcile(current(&fake), ctx.clone()).await.unwrap(), POLL);
    assert_eq!(
        writes(&fake.take_log()),
        [
            format!("POST {SECRETS}"),
            format!("POST {JOBS}"),
            format!("PATCH {TENANT}/status"),
        ],
        "the password and the Job, nothing in the tenant namespace yet"
    );
    let secret = fake.get(REDIS_SECRET).unwrap();
    assert_eq!(
        secret["metadata"]["ownerReferences"][0]["uid"],
        "tenant-uid"
    );
    let password = decoded(&secret, "password");
    assert_eq!(password.len(), 64, "32 random bytes");
    let job = fake.get(REDIS_JOB).unwrap();
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"], json!(["tenant", "redis-user", "acme"]));
    assert_eq!(
        container["env"][0],
        json!({"name": "CHEMCHAT_REDIS_URL", "valueFrom": {"secretKeyRef":
            {"name": "backends", "key": "redis-url"}}}),
        "the Job alone gets the cluster's Redis URL, in the cluster's namespace"
    );
    assert_eq!(
        container["env"][1],
        json!({"name": "CHEMCHAT_TENANT_REDIS_PASSWORD", "valueFrom": {"secretKeyRef":
            {"name": "redis-user-acme", "key": "password"}}})
    );
    let (phase, condition) = ready(&fake);
    assert_eq!(phase, "Provisioning");
    assert_eq!(condition["reason"], "RedisUserPending");
    assert!(fake.get(TENANT_ENV).is_none());

    finish_job(&fake, "Complete");
    reconcile(current(&fake), ctx).await.unwrap();
    let env = fake
        .get(TENANT_ENV)
        .expect("the tenant's Secret is applied");
    assert_eq!(
        decoded(&env, "CHEMCHAT_REDIS_URL"),
        format!("redis://chemchat_tenant_acme:{password}@redis:6379")
    );
    let data = env["data"].as_object().unwrap();
    for key in data.keys() {
        assert_ne!(
            decoded(&env, key),
            "redis://redis:6379",
            "{key} is the cluster's Redis URL"
        );
    }
}

#[tokio::test]
async fn a_failed_redis_user_job_is_reported_then_replaced() {
    let (ctx, fake) = new_user();
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    finish_job(&fake, "Failed");
    let err = reconcile(current(&fake), ctx.clone())
        .await
        .expect_err("a failed Job fails the reconcile, for backoff");
    assert!(err.to_string().contains("redis user"), "{err}");
    let (phase, condition) = ready(&fake);
    assert_eq!(phase, "Degraded");
    assert_eq!(condition["reason"], "RedisUserFailed");
    let message = condition["message"].as_str().unwrap();
    assert!(
        message.contains("kubectl logs -n chemchat-system job/redis-user-acme"),
        "{message}"
    );
    assert_eq!(reconcile(current(&fake), ctx.clone()).await.unwrap(), POLL);
    assert!(fake.get(REDIS_JOB).is_none(), "then replaced");
    reconcile(current(&fake), ctx).await.unwrap();
    assert!(
        fake.get(REDIS_JOB).unwrap()["status"].is_null(),
        "a fresh Job"
    );
}

#[tokio::test]
async fn deleting_the_redis_password_secret_rotates_the_password() {
    let (ctx, fake) = world(tenant("Free", json!({})));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let before = decoded(&fake.get(TENANT_ENV).unwrap(), "CHEMCHAT_REDIS_URL");
    assert!(before.contains(REDIS_PASSWORD));

    fake.remove(REDIS_SECRET);
    fake.take_log();
    assert_eq!(reconcile(current(&fake), ctx.clone()).await.unwrap(), POLL);
    assert_eq!(
        writes(&fake.take_log())[..2],
        [format!("POST {SECRETS}"), format!("DELETE {REDIS_JOB}")],
        "a new password, and the Job run for the old one goes"
    );
    let password = decoded(&fake.get(REDIS_SECRET).unwrap(), "password");
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(
        decoded(&fake.get(TENANT_ENV).unwrap(), "CHEMCHAT_REDIS_URL"),
        before,
        "the old URL until the user has the new password"
    );
    finish_job(&fake, "Complete");
    reconcile(current(&fake), ctx).await.unwrap();
    let after = decoded(&fake.get(TENANT_ENV).unwrap(), "CHEMCHAT_REDIS_URL");
    assert!(
        after.contains(&password),
        "the new password reaches the tenant"
    );
}

#[test]
fn the_purge_job_deletes_the_redis_user_with_the_clusters_url() {
    let cluster: ChemChatCluster = cluster_object();
    let tenant: ChemChatTenant = serde_json::from_value(tenant("Free", json!({}))).unwrap();
    let job = serde_json::to_value(purge_job(&tenant, &cluster)).unwrap();
    let env = &job["spec"]["template"]["spec"]["containers"][0]["env"];
    assert!(
        env.as_array()
            .unwrap()
            .contains(&json!({"name": "CHEMCHAT_REDIS_URL",
            "valueFrom": {"secretKeyRef": {"name": "backends", "key": "redis-url"}}})),
        "{env}"
    );
}

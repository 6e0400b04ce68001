//! A tenant's own Redis user against the scripted API server: after the database role, the
//! password Secret and the user Job in the cluster's namespace; the tenant's children only once
//! the Job is complete, and then with the tenant's Redis URL — never the cluster's; a failed Job
//! is reported and replaced; a deleted password Secret adds a new password beside the old one,
//! which is retired (the retire Job) only once the rollout is complete, also across an operator
//! restart, and a second rotation waits for the first's rollout; a deleted tenant's purge Job
//! gets the cluster's Redis URL, to delete the user.

use std::sync::Arc;
use std::time::Duration;

use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use chemchat_operator::build::{BuildOptions, purge_job};
use chemchat_operator::context::Context;
use chemchat_operator::tenant::reconcile;
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use crate::support::credentials::{
    PLATFORM_JOBS, PLATFORM_SECRETS, job_args, job_container, phase_and_ready, retire_completes,
    writes,
};
use crate::support::world::{
    REDIS_JOB, REDIS_PASSWORD, REDIS_SECRET, RETIRE_REDIS_JOB, TENANT, TENANT_ENV, cluster_object,
    current, deployment_reports, finish_job as finish, tenant, tenant_condition, world,
};
use crate::support::{FakeApi, decoded};

const POLL: Action = Action::requeue(Duration::from_secs(5));

fn finish_job(fake: &FakeApi, outcome: &str) {
    finish(fake, REDIS_JOB, outcome);
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
            format!("POST {PLATFORM_SECRETS}"),
            format!("POST {PLATFORM_JOBS}"),
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
    let (phase, condition) = phase_and_ready(&fake);
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
    // No pod ran before: any other password of the user (an earlier tenant's) goes at once.
    assert_eq!(
        job_args(&fake, RETIRE_REDIS_JOB),
        json!(["tenant", "redis-user", "acme", "--retire"])
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
    let (phase, condition) = phase_and_ready(&fake);
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

fn served_url(fake: &FakeApi) -> String {
    decoded(&fake.get(TENANT_ENV).unwrap(), "CHEMCHAT_REDIS_URL")
}

fn retired(fake: &FakeApi) -> Value {
    fake.get(REDIS_SECRET).unwrap()["metadata"]["annotations"]["chemchat.io/older-credential-retired"]
        .clone()
}

#[tokio::test]
async fn a_rotated_password_retires_the_old_one_only_once_the_rollout_is_complete() {
    let (ctx, fake) = world(tenant("Free", json!({})));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    deployment_reports(&fake, i64::MAX);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let before = served_url(&fake);
    assert!(before.contains(REDIS_PASSWORD));

    // Rotation: a new password, added to the user beside the old one (no `--retire`).
    fake.remove(REDIS_SECRET);
    fake.take_log();
    assert_eq!(reconcile(current(&fake), ctx.clone()).await.unwrap(), POLL);
    assert_eq!(
        writes(&fake.take_log())[..2],
        [
            format!("POST {PLATFORM_SECRETS}"),
            format!("DELETE {REDIS_JOB}")
        ],
        "a new password, and the Job run for the old one goes"
    );
    assert!(retired(&fake).is_null());
    let password = decoded(&fake.get(REDIS_SECRET).unwrap(), "password");
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(
        job_args(&fake, REDIS_JOB),
        json!(["tenant", "redis-user", "acme"])
    );
    assert_eq!(
        served_url(&fake),
        before,
        "the old URL until the user has the new password"
    );
    finish_job(&fake, "Complete");
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(
        served_url(&fake),
        format!("redis://chemchat_tenant_acme:{password}@redis:6379"),
        "the new password reaches the tenant"
    );
    assert!(
        fake.get(RETIRE_REDIS_JOB).is_none(),
        "older pods hold the old one"
    );
    let progressing = tenant_condition(&fake, "Progressing");
    assert_eq!(progressing["reason"], "RotatingCredentials");
    let message = progressing["message"].as_str().unwrap();
    assert!(message.contains("chemchat_tenant_acme"), "{message}");
    assert!(!message.contains(&password), "{message}");

    // Mid-rollout, seen by an operator that restarted.
    let restarted = Arc::new(Context::new(
        ctx.client.clone(),
        BuildOptions::default(),
        Some("restarted".into()),
    ));
    deployment_reports(&fake, 0);
    reconcile(current(&fake), restarted.clone()).await.unwrap();
    assert!(fake.get(RETIRE_REDIS_JOB).is_none());

    // Rolled out: the retire Job leaves the current password as the user's only one.
    deployment_reports(&fake, i64::MAX);
    assert_eq!(
        reconcile(current(&fake), restarted.clone()).await.unwrap(),
        POLL
    );
    assert_eq!(
        job_args(&fake, RETIRE_REDIS_JOB),
        json!(["tenant", "redis-user", "acme", "--retire"])
    );
    assert_eq!(
        job_container(&fake, RETIRE_REDIS_JOB)["env"][1],
        json!({"name": "CHEMCHAT_TENANT_REDIS_PASSWORD", "valueFrom": {"secretKeyRef":
            {"name": "redis-user-acme", "key": "password"}}})
    );
    assert!(retired(&fake).is_null());
    let note = retire_completes(
        &fake,
        &restarted,
        REDIS_SECRET,
        RETIRE_REDIS_JOB,
        "RedisPasswordRotated",
    )
    .await;
    assert!(note.contains("chemchat_tenant_acme"), "{note}");
    assert!(!note.contains(&password), "{note}");
}

#[tokio::test]
async fn a_second_redis_rotation_waits_until_the_first_has_rolled_out() {
    let (ctx, fake) = world(tenant("Free", json!({})));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    deployment_reports(&fake, i64::MAX);
    fake.remove(REDIS_SECRET);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    finish_job(&fake, "Complete");
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let second = served_url(&fake);
    deployment_reports(&fake, 0);

    fake.remove(REDIS_SECRET);
    fake.take_log();
    assert_eq!(reconcile(current(&fake), ctx.clone()).await.unwrap(), POLL);
    assert_eq!(writes(&fake.take_log()), [format!("PATCH {TENANT}/status")]);
    let (phase, condition) = phase_and_ready(&fake);
    assert_eq!(phase, "Provisioning");
    assert_eq!(condition["reason"], "RedisUserPending");
    assert!(fake.get(REDIS_SECRET).is_none());
    assert_eq!(served_url(&fake), second);

    // Rolled out: the third password is made.
    deployment_reports(&fake, i64::MAX);
    reconcile(current(&fake), ctx).await.unwrap();
    assert!(fake.get(REDIS_SECRET).is_some());
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

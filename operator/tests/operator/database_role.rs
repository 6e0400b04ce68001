//! A tenant's own database role against the scripted API server: the password Secret and the
//! role Job in the cluster's namespace come first, the tenant's children only once the Job is
//! complete, and then with the tenant's URL and derived key — never the master's; a failed Job
//! is reported and replaced; a deleted password Secret or a new image runs the Job again.

use std::time::Duration;

use chemchat_backends::TenantKey;
use chemchat_operator::tenant::reconcile;
use http::Method;
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use crate::support::world::{
    CLUSTER, ROLE_JOB, ROLE_PASSWORD, ROLE_SECRET, TENANT, current, tenant, world,
};
use crate::support::{EVENTS, FakeApi, Recorded, decoded};

const SECRETS: &str = "/api/v1/namespaces/chemchat-system/secrets";
const JOBS: &str = "/apis/batch/v1/namespaces/chemchat-system/jobs";
const TENANT_ENV: &str = "/api/v1/namespaces/chemchat-acme/secrets/chemchat-server-env";
const ROLE_POLL: Action = Action::requeue(Duration::from_secs(5));

/// The writes of `log`, Events aside.
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

fn finish_role_job(fake: &FakeApi, outcome: &str) {
    fake.edit(ROLE_JOB, |job| {
        job["status"] = json!({"conditions": [{"type": outcome, "status": "True",
            "reason": if outcome == "Failed" { "BackoffLimitExceeded" } else { "Completed" },
            "message": ""}]});
    });
}

/// A world where acme has no database role yet.
fn new_tenant() -> (std::sync::Arc<chemchat_operator::context::Context>, FakeApi) {
    let (ctx, fake) = world(tenant("Free", json!({})));
    fake.remove(ROLE_SECRET);
    fake.remove(ROLE_JOB);
    (ctx, fake)
}

#[tokio::test]
async fn a_new_tenant_gets_its_role_first_then_its_own_url_and_key() {
    let (ctx, fake) = new_tenant();
    assert_eq!(
        reconcile(current(&fake), ctx.clone()).await.unwrap(),
        ROLE_POLL
    );
    let log = fake.take_log();
    assert_eq!(
        writes(&log),
        [
            format!("POST {SECRETS}"),
            format!("POST {JOBS}"),
            format!("PATCH {TENANT}/status"),
        ],
        "the password and the Job, nothing in the tenant namespace yet"
    );
    let secret = fake.get(ROLE_SECRET).unwrap();
    assert_eq!(
        secret["metadata"]["ownerReferences"][0]["uid"],
        "tenant-uid"
    );
    let password = decoded(&secret, "password");
    assert_eq!(password.len(), 64, "32 random bytes");
    let job = fake.get(ROLE_JOB).unwrap();
    assert_eq!(job["metadata"]["ownerReferences"][0]["uid"], "tenant-uid");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"], json!(["tenant", "role", "acme"]));
    assert_eq!(
        container["env"][0],
        json!({"name": "CHEMCHAT_DATABASE_URL", "valueFrom": {"secretKeyRef":
            {"name": "backends", "key": "postgres-url"}}}),
        "the Job alone gets the master URL, in the cluster's namespace"
    );
    assert_eq!(
        container["env"][1],
        json!({"name": "CHEMCHAT_TENANT_ROLE_PASSWORD", "valueFrom": {"secretKeyRef":
            {"name": "db-role-acme", "key": "password"}}})
    );
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    let (phase, condition) = ready(&fake);
    assert_eq!(phase, "Provisioning");
    assert_eq!(condition["reason"], "DatabaseRolePending");

    // Running: followed, not started again.
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert!(
        !writes(&fake.take_log())
            .iter()
            .any(|w| w.starts_with("POST"))
    );

    // Complete: the tenant's Secret carries its own role's URL and its derived key.
    finish_role_job(&fake, "Complete");
    reconcile(current(&fake), ctx).await.unwrap();
    let env = fake
        .get(TENANT_ENV)
        .expect("the tenant's Secret is applied");
    let url = decoded(&env, "CHEMCHAT_DATABASE_URL");
    let role = chemchat_backends::database_role("chemchat", "acme");
    assert_eq!(url, format!("postgres://{role}:{password}@pg/chemchat"));
    assert_eq!(
        decoded(&env, "CHEMCHAT_JWT_TENANT_KEY"),
        TenantKey::derive(b"s3cr3t", "acme").to_text()
    );
    let data = env["data"].as_object().unwrap();
    assert!(!data.contains_key("CHEMCHAT_JWT_SECRET"));
    for key in data.keys() {
        let value = decoded(&env, key);
        assert!(!value.contains("s3cr3t"), "{key} holds the master secret");
        assert_ne!(value, "postgres://pg/chemchat", "{key} is the master URL");
    }
}

#[tokio::test]
async fn a_failed_role_job_is_reported_then_replaced() {
    let (ctx, fake) = new_tenant();
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    finish_role_job(&fake, "Failed");
    fake.take_log();
    let err = reconcile(current(&fake), ctx.clone())
        .await
        .expect_err("a failed Job fails the reconcile, for backoff");
    assert!(err.to_string().contains("database role"), "{err}");
    let (phase, condition) = ready(&fake);
    assert_eq!(phase, "Degraded");
    assert_eq!(condition["reason"], "DatabaseRoleFailed");
    let message = condition["message"].as_str().unwrap();
    assert!(
        message.contains("kubectl logs -n chemchat-system job/db-role-acme"),
        "{message}"
    );
    assert!(fake.get(ROLE_JOB).is_some(), "kept one period for its logs");
    assert_eq!(
        reconcile(current(&fake), ctx.clone()).await.unwrap(),
        ROLE_POLL
    );
    assert!(fake.get(ROLE_JOB).is_none(), "then replaced");
    reconcile(current(&fake), ctx).await.unwrap();
    let job = fake.get(ROLE_JOB).unwrap();
    assert!(job["status"].is_null(), "a fresh Job");
    assert!(
        fake.get("/api/v1/namespaces/chemchat-acme/secrets/chemchat-server-env")
            .is_none(),
        "no tenant Secret before the role exists"
    );
}

#[tokio::test]
async fn deleting_the_password_secret_rotates_the_password() {
    let (ctx, fake) = world(tenant("Free", json!({})));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let before = decoded(&fake.get(TENANT_ENV).unwrap(), "CHEMCHAT_DATABASE_URL");
    assert!(before.contains(ROLE_PASSWORD));

    fake.remove(ROLE_SECRET);
    fake.take_log();
    assert_eq!(
        reconcile(current(&fake), ctx.clone()).await.unwrap(),
        ROLE_POLL
    );
    assert_eq!(
        writes(&fake.take_log())[..2],
        [format!("POST {SECRETS}"), format!("DELETE {ROLE_JOB}")],
        "a new password, and the Job run for the old one goes"
    );
    let password = decoded(&fake.get(ROLE_SECRET).unwrap(), "password");
    assert_ne!(password, ROLE_PASSWORD);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert!(fake.get(ROLE_JOB).is_some(), "run again");
    // The tenant keeps its old URL until the role has the new password.
    assert_eq!(
        decoded(&fake.get(TENANT_ENV).unwrap(), "CHEMCHAT_DATABASE_URL"),
        before
    );
    finish_role_job(&fake, "Complete");
    reconcile(current(&fake), ctx).await.unwrap();
    let after = decoded(&fake.get(TENANT_ENV).unwrap(), "CHEMCHAT_DATABASE_URL");
    assert!(
        after.contains(&password),
        "the new password reaches the tenant"
    );
}

#[tokio::test]
async fn a_new_server_image_runs_the_role_job_again_before_the_rollout() {
    let (ctx, fake) = world(tenant("Free", json!({})));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    fake.edit(CLUSTER, |c| c["spec"]["image"]["tag"] = json!("v2"));
    fake.take_log();
    assert_eq!(
        reconcile(current(&fake), ctx.clone()).await.unwrap(),
        ROLE_POLL
    );
    let log = fake.take_log();
    assert!(
        log.iter()
            .any(|r| r.method == Method::DELETE && r.path == ROLE_JOB)
    );
    assert!(
        !writes(&log).iter().any(|w| w.contains("deployments")),
        "the Deployment waits for the new image's migrations"
    );
    reconcile(current(&fake), ctx).await.unwrap();
    let job = fake.get(ROLE_JOB).unwrap();
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["image"],
        "chemchat/chemchat-server:v2"
    );
}

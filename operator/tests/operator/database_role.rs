//! A tenant's own database roles against the scripted API server: the password Secret and the
//! role Job in the cluster's namespace come first, the tenant's children only once the Job is
//! complete, and then with the tenant's URL and derived key — never the master's; a failed Job
//! is reported and replaced; a new image runs the Job again. A deleted password Secret rotates
//! the password onto the tenant's other role (slot `b`, then `a` again), whose URL the tenant's
//! Secret gets; the role the older pods use is retired (the retire Job) only once the rollout is
//! complete, also across an operator restart; a second rotation waits for the first's rollout.

use std::sync::Arc;
use std::time::Duration;

use chemchat_backends::{RoleSlot, TenantKey, database_role_in_slot};
use chemchat_operator::build::BuildOptions;
use chemchat_operator::context::Context;
use chemchat_operator::tenant::reconcile;
use http::Method;
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use crate::support::credentials::{
    PLATFORM_JOBS, PLATFORM_SECRETS, job_args, job_container, phase_and_ready, retire_completes,
    writes,
};
use crate::support::world::{
    CLUSTER, RETIRE_ROLE_JOB, ROLE_JOB, ROLE_PASSWORD, ROLE_SECRET, TENANT, TENANT_ENV, current,
    deployment_reports, finish_job, tenant, tenant_condition, world,
};
use crate::support::{EVENTS, FakeApi, decoded, events};

const ROLE_POLL: Action = Action::requeue(Duration::from_secs(5));

fn finish_role_job(fake: &FakeApi, outcome: &str) {
    finish_job(fake, ROLE_JOB, outcome);
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
            format!("POST {PLATFORM_SECRETS}"),
            format!("POST {PLATFORM_JOBS}"),
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
    assert_eq!(
        container["args"],
        json!(["tenant", "role", "acme", "--slot", "a"])
    );
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
    let (phase, condition) = phase_and_ready(&fake);
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
    // No pod ran before: the role in the other slot, if an earlier tenant of this name left
    // one, is retired at once.
    assert_eq!(
        job_args(&fake, RETIRE_ROLE_JOB),
        json!(["tenant", "role", "acme", "--slot", "a", "--retire"])
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
    let (phase, condition) = phase_and_ready(&fake);
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

/// The tenant's database URL now.
fn served_url(fake: &FakeApi) -> String {
    decoded(&fake.get(TENANT_ENV).unwrap(), "CHEMCHAT_DATABASE_URL")
}

fn role(slot: RoleSlot) -> String {
    database_role_in_slot("chemchat", "acme", slot)
}

fn annotations(fake: &FakeApi, path: &str) -> Value {
    fake.get(path).unwrap()["metadata"]["annotations"].clone()
}

/// Deletes the password Secret and reconciles until the tenant's Secret carries the new role's
/// URL: a new password for the other slot, the role Job replaced, run and complete. The new
/// password.
async fn rotate(fake: &FakeApi, ctx: &Arc<Context>) -> String {
    fake.remove(ROLE_SECRET);
    fake.take_log();
    assert_eq!(
        reconcile(current(fake), ctx.clone()).await.unwrap(),
        ROLE_POLL
    );
    assert_eq!(
        writes(&fake.take_log())[..2],
        [
            format!("POST {PLATFORM_SECRETS}"),
            format!("DELETE {ROLE_JOB}")
        ],
        "a new password, and the Job run for the old one goes"
    );
    let password = decoded(&fake.get(ROLE_SECRET).unwrap(), "password");
    reconcile(current(fake), ctx.clone()).await.unwrap();
    assert!(fake.get(ROLE_JOB).is_some(), "run again");
    finish_role_job(fake, "Complete");
    reconcile(current(fake), ctx.clone()).await.unwrap();
    password
}

#[tokio::test]
async fn a_rotated_password_goes_to_the_other_role_and_retires_the_old_one_after_the_rollout() {
    let (ctx, fake) = world(tenant("Free", json!({})));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    deployment_reports(&fake, i64::MAX);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let before = served_url(&fake);
    assert_eq!(
        before,
        format!(
            "postgres://{}:{ROLE_PASSWORD}@pg/chemchat",
            role(RoleSlot::A)
        )
    );

    // Rotation: the new password is for the role in slot b; the tenant keeps its old URL until
    // that role has it.
    fake.remove(ROLE_SECRET);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(
        annotations(&fake, ROLE_SECRET),
        json!({"chemchat.io/role-slot": "b"}),
        "slot b, and its older role not retired yet"
    );
    let password = decoded(&fake.get(ROLE_SECRET).unwrap(), "password");
    assert_ne!(password, ROLE_PASSWORD);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(
        job_args(&fake, ROLE_JOB),
        json!(["tenant", "role", "acme", "--slot", "b"])
    );
    assert_eq!(served_url(&fake), before);
    finish_role_job(&fake, "Complete");
    fake.take_log();
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(
        served_url(&fake),
        format!("postgres://{}:{password}@pg/chemchat", role(RoleSlot::B)),
        "the tenant's Secret gets the other role's URL, which rolls its pods"
    );
    // The pods of the older template still use the role in slot a: it is left as it is.
    assert!(fake.get(RETIRE_ROLE_JOB).is_none());
    let progressing = tenant_condition(&fake, "Progressing");
    assert_eq!(progressing["reason"], "RotatingCredentials");
    let message = progressing["message"].as_str().unwrap();
    assert!(
        message.contains(&role(RoleSlot::A)) && message.contains(&role(RoleSlot::B)),
        "{message}"
    );
    assert!(!message.contains(&password), "{message}");
    assert_eq!(fake.get(TENANT).unwrap()["status"]["phase"], "Ready");
    assert!(!events(&fake.take_log()).contains(&"DatabaseRoleRotated".to_owned()));

    // Mid-rollout, seen by an operator that restarted: the cluster alone says where the
    // rotation stands, and a pod of the older template is still there.
    let restarted = Arc::new(Context::new(
        ctx.client.clone(),
        BuildOptions::default(),
        Some("restarted".into()),
    ));
    deployment_reports(&fake, 0);
    reconcile(current(&fake), restarted.clone()).await.unwrap();
    assert!(fake.get(RETIRE_ROLE_JOB).is_none());
    assert_eq!(
        tenant_condition(&fake, "Progressing")["reason"],
        "RotatingCredentials"
    );

    // The rollout is complete: the retire Job runs, for slot b, with the current password.
    deployment_reports(&fake, i64::MAX);
    assert_eq!(
        reconcile(current(&fake), restarted.clone()).await.unwrap(),
        ROLE_POLL
    );
    assert_eq!(
        job_args(&fake, RETIRE_ROLE_JOB),
        json!(["tenant", "role", "acme", "--slot", "b", "--retire"])
    );
    assert_eq!(
        job_container(&fake, RETIRE_ROLE_JOB)["env"][1],
        json!({"name": "CHEMCHAT_TENANT_ROLE_PASSWORD", "valueFrom": {"secretKeyRef":
            {"name": "db-role-acme", "key": "password"}}})
    );
    assert_eq!(
        tenant_condition(&fake, "Progressing")["reason"],
        "RotatingCredentials"
    );
    assert!(annotations(&fake, ROLE_SECRET)["chemchat.io/older-credential-retired"].is_null());

    // Complete: noted on the password Secret, once, with an Event; then settled.
    let note = retire_completes(
        &fake,
        &restarted,
        ROLE_SECRET,
        RETIRE_ROLE_JOB,
        "DatabaseRoleRotated",
    )
    .await;
    assert!(
        note.contains(&role(RoleSlot::A)) && note.contains(&role(RoleSlot::B)),
        "{note}"
    );
    assert!(!note.contains(&password), "{note}");
}

#[tokio::test]
async fn a_second_rotation_waits_until_the_first_has_rolled_out() {
    let (ctx, fake) = world(tenant("Free", json!({})));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    deployment_reports(&fake, i64::MAX);
    let second = rotate(&fake, &ctx).await;
    assert!(served_url(&fake).contains(&role(RoleSlot::B)));
    deployment_reports(&fake, 0);

    // The pods of the older template use slot a, the new ones slot b: no slot is free for a
    // third password, so it waits, and nothing changes.
    fake.remove(ROLE_SECRET);
    fake.take_log();
    assert_eq!(
        reconcile(current(&fake), ctx.clone()).await.unwrap(),
        ROLE_POLL
    );
    assert_eq!(writes(&fake.take_log()), [format!("PATCH {TENANT}/status")]);
    let (phase, condition) = phase_and_ready(&fake);
    assert_eq!(phase, "Provisioning");
    assert_eq!(condition["reason"], "DatabaseRolePending");
    assert!(
        condition["message"].as_str().unwrap().contains("waits"),
        "{condition}"
    );
    assert!(fake.get(ROLE_SECRET).is_none());
    assert!(fake.get(RETIRE_ROLE_JOB).is_none());

    // Rolled out: every pod is on slot b, so the third password goes to slot a, and slot b keeps
    // serving until that has rolled out in turn.
    deployment_reports(&fake, i64::MAX);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(
        annotations(&fake, ROLE_SECRET)["chemchat.io/role-slot"],
        "a"
    );
    let third = decoded(&fake.get(ROLE_SECRET).unwrap(), "password");
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(
        job_args(&fake, ROLE_JOB),
        json!(["tenant", "role", "acme", "--slot", "a"])
    );
    assert!(served_url(&fake).contains(&second));
    finish_role_job(&fake, "Complete");
    reconcile(current(&fake), ctx).await.unwrap();
    assert_eq!(
        served_url(&fake),
        format!("postgres://{}:{third}@pg/chemchat", role(RoleSlot::A))
    );
    assert!(fake.get(RETIRE_ROLE_JOB).is_none(), "slot b still serves");
}

/// A world where one rotation has rolled out and the retire Job of slot a has started.
async fn retiring_slot_a() -> (Arc<Context>, FakeApi) {
    let (ctx, fake) = world(tenant("Free", json!({})));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    deployment_reports(&fake, i64::MAX);
    rotate(&fake, &ctx).await;
    deployment_reports(&fake, i64::MAX);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert!(fake.get(RETIRE_ROLE_JOB).is_some(), "retiring slot a");
    (ctx, fake)
}

#[tokio::test]
async fn a_rotation_waits_for_the_retire_job_of_the_previous_one() {
    let (ctx, fake) = retiring_slot_a().await;

    // Its pod reads the password Secret when it starts: a new Secret meanwhile would hand it
    // the new password, for the role it retires.
    fake.remove(ROLE_SECRET);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(phase_and_ready(&fake).1["reason"], "DatabaseRolePending");
    assert!(fake.get(ROLE_SECRET).is_none());

    finish_job(&fake, RETIRE_ROLE_JOB, "Complete");
    reconcile(current(&fake), ctx).await.unwrap();
    assert_eq!(
        annotations(&fake, ROLE_SECRET)["chemchat.io/role-slot"],
        "a",
        "then slot a, retired, gets the new password"
    );
}

#[tokio::test]
async fn a_failed_retire_job_is_a_warning_and_replaced() {
    let (ctx, fake) = retiring_slot_a().await;
    finish_job(&fake, RETIRE_ROLE_JOB, "Failed");
    fake.take_log();
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let log = fake.take_log();
    let warning = log
        .iter()
        .filter(|r| r.path == EVENTS)
        .filter_map(|r| r.body.clone())
        .find(|e| e["reason"] == "RetireFailed")
        .expect("a Warning Event");
    assert_eq!(warning["type"], "Warning");
    let message = tenant_condition(&fake, "Progressing")["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("kubectl logs -n chemchat-system job/db-retire-acme"),
        "{message}"
    );
    assert!(annotations(&fake, ROLE_SECRET)["chemchat.io/older-credential-retired"].is_null());
    // Replaced on a later pass, then run again.
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert!(fake.get(RETIRE_ROLE_JOB).is_none());
    reconcile(current(&fake), ctx).await.unwrap();
    assert!(fake.get(RETIRE_ROLE_JOB).unwrap()["status"].is_null());
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

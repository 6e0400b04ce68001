//! A tenant's cleanup against the scripted API server: under `Delete` the namespace goes first,
//! then the purge Job deletes the rows, then the finalizer is released; `Retain` keeps
//! everything and says where; `chemchat.io/skip-cleanup` releases a tenant whose backend is gone.

use std::sync::Arc;
use std::time::Duration;

use chemchat_operator::context::Context;
use chemchat_operator::tenant::{error_policy, reconcile};
use http::Method;
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use crate::support::world::{CLUSTER, NAMESPACE, TENANT, current, tenant, world};
use crate::support::{
    EVENTS, FakeApi, Recorded, event_note, events, finish_purge_job, purge_job_path,
};

const JOBS: &str = "/apis/batch/v1/namespaces/chemchat-system/jobs";
const WAIT: Action = Action::requeue(Duration::from_secs(10));

/// Tenant acme under `policy`, reconciled once (its children exist), then deleted.
async fn deleted(
    policy: &str,
    annotations: Value,
) -> (std::sync::Arc<chemchat_operator::context::Context>, FakeApi) {
    let (ctx, fake) = world(tenant("Free", json!({"deletionPolicy": policy})));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    fake.edit(TENANT, |t| {
        t["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        t["metadata"]["annotations"] = annotations;
    });
    fake.take_log();
    (ctx, fake)
}

fn summary(log: &[Recorded]) -> Vec<String> {
    log.iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

fn finalizers(fake: &FakeApi) -> Value {
    fake.get(TENANT).unwrap()["metadata"]["finalizers"].clone()
}

/// One pass that finishes the cleanup: the finalizer is released. Returns the requests.
async fn released(ctx: Arc<Context>, fake: &FakeApi) -> Vec<Recorded> {
    assert_eq!(
        reconcile(current(fake), ctx).await.unwrap(),
        Action::await_change()
    );
    assert_eq!(finalizers(fake), json!([]));
    fake.take_log()
}

fn ready(fake: &FakeApi) -> Value {
    let status = fake.get(TENANT).unwrap()["status"].clone();
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned()
        .unwrap()
}

#[tokio::test]
async fn delete_removes_the_namespace_then_purges_the_rows_then_releases_the_tenant() {
    let (ctx, fake) = deleted("Delete", json!({})).await;
    // The namespace is still terminating: no purge while its servers may write.
    fake.fail_next(Method::DELETE, NAMESPACE, 409);
    assert_eq!(reconcile(current(&fake), ctx.clone()).await.unwrap(), WAIT);
    let log = fake.take_log();
    assert!(
        !summary(&log).iter().any(|r| r.contains("/jobs")),
        "{:?}",
        summary(&log)
    );
    assert_eq!(fake.get(TENANT).unwrap()["status"]["phase"], "Deleting");
    let message = ready(&fake)["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("waiting for namespace chemchat-acme"),
        "{message}"
    );

    // The namespace is gone: the purge Job starts, in the cluster's namespace.
    fake.remove(NAMESPACE);
    assert_eq!(reconcile(current(&fake), ctx.clone()).await.unwrap(), WAIT);
    let log = fake.take_log();
    assert_eq!(
        summary(&log),
        vec![
            format!("GET {CLUSTER}"),
            format!("DELETE {NAMESPACE}"),
            format!("GET {NAMESPACE}"),
            format!("GET {}", purge_job_path("acme")),
            format!("POST {JOBS}"),
            format!("PATCH {TENANT}/status"),
        ]
    );
    let job = log[4].body.as_ref().unwrap();
    assert_eq!(job["metadata"]["ownerReferences"][0]["uid"], "tenant-uid");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "chemchat/chemchat-server:dev");
    assert_eq!(
        container["args"],
        json!(["tenant", "purge", "acme", "--missing-ok"])
    );
    assert_eq!(
        container["env"][0],
        json!({"name": "CHEMCHAT_DATABASE_URL", "valueFrom": {"secretKeyRef":
            {"name": "backends", "key": "postgres-url"}}})
    );
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    assert_eq!(finalizers(&fake), json!(["chemchat.io/cleanup"]));

    // Running: the Job is followed, not started again.
    assert_eq!(reconcile(current(&fake), ctx.clone()).await.unwrap(), WAIT);
    let log = fake.take_log();
    assert!(
        !log.iter()
            .any(|r| r.method == Method::POST && r.path == JOBS)
    );

    // Complete: the rows are gone, the finalizer is released.
    finish_purge_job(&fake, "acme", "Complete");
    let log = released(ctx, &fake).await;
    let note = event_note(&log, "CleanedUp");
    assert!(
        note.contains("rows: deleted rows of tenant acme (Job chemchat-system/purge-acme)"),
        "{note}"
    );
    assert_eq!(finalizers(&fake), json!([]));
}

#[tokio::test]
async fn a_failed_purge_is_a_warning_kept_for_one_backoff_then_replaced() {
    let (ctx, fake) = deleted("Delete", json!({})).await;
    assert_eq!(reconcile(current(&fake), ctx.clone()).await.unwrap(), WAIT);
    finish_purge_job(&fake, "acme", "Failed");
    fake.take_log();
    let err = reconcile(current(&fake), ctx.clone()).await.unwrap_err();
    assert_eq!(err.metric_label(), "cleanup");
    assert!(err.to_string().contains("BackoffLimitExceeded"), "{err}");
    assert_eq!(
        error_policy(current(&fake), &err, ctx.clone()),
        Action::requeue(Duration::from_secs(2))
    );
    let log = fake.take_log();
    let warning = log
        .iter()
        .find(|r| r.path == EVENTS && r.body.as_ref().unwrap()["reason"] == "CleanupFailed")
        .unwrap();
    assert_eq!(warning.body.as_ref().unwrap()["type"], "Warning");
    assert_eq!(ready(&fake)["reason"], "CleanupFailed");
    assert!(
        ready(&fake)["message"]
            .as_str()
            .unwrap()
            .contains("chemchat.io/skip-cleanup"),
        "the way out is named"
    );
    // Kept, for its pods' logs, until the next attempt, which replaces it.
    assert!(fake.get(&purge_job_path("acme")).is_some());
    assert_eq!(reconcile(current(&fake), ctx.clone()).await.unwrap(), WAIT);
    assert!(fake.get(&purge_job_path("acme")).is_none());
    assert_eq!(reconcile(current(&fake), ctx).await.unwrap(), WAIT);
    let job = fake.get(&purge_job_path("acme")).unwrap();
    assert!(job["status"].is_null(), "a fresh Job");
    assert_eq!(finalizers(&fake), json!(["chemchat.io/cleanup"]));
}

#[tokio::test]
async fn retain_deletes_nothing_and_says_where_the_data_is() {
    let (ctx, fake) = deleted("Retain", json!({})).await;
    let log = released(ctx, &fake).await;
    assert_eq!(
        summary(&log),
        vec![
            format!("GET {CLUSTER}"),
            format!("POST {EVENTS}"),
            format!("PATCH {TENANT}"),
        ]
    );
    let note = event_note(&log, "CleanedUp");
    assert!(
        note.contains(
            "rows: retained (rows with tenant_id acme in the PostgreSQL database of Secret \
             chemchat-system/backends key postgres-url)"
        ),
        "{note}"
    );
    assert!(note.contains("namespace chemchat-acme is left"), "{note}");
    assert!(fake.get(NAMESPACE).is_some());
    assert_eq!(finalizers(&fake), json!([]));
}

#[tokio::test]
async fn a_tenant_whose_cluster_is_gone_stays_until_skip_cleanup_releases_it() {
    let (ctx, fake) = deleted("Delete", json!({})).await;
    fake.remove(CLUSTER);
    let err = reconcile(current(&fake), ctx.clone()).await.unwrap_err();
    assert!(err.to_string().contains("cannot be purged"), "{err}");
    assert_eq!(finalizers(&fake), json!(["chemchat.io/cleanup"]));
    assert_eq!(ready(&fake)["reason"], "CleanupFailed");
    fake.take_log();

    fake.edit(TENANT, |t| {
        t["metadata"]["annotations"] = json!({"chemchat.io/skip-cleanup": "true"});
    });
    let log = released(ctx, &fake).await;
    assert!(
        !log.iter()
            .any(|r| r.method == Method::DELETE || r.path.contains("/jobs")),
        "nothing is deleted: {:?}",
        summary(&log)
    );
    assert_eq!(events(&log), vec!["CleanupSkipped"]);
    let note = event_note(&log, "CleanupSkipped");
    assert!(
        note.contains("rows of tenant acme in the database of the deleted ChemChatCluster"),
        "{note}"
    );
    assert_eq!(finalizers(&fake), json!([]));
}

#[tokio::test]
async fn skip_cleanup_on_a_live_backend_deletes_nothing_and_names_what_is_left() {
    let (ctx, fake) = deleted("Delete", json!({"chemchat.io/skip-cleanup": "true"})).await;
    let log = released(ctx, &fake).await;
    assert!(
        !log.iter()
            .any(|r| r.method == Method::DELETE || r.method == Method::POST && r.path == JOBS)
    );
    let note = event_note(&log, "CleanupSkipped");
    assert!(note.contains("rows with tenant_id acme"), "{note}");
    assert!(fake.get(NAMESPACE).is_some());
    assert_eq!(finalizers(&fake), json!([]));
}

/// With object storage, the purge Job gets the bucket and its credentials (from the cluster's
/// Secret, by reference), so `tenant purge` deletes the tenant's `<tenant>/` prefix too.
#[test]
fn the_purge_job_reaches_the_bucket() {
    use chemchat_crds::{ChemChatCluster, ChemChatTenant};
    let fixture = |name: &str| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        std::fs::read_to_string(path).unwrap()
    };
    // cluster-full.yaml has object storage at https://s3.example.com, bucket chemchat-media.
    let cluster: ChemChatCluster = serde_yaml::from_str(&fixture("cluster-full.yaml")).unwrap();
    let tenant: ChemChatTenant = serde_yaml::from_str(&fixture("tenant-pro.yaml")).unwrap();
    let job = serde_json::to_value(chemchat_operator::build::purge_job(&tenant, &cluster)).unwrap();
    let env = &job["spec"]["template"]["spec"]["containers"][0]["env"];
    let var = |name: &str| {
        env.as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {env}"))
    };
    assert_eq!(var("CHEMCHAT_S3_BUCKET")["value"], "chemchat-media");
    assert_eq!(
        var("CHEMCHAT_S3_ENDPOINT")["value"],
        "https://s3.example.com"
    );
    assert_eq!(var("CHEMCHAT_S3_REGION")["value"], "eu-west-1");
    assert_eq!(
        var("CHEMCHAT_S3_SECRET_ACCESS_KEY")["valueFrom"],
        json!({"secretKeyRef": {"name": "s3-credentials", "key": "secretAccessKey"}})
    );
    assert_eq!(
        var("CHEMCHAT_S3_ACCESS_KEY_ID")["valueFrom"],
        json!({"secretKeyRef": {"name": "s3-credentials", "key": "accessKeyId"}})
    );
}

//! The cluster reconciler and the leader election Lease against the scripted API server.

use std::sync::Arc;
use std::time::Duration;

use crate::support::{FakeApi, Recorded, assert_only_adds_finalizer};
use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use chemchat_operator::build::BuildOptions;
use chemchat_operator::cluster::reconcile;
use chemchat_operator::context::Context;
use chemchat_operator::leader::LeaseLock;
use http::Method;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::{reflector, watcher};
use serde_json::json;

const CLUSTER: &str = "/apis/chemchat.io/v1alpha1/namespaces/chemchat-system/chemchatclusters/main";
const SECRET: &str = "/api/v1/namespaces/chemchat-system/secrets/backends";
const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/chemchat-system/events";

pub(crate) fn world(with_secret: bool) -> (Arc<Context>, FakeApi) {
    let (client, fake) = FakeApi::start();
    fake.insert(
        CLUSTER,
        json!({"apiVersion": "chemchat.io/v1alpha1", "kind": "ChemChatCluster",
            "metadata": {"name": "main", "namespace": "chemchat-system", "generation": 4,
                "finalizers": ["chemchat.io/tenants"]},
            "spec": {"image": {"repository": "chemchat/chemchat-server"},
                "postgres": {"urlSecretRef": {"name": "backends", "key": "postgres-url"}},
                "redis": {"urlSecretRef": {"name": "backends", "key": "redis-url"}},
                "auth": {"jwtSecretRef": {"name": "backends", "key": "jwt-secret"}}}}),
    );
    if with_secret {
        fake.insert(
            SECRET,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "backends", "namespace": "chemchat-system"},
                "data": {"postgres-url": "cA==", "redis-url": "cg==", "jwt-secret": "ag=="}}),
        );
    }
    for (name, cluster) in [("a", "main"), ("b", "main"), ("c", "elsewhere")] {
        fake.insert(
            &format!("/apis/chemchat.io/v1alpha1/chemchattenants/{name}"),
            json!({"apiVersion": "chemchat.io/v1alpha1", "kind": "ChemChatTenant", "metadata": {"name": name},
                "spec": {"clusterRef": {"name": cluster, "namespace": "chemchat-system"}, "displayName": name}}),
        );
    }
    (
        Arc::new(Context::new(client, BuildOptions::default(), None)),
        fake,
    )
}

/// The status the reconcile patched.
fn written_status(log: &[Recorded]) -> serde_json::Value {
    log.iter()
        .find(|r| r.path.ends_with("/status"))
        .unwrap()
        .body
        .as_ref()
        .unwrap()["status"]
        .clone()
}

pub(crate) fn current(fake: &FakeApi) -> Arc<ChemChatCluster> {
    Arc::new(serde_json::from_value(fake.get(CLUSTER).unwrap()).unwrap())
}

#[tokio::test]
async fn a_cluster_with_its_secrets_is_ready_and_counts_its_tenants() {
    let (ctx, fake) = world(true);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let log = fake.take_log();
    let summary: Vec<_> = log
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        summary,
        vec![
            format!("GET {SECRET}"),
            "GET /apis/chemchat.io/v1alpha1/chemchattenants".to_owned(),
            format!("PATCH {CLUSTER}/status"),
            format!("POST {EVENTS}"),
        ]
    );
    let status = &log[2].body.as_ref().unwrap()["status"];
    assert_eq!(status["phase"], "Ready");
    assert_eq!(status["tenants"], 2);
    assert_eq!(status["observedGeneration"], 4);
    assert_eq!(log[3].body.as_ref().unwrap()["reason"], "Ready");
    // Nothing changed: no write.
    reconcile(current(&fake), ctx).await.unwrap();
    assert!(fake.take_log().iter().all(|r| r.method == Method::GET));
}

#[tokio::test]
async fn a_missing_secret_degrades_the_cluster_and_names_the_field() {
    let (ctx, fake) = world(false);
    reconcile(current(&fake), ctx).await.unwrap();
    let log = fake.take_log();
    let status = &written_status(&log);
    assert_eq!(status["phase"], "Degraded");
    let message = status["conditions"][0]["message"].as_str().unwrap();
    assert!(message.contains("spec.postgres.urlSecretRef"), "{message}");
    assert_eq!(
        log.last().unwrap().body.as_ref().unwrap()["type"],
        "Warning"
    );
}

#[tokio::test]
async fn an_invalid_trusted_proxy_makes_the_cluster_invalid_and_names_the_entry() {
    let (ctx, fake) = world(true);
    fake.edit(CLUSTER, |c| {
        c["spec"]["ingress"] = json!({"trustedProxies": ["10.244.0.0/16", "10.0.0.1"]});
    });
    reconcile(current(&fake), ctx).await.unwrap();
    let log = fake.take_log();
    let status = &written_status(&log);
    assert_eq!(status["phase"], "Invalid");
    let ready = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "False");
    assert_eq!(ready["reason"], "InvalidSpec");
    let message = ready["message"].as_str().unwrap();
    assert!(
        message.contains("spec.ingress.trustedProxies[1]") && message.contains("10.0.0.1"),
        "{message}"
    );
    assert_eq!(
        log.last().unwrap().body.as_ref().unwrap()["type"],
        "Warning"
    );
}

#[tokio::test]
async fn a_new_cluster_first_gets_its_finalizer() {
    let (ctx, fake) = world(true);
    fake.edit(CLUSTER, |c| {
        c["metadata"].as_object_mut().unwrap().remove("finalizers");
    });
    assert_eq!(
        reconcile(current(&fake), ctx).await.unwrap(),
        Action::await_change()
    );
    assert_only_adds_finalizer(&fake.take_log(), "chemchat.io/tenants");
}

#[tokio::test]
async fn a_deleted_cluster_waits_for_its_tenants_then_goes() {
    let (ctx, fake) = world(true);
    fake.edit(CLUSTER, |c| {
        c["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    });
    assert_eq!(
        reconcile(current(&fake), ctx.clone()).await.unwrap(),
        Action::requeue(Duration::from_secs(30))
    );
    let cluster = fake.get(CLUSTER).unwrap();
    assert_eq!(
        cluster["metadata"]["finalizers"],
        json!(["chemchat.io/tenants"])
    );
    assert_eq!(cluster["status"]["phase"], "Deleting");
    let ready = &cluster["status"]["conditions"][0];
    assert_eq!(ready["reason"], "TenantsRemain");
    let message = ready["message"].as_str().unwrap();
    assert!(
        message.ends_with(": a, b"),
        "names its own tenants only: {message}"
    );
    // Not a warning: the cluster does what was asked, in the order that keeps cleanup possible.
    let log = fake.take_log();
    let event = log.iter().find(|r| r.path == EVENTS).unwrap();
    assert_eq!(event.body.as_ref().unwrap()["type"], "Normal");

    // Its tenants are gone (tenant c belongs to another cluster): the finalizer goes.
    fake.remove("/apis/chemchat.io/v1alpha1/chemchattenants/a");
    fake.remove("/apis/chemchat.io/v1alpha1/chemchattenants/b");
    assert_eq!(
        reconcile(current(&fake), ctx).await.unwrap(),
        Action::await_change()
    );
    assert_eq!(
        fake.get(CLUSTER).unwrap()["metadata"]["finalizers"],
        json!([])
    );
}

#[tokio::test]
async fn with_the_tenant_cache_the_cluster_lists_no_tenants() {
    let (ctx, fake) = world(true);
    let (cache, mut writer) = reflector::store::<ChemChatTenant>();
    writer.apply_watcher_event(&watcher::Event::Init);
    for name in ["a", "b"] {
        let tenant = fake
            .get(&format!(
                "/apis/chemchat.io/v1alpha1/chemchattenants/{name}"
            ))
            .unwrap();
        writer.apply_watcher_event(&watcher::Event::InitApply(
            serde_json::from_value(tenant).unwrap(),
        ));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    let ctx = Arc::new((*ctx).clone().with_tenant_cache(cache));
    reconcile(current(&fake), ctx).await.unwrap();
    let log = fake.take_log();
    assert!(
        !log.iter().any(|r| r.path.ends_with("/chemchattenants")),
        "{:?}",
        log.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert_eq!(fake.get(CLUSTER).unwrap()["status"]["tenants"], 2);
}

#[tokio::test]
async fn only_one_candidate_holds_the_lease() {
    let (client, fake) = FakeApi::start();
    let api: Api<Lease> = Api::namespaced(client, "chemchat-system");
    let a = LeaseLock::new(api.clone(), "leader", "pod-a", Duration::from_secs(15));
    let b = LeaseLock::new(api, "leader", "pod-b", Duration::from_secs(15));
    assert!(
        a.try_acquire_or_renew().await.unwrap(),
        "first candidate creates the lease"
    );
    assert!(
        !b.try_acquire_or_renew().await.unwrap(),
        "second candidate follows a live lease"
    );
    assert!(a.try_acquire_or_renew().await.unwrap(), "holder renews");
    let log = fake.take_log();
    let summary: Vec<_> = log.iter().map(|r| r.method.to_string()).collect();
    assert_eq!(summary, vec!["GET", "POST", "GET", "GET", "PUT"]);
    let lease = fake
        .get("/apis/coordination.k8s.io/v1/namespaces/chemchat-system/leases/leader")
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "pod-a");
    // An expired lease is taken over, and the takeover counts as a transition.
    fake.edit(
        "/apis/coordination.k8s.io/v1/namespaces/chemchat-system/leases/leader",
        |l| {
            l["spec"]["renewTime"] = json!("2020-01-01T00:00:00.000000Z");
        },
    );
    assert!(b.try_acquire_or_renew().await.unwrap());
    let lease = fake
        .get("/apis/coordination.k8s.io/v1/namespaces/chemchat-system/leases/leader")
        .unwrap();
    assert_eq!(
        (
            lease["spec"]["holderIdentity"].clone(),
            lease["spec"]["leaseTransitions"].clone()
        ),
        (json!("pod-b"), json!(1))
    );
}

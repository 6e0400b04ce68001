//! The tenant reconciler against a scripted API server: every request's method, path and body.

use std::time::Duration;

use chemchat_operator::build::{Autoscaler, BuildOptions, ChildKind};
use chemchat_operator::tenant::{error_policy, reconcile};
use http::Method;
use kube::runtime::controller::Action;
use serde_json::json;

use crate::support::world::{
    CLUSTER, NAMESPACE, REDIS_JOB, REDIS_SECRET, ROLE_JOB, ROLE_SECRET, SECRET, TENANT, child_path,
    current, expected_children, namespaced_collection, secrets, tenant, world, world_with,
};
use crate::support::{EVENTS, Recorded, assert_only_adds_finalizer, b64, events};

fn assert_reads_then_lists(log: &[Recorded]) -> usize {
    assert_eq!(
        (&log[0].method, log[0].path.as_str()),
        (&Method::GET, CLUSTER)
    );
    assert_eq!(
        (&log[1].method, log[1].path.as_str()),
        (&Method::GET, SECRET)
    );
    // The tenant's database role and Redis user: their password Secrets and Jobs, in the
    // cluster's namespace.
    for (i, path) in [ROLE_SECRET, ROLE_JOB, REDIS_SECRET, REDIS_JOB]
        .into_iter()
        .enumerate()
    {
        assert_eq!(
            (&log[2 + i].method, log[2 + i].path.as_str()),
            (&Method::GET, path)
        );
    }
    // The namespace by name, then each namespaced kind inside it: nothing cluster-wide.
    for (i, kind) in ChildKind::ALL.iter().enumerate() {
        let r = &log[6 + i];
        let path = if kind.namespaced() {
            namespaced_collection(*kind)
        } else {
            NAMESPACE.to_owned()
        };
        assert_eq!((&r.method, r.path.as_str()), (&Method::GET, path.as_str()));
        if kind.namespaced() {
            assert!(
                r.query.contains("chemchat.io%2Ftenant%3Dacme")
                    || r.query.contains("chemchat.io/tenant=acme"),
                "{}",
                r.query
            );
        }
    }
    6 + ChildKind::ALL.len()
}

fn status_patch(log: &[Recorded]) -> Vec<&Recorded> {
    log.iter()
        .filter(|r| r.path == format!("{TENANT}/status"))
        .collect()
}

#[tokio::test]
async fn first_creation_applies_every_child_then_status_and_one_event() {
    let (ctx, fake) = world(tenant("Free", json!({})));
    let action = reconcile(current(&fake), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
    let log = fake.take_log();
    let mut i = assert_reads_then_lists(&log);
    let expected = expected_children(&fake);
    assert_eq!(expected.len(), 12, "Free tier: no HPA, no Ingress");
    for child in &expected {
        let r = &log[i];
        assert_eq!(r.method, Method::PATCH);
        assert_eq!(r.path, child_path(child));
        assert_eq!(r.content_type, "application/apply-patch+yaml");
        assert!(
            r.query.contains("fieldManager=chemchat-operator") && r.query.contains("force=true"),
            "{}",
            r.query
        );
        assert_eq!(
            r.body.as_ref().unwrap(),
            &child.object,
            "body of {}",
            r.path
        );
        i += 1;
    }
    let status = &log[i];
    assert_eq!(
        (&status.method, status.path.as_str()),
        (&Method::PATCH, format!("{TENANT}/status").as_str())
    );
    let body = status.body.as_ref().unwrap();
    assert_eq!(body["status"]["phase"], "Provisioning");
    assert_eq!(body["status"]["observedGeneration"], 1);
    assert_eq!(body["status"]["namespace"], "chemchat-acme");
    let types: Vec<_> = body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].clone())
        .collect();
    assert_eq!(
        types,
        vec![
            json!("Ready"),
            json!("NamespaceReady"),
            json!("WorkloadReady"),
            json!("Progressing"),
            json!("AutoscalingReady"),
            json!("MediaStorageShared"),
            json!("TopicsReady"),
            json!("SearchIndexReady")
        ]
    );
    // A cluster without Kafka or search: both backend conditions say so, and are True.
    for condition in &body["status"]["conditions"].as_array().unwrap()[6..] {
        assert_eq!(
            (&condition["status"], &condition["reason"]),
            (&json!("True"), &json!("NotConfigured")),
            "{condition}"
        );
    }
    assert_eq!(events(&log[i + 1..]), vec!["Provisioning"]);
    assert_eq!(
        log.len(),
        i + 2,
        "nothing after the event: {:?}",
        &log[i + 2..]
    );
    // The Secret carries the backend values copied from the cluster's Secret, except the
    // database and Redis URLs (the tenant's own role and user) and the signing key (derived
    // for the tenant).
    let secret = fake
        .get("/api/v1/namespaces/chemchat-acme/secrets/chemchat-server-env")
        .unwrap();
    assert_eq!(
        secret["data"]["CHEMCHAT_DATABASE_URL"],
        b64(&secrets().database_url)
    );
    assert_eq!(
        secret["data"]["CHEMCHAT_REDIS_URL"],
        b64(&secrets().redis_url)
    );
    assert_ne!(secrets().redis_url, "redis://redis:6379");
    assert!(secret["data"]["CHEMCHAT_JWT_SECRET"].is_null());
}

#[tokio::test]
async fn a_second_pass_over_an_unchanged_world_writes_nothing() {
    let (ctx, fake) = world(tenant("Pro", json!({})));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    fake.take_log();
    reconcile(current(&fake), ctx).await.unwrap();
    let log = fake.take_log();
    let writes: Vec<_> = log
        .iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "no-op reconcile wrote: {writes:?}");
    assert_eq!(
        log.len(),
        6 + ChildKind::ALL.len(),
        "cluster, secret, role and Redis user secrets and Jobs, the namespace, one list per \
         namespaced kind"
    );
}

#[tokio::test]
async fn with_an_hpa_the_deployment_has_no_replicas() {
    let (ctx, fake) = world(tenant(
        "Pro",
        json!({"scaling": {"minReplicas": 2, "maxReplicas": 8}}),
    ));
    reconcile(current(&fake), ctx).await.unwrap();
    let log = fake.take_log();
    let deployment = log
        .iter()
        .find(|r| r.path.ends_with("/deployments/chemchat-server"))
        .unwrap();
    assert!(
        deployment.body.as_ref().unwrap()["spec"]
            .get("replicas")
            .is_none()
    );
    let hpa = log
        .iter()
        .find(|r| {
            r.path
                .ends_with("/horizontalpodautoscalers/chemchat-server")
        })
        .unwrap();
    assert_eq!(hpa.method, Method::PATCH);
    assert_eq!(
        hpa.path,
        "/apis/autoscaling/v2/namespaces/chemchat-acme/horizontalpodautoscalers/chemchat-server"
    );
    let spec = &hpa.body.as_ref().unwrap()["spec"];
    assert_eq!(
        (spec["minReplicas"].clone(), spec["maxReplicas"].clone()),
        (json!(2), json!(8))
    );
}

#[tokio::test]
async fn suspend_scales_to_zero_removes_the_hpa_and_says_so() {
    let (ctx, fake) = world(tenant("Pro", json!({})));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    fake.edit(TENANT, |t| {
        t["spec"]["suspend"] = json!(true);
        t["metadata"]["generation"] = json!(2);
    });
    fake.take_log();
    let action = reconcile(current(&fake), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    let log = fake.take_log();
    let writes: Vec<_> = log.iter().filter(|r| r.is_write()).collect();
    let summary: Vec<_> = writes
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let ns = "/namespaces/chemchat-acme";
    assert_eq!(
        summary,
        vec![
            format!("DELETE /apis/autoscaling/v2{ns}/horizontalpodautoscalers/chemchat-server"),
            format!("PATCH /apis/apps/v1{ns}/deployments/chemchat-server"),
            format!("PATCH {TENANT}/status"),
            format!("POST {EVENTS}"),
        ]
    );
    assert_eq!(writes[1].body.as_ref().unwrap()["spec"]["replicas"], 0);
    let status = &writes[2].body.as_ref().unwrap()["status"];
    assert_eq!(status["phase"], "Suspended");
    assert_eq!(status["observedGeneration"], 2);
    assert!(
        status["conditions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("scaled to zero")
    );
    assert_eq!(events(&log), vec!["Suspended"]);
}

#[tokio::test]
async fn an_invalid_spec_writes_status_only_and_waits_for_a_change() {
    let (ctx, fake) = world(tenant(
        "Pro",
        json!({"scaling": {"minReplicas": 5, "maxReplicas": 3}}),
    ));
    let action = reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(action, Action::await_change());
    let log = fake.take_log();
    let summary: Vec<_> = log
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        summary,
        vec![
            format!("GET {CLUSTER}"),
            format!("PATCH {TENANT}/status"),
            format!("POST {EVENTS}")
        ]
    );
    let status = &log[1].body.as_ref().unwrap()["status"];
    assert_eq!(status["phase"], "Invalid");
    assert_eq!(status["conditions"][0]["reason"], "InvalidSpec");
    assert!(
        status["conditions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("spec.scaling.minReplicas")
    );
    assert_eq!(log[2].body.as_ref().unwrap()["type"], "Warning");
    // Unchanged and still invalid: not even the status is written again.
    reconcile(current(&fake), ctx).await.unwrap();
    assert!(fake.take_log().iter().all(|r| !r.is_write()));
}

#[tokio::test]
async fn a_missing_cluster_leaves_the_tenant_pending() {
    let (ctx, fake) = world(tenant(
        "Free",
        json!({"clusterRef": {"name": "other", "namespace": "chemchat-system"}}),
    ));
    let action = reconcile(current(&fake), ctx).await.unwrap();
    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
    let log = fake.take_log();
    assert_eq!(
        log.iter().filter(|r| r.is_write()).count(),
        2,
        "status and event only"
    );
    let status = &status_patch(&log)[0].body.as_ref().unwrap()["status"];
    assert_eq!(status["phase"], "Pending");
    assert!(
        status["conditions"][0]["message"]
            .as_str()
            .unwrap()
            .contains("spec.clusterRef")
    );
}

#[tokio::test]
async fn the_pause_annotation_stops_child_writes_but_keeps_status_current() {
    let (ctx, fake) = world(tenant("Free", json!({})));
    fake.edit(TENANT, |t| {
        t["metadata"]["annotations"] = json!({"chemchat.io/reconcile": "paused"})
    });
    reconcile(current(&fake), ctx).await.unwrap();
    let log = fake.take_log();
    let writes: Vec<_> = log
        .iter()
        .filter(|r| r.is_write())
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(writes, vec![format!("{TENANT}/status"), EVENTS.to_owned()]);
    let conditions = &status_patch(&log)[0].body.as_ref().unwrap()["status"]["conditions"];
    assert!(
        conditions
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Paused" && c["status"] == "True")
    );
}

#[tokio::test]
async fn a_new_tenant_first_gets_the_finalizer_and_nothing_else() {
    let mut t = tenant("Free", json!({}));
    t["metadata"].as_object_mut().unwrap().remove("finalizers");
    let (ctx, fake) = world(t);
    assert_eq!(
        reconcile(current(&fake), ctx).await.unwrap(),
        Action::await_change()
    );
    let log = fake.take_log();
    assert_only_adds_finalizer(&log, "chemchat.io/cleanup");
    assert_eq!(log[0].path, TENANT);
}

#[tokio::test]
async fn a_failing_api_call_goes_to_error_policy_with_per_object_backoff() {
    let (ctx, fake) = world(tenant("Free", json!({})));
    for expected in [2, 4, 8] {
        fake.fail_next(Method::PATCH, "/deployments/", 500);
        let err = reconcile(current(&fake), ctx.clone()).await.unwrap_err();
        assert_eq!(err.metric_label(), "kube_api");
        let action = error_policy(current(&fake), &err, ctx.clone());
        assert_eq!(action, Action::requeue(Duration::from_secs(expected)));
    }
    let log = fake.take_log();
    let failed = log
        .iter()
        .filter(|r| r.method == Method::PATCH && r.path.ends_with("/deployments/chemchat-server"));
    assert_eq!(failed.count(), 3);
    // No status was written while failing: the next success writes it.
    assert!(status_patch(&log).is_empty());
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    fake.fail_next(Method::GET, "/chemchatclusters/", 500);
    let err = reconcile(current(&fake), ctx.clone()).await.unwrap_err();
    assert_eq!(
        error_policy(current(&fake), &err, ctx),
        Action::requeue(Duration::from_secs(2)),
        "success resets"
    );
}

#[tokio::test]
async fn keda_mode_applies_a_scaled_object_and_never_an_hpa() {
    let options = BuildOptions {
        autoscaler: Autoscaler::Keda {
            prometheus_address: "http://prometheus:9090".into(),
        },
        ..BuildOptions::default()
    };
    let (ctx, fake) = world_with(tenant("Pro", json!({})), options);
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let log = fake.take_log();
    let scaled = "/apis/keda.sh/v1alpha1/namespaces/chemchat-acme/scaledobjects/chemchat-server";
    let listed = log.iter().any(|r| {
        r.method == Method::GET
            && r.path == "/apis/keda.sh/v1alpha1/namespaces/chemchat-acme/scaledobjects"
    });
    assert!(
        listed,
        "ScaledObjects are listed for orphan detection in KEDA mode"
    );
    let applied = log
        .iter()
        .find(|r| r.method == Method::PATCH && r.path == scaled)
        .unwrap();
    assert_eq!(
        applied.body.as_ref().unwrap()["spec"]["triggers"][0]["type"],
        "prometheus"
    );
    assert!(
        !log.iter()
            .any(|r| r.method == Method::PATCH && r.path.contains("horizontalpodautoscalers"))
    );
    let deployment = log
        .iter()
        .find(|r| r.path.ends_with("/deployments/chemchat-server"))
        .unwrap();
    assert!(
        deployment.body.as_ref().unwrap()["spec"]
            .get("replicas")
            .is_none()
    );
    // Settled: the second pass writes nothing in this mode either.
    reconcile(current(&fake), ctx).await.unwrap();
    assert!(fake.take_log().iter().all(|r| !r.is_write()));
}

#[tokio::test]
async fn every_api_request_of_a_reconcile_is_counted() {
    let (ctx, fake) = world(tenant("Free", json!({})));
    let (counted, calls) = ctx.counted();
    reconcile(current(&fake), counted).await.unwrap();
    let log = fake.take_log();
    // Events go through the shared recorder and are not counted.
    let requests = log.iter().filter(|r| r.path != EVENTS).count();
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::Relaxed),
        requests as u64
    );
    assert_eq!(
        requests,
        6 + ChildKind::ALL.len() + 12 + 1,
        "reads, applies, status"
    );
}

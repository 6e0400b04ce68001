//! What the apply stage writes besides creating children: which objects it deletes, in what
//! order an autoscaler switch happens, and the replica count across a switch to autoscaling.

use std::sync::Arc;

use chemchat_operator::build::{Autoscaler, BuildOptions};
use chemchat_operator::context::Context;
use chemchat_operator::labels::labels;
use chemchat_operator::tenant::reconcile;
use serde_json::{Value, json};

use crate::support::world::{TENANT, current, tenant, world, world_with};
use crate::support::{FakeApi, Recorded};

const NS: &str = "/namespaces/chemchat-acme";
const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/chemchat-acme/deployments/chemchat-server";
const HPA: &str =
    "/apis/autoscaling/v2/namespaces/chemchat-acme/horizontalpodautoscalers/chemchat-server";
const SCALED_OBJECT: &str =
    "/apis/keda.sh/v1alpha1/namespaces/chemchat-acme/scaledobjects/chemchat-server";

/// The writes to children: not the tenant's status, not Events.
fn writes(log: &[Recorded]) -> Vec<String> {
    log.iter()
        .filter(|r| r.is_write() && !r.path.contains("/events") && !r.path.ends_with("/status"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// A ConfigMap carrying the tenant's labels, controlled by `owner_uid` when given.
fn labelled_config_map(namespace: &str, name: &str, owner_uid: Option<&str>) -> Value {
    let mut metadata =
        json!({"name": name, "namespace": namespace, "labels": labels("acme", "copied")});
    if let Some(uid) = owner_uid {
        metadata["ownerReferences"] = json!([{"apiVersion": "chemchat.io/v1alpha1",
            "kind": "ChemChatTenant", "name": "acme", "uid": uid, "controller": true}]);
    }
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata})
}

fn keda() -> BuildOptions {
    BuildOptions {
        autoscaler: Autoscaler::Keda {
            prometheus_address: "http://prometheus:9090".into(),
        },
        ..BuildOptions::default()
    }
}

/// The same fake API server seen by an operator installed with other options.
fn reinstalled(ctx: &Context, options: BuildOptions) -> Arc<Context> {
    Arc::new(Context::new(
        ctx.client.clone(),
        options,
        Some("test".into()),
    ))
}

#[tokio::test]
async fn only_objects_the_tenant_controls_in_its_namespace_are_deleted() {
    let (ctx, fake) = world(tenant("Free", json!({})));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let config_maps = "/api/v1/namespaces/chemchat-acme/configmaps";
    fake.insert(
        &format!("{config_maps}/left-over"),
        labelled_config_map("chemchat-acme", "left-over", Some("tenant-uid")),
    );
    // Labels alone are not ownership: a copied manifest, a restored backup, another tenant's
    // namespace, an HPA that KEDA made from a ScaledObject (it copies the labels).
    fake.insert(
        &format!("{config_maps}/copied"),
        labelled_config_map("chemchat-acme", "copied", None),
    );
    fake.insert(
        &format!("{config_maps}/previous-tenant"),
        labelled_config_map("chemchat-acme", "previous-tenant", Some("old-uid")),
    );
    fake.insert(
        "/api/v1/namespaces/elsewhere/configmaps/restored",
        labelled_config_map("elsewhere", "restored", Some("tenant-uid")),
    );
    fake.insert(
        "/api/v1/namespaces/chemchat-acme-copy",
        json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "chemchat-acme-copy", "labels": labels("acme", "namespace")}}),
    );
    fake.insert(
        "/apis/autoscaling/v2/namespaces/chemchat-acme/horizontalpodautoscalers/keda-hpa-chemchat-server",
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "keda-hpa-chemchat-server", "namespace": "chemchat-acme",
                "labels": labels("acme", "autoscaler"),
                "ownerReferences": [{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
                    "name": "chemchat-server", "uid": "scaled-object-uid", "controller": true}]}}),
    );
    fake.take_log();
    reconcile(current(&fake), ctx).await.unwrap();
    assert_eq!(
        writes(&fake.take_log()),
        vec![format!("DELETE /api/v1{NS}/configmaps/left-over")]
    );
    for kept in [
        format!("{config_maps}/copied"),
        format!("{config_maps}/previous-tenant"),
        "/api/v1/namespaces/elsewhere/configmaps/restored".to_owned(),
        "/api/v1/namespaces/chemchat-acme-copy".to_owned(),
    ] {
        assert!(fake.get(&kept).is_some(), "{kept} was deleted");
    }
}

fn autoscaled() -> Value {
    tenant(
        "Pro",
        json!({"scaling": {"minReplicas": 2, "maxReplicas": 8}}),
    )
}

#[tokio::test]
async fn an_autoscaler_switch_deletes_the_old_kind_before_applying_the_new_one() {
    let (hpa_ctx, fake) = world(autoscaled());
    reconcile(current(&fake), hpa_ctx.clone()).await.unwrap();
    assert!(fake.get(HPA).is_some());
    fake.take_log();
    let keda_ctx = reinstalled(&hpa_ctx, keda());
    reconcile(current(&fake), keda_ctx).await.unwrap();
    assert_eq!(
        writes(&fake.take_log()),
        vec![format!("DELETE {HPA}"), format!("PATCH {SCALED_OBJECT}")]
    );
    // And back: the ScaledObject is still found although this install does not build one.
    reconcile(current(&fake), hpa_ctx).await.unwrap();
    assert_eq!(
        writes(&fake.take_log()),
        vec![format!("DELETE {SCALED_OBJECT}"), format!("PATCH {HPA}")]
    );
    assert!(fake.get(SCALED_OBJECT).is_none());
}

fn replicas(fake: &FakeApi) -> Value {
    fake.get(DEPLOYMENT).unwrap()["spec"]["replicas"].clone()
}

#[tokio::test]
async fn a_fixed_size_tenant_keeps_its_pods_when_it_becomes_autoscaled() {
    let (ctx, fake) = world_with(
        tenant(
            "Pro",
            json!({"scaling": {"minReplicas": 3, "maxReplicas": 3}}),
        ),
        BuildOptions::default(),
    );
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(replicas(&fake), 3);
    fake.edit(TENANT, |t| {
        t["spec"]["scaling"]["maxReplicas"] = json!(8);
        t["metadata"]["generation"] = json!(2);
    });
    fake.take_log();
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let log = fake.take_log();
    let scaling: Vec<_> = writes(&log)
        .into_iter()
        .filter(|w| w.ends_with(DEPLOYMENT) || w.ends_with(HPA))
        .collect();
    assert_eq!(
        scaling,
        [
            format!("PATCH {DEPLOYMENT}"),
            format!("PATCH {DEPLOYMENT}"),
            format!("PATCH {HPA}")
        ]
    );
    let handover = log.iter().find(|r| r.path == DEPLOYMENT).unwrap();
    assert!(
        handover
            .query
            .contains("fieldManager=chemchat-operator-handover"),
        "{}",
        handover.query
    );
    assert_eq!(
        handover.body.as_ref().unwrap()["spec"],
        json!({"replicas": 3})
    );
    assert_eq!(
        replicas(&fake),
        3,
        "still three pods while the HPA takes over"
    );
    // Settled: no second handover.
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert!(writes(&fake.take_log()).is_empty());
    // Suspended (zero pods) and resumed: the HPA gets at least its minReplicas, since an HPA
    // leaves a Deployment at zero alone.
    fake.edit(TENANT, |t| t["spec"]["suspend"] = json!(true));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    assert_eq!(replicas(&fake), 0);
    fake.edit(TENANT, |t| t["spec"]["suspend"] = json!(false));
    reconcile(current(&fake), ctx).await.unwrap();
    assert_eq!(replicas(&fake), 3, "minReplicas");
}

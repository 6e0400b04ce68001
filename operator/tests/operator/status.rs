//! The tenant's status against what the Deployment and HPA controllers report: rollouts and
//! scale-ups are not degradations, a stalled rollout is, and an HPA that cannot read its
//! metric keeps the tenant from Ready. Media on per-pod `emptyDir`s is a warning, not a blocker.

use chemchat_operator::tenant::reconcile;
use serde_json::{Value, json};

use crate::support::world::{CLUSTER, current, deployment_status, tenant, tenant_condition, world};
use crate::support::{EVENTS, FakeApi, Recorded, b64};

const DEPLOYMENT: &str = "/apis/apps/v1/namespaces/chemchat-acme/deployments/chemchat-server";
const HPA: &str =
    "/apis/autoscaling/v2/namespaces/chemchat-acme/horizontalpodautoscalers/chemchat-server";

/// The Events posted, as (type, reason).
fn events(log: &[Recorded]) -> Vec<(String, String)> {
    log.iter()
        .filter(|r| r.path == EVENTS)
        .map(|r| {
            let body = r.body.as_ref().unwrap();
            (
                body["type"].as_str().unwrap().to_owned(),
                body["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn tenant_status(fake: &FakeApi) -> Value {
    current(fake)
        .status
        .clone()
        .map(|s| serde_json::to_value(s).unwrap())
        .unwrap()
}

/// The HPA's conditions with `ScalingActive` as given.
fn hpa_reports(fake: &FakeApi, active: &str, reason: &str, message: &str) {
    fake.edit(HPA, |h| {
        h["status"] = json!({"currentReplicas": 2, "desiredReplicas": 2, "conditions": [
            {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
             "message": "recommended size matches current size"},
            {"type": "ScalingActive", "status": active, "reason": reason, "message": message}
        ]});
    });
}

/// The Deployment as the HPA and the Deployment controller left it.
fn deployment_reports(fake: &FakeApi, replicas: i64, updated: i64, available: i64) {
    fake.edit(DEPLOYMENT, |d| {
        d["spec"]["replicas"] = json!(replicas);
        d["status"] = deployment_status(replicas, updated, available);
    });
}

async fn pass(
    fake: &FakeApi,
    ctx: &std::sync::Arc<chemchat_operator::context::Context>,
) -> Vec<Recorded> {
    fake.take_log();
    reconcile(current(fake), ctx.clone()).await.unwrap();
    fake.take_log()
}

/// A Pro tenant autoscaled between 2 and 8 pods, its HPA reading the metric and two pods
/// serving, before the pass that sees them.
async fn serving_autoscaled_tenant()
-> (std::sync::Arc<chemchat_operator::context::Context>, FakeApi) {
    let (ctx, fake) = world(tenant(
        "Pro",
        json!({"scaling": {"minReplicas": 2, "maxReplicas": 8}}),
    ));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    hpa_reports(
        &fake,
        "True",
        "ValidMetricFound",
        "the HPA was able to compute the replica count",
    );
    deployment_reports(&fake, 2, 2, 2);
    (ctx, fake)
}

#[tokio::test]
async fn scale_ups_and_rollouts_keep_a_serving_tenant_ready_without_a_warning() {
    let (ctx, fake) = serving_autoscaled_tenant().await;
    let log = pass(&fake, &ctx).await;
    assert_eq!(tenant_status(&fake)["phase"], "Ready");
    assert_eq!(events(&log), [("Normal".to_owned(), "Ready".to_owned())]);
    assert_eq!(tenant_condition(&fake, "Progressing")["reason"], "Settled");
    assert_eq!(
        tenant_condition(&fake, "AutoscalingReady")["status"],
        "True"
    );

    // The HPA asks for six pods; two serve while four start.
    deployment_reports(&fake, 6, 6, 2);
    let log = pass(&fake, &ctx).await;
    assert_eq!(tenant_status(&fake)["phase"], "Ready");
    let progressing = tenant_condition(&fake, "Progressing");
    assert_eq!(
        (&progressing["status"], &progressing["reason"]),
        (&json!("True"), &json!("ScalingUp"))
    );
    assert!(events(&log).is_empty(), "{:?}", events(&log));

    // A rollout: a surge pod on top of six, one updated.
    deployment_reports(&fake, 6, 1, 6);
    let log = pass(&fake, &ctx).await;
    assert_eq!(tenant_status(&fake)["phase"], "Ready");
    assert_eq!(tenant_status(&fake)["replicas"], 6);
    assert_eq!(
        tenant_condition(&fake, "Progressing")["reason"],
        "RollingOut"
    );
    assert!(events(&log).is_empty(), "{:?}", events(&log));

    // The rollout passes its deadline: that is a degradation, and a Warning.
    fake.edit(DEPLOYMENT, |d| {
        d["status"]["conditions"][1] = json!({"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": "ReplicaSet \"chemchat-server-2\" has timed out progressing."});
    });
    let log = pass(&fake, &ctx).await;
    assert_eq!(tenant_status(&fake)["phase"], "Degraded");
    assert_eq!(
        tenant_condition(&fake, "WorkloadReady")["reason"],
        "RolloutStalled"
    );
    assert_eq!(
        events(&log),
        [("Warning".to_owned(), "Degraded".to_owned())]
    );
}

#[tokio::test]
async fn an_hpa_that_cannot_read_its_metric_keeps_the_tenant_from_ready_and_says_why() {
    let (ctx, fake) = world(tenant(
        "Pro",
        json!({"scaling": {"minReplicas": 2, "maxReplicas": 8}}),
    ));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    deployment_reports(&fake, 2, 2, 2);
    let message = "the HPA was unable to compute the replica count: unable to get metric \
        chemchat_websocket_connections: no metrics returned from custom metrics API";
    hpa_reports(&fake, "False", "FailedGetPodsMetric", message);
    pass(&fake, &ctx).await;
    assert_eq!(tenant_status(&fake)["phase"], "Provisioning");
    let ready = tenant_condition(&fake, "Ready");
    assert_eq!(
        (&ready["status"], &ready["reason"]),
        (&json!("False"), &json!("FailedGetPodsMetric"))
    );
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("chemchat_websocket_connections")
    );
    assert_eq!(
        tenant_condition(&fake, "AutoscalingReady")["status"],
        "False"
    );
    assert_eq!(
        tenant_condition(&fake, "WorkloadReady")["status"],
        "True",
        "the pods themselves serve"
    );

    // The metric arrives: Ready.
    hpa_reports(
        &fake,
        "True",
        "ValidMetricFound",
        "the HPA was able to compute the replica count",
    );
    pass(&fake, &ctx).await;
    assert_eq!(tenant_status(&fake)["phase"], "Ready");
}

/// `MediaStorageShared` as (status, reason, message).
fn media(fake: &FakeApi) -> (String, String, String) {
    let c = tenant_condition(fake, "MediaStorageShared");
    let text = |k: &str| c[k].as_str().unwrap().to_owned();
    (text("status"), text("reason"), text("message"))
}

#[tokio::test]
async fn an_autoscaled_tenant_without_object_storage_is_warned_but_ready() {
    let (ctx, fake) = serving_autoscaled_tenant().await;
    pass(&fake, &ctx).await;
    let (status, reason, message) = media(&fake);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "EmptyDirPerPod")
    );
    assert_eq!(
        message,
        "up to 8 server pods keep media on their own emptyDir: a file stored by one is missing \
         on the others and lost with its pod; configure spec.objectStorage on the ChemChatCluster"
    );
    // A warning only: the pods serve, so the tenant is Ready.
    assert_eq!(tenant_status(&fake)["phase"], "Ready");

    // The cluster gets object storage: every pod sees the same media.
    fake.edit(CLUSTER, |c| {
        c["spec"]["objectStorage"] = json!({"region": "eu-west-1", "bucket": "chemchat-media",
            "credentialsSecretRef": {"name": "media-keys"}, "tenantCredentials": "Shared"});
    });
    fake.insert(
        "/api/v1/namespaces/chemchat-system/secrets/media-keys",
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "media-keys", "namespace": "chemchat-system"},
            "data": {"accessKeyId": b64("AKIA"), "secretAccessKey": b64("key")}}),
    );
    pass(&fake, &ctx).await;
    let (status, reason, _) = media(&fake);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("True", "ObjectStorage")
    );
}

#[tokio::test]
async fn a_single_pod_keeps_its_media_on_its_emptydir_without_a_warning() {
    // Free: one pod, never scaled.
    let (ctx, fake) = world(tenant("Free", json!({})));
    reconcile(current(&fake), ctx.clone()).await.unwrap();
    let (status, reason, message) = media(&fake);
    assert_eq!((status.as_str(), reason.as_str()), ("True", "SinglePod"));
    assert_eq!(message, "one server pod: media on its emptyDir");
}

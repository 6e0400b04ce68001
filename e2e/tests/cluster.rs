//! On a reachable cluster (kind, `make e2e`): install the chart, apply the examples, wait for
//! the tenants to serve (Ready for the fixed-size one, WorkloadReady for the autoscaled one),
//! check the children and the HPA, delete a tenant and check the cleanup.
//!
//! Compiled only with the `cluster` feature; without a reachable cluster it fails, naming the
//! context and the make targets that create one.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use chemchat_crds::common::ConditionStatus;
use chemchat_crds::tenant::TenantPhase;
use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use chemchat_e2e::{CONTEXT_VAR, E2eError, apply_file, client, repo_root, wait_for};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, Namespace, ResourceQuota, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::Client;
use kube::api::{Api, DeleteParams};

const PLATFORM: &str = "chemchat-system";

fn helm_install() {
    let context = std::env::var(CONTEXT_VAR).unwrap();
    let tag = std::env::var("IMAGE_TAG").unwrap_or_else(|_| "dev".to_owned());
    let status = Command::new("helm")
        .current_dir(repo_root())
        .args([
            "--kube-context",
            &context,
            "upgrade",
            "--install",
            "chemchat-operator",
            "charts/chemchat-operator",
        ])
        .args([
            "-n",
            PLATFORM,
            "--create-namespace",
            "--wait",
            "--timeout",
            "5m",
        ])
        .args([
            "--set",
            &format!("image.tag={tag}"),
            "--set",
            "image.pullPolicy=Never",
        ])
        .status()
        .expect("helm is not on PATH; run the tests through `make e2e`");
    assert!(status.success(), "helm install failed");
}

async fn tenant_phase(client: &Client, name: &str) -> Result<Option<TenantPhase>, E2eError> {
    let api: Api<ChemChatTenant> = Api::all(client.clone());
    Ok(api
        .get_opt(name)
        .await?
        .and_then(|t| t.status)
        .map(|s| s.phase))
}

async fn condition(
    client: &Client,
    name: &str,
    type_: &str,
) -> Result<Option<ConditionStatus>, E2eError> {
    let api: Api<ChemChatTenant> = Api::all(client.clone());
    Ok(api
        .get_opt(name)
        .await?
        .and_then(|t| t.status)
        .and_then(|s| {
            s.conditions
                .into_iter()
                .find(|c| c.type_ == type_)
                .map(|c| c.status)
        }))
}

async fn exists<K>(client: &Client, namespace: &str, name: &str) -> bool
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    Api::<K>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn tenants_come_up_scale_on_connections_and_clean_up() {
    let client = client().await.unwrap_or_else(|err| panic!("{err}"));
    let examples = repo_root().join("examples");
    apply_file(&client, &examples.join("platform.yaml"))
        .await
        .unwrap();
    helm_install();
    apply_file(&client, &examples.join("cluster.yaml"))
        .await
        .unwrap();
    let clusters: Api<ChemChatCluster> = Api::namespaced(client.clone(), PLATFORM);
    wait_for("cluster main Ready", Duration::from_secs(120), || {
        let clusters = clusters.clone();
        async move {
            let c = clusters.get("main").await?;
            Ok(c.status.is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == ConditionStatus::True)
            }))
        }
    })
    .await
    .unwrap();
    apply_file(&client, &examples.join("tenant-free.yaml"))
        .await
        .unwrap();
    apply_file(&client, &examples.join("tenant-enterprise.yaml"))
        .await
        .unwrap();
    // The Free tenant has a fixed size: Ready covers everything.
    wait_for("tenant acme Ready", Duration::from_secs(600), || {
        let client = client.clone();
        async move { Ok(tenant_phase(&client, "acme").await? == Some(TenantPhase::Ready)) }
    })
    .await
    .unwrap();
    // The Enterprise tenant autoscales: its Ready waits for AutoscalingReady, which needs a
    // metrics stack (prometheus-adapter or KEDA) that a bare kind cluster does not run. What
    // holds everywhere is that its pods serve, and that the autoscaler's verdict is reported.
    wait_for(
        "tenant globex WorkloadReady, AutoscalingReady reported",
        Duration::from_secs(600),
        || {
            let client = client.clone();
            async move {
                let workload = condition(&client, "globex", "WorkloadReady").await?;
                let autoscaling = condition(&client, "globex", "AutoscalingReady").await?;
                Ok(workload == Some(ConditionStatus::True) && autoscaling.is_some())
            }
        },
    )
    .await
    .unwrap();

    // Every child of the Free tenant, and no autoscaler for it.
    let ns = "chemchat-acme";
    let namespaces: Api<Namespace> = Api::all(client.clone());
    assert!(namespaces.get_opt(ns).await.unwrap().is_some());
    assert!(exists::<ResourceQuota>(&client, ns, "chemchat-quota").await);
    assert!(exists::<LimitRange>(&client, ns, "chemchat-limits").await);
    assert!(exists::<NetworkPolicy>(&client, ns, "chemchat-isolation").await);
    assert!(exists::<ServiceAccount>(&client, ns, "chemchat-server").await);
    assert!(exists::<Role>(&client, ns, "chemchat-server").await);
    assert!(exists::<RoleBinding>(&client, ns, "chemchat-server").await);
    assert!(exists::<Secret>(&client, ns, "chemchat-server-env").await);
    assert!(exists::<ConfigMap>(&client, ns, "chemchat-server-config").await);
    assert!(exists::<Deployment>(&client, ns, "chemchat-server").await);
    assert!(exists::<Service>(&client, ns, "chemchat-server").await);
    assert!(exists::<PodDisruptionBudget>(&client, ns, "chemchat-server").await);
    assert!(!exists::<HorizontalPodAutoscaler>(&client, ns, "chemchat-server").await);

    // The Enterprise tenant scales on connections through an HPA and is exposed.
    let ns = "chemchat-globex";
    let hpa = Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), ns)
        .get("chemchat-server")
        .await
        .unwrap();
    let spec = hpa.spec.unwrap();
    assert_eq!((spec.min_replicas, spec.max_replicas), (Some(2), 10));
    let metric = &spec.metrics.unwrap()[0];
    assert_eq!(
        metric.pods.as_ref().unwrap().metric.name,
        chemchat_crds::contract::METRIC_WEBSOCKET_CONNECTIONS
    );
    assert!(exists::<Ingress>(&client, ns, "chemchat-server").await);

    // Deleting the Free tenant (deletionPolicy: Delete) removes it and its namespace.
    let tenants: Api<ChemChatTenant> = Api::all(client.clone());
    tenants
        .delete("acme", &DeleteParams::default())
        .await
        .unwrap();
    wait_for(
        "tenant acme and its namespace gone",
        Duration::from_secs(300),
        || {
            let (tenants, namespaces) = (tenants.clone(), namespaces.clone());
            async move {
                Ok(tenants.get_opt("acme").await?.is_none()
                    && namespaces.get_opt("chemchat-acme").await?.is_none())
            }
        },
    )
    .await
    .unwrap();
}

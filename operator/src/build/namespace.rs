//! The tenant namespace and what fences it: quota, limits and network isolation.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};

use super::{BackendSecrets, egress};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{BuildOptions, meta};
use crate::labels::ROLE_LABEL;
use crate::plan::TenantPlan;
use crate::quantity;

const NS_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Per-pod ephemeral storage: the server's own limit (from the LimitRange default unless the
/// cluster's `serverDefaults.resources` sets one).
const POD_EPHEMERAL_STORAGE: &str = "2Gi";

/// `chemchat-<tenant>`, labelled so NetworkPolicies can tell tenant namespaces apart, and for
/// Pod Security admission: only pods meeting the `restricted` standard are admitted.
pub fn namespace(plan: &TenantPlan) -> Namespace {
    let mut metadata = meta(plan, &plan.namespace, "namespace", false);
    if let Some(labels) = metadata.labels.as_mut() {
        labels.insert(ROLE_LABEL.to_owned(), "tenant".to_owned());
        for mode in ["enforce", "audit", "warn"] {
            labels.insert(
                format!("pod-security.kubernetes.io/{mode}"),
                "restricted".to_owned(),
            );
        }
    }
    Namespace {
        metadata,
        ..Namespace::default()
    }
}

fn q(value: &str) -> Quantity {
    Quantity(value.to_owned())
}

/// The ephemeral storage one server pod may use.
fn pod_ephemeral_storage(plan: &TenantPlan) -> u128 {
    plan.pod_resources
        .limits
        .as_ref()
        .and_then(|l| l.get("ephemeral-storage"))
        .and_then(|l| quantity::parse_milli(&l.0))
        .or_else(|| quantity::parse_milli(POD_EPHEMERAL_STORAGE))
        .unwrap_or_default()
}

/// Caps the whole namespace at the tenant's CPU and memory (requests and limits).
pub fn resource_quota(plan: &TenantPlan) -> ResourceQuota {
    // Room for a rolling update's surge pod on top of the largest replica count.
    let pods = plan.max_replicas + 1;
    // Ephemeral storage (emptyDir, logs, writable layers) is a node's disk: capped like CPU.
    let storage = quantity::format_memory(
        pod_ephemeral_storage(plan) * u128::try_from(pods).unwrap_or_default(),
    );
    let hard = BTreeMap::from([
        ("limits.cpu".to_owned(), q(&plan.cpu)),
        ("limits.memory".to_owned(), q(&plan.memory)),
        ("limits.ephemeral-storage".to_owned(), q(&storage)),
        ("requests.cpu".to_owned(), q(&plan.cpu)),
        ("requests.memory".to_owned(), q(&plan.memory)),
        ("requests.ephemeral-storage".to_owned(), q(&storage)),
        ("pods".to_owned(), q(&pods.to_string())),
    ]);
    ResourceQuota {
        metadata: meta(plan, "chemchat-quota", "quota", true),
        spec: Some(ResourceQuotaSpec {
            hard: Some(hard),
            ..ResourceQuotaSpec::default()
        }),
        ..ResourceQuota::default()
    }
}

/// Defaults for any container that does not say what it needs, so the quota always applies.
pub fn limit_range(plan: &TenantPlan) -> LimitRange {
    let pair = |cpu: &str, memory: &str| {
        BTreeMap::from([("cpu".to_owned(), q(cpu)), ("memory".to_owned(), q(memory))])
    };
    let with_storage = |mut map: BTreeMap<String, Quantity>, storage: &str| {
        map.insert("ephemeral-storage".to_owned(), q(storage));
        map
    };
    LimitRange {
        metadata: meta(plan, "chemchat-limits", "quota", true),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".to_owned(),
                default: Some(with_storage(pair("500m", "512Mi"), POD_EPHEMERAL_STORAGE)),
                default_request: Some(with_storage(pair("100m", "128Mi"), "256Mi")),
                max: Some(pair(&plan.cpu, &plan.memory)),
                ..LimitRangeItem::default()
            }],
        }),
    }
}

fn from_namespace(name: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(
                NS_NAME_LABEL.to_owned(),
                name.to_owned(),
            )])),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// Denies ingress from everywhere except the namespace itself, the platform namespace
/// (operator), Prometheus' namespace (scraping, on the admin port only) and the ingress
/// controller (the http port only) — so other tenants cannot reach it; and egress to anything
/// but DNS and the configured backends.
pub fn network_policy(
    plan: &TenantPlan,
    options: &BuildOptions,
    secrets: &BackendSecrets,
) -> NetworkPolicy {
    let same_namespace = NetworkPolicyPeer {
        pod_selector: Some(LabelSelector::default()),
        ..NetworkPolicyPeer::default()
    };
    let tcp = |port: u16| NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(port))),
        protocol: Some("TCP".to_owned()),
        ..NetworkPolicyPort::default()
    };
    let http = tcp(chemchat_crds::contract::DEFAULT_PORT);
    // Prometheus scrapes `/metrics` on the admin listener; the ingress controller never needs it.
    let admin = tcp(chemchat_crds::contract::ADMIN_PORT);
    NetworkPolicy {
        metadata: meta(plan, "chemchat-isolation", "network-policy", true),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            egress: Some(egress::rules(plan, secrets)),
            ingress: Some(vec![
                NetworkPolicyIngressRule {
                    from: Some(vec![same_namespace]),
                    ports: None,
                },
                NetworkPolicyIngressRule {
                    from: Some(vec![from_namespace(&plan.platform_namespace)]),
                    ports: Some(vec![http.clone()]),
                },
                NetworkPolicyIngressRule {
                    from: Some(vec![from_namespace(&options.ingress_namespace)]),
                    ports: Some(vec![http]),
                },
                NetworkPolicyIngressRule {
                    from: Some(vec![from_namespace(&options.metrics_namespace)]),
                    ports: Some(vec![admin]),
                },
            ]),
        }),
    }
}

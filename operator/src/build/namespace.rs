//! The tenant namespace and what fences it: quota, limits and network isolation.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    LimitRange, LimitRangeItem, LimitRangeSpec, Namespace, ResourceQuota, ResourceQuotaSpec,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{BuildOptions, meta};
use crate::labels::ROLE_LABEL;
use crate::plan::TenantPlan;

const NS_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// `chemchat-<tenant>`, labelled so NetworkPolicies can tell tenant namespaces apart.
pub fn namespace(plan: &TenantPlan) -> Namespace {
    let mut metadata = meta(plan, &plan.namespace, "namespace", false);
    if let Some(labels) = metadata.labels.as_mut() {
        labels.insert(ROLE_LABEL.to_owned(), "tenant".to_owned());
    }
    Namespace {
        metadata,
        ..Namespace::default()
    }
}

fn quantity(value: &str) -> Quantity {
    Quantity(value.to_owned())
}

/// Caps the whole namespace at the tenant's CPU and memory (requests and limits).
pub fn resource_quota(plan: &TenantPlan) -> ResourceQuota {
    // Room for a rolling update's surge pod on top of the largest replica count.
    let pods = (plan.max_replicas + 1).to_string();
    let hard = BTreeMap::from([
        ("limits.cpu".to_owned(), quantity(&plan.cpu)),
        ("limits.memory".to_owned(), quantity(&plan.memory)),
        ("requests.cpu".to_owned(), quantity(&plan.cpu)),
        ("requests.memory".to_owned(), quantity(&plan.memory)),
        ("pods".to_owned(), quantity(&pods)),
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
        BTreeMap::from([
            ("cpu".to_owned(), quantity(cpu)),
            ("memory".to_owned(), quantity(memory)),
        ])
    };
    LimitRange {
        metadata: meta(plan, "chemchat-limits", "quota", true),
        spec: Some(LimitRangeSpec {
            limits: vec![LimitRangeItem {
                type_: "Container".to_owned(),
                default: Some(pair("500m", "512Mi")),
                default_request: Some(pair("100m", "128Mi")),
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
/// (operator), Prometheus' namespace (scraping) and the ingress controller — so other tenants cannot reach it.
pub fn network_policy(plan: &TenantPlan, options: &BuildOptions) -> NetworkPolicy {
    let same_namespace = NetworkPolicyPeer {
        pod_selector: Some(LabelSelector::default()),
        ..NetworkPolicyPeer::default()
    };
    let http = NetworkPolicyPort {
        port: Some(IntOrString::Int(i32::from(
            chemchat_crds::contract::DEFAULT_PORT,
        ))),
        protocol: Some("TCP".to_owned()),
        ..NetworkPolicyPort::default()
    };
    NetworkPolicy {
        metadata: meta(plan, "chemchat-isolation", "network-policy", true),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_owned()]),
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
                    from: Some(vec![
                        from_namespace(&options.ingress_namespace),
                        from_namespace(&options.metrics_namespace),
                    ]),
                    ports: Some(vec![http]),
                },
            ]),
            ..NetworkPolicySpec::default()
        }),
    }
}

//! Validate a tenant against its cluster and resolve every default into a [`TenantPlan`].
//!
//! Resolution order for each setting: the tenant's own spec, then the cluster's
//! `serverDefaults` (scaling only), then the tier. Pure: no client, no clock.

use chemchat_crds::cluster::{MailSpec, ObjectStorageSpec};
use chemchat_crds::common::ImageSpec;
use chemchat_crds::tenant::DeletionPolicy;
use chemchat_crds::tier::Tier;
use chemchat_crds::{ChemChatCluster, ChemChatTenant};
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt;

use crate::labels::tenant_namespace;
use crate::quantity;

/// A spec the operator refuses, with the field to fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidSpec {
    /// JSON path of the offending field, for example `spec.scaling.minReplicas`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> InvalidSpec {
    InvalidSpec {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The server's enforced limits, fully resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolvedQuotas {
    /// Most users.
    pub max_users: i64,
    /// Most conversations.
    pub max_conversations: i64,
    /// Most messages per day.
    pub max_messages_per_day: i64,
    /// Most stored bytes.
    pub max_storage_bytes: i64,
    /// Most concurrent connections.
    pub max_connections: i64,
}

/// Kafka settings of the tenant's topics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedKafka {
    /// Bootstrap servers.
    pub brokers: String,
    /// Partitions per topic.
    pub partitions: i32,
    /// Replication factor.
    pub replication_factor: i32,
    /// Retention in milliseconds.
    pub retention_ms: i64,
}

/// Search settings of the tenant's index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedSearch {
    /// Backend URL.
    pub url: String,
    /// Primary shards.
    pub shards: i32,
    /// Replicas per shard.
    pub replicas: i32,
}

/// Everything `build` needs, with no optional left to interpret.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantPlan {
    /// Tenant name (the tenant id).
    pub name: String,
    /// UID of the tenant, for owner references.
    pub uid: String,
    /// Namespace of the workload.
    pub namespace: String,
    /// Platform namespace (the cluster's), allowed through the NetworkPolicy.
    pub platform_namespace: String,
    /// Tier.
    pub tier: Tier,
    /// Server-enforced limits.
    pub quotas: ResolvedQuotas,
    /// Namespace CPU quota.
    pub cpu: String,
    /// Namespace memory quota.
    pub memory: String,
    /// Fewest pods.
    pub min_replicas: i32,
    /// Most pods.
    pub max_replicas: i32,
    /// Connections per pod the autoscaler aims for.
    pub target_connections_per_pod: i32,
    /// Server image.
    pub image: ImageSpec,
    /// Container resources (the cluster's `serverDefaults.resources`, or the built-in default).
    pub pod_resources: ResourceRequirements,
    /// Kafka, when the cluster has it.
    pub kafka: Option<ResolvedKafka>,
    /// Search, when the cluster has it.
    pub search: Option<ResolvedSearch>,
    /// Object storage, when the cluster has it.
    pub object_storage: Option<ObjectStorageSpec>,
    /// The cluster's outgoing mail, when it has any.
    pub mail: Option<MailSpec>,
    /// Public host and TLS secret.
    pub ingress: Option<(String, Option<String>)>,
    /// `CHEMCHAT_TRUSTED_PROXIES`: the cluster's `spec.ingress.trustedProxies`, joined.
    pub trusted_proxies: Option<String>,
    /// Scaled to zero.
    pub suspend: bool,
    /// What deletion does to external data.
    pub deletion_policy: DeletionPolicy,
}

impl TenantPlan {
    /// True when an autoscaler (HPA or KEDA) owns the replica count.
    pub fn autoscaled(&self) -> bool {
        !self.suspend && self.max_replicas > self.min_replicas
    }
}

/// Checks the rules the schema cannot (or that admission may have skipped) and resolves defaults.
pub fn plan(tenant: &ChemChatTenant, cluster: &ChemChatCluster) -> Result<TenantPlan, InvalidSpec> {
    let name = tenant.name_any();
    // `chemchat-` + name must stay a valid namespace name (a DNS label of at most 63).
    let valid_label = !name.is_empty()
        && name.len() <= 54
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !valid_label {
        return Err(invalid(
            "metadata.name",
            "must be a DNS label of at most 54 characters",
        ));
    }
    let spec = &tenant.spec;
    if spec.display_name.trim().is_empty() {
        return Err(invalid("spec.displayName", "must not be empty"));
    }
    let tier = spec.tier.defaults();
    let defaults = &cluster.spec.server_defaults;
    let scaling = spec.scaling.clone().unwrap_or_default();
    let min_replicas = scaling
        .min_replicas
        .or(defaults.min_replicas)
        .unwrap_or(tier.min_replicas);
    let max_replicas = scaling
        .max_replicas
        .or(defaults.max_replicas)
        .unwrap_or(tier.max_replicas);
    let target = scaling
        .target_connections_per_pod
        .or(defaults.target_connections_per_pod)
        .unwrap_or(tier.target_connections_per_pod);
    if min_replicas < 1 {
        return Err(invalid(
            "spec.scaling.minReplicas",
            format!("must be at least 1, is {min_replicas}"),
        ));
    }
    if min_replicas > max_replicas {
        return Err(invalid(
            "spec.scaling.minReplicas",
            format!("must be <= spec.scaling.maxReplicas ({min_replicas} > {max_replicas})"),
        ));
    }
    if target < 1 {
        return Err(invalid(
            "spec.scaling.targetConnectionsPerPod",
            "must be at least 1",
        ));
    }
    let q = spec.quotas.clone().unwrap_or_default();
    let quotas = ResolvedQuotas {
        max_users: q.max_users.unwrap_or(tier.max_users),
        max_conversations: q.max_conversations.unwrap_or(tier.max_conversations),
        max_messages_per_day: q.max_messages_per_day.unwrap_or(tier.max_messages_per_day),
        max_storage_bytes: q.max_storage_bytes.unwrap_or(tier.max_storage_bytes),
        max_connections: q.max_connections.unwrap_or(tier.max_connections),
    };
    for (field, value) in [
        ("spec.quotas.maxUsers", quotas.max_users),
        ("spec.quotas.maxConversations", quotas.max_conversations),
        ("spec.quotas.maxMessagesPerDay", quotas.max_messages_per_day),
        ("spec.quotas.maxStorageBytes", quotas.max_storage_bytes),
        ("spec.quotas.maxConnections", quotas.max_connections),
    ] {
        if value < 1 {
            return Err(invalid(field, format!("must be at least 1, is {value}")));
        }
    }
    let pod_resources = defaults
        .resources
        .clone()
        .unwrap_or_else(default_pod_resources);
    let explicit = spec.resources.clone().unwrap_or_default();
    // Room for maxReplicas pods plus the rolling update's surge pod, at their limits: a quota
    // smaller than that would stall every rollout. Tier defaults grow to fit; explicit values
    // that cannot fit are an error naming the field.
    let pods = u128::try_from(max_replicas).unwrap_or(0) + 1;
    let cpu = size_quota(
        "spec.resources.cpu",
        explicit.cpu.map(|q| q.0),
        tier.cpu,
        per_pod(&pod_resources, "cpu") * pods,
        quantity::format_cpu,
    )?;
    let memory = size_quota(
        "spec.resources.memory",
        explicit.memory.map(|q| q.0),
        tier.memory,
        per_pod(&pod_resources, "memory") * pods,
        quantity::format_memory,
    )?;
    let ingress = match &spec.ingress {
        Some(ing) => match (&ing.host, &ing.tls_secret_name) {
            (None, Some(_)) => {
                return Err(invalid(
                    "spec.ingress.tlsSecretName",
                    "needs spec.ingress.host",
                ));
            }
            (None, None) => None,
            (Some(host), tls) => {
                if !is_hostname(host) {
                    return Err(invalid(
                        "spec.ingress.host",
                        format!("`{host}` is not a DNS name"),
                    ));
                }
                Some((host.clone(), tls.clone()))
            }
        },
        None => None,
    };
    // The cluster's field, named as such: the tenant's own spec is not what needs fixing.
    let trusted_proxies = crate::proxies::trusted_proxies(cluster).map_err(|e| {
        invalid(
            &format!(
                "ChemChatCluster {}/{} {}",
                cluster.namespace().unwrap_or_default(),
                cluster.name_any(),
                e.field
            ),
            e.message,
        )
    })?;
    let (kafka, search) = resolve_backends(tenant, cluster);
    Ok(TenantPlan {
        namespace: tenant_namespace(&name),
        uid: tenant.uid().unwrap_or_default(),
        platform_namespace: cluster.namespace().unwrap_or_default(),
        name,
        tier: spec.tier,
        quotas,
        cpu,
        memory,
        min_replicas,
        max_replicas,
        target_connections_per_pod: target,
        image: cluster.spec.image.clone(),
        pod_resources,
        kafka,
        search,
        object_storage: cluster.spec.object_storage.clone(),
        mail: cluster.spec.mail.clone(),
        ingress,
        trusted_proxies,
        suspend: spec.suspend,
        deletion_policy: spec.deletion_policy,
    })
}

/// The tenant's Kafka and search settings: the tenant's overrides, then the cluster's defaults;
/// `None` where the cluster has no such backend. Separate from [`plan`] because cleanup needs
/// them for a tenant whose spec may no longer validate.
pub fn resolve_backends(
    tenant: &ChemChatTenant,
    cluster: &ChemChatCluster,
) -> (Option<ResolvedKafka>, Option<ResolvedSearch>) {
    let spec = &tenant.spec;
    let kafka = cluster.spec.kafka.as_ref().map(|k| {
        let o = spec.kafka.clone().unwrap_or_default();
        ResolvedKafka {
            brokers: k.bootstrap_servers.clone(),
            partitions: o.partitions.unwrap_or(k.topic_defaults.partitions),
            replication_factor: k.topic_defaults.replication_factor,
            retention_ms: o.retention_ms.unwrap_or(k.topic_defaults.retention_ms),
        }
    });
    let search = cluster.spec.search.as_ref().map(|s| {
        let o = spec.search.clone().unwrap_or_default();
        ResolvedSearch {
            url: s.url.clone(),
            shards: o.shards.unwrap_or(s.index_defaults.shards),
            replicas: o.replicas.unwrap_or(s.index_defaults.replicas),
        }
    });
    (kafka, search)
}

/// Server container resources when the cluster sets none.
fn default_pod_resources() -> ResourceRequirements {
    let pair = |cpu: &str, memory: &str| {
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu.to_owned())),
            ("memory".to_owned(), Quantity(memory.to_owned())),
        ])
    };
    ResourceRequirements {
        requests: Some(pair("100m", "128Mi")),
        limits: Some(pair("1", "512Mi")),
        ..ResourceRequirements::default()
    }
}

/// A pod's share of the quota: its limit, else its request (milli-units).
fn per_pod(resources: &ResourceRequirements, name: &str) -> u128 {
    [&resources.limits, &resources.requests]
        .into_iter()
        .flatten()
        .find_map(|m| m.get(name))
        .and_then(|q| quantity::parse_milli(&q.0))
        .unwrap_or(0)
}

/// The quota for one resource: explicit values must fit the pods, tier defaults grow to fit.
fn size_quota(
    field: &str,
    explicit: Option<String>,
    tier_default: &str,
    needed: u128,
    format: fn(u128) -> String,
) -> Result<String, InvalidSpec> {
    match explicit {
        Some(value) => match quantity::parse_milli(&value) {
            None => Err(invalid(
                field,
                format!("`{value}` is not a Kubernetes quantity"),
            )),
            Some(v) if v < needed => Err(invalid(
                field,
                format!(
                    "{value} cannot hold maxReplicas + 1 server pods at their limits ({})",
                    format(needed)
                ),
            )),
            Some(_) => Ok(value),
        },
        None => {
            let tier = quantity::parse_milli(tier_default).unwrap_or(0);
            Ok(if tier >= needed {
                tier_default.to_owned()
            } else {
                format(needed)
            })
        }
    }
}

fn is_hostname(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_fit_the_pods() {
        let need = 3 * 1000; // three pods of one CPU
        assert_eq!(
            size_quota("f", None, "1", need, quantity::format_cpu),
            Ok("3".to_owned())
        );
        assert_eq!(
            size_quota("f", None, "8", need, quantity::format_cpu),
            Ok("8".to_owned())
        );
        assert_eq!(
            size_quota("f", Some("4".into()), "1", need, quantity::format_cpu),
            Ok("4".to_owned())
        );
        let err = size_quota(
            "spec.resources.cpu",
            Some("2".into()),
            "1",
            need,
            quantity::format_cpu,
        );
        assert!(err.is_err_and(|e| e.field == "spec.resources.cpu" && e.message.contains("(3)")));
    }

    #[test]
    fn hosts() {
        assert!(is_hostname("acme.chat.example.com"));
        assert!(!is_hostname("Acme..com") && !is_hostname("a_b.com"));
    }
}

//! `ChemChatTenant`: one customer of the SaaS.
//!
//! Cluster-scoped so it can own its namespace and every child inside it through controller
//! owner references: deleting the tenant cascades through the garbage collector, and the
//! finalizer only has to handle what lives outside Kubernetes.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::Condition;
use crate::tier::Tier;

/// A tenant of the platform: its tier, quotas, scaling and lifecycle.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "chemchat.io",
    version = "v1alpha1",
    kind = "ChemChatTenant",
    doc = "One customer of the ChemChat SaaS: an isolated server deployment in namespace chemchat-<name>.",
    status = "ChemChatTenantStatus",
    shortname = "cct",
    category = "chemchat",
    printcolumn = r#"{"name":"Tier","type":"string","jsonPath":".spec.tier"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Connections","type":"integer","jsonPath":".status.activeConnections"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ChemChatTenantSpec {
    /// The ChemChatCluster whose backends this tenant uses. Immutable: moving a tenant between
    /// clusters would strand its data.
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("clusterRef is immutable"))]
    pub cluster_ref: ClusterRef,
    /// Name shown to people; the resource name is the tenant id.
    #[schemars(length(min = 1, max = 128))]
    pub display_name: String,
    /// Commercial tier; picks the default quotas, resources and scaling.
    #[serde(default)]
    pub tier: Tier,
    /// Overrides of the tier's quotas, enforced by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quotas: Option<Quotas>,
    /// Overrides of the tier's namespace ResourceQuota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<TenantResources>,
    /// Overrides of the replica range and autoscaling target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<Scaling>,
    /// Overrides of the cluster's Kafka topic defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaOverrides>,
    /// Overrides of the cluster's search index defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchOverrides>,
    /// Public exposure through an Ingress; omit to keep the tenant cluster-internal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<IngressSpec>,
    /// True scales the tenant to zero pods and keeps all its data.
    #[serde(default)]
    pub suspend: bool,
    /// What happens to the tenant's topics, index, rows and objects when it is deleted.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

/// Reference to the ChemChatCluster a tenant belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRef {
    /// Name of the ChemChatCluster.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the ChemChatCluster (the platform namespace).
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
}

/// Limits the server enforces for this tenant; each one unset falls back to the tier.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quotas {
    /// Most user accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_users: Option<i64>,
    /// Most conversations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_conversations: Option<i64>,
    /// Most messages per UTC day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_messages_per_day: Option<i64>,
    /// Most stored media bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_storage_bytes: Option<i64>,
    /// Most concurrent WebSocket connections across all pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_connections: Option<i64>,
}

/// Compute the tenant's namespace may use in total (its ResourceQuota).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantResources {
    /// Total CPU limit of the namespace, for example `4` or `2500m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Quantity>,
    /// Total memory limit of the namespace, for example `8Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Quantity>,
}

/// Replica range and autoscaling target of the tenant's server Deployment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas"
).message("scaling.minReplicas must be <= scaling.maxReplicas"))]
pub struct Scaling {
    /// Fewest server pods while not suspended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub min_replicas: Option<i32>,
    /// Most server pods; above `minReplicas` an autoscaler manages the replica count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: Option<i32>,
    /// Average WebSocket connections per pod the autoscaler aims for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000000))]
    pub target_connections_per_pod: Option<i32>,
}

/// Per-tenant Kafka topic settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaOverrides {
    /// Partitions of the tenant's topics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1024))]
    pub partitions: Option<i32>,
    /// Event retention in milliseconds (-1 keeps them forever).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = -1))]
    pub retention_ms: Option<i64>,
}

/// Per-tenant search index settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchOverrides {
    /// Primary shards of the tenant's index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub shards: Option<i32>,
    /// Replicas of each shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 5))]
    pub replicas: Option<i32>,
}

/// Public exposure of the tenant's server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!has(self.tlsSecretName) || has(self.host)")
    .message("ingress.tlsSecretName needs ingress.host"))]
pub struct IngressSpec {
    /// Public host name, for example `acme.chat.example.com`; omit to skip the Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub host: Option<String>,
    /// Secret in the tenant namespace with the TLS certificate for `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub tls_secret_name: Option<String>,
}

/// What deletion does with data that lives outside Kubernetes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    /// Keep the topic, index and rows; only the Kubernetes objects go, and an Event says where
    /// the data is.
    #[default]
    Retain,
    /// Delete the tenant namespace, then its media objects and rows (a purge Job), topic and
    /// index, before the tenant goes.
    Delete,
}

/// Where a tenant stands in its lifecycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TenantPhase {
    /// Waiting for its ChemChatCluster or the first reconcile.
    #[default]
    Pending,
    /// Children are being created; the server is not ready yet.
    Provisioning,
    /// The server is ready.
    Ready,
    /// The server was ready and now fails: no pod available, a stalled rollout, a backend or
    /// an autoscaler that cannot work. Rollouts and scale-ups are not degradations.
    Degraded,
    /// Scaled to zero by `spec.suspend`.
    Suspended,
    /// Being deleted; cleanup runs.
    Deleting,
    /// The spec breaks a rule; see the Ready condition's message for the field.
    Invalid,
}

/// What the operator observed of a tenant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChemChatTenantStatus {
    /// `metadata.generation` the status was computed from.
    #[serde(default)]
    pub observed_generation: i64,
    /// Summary of the conditions.
    #[serde(default)]
    pub phase: TenantPhase,
    /// `Ready`, `NamespaceReady`, `WorkloadReady`, `Progressing` (`True` during a rollout or
    /// scale-up), `AutoscalingReady` (the HPA's or ScaledObject's own verdict), `TopicsReady`,
    /// `SearchIndexReady` and, while paused, `Paused`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Namespace holding the tenant's workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// URL clients connect to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Available server pods.
    #[serde(default)]
    pub replicas: i32,
    /// Live WebSocket connections, as the autoscaler last measured them.
    #[serde(default)]
    pub active_connections: i64,
}

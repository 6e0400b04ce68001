//! `ChemChatCluster`: one platform install, shared by its tenants.
//!
//! Namespaced: it lives in the platform namespace beside the Secrets it references, so the
//! operator can copy backend credentials from there into each tenant's namespace.

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Condition, ImageSpec, SecretKeyRef, SecretRef};

/// A ChemChat platform install: the server image and the backends every tenant shares.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "chemchat.io",
    version = "v1alpha1",
    kind = "ChemChatCluster",
    doc = "One ChemChat platform install: the server image and the backends its tenants share.",
    namespaced,
    status = "ChemChatClusterStatus",
    shortname = "ccc",
    category = "chemchat",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Tenants","type":"integer","jsonPath":".status.tenants"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ChemChatClusterSpec {
    /// Container image of the ChemChat server that every tenant runs.
    pub image: ImageSpec,
    /// PostgreSQL holding every tenant's rows (shared schema, `tenant_id` on every table).
    pub postgres: UrlBackend,
    /// Redis for cross-instance fan-out, presence and rate limits.
    pub redis: UrlBackend,
    /// Kafka event stream; omit to run each tenant on the in-process outbox relay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaSpec>,
    /// Elasticsearch/OpenSearch; omit to use the server's built-in SQL full-text search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchSpec>,
    /// S3-compatible media storage; omit to keep media on the pod's local folder (dev only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_storage: Option<ObjectStorageSpec>,
    /// Signing keys of the access tokens the servers issue.
    pub auth: AuthSpec,
    /// The mail the servers send (password resets, address proofs, warnings); omit and those
    /// routes answer 501. Links in mail start with the tenant's public URL,
    /// `https://<spec.ingress.host>` (`http://` without `tlsSecretName`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<MailSpec>,
    /// Defaults for every tenant's server pods; a tenant's own `spec.scaling` wins.
    #[serde(default)]
    pub server_defaults: ServerDefaults,
    /// How tenant Ingresses reach the servers: the proxies whose forwarding headers they trust.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<ClusterIngress>,
}

/// What the servers need to know about the ingress controller in front of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterIngress {
    /// CIDRs of the ingress controller's pods (for example the cluster's pod CIDR,
    /// `10.244.0.0/16` on kind), written to every tenant server as `CHEMCHAT_TRUSTED_PROXIES`:
    /// only requests from these peers may name the client in `Forwarded` / `X-Forwarded-For`,
    /// which per-address rate limits key on. The operator cannot discover the pod CIDR, so
    /// there is no default: left empty, the variable is not set and every client behind the
    /// Ingress shares the controller's address. A single address is `a.b.c.d/32`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), extend("items" = {"type": "string", "format": "cidr", "maxLength": 43}))]
    pub trusted_proxies: Vec<String>,
}

/// A backend reached through a URL kept in a Secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UrlBackend {
    /// Secret key holding the connection URL (it may embed credentials).
    pub url_secret_ref: SecretKeyRef,
}

/// The Kafka cluster and the defaults for each tenant's topics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KafkaSpec {
    /// Comma-separated `host:port` bootstrap servers.
    #[schemars(length(min = 1))]
    pub bootstrap_servers: String,
    /// Settings for each tenant's topics unless the tenant overrides them.
    #[serde(default)]
    pub topic_defaults: TopicDefaults,
}

/// Per-topic defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopicDefaults {
    /// Partitions per topic; a conversation always maps to one partition, so order is kept.
    #[serde(default = "default_partitions")]
    #[schemars(range(min = 1, max = 1024))]
    pub partitions: i32,
    /// Copies of each partition.
    #[serde(default = "default_replication")]
    #[schemars(range(min = 1, max = 7))]
    pub replication_factor: i32,
    /// How long events are kept, in milliseconds (-1 keeps them forever).
    #[serde(default = "default_retention_ms")]
    #[schemars(range(min = -1))]
    pub retention_ms: i64,
}

impl Default for TopicDefaults {
    fn default() -> Self {
        Self {
            partitions: default_partitions(),
            replication_factor: default_replication(),
            retention_ms: default_retention_ms(),
        }
    }
}

fn default_partitions() -> i32 {
    6
}
fn default_replication() -> i32 {
    3
}
fn default_retention_ms() -> i64 {
    7 * 24 * 3600 * 1000
}

/// The search backend and the defaults for each tenant's index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchSpec {
    /// Base URL of Elasticsearch or OpenSearch, for example `https://search.platform:9200`.
    #[schemars(length(min = 1))]
    pub url: String,
    /// Secret with `username` and `password` keys, when the backend requires credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
    /// Settings for each tenant's index unless the tenant overrides them.
    #[serde(default)]
    pub index_defaults: IndexDefaults,
}

/// Per-index defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndexDefaults {
    /// Primary shards of each tenant index.
    #[serde(default = "default_shards")]
    #[schemars(range(min = 1, max = 64))]
    pub shards: i32,
    /// Replicas of each shard.
    #[serde(default = "default_index_replicas")]
    #[schemars(range(min = 0, max = 5))]
    pub replicas: i32,
}

impl Default for IndexDefaults {
    fn default() -> Self {
        Self {
            shards: default_shards(),
            replicas: default_index_replicas(),
        }
    }
}

fn default_shards() -> i32 {
    1
}
fn default_index_replicas() -> i32 {
    1
}

/// S3-compatible object storage for media.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStorageSpec {
    /// Endpoint URL for S3-compatible stores; omit for AWS S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Region of the bucket.
    #[schemars(length(min = 1))]
    pub region: String,
    /// Bucket holding every tenant's media under a `<tenant>/` prefix.
    #[schemars(length(min = 3, max = 63))]
    pub bucket: String,
    /// Secret with `accessKeyId` and `secretAccessKey` keys: the operator's key. Under
    /// `tenantCredentials: PerTenant` it must also be allowed to manage IAM users under the
    /// path `/chemchat/` (create and delete users, their inline policies and access keys), and
    /// the purge Job of a deleted tenant uses it to delete the tenant's media.
    pub credentials_secret_ref: SecretRef,
    /// Whose S3 key each tenant's servers hold. `PerTenant` (the default): the operator makes
    /// an IAM user per tenant whose policy reaches only the objects under `<tenant>/` (and
    /// listings within it), keeps its key in the Secret `s3-user-<tenant>` of this namespace
    /// (delete that Secret to rotate the key) and deletes the user with the tenant. `Shared`:
    /// every tenant's servers get the key of `credentialsSecretRef`, so a compromised tenant
    /// pod reads and writes every tenant's media; only for stores without an IAM API.
    #[serde(default)]
    pub tenant_credentials: TenantCredentials,
    /// URL of the IAM API that makes the tenants' users, for S3-compatible stores that serve it
    /// elsewhere than AWS; omit for AWS IAM (resolved from `region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub iam_endpoint: Option<String>,
}

/// Whose S3 key a tenant's servers hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TenantCredentials {
    /// A key of the tenant's own IAM user, reaching only the tenant's `<tenant>/` prefix.
    #[default]
    PerTenant,
    /// The cluster's key (`credentialsSecretRef`), reaching every tenant's media.
    Shared,
}

/// Outgoing mail of every tenant's servers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MailSpec {
    /// Secret key holding the SMTP server's URL, which may carry its credentials:
    /// `smtps://user:pass@host`, `smtp://user:pass@host:587?tls=required`, or `smtp://host:25`
    /// unencrypted (written to each tenant's Secret as `CHEMCHAT_SMTP_URL`).
    pub smtp_url_secret_ref: SecretKeyRef,
    /// The sender, for example `ChemChat <no-reply@chat.example.com>` (`CHEMCHAT_MAIL_FROM`).
    #[schemars(length(min = 3, max = 320))]
    pub from: String,
}

/// Token signing settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSpec {
    /// Secret key holding the platform's master JWT secret (at least 32 bytes). It never
    /// reaches a tenant: each tenant's Secret gets the key derived from it for that tenant
    /// (HKDF-SHA256, `CHEMCHAT_JWT_TENANT_KEY`).
    pub jwt_secret_ref: SecretKeyRef,
}

/// Defaults for every tenant's server pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(
    "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas"
).message("serverDefaults.minReplicas must be <= serverDefaults.maxReplicas"))]
pub struct ServerDefaults {
    /// CPU and memory requests and limits of each server container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Fewest server pods per tenant unless the tenant or its tier says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub min_replicas: Option<i32>,
    /// Most server pods per tenant unless the tenant or its tier says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: Option<i32>,
    /// WebSocket connections per pod the autoscaler aims for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000000))]
    pub target_connections_per_pod: Option<i32>,
}

/// Where a `ChemChatCluster` stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ClusterPhase {
    /// Not yet looked at.
    #[default]
    Pending,
    /// Every referenced Secret is there.
    Ready,
    /// A referenced Secret or key is missing.
    Degraded,
    /// The spec breaks a rule the schema could not express.
    Invalid,
    /// Deleted, waiting for the tenants that reference it to be deleted first.
    Deleting,
}

/// What the operator observed of a `ChemChatCluster`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChemChatClusterStatus {
    /// `metadata.generation` the status was computed from.
    #[serde(default)]
    pub observed_generation: i64,
    /// Summary of the conditions.
    #[serde(default)]
    pub phase: ClusterPhase,
    /// `Ready` and `BackendsReachable`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// How many tenants reference this cluster.
    #[serde(default)]
    pub tenants: i32,
}

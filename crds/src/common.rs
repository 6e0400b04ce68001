//! Types shared by both resources: secret references, conditions and image settings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A key inside a Secret that lives in the ChemChatCluster's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret in the ChemChatCluster's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key inside the Secret whose value is used.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A whole Secret (for credential pairs) in the ChemChatCluster's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// Name of the Secret in the ChemChatCluster's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Whether a condition holds, as Kubernetes spells it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// The condition does not hold.
    False,
    /// The operator cannot tell yet.
    #[default]
    Unknown,
}

/// One observation about a resource, in the shape `kubectl wait --for=condition=…` understands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, for example `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// True, False or Unknown.
    pub status: ConditionStatus,
    /// RFC 3339 time the status last changed; stays put while the status does not change.
    pub last_transition_time: String,
    /// CamelCase machine-readable reason.
    pub reason: String,
    /// Human-readable explanation.
    #[serde(default)]
    pub message: String,
    /// `metadata.generation` this condition was computed from.
    #[serde(default)]
    pub observed_generation: i64,
}

/// Pull policy of the server image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PullPolicy {
    /// Pull on every pod start.
    Always,
    /// Pull only when the image is missing on the node.
    #[default]
    IfNotPresent,
    /// Never pull; the image must be on the node (kind with `kind load`).
    Never,
}

impl PullPolicy {
    /// The value Kubernetes expects in `imagePullPolicy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// Which container image runs the ChemChat server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    /// Image repository, for example `ghcr.io/chemchat/chemchat-server`.
    #[schemars(length(min = 1, max = 255))]
    pub repository: String,
    /// Image tag; pin a version rather than `latest` in production.
    #[serde(default = "default_tag")]
    #[schemars(length(min = 1, max = 128))]
    pub tag: String,
    /// When the kubelet pulls the image.
    #[serde(default)]
    pub pull_policy: PullPolicy,
}

fn default_tag() -> String {
    "latest".to_owned()
}

impl ImageSpec {
    /// `repository:tag`, as a container's `image` field wants it.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }
}

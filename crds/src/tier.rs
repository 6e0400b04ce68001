//! Commercial tiers and the defaults each one implies.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Commercial tier of a tenant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Tier {
    /// Small, single pod, no autoscaling.
    #[default]
    Free,
    /// Autoscaled, moderate limits.
    Pro,
    /// Autoscaled, high limits.
    Enterprise,
}

/// Everything a tier decides when the tenant spec leaves it open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierDefaults {
    /// Most user accounts.
    pub max_users: i64,
    /// Most conversations.
    pub max_conversations: i64,
    /// Most messages per day.
    pub max_messages_per_day: i64,
    /// Most stored media bytes.
    pub max_storage_bytes: i64,
    /// Most concurrent connections.
    pub max_connections: i64,
    /// Namespace CPU limit, as a Kubernetes quantity.
    pub cpu: &'static str,
    /// Namespace memory limit, as a Kubernetes quantity.
    pub memory: &'static str,
    /// Fewest pods.
    pub min_replicas: i32,
    /// Most pods.
    pub max_replicas: i32,
    /// Connections per pod the autoscaler aims for.
    pub target_connections_per_pod: i32,
}

const GIB: i64 = 1024 * 1024 * 1024;

impl Tier {
    /// The defaults of this tier.
    pub fn defaults(self) -> TierDefaults {
        match self {
            Self::Free => TierDefaults {
                max_users: 50,
                max_conversations: 200,
                max_messages_per_day: 10_000,
                max_storage_bytes: GIB,
                max_connections: 100,
                cpu: "1",
                memory: "1Gi",
                min_replicas: 1,
                max_replicas: 1,
                target_connections_per_pod: 100,
            },
            Self::Pro => TierDefaults {
                max_users: 2_000,
                max_conversations: 50_000,
                max_messages_per_day: 1_000_000,
                max_storage_bytes: 100 * GIB,
                max_connections: 5_000,
                cpu: "8",
                memory: "16Gi",
                min_replicas: 2,
                max_replicas: 6,
                target_connections_per_pod: 1_000,
            },
            Self::Enterprise => TierDefaults {
                max_users: 100_000,
                max_conversations: 5_000_000,
                max_messages_per_day: 100_000_000,
                max_storage_bytes: 10_000 * GIB,
                max_connections: 200_000,
                cpu: "64",
                memory: "128Gi",
                min_replicas: 3,
                max_replicas: 40,
                target_connections_per_pod: 5_000,
            },
        }
    }

    /// The tier's name as it appears in the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "Free",
            Self::Pro => "Pro",
            Self::Enterprise => "Enterprise",
        }
    }
}

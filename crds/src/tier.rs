//! Commercial tiers and the defaults each one implies.

use crate::contract;
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

/// A contract quota as the CRD's integer type (every quota fits).
const fn quota(value: u64) -> i64 {
    if value > i64::MAX as u64 {
        i64::MAX
    } else {
        value as i64
    }
}

impl Tier {
    /// The defaults of this tier.
    pub fn defaults(self) -> TierDefaults {
        match self {
            Self::Free => TierDefaults {
                max_users: quota(contract::FREE_QUOTAS.max_users),
                max_conversations: quota(contract::FREE_QUOTAS.max_conversations),
                max_messages_per_day: quota(contract::FREE_QUOTAS.max_messages_per_day),
                max_storage_bytes: quota(contract::FREE_QUOTAS.max_storage_bytes),
                max_connections: quota(contract::FREE_QUOTAS.max_connections),
                cpu: "1",
                memory: "1Gi",
                min_replicas: 1,
                max_replicas: 1,
                target_connections_per_pod: 100,
            },
            Self::Pro => TierDefaults {
                max_users: quota(contract::PRO_QUOTAS.max_users),
                max_conversations: quota(contract::PRO_QUOTAS.max_conversations),
                max_messages_per_day: quota(contract::PRO_QUOTAS.max_messages_per_day),
                max_storage_bytes: quota(contract::PRO_QUOTAS.max_storage_bytes),
                max_connections: quota(contract::PRO_QUOTAS.max_connections),
                cpu: "8",
                memory: "16Gi",
                min_replicas: 2,
                max_replicas: 6,
                target_connections_per_pod: 1_000,
            },
            Self::Enterprise => TierDefaults {
                max_users: quota(contract::ENTERPRISE_QUOTAS.max_users),
                max_conversations: quota(contract::ENTERPRISE_QUOTAS.max_conversations),
                max_messages_per_day: quota(contract::ENTERPRISE_QUOTAS.max_messages_per_day),
                max_storage_bytes: quota(contract::ENTERPRISE_QUOTAS.max_storage_bytes),
                max_connections: quota(contract::ENTERPRISE_QUOTAS.max_connections),
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

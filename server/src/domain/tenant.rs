//! Tenants: one customer of the platform, with its tier and quotas.

use super::ValidationError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A tenant id: a DNS label (`[a-z0-9-]`, 1–63 characters, no leading or trailing dash),
/// because it also names the tenant's Kubernetes namespace, Kafka topic and search index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// Parses a tenant id.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let ok = (1..=63).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValidationError::new(
                "tenantId",
                "expected 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'",
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The commercial tier; it picks the default quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Small limits, for trials and hobby use.
    Free,
    /// Paying teams.
    Pro,
    /// No platform-imposed limits beyond those configured.
    Enterprise,
}

impl Tier {
    /// The tier as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Pro => "pro",
            Tier::Enterprise => "enterprise",
        }
    }

    /// Parses a stored or configured tier (case-insensitive).
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "free" => Some(Tier::Free),
            "pro" => Some(Tier::Pro),
            "enterprise" => Some(Tier::Enterprise),
            _ => None,
        }
    }

    /// The quotas a tenant of this tier gets unless configured otherwise.
    pub fn default_quotas(self) -> Quotas {
        use chemchat_crds::contract;
        let quotas = match self {
            Tier::Free => contract::FREE_QUOTAS,
            Tier::Pro => contract::PRO_QUOTAS,
            Tier::Enterprise => contract::ENTERPRISE_QUOTAS,
        };
        Quotas {
            max_users: Some(quotas.max_users),
            max_conversations: Some(quotas.max_conversations),
            max_messages_per_day: Some(quotas.max_messages_per_day),
            max_storage_bytes: Some(quotas.max_storage_bytes),
            max_connections: Some(quotas.max_connections),
        }
    }
}

/// Per-tenant limits; `None` means unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quotas {
    /// Registered users.
    pub max_users: Option<u64>,
    /// Conversations.
    pub max_conversations: Option<u64>,
    /// Messages sent per UTC day.
    pub max_messages_per_day: Option<u64>,
    /// Stored media bytes.
    pub max_storage_bytes: Option<u64>,
    /// Concurrent WebSocket connections.
    pub max_connections: Option<u64>,
}

/// A tenant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// Human-readable name.
    pub display_name: String,
    /// Commercial tier.
    pub tier: Tier,
    /// Limits enforced by the server.
    pub quotas: Quotas,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_dns_labels() {
        for good in ["default", "acme", "a", "team-42"] {
            assert!(TenantId::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-acme",
            "acme-",
            "Acme",
            "ac_me",
            "a.b",
            &"x".repeat(64),
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tiers_round_trip() {
        for tier in [Tier::Free, Tier::Pro, Tier::Enterprise] {
            assert_eq!(Tier::parse(tier.as_str()), Some(tier));
        }
        assert_eq!(Tier::parse("Enterprise"), Some(Tier::Enterprise));
        assert_eq!(Tier::parse("gold"), None);
    }
}

//! Configuration: defaults, then an optional `chemchat.toml`, then `CHEMCHAT_*` environment
//! variables (the names in `chemchat_crds::contract`, shared with the operator).
//!
//! Secrets (`CHEMCHAT_JWT_SECRET`, URLs that may hold passwords) are wrapped so `Debug` and logs
//! never show them.

mod load;
mod text;

pub use load::{ConfigError, load};

use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Every setting of the server. Field names are the environment variable names without the
/// `CHEMCHAT_` prefix, lower-cased.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Address to serve on.
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: SecretString,
    /// Connection pool size.
    pub database_max_connections: u32,
    /// Redis for cross-instance fan-out, presence and rate limits.
    pub redis_url: Option<SecretString>,
    /// Kafka bootstrap servers.
    pub kafka_brokers: Option<String>,
    /// Elasticsearch/OpenSearch URL.
    pub search_url: Option<SecretString>,
    /// Local media folder when no S3 endpoint is set.
    pub media_dir: PathBuf,
    /// Folder for the embedded default's state (the generated JWT secret).
    pub data_dir: PathBuf,
    /// JWT signing secret, at least 32 bytes.
    pub jwt_secret: Option<SecretString>,
    /// Pins the server to one tenant.
    #[serde(deserialize_with = "text::optional")]
    pub tenant_id: Option<String>,
    /// Tier of the pinned tenant (or of the default tenant), picking its default quotas.
    pub tenant_tier: Option<String>,
    /// The tenant of requests that name none, when not pinned.
    #[serde(deserialize_with = "text::required")]
    pub default_tenant: String,
    /// Quota override: users.
    pub quota_max_users: Option<u64>,
    /// Quota override: conversations.
    pub quota_max_conversations: Option<u64>,
    /// Quota override: messages per day.
    pub quota_max_messages_per_day: Option<u64>,
    /// Quota override: stored media bytes.
    pub quota_max_storage_bytes: Option<u64>,
    /// Quota override: concurrent connections.
    pub quota_max_connections: Option<u64>,
    /// Login attempts allowed per client address per minute.
    pub login_attempts_per_ip: u32,
    /// Login attempts allowed per account per minute.
    pub login_attempts_per_account: u32,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Longest message, in characters (Unicode scalar values).
    pub max_message_chars: usize,
    /// Seconds to wait for in-flight requests on shutdown.
    pub shutdown_grace_seconds: u64,
    /// Log format.
    pub log_format: LogFormat,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], chemchat_crds::contract::DEFAULT_PORT)),
            database_url: SecretString::from("sqlite://data/chemchat.db"),
            database_max_connections: 16,
            redis_url: None,
            kafka_brokers: None,
            search_url: None,
            media_dir: PathBuf::from("data/media"),
            data_dir: PathBuf::from("data"),
            jwt_secret: None,
            tenant_id: None,
            tenant_tier: None,
            default_tenant: "default".to_owned(),
            quota_max_users: None,
            quota_max_conversations: None,
            quota_max_messages_per_day: None,
            quota_max_storage_bytes: None,
            quota_max_connections: None,
            login_attempts_per_ip: 30,
            login_attempts_per_account: 10,
            max_body_bytes: 1 << 20,
            max_message_chars: 8000,
            shutdown_grace_seconds: 20,
            log_format: LogFormat::Pretty,
        }
    }
}

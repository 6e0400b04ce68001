//! Configuration: defaults, then an optional `chemchat.toml`, then `CHEMCHAT_*` environment
//! variables (the names in `chemchat_crds::contract`, shared with the operator).
//!
//! Secrets (`CHEMCHAT_JWT_SECRET`, `CHEMCHAT_JWT_TENANT_KEY`, URLs that may hold passwords) are wrapped so `Debug` and logs
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
    /// Connection pool size (on PostgreSQL the send batches have two connections more).
    pub database_max_connections: u32,
    /// Start even when the PostgreSQL role bypasses row-level security (a superuser or
    /// `BYPASSRLS`), with a warning; refused otherwise.
    pub allow_rls_bypass: bool,
    /// Redis for cross-instance fan-out, presence and rate limits.
    pub redis_url: Option<SecretString>,
    /// Prepended to every Redis key and channel (lets several deployments or tests share one
    /// Redis).
    pub redis_prefix: String,
    /// Kafka bootstrap servers.
    pub kafka_brokers: Option<String>,
    /// Elasticsearch/OpenSearch URL.
    pub search_url: Option<SecretString>,
    /// Local media folder when no S3 bucket is set.
    pub media_dir: PathBuf,
    /// S3 endpoint of an S3-compatible store (MinIO…); unset for AWS S3.
    #[serde(deserialize_with = "text::optional")]
    pub s3_endpoint: Option<String>,
    /// S3 bucket for media; setting it selects S3 over the local folder.
    #[serde(deserialize_with = "text::optional")]
    pub s3_bucket: Option<String>,
    /// The bucket's region.
    #[serde(deserialize_with = "text::required")]
    pub s3_region: String,
    /// S3 access key id.
    pub s3_access_key_id: Option<SecretString>,
    /// S3 secret access key.
    pub s3_secret_access_key: Option<SecretString>,
    /// Bucket in the URL path rather than the host name; default: on when an endpoint is set
    /// (self-hosted stores), off for AWS.
    pub s3_path_style: Option<bool>,
    /// Largest upload, for every tier (default: 25 MiB Free, 100 MiB Pro, 1 GiB Enterprise).
    pub media_max_upload_bytes: Option<u64>,
    /// Seconds an upload URL (`POST /media/uploads`) stays valid.
    pub media_upload_url_seconds: u64,
    /// Seconds a download URL stays valid (at most 300).
    pub media_download_url_seconds: u64,
    /// Seconds an unreferenced media item is kept before it is deleted.
    pub media_grace_seconds: u64,
    /// Seconds between sweeps for unreferenced media.
    pub media_sweep_seconds: u64,
    /// Seconds between sweeps for messages past their retention.
    pub retention_sweep_seconds: u64,
    /// The SMTP server for password resets and address proofs (`smtps://user:pass@host`,
    /// `smtp://user:pass@host:587?tls=required`, or `smtp://host:port` unencrypted); unset:
    /// no mail, and those routes answer 501.
    pub smtp_url: Option<SecretString>,
    /// The sender of that mail.
    #[serde(deserialize_with = "text::required")]
    pub mail_from: String,
    /// Who push services may contact about this server's pushes (VAPID `sub`: `mailto:…` or
    /// `https://…`); default: `mailto:` the mail sender's address.
    #[serde(deserialize_with = "text::optional")]
    pub push_contact: Option<String>,
    /// Milliseconds after a push in which further messages of the same conversation are held
    /// and then pushed as one notice with their count.
    pub push_coalesce_ms: u64,
    /// Let push subscriptions point at plain `http` and private addresses (development and
    /// tests only: a subscription's endpoint is a URL a client chose).
    pub push_allow_private_endpoints: bool,
    /// Seconds a DM or @mention waits, unread and reached by no push, before it is mailed in a
    /// digest (with SMTP configured).
    pub mail_digest_delay_seconds: u64,
    /// Seconds between two digests to the same user, at least.
    pub mail_digest_gap_seconds: u64,
    /// Where people reach the web client; links in mail start with it.
    #[serde(deserialize_with = "text::required")]
    pub public_url: String,
    /// Folder for the embedded default's state (the generated JWT secret).
    pub data_dir: PathBuf,
    /// The platform's master JWT secret, at least 32 bytes; each tenant's signing key is
    /// derived from it.
    pub jwt_secret: Option<SecretString>,
    /// One tenant's derived signing key (base64) instead of the master: only with `tenant_id`,
    /// and the server then signs and verifies for that tenant alone.
    pub jwt_tenant_key: Option<SecretString>,
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
    /// Browser origins allowed to call the API and open WebSockets (comma-separated
    /// `scheme://host[:port]`); the server's own origin always may.
    pub cors_origins: Option<String>,
    /// `Strict-Transport-Security` max-age in seconds; 0 sends none (set it behind TLS).
    pub hsts_seconds: u64,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` name the client: comma-separated CIDRs.
    pub trusted_proxies: Option<String>,
    /// Rate-limit overrides: `<action>.<scope>=<count>/<s|min|h>[+<burst>]`, comma-separated
    /// (`domain::RateTable::parse`).
    pub rate_limits: Option<String>,
    /// Login attempts allowed per client address per minute.
    pub login_attempts_per_ip: u32,
    /// Login attempts allowed per account per minute.
    pub login_attempts_per_account: u32,
    /// A second listener for `/health*` and `/metrics` only (probes and scraping); when set,
    /// the main listener no longer serves them, so an Ingress cannot expose them.
    pub admin_listen: Option<SocketAddr>,
    /// Open HTTP connections the server accepts at once.
    pub http_max_connections: usize,
    /// Seconds a client has to send request headers (also the idle keep-alive limit).
    pub header_read_timeout_seconds: u64,
    /// Seconds a REST request may take before it is answered 503.
    pub request_timeout_seconds: u64,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Longest message, in characters (Unicode scalar values).
    pub max_message_chars: usize,
    /// Seconds to wait for in-flight requests on shutdown.
    pub shutdown_grace_seconds: u64,
    /// Log format.
    pub log_format: LogFormat,
    /// Largest WebSocket client frame, in bytes (larger closes with 1009).
    pub ws_max_frame_bytes: usize,
    /// WebSocket frames per second a connection may send on average (more closes with 4029).
    pub ws_rate_per_second: u32,
    /// WebSocket frames a connection may send in a burst.
    pub ws_rate_burst: u32,
    /// Frames queued per WebSocket connection before it is closed as a slow consumer (4008).
    pub ws_send_queue: usize,
    /// Milliseconds a WebSocket connection has to authenticate (then 4401).
    pub ws_auth_timeout_ms: u64,
    /// Seconds of silence after which a WebSocket connection is closed (4408) and its presence
    /// expires.
    pub ws_heartbeat_seconds: u64,
    /// Concurrent WebSocket connections per instance.
    pub ws_max_connections: usize,
    /// WebSocket connections one address may hold open before they authenticate.
    pub ws_unauthenticated_per_address: usize,
    /// Live WebSocket connections one user may hold across every instance (more close with
    /// 4429).
    pub ws_max_connections_per_user: u64,
    /// Upper bound of the random reconnect delay sent to clients when draining.
    pub ws_drain_jitter_ms: u64,
    /// Seconds a WebSocket token lives; a connection closes (4401) when its token expires unless
    /// it authenticated again with a fresh one.
    pub ws_token_seconds: u64,
    /// Seconds between checks of every WebSocket connection's session against the store (the
    /// net under revocations the bus lost).
    pub ws_session_check_seconds: u64,
}

impl Settings {
    /// The gateway's limits from these settings.
    pub fn gateway(&self) -> crate::gateway::GatewaySettings {
        crate::gateway::GatewaySettings {
            max_frame_bytes: self.ws_max_frame_bytes,
            rate_per_second: self.ws_rate_per_second,
            rate_burst: self.ws_rate_burst,
            send_queue: self.ws_send_queue,
            auth_timeout: std::time::Duration::from_millis(self.ws_auth_timeout_ms),
            heartbeat_timeout: std::time::Duration::from_secs(self.ws_heartbeat_seconds),
            max_connections: self.ws_max_connections,
            max_connections_per_user: self.ws_max_connections_per_user.max(1),
            unauthenticated_per_address: self.ws_unauthenticated_per_address.max(1),
            drain_jitter_ms: self.ws_drain_jitter_ms,
            session_check: std::time::Duration::from_secs(self.ws_session_check_seconds.max(1)),
            ..crate::gateway::GatewaySettings::default()
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], chemchat_crds::contract::DEFAULT_PORT)),
            database_url: SecretString::from("sqlite://data/chemchat.db"),
            database_max_connections: 16,
            allow_rls_bypass: false,
            redis_url: None,
            redis_prefix: String::new(),
            kafka_brokers: None,
            search_url: None,
            media_dir: PathBuf::from("data/media"),
            s3_endpoint: None,
            s3_bucket: None,
            s3_region: "us-east-1".to_owned(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_path_style: None,
            media_max_upload_bytes: None,
            media_upload_url_seconds: 900,
            media_download_url_seconds: 300,
            media_grace_seconds: 24 * 3600,
            media_sweep_seconds: 600,
            retention_sweep_seconds: 60,
            smtp_url: None,
            mail_from: "ChemChat <no-reply@localhost>".to_owned(),
            push_contact: None,
            push_coalesce_ms: 10_000,
            push_allow_private_endpoints: false,
            mail_digest_delay_seconds: 15 * 60,
            mail_digest_gap_seconds: 3600,
            public_url: "http://localhost:3000".to_owned(),
            data_dir: PathBuf::from("data"),
            jwt_secret: None,
            jwt_tenant_key: None,
            tenant_id: None,
            tenant_tier: None,
            default_tenant: "default".to_owned(),
            quota_max_users: None,
            quota_max_conversations: None,
            quota_max_messages_per_day: None,
            quota_max_storage_bytes: None,
            quota_max_connections: None,
            rate_limits: None,
            trusted_proxies: None,
            cors_origins: None,
            hsts_seconds: 0,
            login_attempts_per_ip: 30,
            login_attempts_per_account: 10,
            admin_listen: None,
            http_max_connections: 60_000,
            header_read_timeout_seconds: 10,
            request_timeout_seconds: 30,
            max_body_bytes: 1 << 20,
            max_message_chars: 8000,
            shutdown_grace_seconds: 20,
            log_format: LogFormat::Pretty,
            ws_max_frame_bytes: 64 * 1024,
            ws_rate_per_second: 50,
            ws_rate_burst: 100,
            ws_send_queue: 256,
            ws_auth_timeout_ms: 10_000,
            ws_heartbeat_seconds: 60,
            ws_max_connections: 50_000,
            ws_max_connections_per_user: 10,
            ws_unauthenticated_per_address: 50,
            ws_drain_jitter_ms: 5_000,
            ws_session_check_seconds: 30,
            ws_token_seconds: 3600,
        }
    }
}

//! The configuration contract: the environment variables the operator writes and the server reads.
//!
//! Both crates use these constants, so renaming one is a compile error on both sides rather than
//! a silent misconfiguration in a cluster.

/// Prefix of every server configuration variable.
pub const ENV_PREFIX: &str = "CHEMCHAT_";

/// `address:port` the server listens on.
pub const LISTEN: &str = "CHEMCHAT_LISTEN";
/// `address:port` of a second, internal listener for `/health*` and `/metrics`; when set, the
/// main listener (the one an Ingress routes) no longer serves them.
pub const ADMIN_LISTEN: &str = "CHEMCHAT_ADMIN_LISTEN";
/// Comma-separated CIDRs (or addresses) of the proxies whose `Forwarded` / `X-Forwarded-For`
/// name the client; per-address limits key on that client. Unset: only the TCP peer counts.
pub const TRUSTED_PROXIES: &str = "CHEMCHAT_TRUSTED_PROXIES";
/// `sqlite://…` or `postgres://…`; the storage engine follows the scheme.
pub const DATABASE_URL: &str = "CHEMCHAT_DATABASE_URL";
/// Redis for cross-instance fan-out, presence and rate limits; unset means in-process.
pub const REDIS_URL: &str = "CHEMCHAT_REDIS_URL";
/// Kafka bootstrap servers for the event stream; unset means the in-process outbox relay.
pub const KAFKA_BROKERS: &str = "CHEMCHAT_KAFKA_BROKERS";
/// Elasticsearch/OpenSearch URL; unset means the built-in SQL full-text search.
pub const SEARCH_URL: &str = "CHEMCHAT_SEARCH_URL";
/// S3 endpoint for media (S3-compatible stores); unset with a bucket means AWS S3.
pub const S3_ENDPOINT: &str = "CHEMCHAT_S3_ENDPOINT";
/// S3 bucket for media; unset means the local media folder.
pub const S3_BUCKET: &str = "CHEMCHAT_S3_BUCKET";
/// S3 region.
pub const S3_REGION: &str = "CHEMCHAT_S3_REGION";
/// `true`: bucket in the URL path (`endpoint/bucket/key`), as MinIO and most self-hosted stores
/// need; default: on when an endpoint is set, off for AWS.
pub const S3_PATH_STYLE: &str = "CHEMCHAT_S3_PATH_STYLE";
/// S3 access key id.
pub const S3_ACCESS_KEY_ID: &str = "CHEMCHAT_S3_ACCESS_KEY_ID";
/// S3 secret access key.
pub const S3_SECRET_ACCESS_KEY: &str = "CHEMCHAT_S3_SECRET_ACCESS_KEY";
/// Local folder for media when no S3 bucket is set.
pub const MEDIA_DIR: &str = "CHEMCHAT_MEDIA_DIR";
/// The platform's master JWT secret; generated and persisted for the embedded default,
/// required otherwise. Each tenant's signing key is derived from it ([`JWT_KEY_LABEL`]), so the
/// operator never gives it to a tenant.
pub const JWT_SECRET: &str = "CHEMCHAT_JWT_SECRET";
/// One tenant's derived signing key (base64), for a server pinned to that tenant
/// ([`TENANT_ID`]) that must not hold the master secret: it signs and verifies that tenant's
/// tokens and no other's.
pub const JWT_TENANT_KEY: &str = "CHEMCHAT_JWT_TENANT_KEY";
/// The HKDF-SHA256 salt of tenant signing keys (the tenant id is the `info`). Versioned: a new
/// derivation gets a new label, so keys of the two never match.
pub const JWT_KEY_LABEL: &str = "chemchat-jwt-v1";
/// The new password of a tenant's PostgreSQL role, read by `chemchat-server tenant role <id>`.
pub const TENANT_ROLE_PASSWORD: &str = "CHEMCHAT_TENANT_ROLE_PASSWORD";
/// The new password of a tenant's Redis ACL user, read by `chemchat-server tenant redis-user <id>`.
pub const TENANT_REDIS_PASSWORD: &str = "CHEMCHAT_TENANT_REDIS_PASSWORD";
/// Prefix of every tenant's PostgreSQL role. Row-level security pins a role with this prefix to
/// the tenant it was created for, and to nothing at all if it was created for none.
pub const TENANT_ROLE_PREFIX: &str = "chemchat_tenant_";
/// The SMTP server for the mail the server sends (may carry credentials: secret).
pub const SMTP_URL: &str = "CHEMCHAT_SMTP_URL";
/// The sender of that mail.
pub const MAIL_FROM: &str = "CHEMCHAT_MAIL_FROM";
/// Where people reach the web client; links in mail start with it.
pub const PUBLIC_URL: &str = "CHEMCHAT_PUBLIC_URL";
/// Pins the server to one tenant; every other tenant gets 404.
pub const TENANT_ID: &str = "CHEMCHAT_TENANT_ID";
/// `pretty` or `json`.
pub const LOG_FORMAT: &str = "CHEMCHAT_LOG_FORMAT";

/// Tenant quota: maximum users.
pub const QUOTA_MAX_USERS: &str = "CHEMCHAT_QUOTA_MAX_USERS";
/// Tenant quota: maximum conversations.
pub const QUOTA_MAX_CONVERSATIONS: &str = "CHEMCHAT_QUOTA_MAX_CONVERSATIONS";
/// Tenant quota: maximum messages per day.
pub const QUOTA_MAX_MESSAGES_PER_DAY: &str = "CHEMCHAT_QUOTA_MAX_MESSAGES_PER_DAY";
/// Tenant quota: maximum stored media bytes.
pub const QUOTA_MAX_STORAGE_BYTES: &str = "CHEMCHAT_QUOTA_MAX_STORAGE_BYTES";
/// Tenant quota: maximum concurrent WebSocket connections.
pub const QUOTA_MAX_CONNECTIONS: &str = "CHEMCHAT_QUOTA_MAX_CONNECTIONS";

/// Standard variable for the log filter (not prefixed: it is the `tracing` convention).
pub const RUST_LOG: &str = "RUST_LOG";
/// Standard variable for the OTLP trace exporter endpoint.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Name of the Prometheus gauge the autoscaler reads: live WebSocket connections per pod.
pub const METRIC_WEBSOCKET_CONNECTIONS: &str = "chemchat_websocket_connections";
/// Path of the liveness probe.
pub const PATH_LIVE: &str = "/health/live";
/// Path of the readiness probe.
pub const PATH_READY: &str = "/health/ready";
/// Path of the Prometheus metrics.
pub const PATH_METRICS: &str = "/metrics";
/// Default HTTP port of the server.
pub const DEFAULT_PORT: u16 = 3000;
/// Port of the admin listener the operator configures: probes and scraping, never an Ingress.
pub const ADMIN_PORT: u16 = 9090;

/// The Kafka topic of a tenant's event stream: one per tenant, keyed by conversation id.
pub fn events_topic(tenant: &str) -> String {
    format!("chemchat.{tenant}.events")
}

/// The search index of a tenant's messages. Tenant ids are DNS labels, which are valid index
/// names (lowercase, no `*`, `,`, spaces…).
pub fn messages_index(tenant: &str) -> String {
    format!("chemchat-{tenant}-messages")
}

/// The consumer group of one purpose (`search-indexer`, `notifier`): each purpose reads the whole
/// stream once, however many replicas share the work. A server pinned to a tenant gets a group of
/// its own, so one tenant scaling never makes every other tenant's consumers rebalance.
pub fn consumer_group(tenant: Option<&str>, purpose: &str) -> String {
    match tenant {
        Some(tenant) => format!("chemchat-{tenant}-{purpose}"),
        None => format!("chemchat-{purpose}"),
    }
}

/// The quotas a tier gives a tenant whose spec (or `CHEMCHAT_QUOTA_*`) leaves them open. The
/// operator writes them into each tenant's configuration and the server applies them to a tenant
/// it creates itself, so both read these numbers and nothing else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierQuotas {
    /// Most user accounts.
    pub max_users: u64,
    /// Most conversations.
    pub max_conversations: u64,
    /// Most messages per UTC day.
    pub max_messages_per_day: u64,
    /// Most stored media bytes.
    pub max_storage_bytes: u64,
    /// Most concurrent WebSocket connections.
    pub max_connections: u64,
}

const GIB: u64 = 1024 * 1024 * 1024;

/// Quotas of the Free tier.
pub const FREE_QUOTAS: TierQuotas = TierQuotas {
    max_users: 50,
    max_conversations: 200,
    max_messages_per_day: 10_000,
    max_storage_bytes: GIB,
    max_connections: 100,
};

/// Quotas of the Pro tier (connections: its largest deployment, 6 pods, at 1 000 each leaves
/// headroom above 5 000).
pub const PRO_QUOTAS: TierQuotas = TierQuotas {
    max_users: 2_000,
    max_conversations: 50_000,
    max_messages_per_day: 1_000_000,
    max_storage_bytes: 100 * GIB,
    max_connections: 5_000,
};

/// Quotas of the Enterprise tier.
pub const ENTERPRISE_QUOTAS: TierQuotas = TierQuotas {
    max_users: 100_000,
    max_conversations: 5_000_000,
    max_messages_per_day: 100_000_000,
    max_storage_bytes: 10_000 * GIB,
    max_connections: 200_000,
};

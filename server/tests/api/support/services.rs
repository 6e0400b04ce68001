//! Where the services of `make services` are. A test that needs one and finds its variable unset
//! fails naming `make services`: it never passes by skipping.

use chemchat_server::domain::TenantId;

/// The PostgreSQL server, as a URL whose role may create databases and roles.
pub fn postgres_admin_url() -> String {
    service_env("CHEMCHAT_TEST_DATABASE_URL", "PostgreSQL")
}

/// The machine's Redis, shared by the tests that use it (each under a key prefix of its own).
pub fn redis_url() -> String {
    service_env("CHEMCHAT_TEST_REDIS_URL", "Redis")
}

/// The Kafka-protocol broker (tansu).
pub fn kafka_brokers() -> String {
    service_env("CHEMCHAT_TEST_KAFKA_BROKERS", "the Kafka broker (tansu)")
}

/// The broker's binary, for a test that runs (and stops) a private broker of its own.
pub fn tansu_binary() -> String {
    service_env(
        "CHEMCHAT_TEST_TANSU_BIN",
        "the Kafka broker's binary (tansu)",
    )
}

/// The OpenSearch-API server (osmem).
pub fn search_url() -> String {
    service_env(
        "CHEMCHAT_TEST_SEARCH_URL",
        "the search server (OpenSearch API)",
    )
}

/// The S3 server (s3s-fs, which checks SigV4 signatures) and its credentials.
pub fn s3_endpoint() -> String {
    service_env("CHEMCHAT_TEST_S3_ENDPOINT", "the S3 server (s3s-fs)")
}

/// The S3 server's access key id and secret.
pub fn s3_credentials() -> (String, String) {
    (
        service_env("CHEMCHAT_TEST_S3_ACCESS_KEY", "the S3 server (s3s-fs)"),
        service_env("CHEMCHAT_TEST_S3_SECRET_KEY", "the S3 server (s3s-fs)"),
    )
}

/// The push service (web-push-testing, which checks VAPID and decrypts aes128gcm).
pub fn push_url() -> String {
    service_env(
        "CHEMCHAT_TEST_PUSH_URL",
        "the push service (web-push-testing)",
    )
}

/// Where node finds socket.io-client and playwright-core (installed by `make services`).
pub fn node_path() -> String {
    service_env(
        "CHEMCHAT_TEST_NODE_PATH",
        "the node packages (socket.io-client, playwright-core)",
    )
}

/// The Chromium binary the browser tests drive (Debian's, installed by `make services`).
pub fn chromium() -> String {
    service_env("CHEMCHAT_TEST_CHROMIUM", "Chromium")
}

fn service_env(name: &str, service: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need {service}. Run `make test`, or start the \
             services with `make services` and export what it prints \
             (`eval \"$(make -s services)\"`)."
        )
    })
}

/// A tenant id of its own (`<prefix>-<random>`), so a test's topic, index and consumer group are
/// its alone on services that outlive the test.
pub fn unique_tenant(prefix: &str) -> TenantId {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    TenantId::parse(&format!("{prefix}-{}", &suffix[..10])).unwrap()
}

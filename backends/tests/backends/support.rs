//! Where the services of `make services` are, and unique names so tests run in parallel. A test
//! that needs a service and finds its variable unset fails naming `make services`.

use std::net::TcpListener;

/// The Kafka-protocol broker (tansu).
pub fn kafka_brokers() -> String {
    service_env("CHEMCHAT_TEST_KAFKA_BROKERS", "the Kafka broker (tansu)")
}

/// The OpenSearch-API server (osmem).
pub fn search_url() -> String {
    service_env(
        "CHEMCHAT_TEST_SEARCH_URL",
        "the search server (OpenSearch API)",
    )
}

/// moto's endpoint (IAM, and S3 that enforces IAM policies) and its admin's key.
pub fn moto() -> (String, chemchat_backends::object_storage_users::AccessKey) {
    let what = "moto (IAM and S3)";
    (
        service_env("CHEMCHAT_TEST_MOTO_ENDPOINT", what),
        chemchat_backends::object_storage_users::AccessKey::new(
            service_env("CHEMCHAT_TEST_MOTO_ACCESS_KEY", what),
            service_env("CHEMCHAT_TEST_MOTO_SECRET_KEY", what),
        ),
    )
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

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// `127.0.0.1:port` of a port nothing listens on (bound, then released).
pub fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    address
}

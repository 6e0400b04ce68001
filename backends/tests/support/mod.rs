//! Where the real services are, and unique names so tests run in parallel.

#![allow(dead_code)]

use std::net::TcpListener;

/// The tansu broker started by `make services`.
pub fn kafka_brokers() -> String {
    std::env::var("CHEMCHAT_TEST_KAFKA_BROKERS").unwrap_or_else(|_| {
        panic!(
            "CHEMCHAT_TEST_KAFKA_BROKERS is not set: these tests need a Kafka broker (tansu); \
             run `make services` and export the variables it prints"
        )
    })
}

/// The osmem OpenSearch-API server started by `make services`.
pub fn search_url() -> String {
    std::env::var("CHEMCHAT_TEST_SEARCH_URL").unwrap_or_else(|_| {
        panic!(
            "CHEMCHAT_TEST_SEARCH_URL is not set: these tests need an OpenSearch-API server \
             (osmem-server); run `make services` and export the variables it prints"
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

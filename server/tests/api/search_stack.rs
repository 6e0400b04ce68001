//! The scaled deployment end to end: a server on PostgreSQL whose outbox relay ships to Kafka
//! (tansu) and whose search indexer feeds OpenSearch (osmem) from its consumer group. Pinned to a
//! tenant of its own, so its topic, index and consumer group are this test's alone.

use crate::support::Engine;
use crate::support::api::{ApiUser, api_group, api_user, call, send_text};
use crate::support::server::TestServer;
use crate::support::services;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

async fn search(server: &TestServer, user: &ApiUser, q: &str) -> Vec<String> {
    let url = format!("/api/v1/search/messages?q={q}");
    let (status, body) = call(server, user, Method::GET, &url, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["message"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls until the search for `q` returns `want`; returns how long that took.
async fn until(
    server: &TestServer,
    user: &ApiUser,
    q: &str,
    want: &[&str],
    within: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let got = search(server, user, q).await;
        if got == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "'{q}' after {within:?}: {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_to_opensearch_finds_edits_and_forgets_deletes_within_five_seconds() {
    let tenant = format!("stack-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let (brokers, search_url) = (services::kafka_brokers(), services::search_url());
    let server = TestServer::start_with(Engine::Postgres, |settings| {
        settings.tenant_id = Some(tenant.clone());
        settings.kafka_brokers = Some(brokers);
        settings.search_url = Some(search_url.into());
    })
    .await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let conversation = api_group(&server, &alice, &[&bob]).await;

    // The first message also waits for the indexer to join its consumer group.
    let warm = send_text(&server, &alice, &conversation, "warming up").await;
    until(&server, &bob, "warming", &[&warm], Duration::from_secs(60)).await;

    let five = Duration::from_secs(5);
    let id = send_text(&server, &alice, &conversation, "quarterly numbers attached").await;
    let found = until(&server, &bob, "quarterly", &[&id], five).await;
    let path = format!("/api/v1/messages/{id}");
    let body = json!({ "content": "yearly numbers attached" });
    let (status, _) = call(&server, &alice, Method::PUT, &path, Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    let edited = until(&server, &bob, "yearly", &[&id], five).await;
    until(&server, &bob, "quarterly", &[], five).await;
    let (status, _) = call(&server, &alice, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let deleted = until(&server, &bob, "numbers", &[], five).await;
    eprintln!("found after {found:?}, edit after {edited:?}, delete after {deleted:?}");

    // The relay's figures are on /metrics.
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("chemchat_outbox_shipped_total"),
        "{metrics}"
    );
    assert!(metrics.contains("chemchat_outbox_backlog 0"), "{metrics}");
    server.stop().await;
}

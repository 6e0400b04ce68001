//! `/health` lists every configured dependency with its status and latency, and reports a dead
//! Redis as down (the instance degraded, not unavailable) while messages keep flowing; the
//! original system's metric names appear with their labels once there is traffic.

use crate::support::api::{api_group, api_user, send_text};
use crate::support::process::{Private, free_port};
use crate::support::server::TestServer;
use crate::support::ws::pair_in_a_room;
use crate::support::{Engine, services};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::process::Command;

/// `/health`'s status and body.
pub(crate) async fn health(server: &TestServer) -> (u16, Value) {
    let response = server.http.get(server.url("/health")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn health_lists_each_dependency_and_a_dead_redis_is_down_while_messages_flow() {
    let port = free_port();
    let mut command = Command::new("redis-server");
    command.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]);
    command.args(["--save", "", "--appendonly", "no"]);
    let mut redis = Private::start(command, port, "redis-server").await;
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.redis_url = Some(SecretString::from(format!("redis://127.0.0.1:{port}")));
        s.redis_prefix = format!("health-{}", uuid::Uuid::new_v4().simple());
        s.kafka_brokers = Some(services::kafka_brokers());
        s.search_url = Some(SecretString::from(services::search_url()));
        s.tenant_id = Some(services::unique_tenant("health").as_str().to_owned());
    })
    .await;

    let (status, body) = health(&server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok", "{body}");
    for name in ["database", "redis", "kafka", "search", "push"] {
        let dependency = &body["dependencies"][name];
        assert_eq!(dependency["status"], "up", "{name}: {body}");
        assert!(dependency["latencyMs"].as_f64().is_some(), "{name}: {body}");
    }
    assert_eq!(body["dependencies"]["database"]["engine"], "sqlite");
    for unconfigured in ["s3", "smtp"] {
        assert!(
            body["dependencies"].get(unconfigured).is_none(),
            "only what is configured is listed: {body}"
        );
    }

    redis.kill();
    let (status, body) = health(&server).await;
    assert_eq!(status, 200, "Redis is not needed to serve: {body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["dependencies"]["redis"]["status"], "down", "{body}");
    assert_eq!(body["dependencies"]["database"]["status"], "up", "{body}");
    assert!(
        !body.to_string().contains("Connection refused"),
        "causes stay in the log: {body}"
    );

    // Messages still flow, stored and delivered on this instance.
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let room = api_group(&server, &alice, &[&bob]).await;
    send_text(&server, &alice, &room, "still here").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_metric_names_appear_with_their_labels_after_traffic() {
    let server = TestServer::start(Engine::Sqlite).await;
    let before = server.metrics().await;
    assert!(
        before.contains("chat_active_connections 0"),
        "the gauge exists from the start: {before}"
    );
    let (room, mut a, mut b) = pair_in_a_room(&server).await;
    a.ok(
        "message.send",
        json!({ "conversationId": room, "content": "measured", "clientMessageId": "m1" }),
    )
    .await;
    b.expect("message.created").await;

    let metrics = server.metrics().await;
    let line = |name: &str| -> String {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
            .to_owned()
    };
    let sent = line("chat_messages_sent_total{");
    assert!(
        sent.contains("conversation_type=\"group\"") && sent.contains("message_type=\"text\""),
        "{sent}"
    );
    assert!(sent.ends_with(" 1"), "{sent}");
    assert_eq!(
        line("chat_active_connections "),
        "chat_active_connections 2"
    );
    let tenant = line("chemchat_tenant_connections{");
    assert!(
        tenant.starts_with("chemchat_tenant_connections{tenant=\"") && tenant.ends_with(" 2"),
        "{tenant}"
    );
    // Commit → written on the socket (to both joined connections), with the SLO buckets.
    let count = |name: &str| -> f64 {
        line(name)
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap()
    };
    let deliveries = count("chat_message_latency_seconds_count");
    assert!(deliveries >= 1.0, "{metrics}");
    assert_eq!(
        count("chat_message_latency_seconds_bucket{le=\"5\"}"),
        deliveries
    );
    for gauge in [
        "chemchat_outbox_backlog",
        "chemchat_outbox_oldest_age_seconds",
    ] {
        line(gauge);
    }
}

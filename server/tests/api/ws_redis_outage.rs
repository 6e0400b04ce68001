//! Degradation order when Redis goes away: messages keep flowing on the instance, the connection
//! stays usable, and only the cross-instance extras (typing, presence) may be lost. When Redis
//! returns, cross-instance delivery resumes by itself and what other instances' clients missed
//! comes back with sync.
//!
//! The test runs its own throw-away `redis-server` so it can kill it without disturbing the
//! machine's Redis that other tests share.

use crate::support::api::{Api, api_group, api_user};
use crate::support::instance::Instance;
use crate::support::process::{Private, free_port};
use crate::support::server::TestServer;
use crate::support::ws::{Ws, pair_in_a_room};
use crate::support::{Engine, TestDb};
use secrecy::SecretString;
use serde_json::json;
use std::process::Command;
use std::time::Duration;

/// A private Redis on `port` (a free one, or the port of one that died: a restart).
async fn private_redis(port: u16) -> Private {
    let mut command = Command::new("redis-server");
    command.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]);
    command.args(["--save", "", "--appendonly", "no"]);
    Private::start(command, port, "redis-server").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_keep_flowing_when_redis_dies() {
    let mut redis = private_redis(free_port()).await;
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.redis_url = Some(SecretString::from(url));
        s.redis_prefix = format!("outage-{}", uuid::Uuid::new_v4().simple());
    })
    .await;
    let (room, mut a, mut b) = pair_in_a_room(&server).await;
    // Let the Redis subscription settle so the first message takes the normal path.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let first = a
        .ok(
            "message.send",
            json!({ "conversationId": room, "content": "before", "clientMessageId": "m1" }),
        )
        .await;
    assert_eq!(first["seq"], 1);
    assert_eq!(b.expect("message.created").await["content"], "before");

    redis.kill();

    // Typing and presence may now degrade; whatever they answer, the connection stays open.
    a.send(json!({ "event": "typing.start", "data": { "conversationId": room } }))
        .await;
    for (seq, key) in [(2, "m2"), (3, "m3")] {
        let ack = a
            .ok(
                "message.send",
                json!({ "conversationId": room, "content": key, "clientMessageId": key }),
            )
            .await;
        assert_eq!(ack["seq"], seq, "sends are acknowledged without Redis");
        let created = b.expect("message.created").await;
        assert_eq!(
            (
                created["content"].as_str(),
                created["sequenceNumber"].as_i64()
            ),
            (Some(key), Some(seq))
        );
    }
    // Liveness does not depend on Redis: a Redis outage must not get the pod restarted.
    let (status, _) = server
        .call(server.http.get(server.url("/health/live")))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK);
}

/// Polls `/health` until the instance says its bus works again.
async fn bus_up(api: &Api) {
    for _ in 0..200 {
        let (_, health) = api.call(api.http.get(api.url("/health"))).await;
        if health["dependencies"]["bus"]["status"] == "up" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the bus of {} did not come back within 10 s", api.addr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cross_instance_delivery_resumes_when_redis_returns() {
    let mut redis = private_redis(free_port()).await;
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let db = TestDb::new(Engine::Postgres).await;
    let prefix = format!("outage-{}:", uuid::Uuid::new_v4().simple());
    let a = Instance::start(&db, &url, &prefix).await;
    let b = Instance::start(&db, &url, &prefix).await;
    let alice = api_user(&a.api, None, "alice").await;
    let bob = api_user(&b.api, None, "bob").await;
    let room = api_group(&a.api, &alice, &[&bob]).await;
    let (mut on_a, _) = Ws::login(a.api.addr, &alice.token).await;
    let (mut on_b, _) = Ws::login(b.api.addr, &bob.token).await;
    on_a.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    on_b.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    let before = on_b.ok("sync", json!({})).await["cursor"].clone();
    on_b.expect("sync.complete").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let send = async |ws: &mut Ws, key: &str| {
        ws.ok(
            "message.send",
            json!({ "conversationId": room, "content": key, "clientMessageId": key }),
        )
        .await
    };
    send(&mut on_a, "m1").await;
    assert_eq!(on_a.expect("message.created").await["content"], "m1");
    assert_eq!(on_b.expect("message.created").await["content"], "m1");

    let port = redis.port;
    redis.kill();
    for key in ["m2", "m3"] {
        send(&mut on_a, key).await;
        assert_eq!(on_a.expect("message.created").await["content"], key);
    }

    let _redis = private_redis(port).await;
    bus_up(&a.api).await;
    bus_up(&b.api).await;
    // The resubscription reaches Redis a moment after the connection is back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    send(&mut on_a, "m4").await;
    let live = on_b
        .expect_where("message.created", |m| m["content"] == "m4")
        .await;
    assert_eq!(live["sequenceNumber"], 4, "cross-instance delivery resumed");

    // What bob missed comes with sync; whatever came live (m1, m4, and m2 or m3 if the publisher
    // got them through once Redis was back) is not repeated: each message exactly once.
    on_b.send(json!({ "event": "sync", "data": { "since": before } }))
        .await;
    on_b.expect("sync.complete").await;
    let mut seen: Vec<i64> = vec![1, 4];
    seen.extend(
        on_b.collect("message.created", Duration::from_millis(200))
            .await
            .iter()
            .filter_map(|m| m["sequenceNumber"].as_i64()),
    );
    seen.sort_unstable();
    assert_eq!(seen, [1, 2, 3, 4], "every message once, live or synced");
}

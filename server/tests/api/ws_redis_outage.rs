//! Degradation order when Redis goes away: messages keep flowing on the instance, the connection
//! stays usable, and only the cross-instance extras (typing, presence) may be lost. When Redis
//! returns, cross-instance delivery resumes by itself and what other instances' clients missed
//! comes back with sync.
//!
//! The test runs its own throw-away `redis-server` so it can kill it without disturbing the
//! machine's Redis that other tests share.

use crate::support::api::{Api, api_group, api_user};
use crate::support::instance::Instance;
use crate::support::server::TestServer;
use crate::support::ws::Ws;
use crate::support::{Engine, TestDb};
use secrecy::SecretString;
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A private Redis on a free port, killed when dropped.
struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port).await
    }

    /// A Redis on `port` (a restart on the same address).
    async fn start_on(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}); install Redis (see `make services`)")
            });
        // Owned from here on, so every path (including the panic below) kills and reaps it.
        let redis = Self { child, port };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return redis;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the private redis-server did not answer on port {port}");
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_keep_flowing_when_redis_dies() {
    let mut redis = PrivateRedis::start().await;
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.redis_url = Some(SecretString::from(url));
        s.redis_prefix = format!("outage-{}", uuid::Uuid::new_v4().simple());
    })
    .await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let room = api_group(&server, &alice, &[&bob]).await;
    let (mut a, _) = Ws::login(server.addr, &alice.token).await;
    let (mut b, _) = Ws::login(server.addr, &bob.token).await;
    a.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    b.ok("conversation.join", json!({ "conversationId": room }))
        .await;
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
    let mut redis = PrivateRedis::start().await;
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

    let _redis = PrivateRedis::start_on(port).await;
    bus_up(&a.api).await;
    bus_up(&b.api).await;
    // The resubscription reaches Redis a moment after the connection is back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    send(&mut on_a, "m4").await;
    let live = on_b.expect("message.created").await;
    assert_eq!(
        live["content"], "m4",
        "cross-instance delivery resumed: {live}"
    );

    // What bob missed comes with sync, once and in order; m1 and m4 came live and do not repeat.
    on_b.send(json!({ "event": "sync", "data": { "since": before } }))
        .await;
    let missed = [
        on_b.expect("message.created").await,
        on_b.expect("message.created").await,
    ];
    assert_eq!(
        missed.map(|m| m["content"].as_str().map(str::to_owned)),
        [Some("m2".to_owned()), Some("m3".to_owned())]
    );
    on_b.expect("sync.complete").await;
}

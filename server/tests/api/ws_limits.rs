//! The gateway's limits and life cycle, each closing with its documented code: authentication
//! timeout (4401), oversized frames (1009), floods (4029), slow consumers (4008, without
//! slowing anyone else), and the graceful drain (`reconnect {afterMs}`, then 1012). These are
//! engine-independent, so they run on SQLite.

use crate::support::Engine;
use crate::support::api::{ApiUser, api_group, api_send, api_user};
use crate::support::server::TestServer;
use crate::support::ws::Ws;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unauthenticated_connections_close_after_the_deadline() {
    let server = TestServer::start_with(Engine::Sqlite, |s| s.ws_auth_timeout_ms = 300).await;
    let mut ws = Ws::connect(server.addr, "").await;
    let (code, reason) = ws.wait_closed(Duration::from_secs(5)).await;
    assert_eq!((code, reason.as_str()), (4401, "authentication timeout"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_frames_and_floods_close_with_their_codes() {
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.ws_max_frame_bytes = 1024;
        s.ws_rate_per_second = 5;
        s.ws_rate_burst = 5;
    })
    .await;
    let alice = api_user(&server, None, "alice").await;
    let (mut big, _) = Ws::login(server.addr, &alice.token).await;
    big.send(json!({ "event": "ping", "data": { "pad": "x".repeat(2000) } }))
        .await;
    let (code, reason) = big.wait_closed(Duration::from_secs(5)).await;
    assert_eq!(code, 1009, "{reason}");
    assert!(reason.contains("1024"), "{reason}");

    let (mut flood, _) = Ws::login(server.addr, &alice.token).await;
    for _ in 0..20 {
        flood.send(json!({ "event": "ping" })).await;
    }
    let (code, reason) = flood.wait_closed(Duration::from_secs(5)).await;
    assert_eq!(code, 4029, "{reason}");
    server.stop().await;
}

/// A server that takes messages of 250 KB, with Alice and Bob in a group, each on a socket that
/// joined it.
struct Pair {
    server: TestServer,
    alice: ApiUser,
    room: String,
    a: Ws,
    b: Ws,
}

impl Pair {
    /// Alice sends `count` messages of 250 KB, reading each back in order while Bob reads
    /// nothing.
    async fn alice_sends_big_frames(&mut self, count: i64) {
        let big = "y".repeat(250_000);
        for n in 0..count {
            let key = format!("k{n}");
            let (status, body) = api_send(&self.server, &self.alice, &self.room, &big, &key).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let got = self.a.expect("message.created").await;
            assert_eq!(got["sequenceNumber"], n + 1);
        }
    }
}

async fn pair_for_big_frames(send_queue: usize) -> Pair {
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.ws_send_queue = send_queue;
        s.max_message_chars = 300_000;
        s.max_body_bytes = 2 << 20;
    })
    .await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let room = api_group(&server, &alice, &[&bob]).await;
    let (mut a, _) = Ws::login(server.addr, &alice.token).await;
    a.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    let (mut b, _) = Ws::login(server.addr, &bob.token).await;
    b.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    Pair {
        server,
        alice,
        room,
        a,
        b,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_consumer_is_closed_and_slows_no_one() {
    let Pair { server, mut b, .. } = {
        let mut pair = pair_for_big_frames(4).await;
        // Bob stops reading; 60 frames of 250 KB overflow his socket and then his queue.
        pair.alice_sends_big_frames(60).await;
        pair
    };
    let text = server.metrics().await;
    let line = text
        .lines()
        .find(|l| l.starts_with("chemchat_websocket_slow_consumer_disconnects_total"))
        .unwrap_or_else(|| panic!("no slow-consumer metric in {text}"));
    assert!(!line.ends_with(" 0"), "{line}");
    // Bob's connection ends: what was written arrives, then the stream closes.
    b.wait_closed(Duration::from_secs(30)).await;
    server.stop().await;
}

/// Frames queued while a write waits for a client that stopped reading go out once it reads
/// again, with nothing else sent after them: the wake-up they raised is not lost to the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_fell_behind_gets_everything_once_it_reads() {
    let mut pair = pair_for_big_frames(256).await;
    // 40 frames of 250 KB: more than Bob's socket holds while he reads nothing, fewer than his
    // queue holds.
    const N: i64 = 40;
    pair.alice_sends_big_frames(N).await;
    let Pair { server, mut b, .. } = pair;
    for n in 0..N {
        let got = b.expect("message.created").await;
        assert_eq!(got["sequenceNumber"], n + 1);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn draining_tells_every_client_to_reconnect() {
    let server = TestServer::start_with(Engine::Sqlite, |s| s.ws_drain_jitter_ms = 1000).await;
    let alice = api_user(&server, None, "alice").await;
    let (mut a, _) = Ws::login(server.addr, &alice.token).await;
    let (mut b, _) = Ws::login(server.addr, &alice.token).await;
    let stopping = tokio::spawn(server.stop());
    for ws in [&mut a, &mut b] {
        let reconnect = ws.expect("reconnect").await;
        assert!(reconnect["afterMs"].as_u64().unwrap() < 1000, "{reconnect}");
        assert_eq!(ws.wait_closed(Duration::from_secs(5)).await.0, 1012);
    }
    stopping.await.unwrap();
}

//! The WebSocket gateway over the real server with real tokio-tungstenite clients, on both
//! engines: the whole event table of api.md, acks and failed acks, fan-out of changes made over
//! REST, presence, typing with its expiry, receipts, sync, leave, and the metrics gauge.

use crate::support::Engine;
use crate::support::api::{api_group, api_send, api_user, edit_text};
use crate::support::server::TestServer;
use crate::support::ws::Ws;
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_millis(400);

async fn event_table(engine: Engine) {
    let server = TestServer::start(engine).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let carol = api_user(&server, None, "carol").await;
    let room = api_group(&server, &alice, &[&bob]).await;

    // First-frame authentication and ?token= authentication.
    let (mut a, authed) = Ws::login(server.addr, &alice.token).await;
    assert_eq!(authed["userId"], alice.id.as_str());
    assert!(authed["sessionId"].is_string());
    let mut b = Ws::connect(server.addr, &format!("token={}", bob.token)).await;
    assert_eq!(b.expect("authenticated").await["userId"], bob.id.as_str());
    let (mut c, _) = Ws::login(server.addr, &carol.token).await;

    // Members only.
    assert_eq!(
        c.fails("conversation.join", json!({ "conversationId": room }))
            .await,
        "conversation_not_found"
    );
    let joined = a
        .ok("conversation.join", json!({ "conversationId": room }))
        .await;
    assert_eq!(joined["conversationId"], room.as_str());
    b.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    let seen = a
        .expect_where("presence.updated", |d| d["userId"] == bob.id.as_str())
        .await;
    assert_eq!(seen["status"], "online");

    // message.send → ack {id, seq} → message.created to every joined member.
    let send = json!({ "conversationId": room, "content": "hi bob", "clientMessageId": "k1" });
    let ack = a.ok("message.send", send.clone()).await;
    assert_eq!(ack["seq"], 1);
    let created = b.expect("message.created").await;
    assert_eq!(created["id"], ack["id"]);
    assert_eq!(created["sequenceNumber"], 1);
    assert_eq!(created["content"], "hi bob");
    assert_eq!(created["clientMessageId"], "k1");
    assert_eq!(created["senderId"], alice.id.as_str());
    assert_eq!(created["conversationId"], room.as_str());
    assert!(created["timestamp"].is_string());
    assert_eq!(a.expect("message.created").await["id"], ack["id"]);
    // A retry returns the original and delivers nothing new.
    let again = a.ok("message.send", send).await;
    assert_eq!(
        (again["id"].clone(), again["seq"].clone()),
        (ack["id"].clone(), json!(1))
    );
    let id = ack["id"].as_str().unwrap().to_owned();

    // A change made over REST reaches the sockets too.
    edit_text(&server, &alice, &id, "hi bob!").await;
    let updated = b.expect("message.updated").await;
    assert_eq!(
        (updated["id"].as_str(), updated["content"].as_str()),
        (Some(id.as_str()), Some("hi bob!"))
    );

    // Reactions.
    b.ok("reaction.add", json!({ "messageId": id, "emoji": "👍" }))
        .await;
    let added = a.expect("reaction.added").await;
    assert_eq!(added["messageId"], id.as_str());
    assert_eq!(added["userId"], bob.id.as_str());
    assert_eq!(added["emoji"], "👍");
    b.ok("reaction.remove", json!({ "messageId": id, "emoji": "👍" }))
        .await;
    assert_eq!(a.expect("reaction.removed").await["emoji"], "👍");

    // Typing: to the others only; stop is immediate; start expires after 5 s.
    b.ok("typing.start", json!({ "conversationId": room }))
        .await;
    let typing = a.expect("typing.started").await;
    assert_eq!(typing["userId"], bob.id.as_str());
    assert_eq!(typing["displayName"], "bob");
    b.ok("typing.stop", json!({ "conversationId": room })).await;
    assert_eq!(a.expect("typing.stopped").await["userId"], bob.id.as_str());
    b.ok("typing.start", json!({ "conversationId": room }))
        .await;
    let started = Instant::now();
    a.expect("typing.started").await;
    a.expect("typing.stopped").await;
    let expired = started.elapsed();
    assert!(
        expired >= Duration::from_millis(4500) && expired < Duration::from_secs(8),
        "typing expired after {expired:?}"
    );
    b.quiet("typing.started", SHORT).await;
    assert_eq!(
        c.fails("typing.start", json!({ "conversationId": room }))
            .await,
        "conversation_not_found"
    );

    // Receipts: delivered, then read (which implies delivered).
    b.ok(
        "message.delivered",
        json!({ "conversationId": room, "seq": 1 }),
    )
    .await;
    let delivered = a.expect("receipt.delivered").await;
    assert_eq!(
        (delivered["userId"].as_str(), delivered["seq"].as_i64()),
        (Some(bob.id.as_str()), Some(1))
    );
    let read = b
        .ok("message.read", json!({ "conversationId": room, "seq": 1 }))
        .await;
    assert_eq!(read["seq"], 1);
    let receipt = a.expect("receipt.read").await;
    assert_eq!(
        (receipt["userId"].as_str(), receipt["seq"].as_i64()),
        (Some(bob.id.as_str()), Some(1))
    );
    assert_eq!(
        c.fails(
            "message.delivered",
            json!({ "conversationId": room, "seq": 1 })
        )
        .await,
        "conversation_not_found"
    );

    // Deletion over the socket.
    a.ok("message.delete", json!({ "messageId": id })).await;
    let deleted = b.expect("message.deleted").await;
    assert_eq!(
        (deleted["id"].as_str(), deleted["deleted"].as_bool()),
        (Some(id.as_str()), Some(true))
    );

    // ping / pong.
    a.send(json!({ "event": "ping" })).await;
    a.expect("pong").await;

    // The gauge counts live connections.
    let text = server.metrics().await;
    assert!(text.contains("chemchat_websocket_connections"), "{text}");

    // Sync: a cursor for "now", two missed messages, then exactly those and sync.complete.
    let (mut b2, _) = Ws::login(server.addr, &bob.token).await;
    b2.send(json!({ "event": "sync", "data": {} })).await;
    let cursor = b2.expect("sync.complete").await["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    for (n, key) in ["k2", "k3"].iter().enumerate() {
        let (status, body) = api_send(&server, &alice, &room, &format!("m{n}"), key).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    b2.send(json!({ "event": "sync", "data": { "since": cursor } }))
        .await;
    let first = b2.expect("message.created").await;
    let second = b2.expect("message.created").await;
    assert_eq!(
        (
            first["sequenceNumber"].as_i64(),
            second["sequenceNumber"].as_i64()
        ),
        (Some(2), Some(3))
    );
    assert!(b2.expect("sync.complete").await["cursor"].is_string());

    // Leave: no more live events.
    b.expect_where("message.created", |d| d["sequenceNumber"] == 3)
        .await;
    b.ok("conversation.leave", json!({ "conversationId": room }))
        .await;
    let (status, _) = api_send(&server, &alice, &room, "after leave", "k4").await;
    assert_eq!(status, StatusCode::CREATED);
    a.expect_where("message.created", |d| d["sequenceNumber"] == 4)
        .await;
    let late = b.collect("message.created", SHORT).await;
    assert!(late.iter().all(|d| d["sequenceNumber"] != 4), "{late:?}");

    // Bob's last connection leaves → Alice sees him offline.
    b.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    drop(b2);
    drop(b);
    let offline = a
        .expect_where("presence.updated", |d| {
            d["userId"] == bob.id.as_str() && d["status"] == "offline"
        })
        .await;
    assert!(offline["lastSeen"].is_string());
    server.stop().await;
}
both_engines!(event_table, event_table);

async fn bad_frames_keep_the_connection(engine: Engine) {
    let server = TestServer::start(engine).await;
    let alice = api_user(&server, None, "alice").await;
    let mut ws = Ws::connect(server.addr, "").await;
    // Before authentication: an error, and the connection stays open.
    ws.send(json!({ "event": "ping" })).await;
    assert_eq!(ws.expect("error").await["code"], "unauthenticated");
    ws.send(json!({ "event": "authenticate", "data": { "token": alice.token } }))
        .await;
    ws.expect("authenticated").await;
    ws.send_raw("{not json").await;
    assert_eq!(ws.expect("error").await["code"], "invalid_body");
    ws.send_raw("[1,2]").await;
    assert_eq!(ws.expect("error").await["code"], "invalid_body");
    ws.send_raw(r#"{"data":{},"ackId":9}"#).await;
    let ack = ws.expect_where("ack", |d| d["ackId"] == 9).await;
    assert_eq!(
        (ack["ok"].as_bool(), ack["error"]["code"].as_str()),
        (Some(false), Some("invalid_body"))
    );
    assert_eq!(ws.fails("no.such.event", json!({})).await, "invalid_body");
    assert_eq!(
        ws.fails("message.send", json!({ "content": "x" })).await,
        "invalid_body"
    );
    assert_eq!(
        ws.fails(
            "message.send",
            json!({ "conversationId": "nope", "content": "x" })
        )
        .await,
        "invalid_body"
    );
    let unknown = json!({ "conversationId": uuid::Uuid::now_v7(), "content": "x" });
    assert_eq!(
        ws.fails("message.send", unknown).await,
        "conversation_not_found"
    );
    assert_eq!(
        ws.fails(
            "message.read",
            json!({ "conversationId": uuid::Uuid::now_v7(), "seq": -1 })
        )
        .await,
        "validation_failed"
    );
    assert_eq!(
        ws.fails("sync", json!({ "since": "garbage" })).await,
        "invalid_query"
    );
    ws.send_binary(vec![1, 2, 3]).await;
    assert_eq!(ws.expect("error").await["code"], "unsupported_media_type");
    // Still open and answering.
    ws.ok("ping", json!({})).await;
    // A bad token closes with 4401.
    let mut bad = Ws::connect(server.addr, "").await;
    bad.send(json!({ "event": "authenticate", "data": { "token": "nope" } }))
        .await;
    assert_eq!(bad.wait_closed(Duration::from_secs(5)).await.0, 4401);
    server.stop().await;
}
both_engines!(bad_frames, bad_frames_keep_the_connection);

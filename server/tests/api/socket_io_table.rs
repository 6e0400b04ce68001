//! The rest of api.md's WebSocket table over `/socket.io/`, with both real client libraries
//! against a JSON WebSocket client: presence, edits and deletions, reactions, typing stop,
//! delivery and read receipts both ways, ping, leave and members-only refusals; then the
//! gateway's limits and its drain as a Socket.IO client sees them: the event `close` with the
//! JSON protocol's code (after `reconnect {afterMs}` when draining), then the disconnect.

use crate::support::Engine;
use crate::support::api::{api_group, api_send, api_user, edit_text};
use crate::support::server::TestServer;
use crate::support::socketio::{Library, SioClient, connected};
use crate::support::ws::Ws;
use reqwest::StatusCode;
use serde_json::json;

/// Alice on Socket.IO, Bob on the JSON protocol, in one conversation; Carol outside it.
async fn event_table(library: Library) {
    let server = TestServer::start(Engine::Sqlite).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let carol = api_user(&server, None, "carol").await;
    let room = api_group(&server, &alice, &[&bob]).await;
    let mut sio = connected(library, server.addr, &alice, None).await;
    let joined = sio
        .ok("conversation.join", json!({ "conversationId": room }))
        .await;
    assert_eq!(joined["conversationId"], room.as_str(), "{joined}");
    let (mut b, _) = Ws::login(server.addr, &bob.token).await;
    b.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    let online = sio
        .event("presence.updated", |d| d["userId"] == bob.id.as_str())
        .await;
    assert_eq!(online["status"], "online", "{online}");

    // Members only, refused through the acknowledgement.
    let mut outsider = connected(library, server.addr, &carol, None).await;
    let refused = outsider
        .call("conversation.join", json!({ "conversationId": room }))
        .await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(refused["error"]["code"], "conversation_not_found");
    let refused = outsider
        .call(
            "message.delivered",
            json!({ "conversationId": room, "seq": 1 }),
        )
        .await;
    assert_eq!(refused["error"]["code"], "conversation_not_found");
    outsider.stop().await;

    // A message from Alice; an edit over REST reaches both transports.
    let sent = sio
        .ok(
            "message.send",
            json!({ "conversationId": room, "content": "hi bob", "clientMessageId": "k1" }),
        )
        .await;
    let id = sent["id"].as_str().unwrap().to_owned();
    sio.event("message.created", |d| d["id"] == id.as_str())
        .await;
    b.expect("message.created").await;
    edit_text(&server, &alice, &id, "hi bob!").await;
    let updated = sio.event("message.updated", |_| true).await;
    assert_eq!(
        (updated["id"].as_str(), updated["content"].as_str()),
        (Some(id.as_str()), Some("hi bob!"))
    );
    b.expect("message.updated").await;

    // Reactions, both ways.
    b.ok("reaction.add", json!({ "messageId": id, "emoji": "👍" }))
        .await;
    let added = sio.event("reaction.added", |_| true).await;
    assert_eq!(
        (added["userId"].as_str(), added["emoji"].as_str()),
        (Some(bob.id.as_str()), Some("👍"))
    );
    sio.ok("reaction.add", json!({ "messageId": id, "emoji": "🎉" }))
        .await;
    let added = b
        .expect_where("reaction.added", |d| d["emoji"] == "🎉")
        .await;
    assert_eq!(added["userId"], alice.id.as_str());
    sio.ok("reaction.remove", json!({ "messageId": id, "emoji": "🎉" }))
        .await;
    assert_eq!(b.expect("reaction.removed").await["emoji"], "🎉");

    // Typing stops at once when asked.
    sio.ok("typing.start", json!({ "conversationId": room }))
        .await;
    b.expect("typing.started").await;
    sio.ok("typing.stop", json!({ "conversationId": room }))
        .await;
    assert_eq!(
        b.expect("typing.stopped").await["userId"],
        alice.id.as_str()
    );

    // Receipts: Bob's reach Alice, Alice's reach Bob.
    b.ok(
        "message.delivered",
        json!({ "conversationId": room, "seq": 1 }),
    )
    .await;
    let delivered = sio.event("receipt.delivered", |_| true).await;
    assert_eq!(
        (delivered["userId"].as_str(), delivered["seq"].as_i64()),
        (Some(bob.id.as_str()), Some(1))
    );
    b.ok("message.read", json!({ "conversationId": room, "seq": 1 }))
        .await;
    let read = sio.event("receipt.read", |_| true).await;
    assert_eq!(read["userId"], bob.id.as_str(), "{read}");
    let mine = sio
        .ok("message.read", json!({ "conversationId": room, "seq": 1 }))
        .await;
    assert_eq!(mine["seq"], 1, "{mine}");
    let receipt = b
        .expect_where("receipt.read", |d| d["userId"] == alice.id.as_str())
        .await;
    assert_eq!(receipt["seq"], 1);

    // Deletion over the socket; ping answered by pong.
    sio.ok("message.delete", json!({ "messageId": id })).await;
    let deleted = b.expect("message.deleted").await;
    assert_eq!(
        (deleted["id"].as_str(), deleted["deleted"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    sio.emit("ping", json!({})).await;
    sio.event("pong", |_| true).await;

    // Leave: nothing live until the next join. Messages of one conversation arrive in order,
    // so had the one sent while away been delivered, it would be seen before the later one.
    sio.ok("conversation.leave", json!({ "conversationId": room }))
        .await;
    let (status, _) = api_send(&server, &bob, &room, "while away", "b1").await;
    assert_eq!(status, StatusCode::CREATED);
    sio.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    let (status, _) = api_send(&server, &bob, &room, "back", "b2").await;
    assert_eq!(status, StatusCode::CREATED);
    sio.event("message.created", |d| d["content"] == "back")
        .await;
    assert!(
        !sio.saw("message.created", |d| d["content"] == "while away"),
        "{library:?}: a frame of a conversation it had left"
    );

    // Bob's last connection ends: Alice sees him offline.
    drop(b);
    let offline = sio
        .event("presence.updated", |d| {
            d["userId"] == bob.id.as_str() && d["status"] == "offline"
        })
        .await;
    assert!(offline["lastSeen"].is_string(), "{offline}");
    sio.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn python_socketio_covers_the_event_table() {
    event_table(Library::Python).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_socketio_client_covers_the_event_table() {
    event_table(Library::Node).await;
}

/// What a client hears when the server ends its connection: `close` with `code`.
async fn closed_with(sio: &mut SioClient, code: u16) {
    let closed = sio.event("close", |_| true).await;
    assert_eq!(closed["code"], code, "{closed}");
    sio.disconnected().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limits_and_the_drain_close_socket_io_clients_with_their_codes() {
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.ws_max_frame_bytes = 1024;
        s.ws_rate_per_second = 5;
        s.ws_rate_burst = 5;
        s.ws_drain_jitter_ms = 1000;
    })
    .await;
    let alice = api_user(&server, None, "alice").await;
    let mut staying = Vec::new();
    for library in [Library::Python, Library::Node] {
        // Over the frame limit (below Engine.IO's own, which is twice the limit): 1009.
        let mut big = connected(library, server.addr, &alice, None).await;
        big.emit("ping", json!({ "pad": "x".repeat(1500) })).await;
        closed_with(&mut big, 1009).await;
        big.stop().await;

        // Faster than the rate allows: 4029. Over the WebSocket transport the client is still
        // writing when it is closed, and still hears why.
        let mut flood = connected(library, server.addr, &alice, Some(&["websocket"])).await;
        for _ in 0..20 {
            flood.emit("ping", json!({})).await;
        }
        closed_with(&mut flood, 4029).await;
        flood.stop().await;

        staying.push(connected(library, server.addr, &alice, None).await);
    }

    // Draining: every client is told when to come back, then closed with 1012.
    let stopping = tokio::spawn(server.stop());
    for sio in &mut staying {
        let reconnect = sio.event("reconnect", |_| true).await;
        assert!(reconnect["afterMs"].as_u64().unwrap() < 1000, "{reconnect}");
        closed_with(sio, 1012).await;
    }
    stopping.await.unwrap();
    for sio in staying {
        sio.stop().await;
    }
}

//! `/socket.io/` with real clients no one here wrote — python-socketio and socket.io-client —
//! on both transports: authentication by the CONNECT `auth` payload and by the `authenticate`
//! event, joins, sends acknowledged with `{ok, result}`, delivery both ways between a Socket.IO
//! client and a JSON WebSocket client, typing, sync, refusals, and a revoked session's socket
//! disconnected; and across two instances through ChemChat's own bus.

use crate::support::api::{api_group, api_user, call, send_text};
use crate::support::instance::Instance;
use crate::support::server::TestServer;
use crate::support::socketio::{Library, SioClient, connected};
use crate::support::ws::Ws;
use crate::support::{Engine, TestDb, services};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// The conversation between a Socket.IO client (alice) and a JSON WebSocket client (bob).
async fn chat(library: Library, transports: Option<&[&str]>) {
    let server = TestServer::start(Engine::Sqlite).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let room = api_group(&server, &alice, &[&bob]).await;
    let mut sio = connected(library, server.addr, &alice, transports).await;
    let (mut json_ws, _) = Ws::login(server.addr, &bob.token).await;
    json_ws
        .ok("conversation.join", json!({ "conversationId": room }))
        .await;

    // A join acknowledged like the JSON protocol's ack, with the same result.
    let joined = sio
        .ok("conversation.join", json!({ "conversationId": room }))
        .await;
    assert!(joined.is_object(), "{joined}");
    // A send: the ack carries the message's id and seq; the JSON client receives it.
    let sent = sio
        .ok(
            "message.send",
            json!({ "conversationId": room, "content": "hello from socket.io",
                    "clientMessageId": "sio-1" }),
        )
        .await;
    assert_eq!(sent["seq"], 1, "{sent}");
    assert!(sent["id"].is_string(), "{sent}");
    let got = json_ws.expect("message.created").await;
    assert_eq!(got["content"], "hello from socket.io");
    assert_eq!(got["id"], sent["id"]);
    // The other way: the JSON client sends, the Socket.IO client receives the same payload.
    let ack = json_ws
        .ok(
            "message.send",
            json!({ "conversationId": room, "content": "hello from json", "clientMessageId": "j1" }),
        )
        .await;
    let created = sio
        .event("message.created", |d| d["content"] == "hello from json")
        .await;
    assert_eq!(created["id"], ack["id"]);
    assert_eq!(created["seq"], 2);
    // Typing, both ways.
    json_ws
        .ok("typing.start", json!({ "conversationId": room }))
        .await;
    let typing = sio.event("typing.started", |_| true).await;
    assert_eq!(typing["userId"], bob.id.as_str());
    sio.emit("typing.start", json!({ "conversationId": room }))
        .await;
    let typing = json_ws.expect("typing.started").await;
    assert_eq!(typing["userId"], alice.id.as_str());
    // A refused event answers `{ok: false, error}` with the catalogue's code.
    let refused = sio
        .call("message.send", json!({ "conversationId": room }))
        .await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert_eq!(refused["error"]["code"], "validation_failed", "{refused}");
    // Sync from the start replays both messages.
    let synced = sio.ok("sync", json!({})).await;
    assert!(synced["cursor"].is_string(), "{synced}");
    if let Some(only) = transports {
        assert_eq!(sio.transport().await, only[0]);
    } else {
        assert_eq!(sio.transport().await, "websocket", "upgraded from polling");
    }

    // Logging out ends the session: the socket hears why and is disconnected.
    let (status, body) = call(
        &server,
        &alice,
        Method::POST,
        "/api/v1/auth/logout",
        Some(json!({})),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let closed = sio.event("close", |_| true).await;
    assert_eq!(closed["code"], 4401, "{closed}");
    sio.disconnected().await;
    sio.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn python_socketio_chats_with_a_json_client() {
    chat(Library::Python, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_socketio_client_chats_with_a_json_client() {
    chat(Library::Node, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn polling_only_clients_chat_too() {
    chat(Library::Node, Some(&["polling"])).await;
    chat(Library::Python, Some(&["polling"])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_reconnects_syncs_what_it_missed() {
    let server = TestServer::start(Engine::Sqlite).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let room = api_group(&server, &alice, &[&bob]).await;
    for library in [Library::Python, Library::Node] {
        // A cursor for "now", then away.
        let mut sio = connected(library, server.addr, &bob, None).await;
        sio.emit("sync", json!({})).await;
        let cursor = sio.event("sync.complete", |_| true).await["cursor"].clone();
        assert!(cursor.is_string(), "{cursor}");
        sio.stop().await;
        let missed = [
            send_text(&server, &alice, &room, &format!("{library:?} missed one")).await,
            send_text(&server, &alice, &room, &format!("{library:?} missed two")).await,
        ];
        // Back: sync from the cursor brings exactly those, in order, then sync.complete.
        let mut sio = connected(library, server.addr, &bob, Some(&["websocket"])).await;
        sio.emit("sync", json!({ "since": cursor })).await;
        for id in &missed {
            let got = sio.event("message.created", |_| true).await;
            assert_eq!(got["id"], id.as_str(), "{library:?}: {got}");
        }
        assert!(sio.event("sync.complete", |_| true).await["cursor"].is_string());
        sio.stop().await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_authenticate_event_and_refusals() {
    let server = TestServer::start(Engine::Sqlite).await;
    let alice = api_user(&server, None, "alice").await;
    let room = api_group(&server, &alice, &[]).await;
    for library in [Library::Python, Library::Node] {
        // Connected without a token: nothing but `authenticate` is served.
        let mut sio = SioClient::start(library).await;
        let outcome = sio.connect(&url(server.addr), None, None).await;
        assert_eq!(outcome["type"], "connect", "{outcome}");
        let early = sio
            .call("conversation.join", json!({ "conversationId": room }))
            .await;
        assert_eq!(early["ok"], false);
        assert_eq!(early["error"]["code"], "unauthenticated", "{early}");
        sio.ok("authenticate", json!({ "token": alice.token }))
            .await;
        sio.ok("conversation.join", json!({ "conversationId": room }))
            .await;
        send_text(&server, &alice, &room, "after authenticating").await;
        sio.event("message.created", |d| {
            d["content"] == "after authenticating"
        })
        .await;
        sio.stop().await;

        // A bad token closes like the JSON protocol: the code, then the disconnect.
        let mut sio = SioClient::start(library).await;
        let outcome = sio
            .connect(
                &url(server.addr),
                Some(json!({ "token": "not-a-token" })),
                None,
            )
            .await;
        assert_eq!(outcome["type"], "connect", "{outcome}");
        let closed = sio.event("close", |_| true).await;
        assert_eq!(closed["code"], 4401, "{closed}");
        sio.disconnected().await;
        sio.stop().await;

        // An unknown tenant is refused before the connection exists.
        let mut sio = SioClient::start(library).await;
        let outcome = sio
            .connect(&url(server.addr), Some(json!({ "tenant": "nobody" })), None)
            .await;
        assert_ne!(outcome["type"], "connect", "{outcome}");
        assert!(
            outcome.to_string().contains("not_found"),
            "{library:?}: {outcome}"
        );
        sio.stop().await;
    }
    // Socket.IO connections count on the gateway's gauge like the others.
    let (status, _) = call(&server, &alice, Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_socketio_client_and_a_json_client_on_two_instances() {
    let db = TestDb::new(Engine::Postgres).await;
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let a = Instance::start(&db, &services::redis_url(), &prefix).await;
    let b = Instance::start(&db, &services::redis_url(), &prefix).await;
    let alice = api_user(&a.api, None, "alice").await;
    let bob = api_user(&b.api, None, "bob").await;
    let room = api_group(&a.api, &alice, &[&bob]).await;
    let mut sio = connected(Library::Node, a.api.addr, &alice, None).await;
    sio.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    let (mut on_b, _) = Ws::login(b.api.addr, &bob.token).await;
    on_b.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    // The subscriptions reach Redis a moment after the joins are acknowledged.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in 1..=5 {
        on_b.ok(
            "message.send",
            json!({ "conversationId": room, "content": format!("b{n}"), "clientMessageId": format!("b{n}") }),
        )
        .await;
    }
    for n in 1..=5 {
        let got = sio.event("message.created", |d| d["seq"] == n).await;
        assert_eq!(got["content"], format!("b{n}"));
    }
    sio.ok(
        "message.send",
        json!({ "conversationId": room, "content": "from a", "clientMessageId": "a1" }),
    )
    .await;
    let got = on_b
        .expect_where("message.created", |d| d["content"] == "from a")
        .await;
    assert_eq!(got["seq"], 6);
    sio.stop().await;
}

//! The heartbeat: a client heard from within the timeout stays; a silent one is closed with 4408,
//! and its user goes offline for everyone watching.

use crate::support::Engine;
use crate::support::api::{api_group, api_user};
use crate::support::server::TestServer;
use crate::support::ws::Ws;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn silent_clients_are_closed_and_go_offline() {
    // Three seconds leaves a wide margin around the 1.5 s keep-alive below, even on a busy machine.
    let server = TestServer::start_with(Engine::Sqlite, |s| s.ws_heartbeat_seconds = 3).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let room = api_group(&server, &alice, &[&bob]).await;
    let (mut a, _) = Ws::login(server.addr, &alice.token).await;
    let (mut b, _) = Ws::login(server.addr, &bob.token).await;
    b.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    a.ok("conversation.join", json!({ "conversationId": room }))
        .await;
    let online = b
        .expect_where("presence.updated", |d| d["userId"] == alice.id.as_str())
        .await;
    assert_eq!(online["status"], "online");

    // Bob keeps talking (a ping resets his timer); Alice says nothing more.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pong = b.request("ping", json!({})).await;
    assert_eq!(pong["ok"], true, "{pong}");

    let (code, reason) = a.wait_closed(Duration::from_secs(10)).await;
    assert_eq!(code, 4408, "{reason}");
    let offline = b
        .expect_where("presence.updated", |d| {
            d["userId"] == alice.id.as_str() && d["status"] == "offline"
        })
        .await;
    assert!(offline["lastSeen"].is_string(), "{offline}");
}

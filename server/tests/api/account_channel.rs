//! The account channel over real sockets: what a connection hears about its user without
//! joining anything — on one instance (both engines) and across two instances on Redis.

use crate::support::api::{Api, ApiUser, api_group, api_user, call, send_text};
use crate::support::instance::Instance;
use crate::support::server::TestServer;
use crate::support::ws::Ws;
use crate::support::{Engine, TestDb, services};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// Longer than the account channel's longest window (1 s and at most a quarter more), so the
/// next update is not folded.
const WINDOW: Duration = Duration::from_millis(1_350);

async fn socket(api: &Api, user: &ApiUser) -> Ws {
    Ws::login(api.addr, &user.token).await.0
}

fn about(conversation: &str) -> impl Fn(&Value) -> bool + '_ {
    move |d: &Value| d["conversationId"] == conversation || d["id"] == conversation
}

/// Alice (on `a`) and Bob (a socket on `b` that joins nothing): Bob hears his account's news.
async fn account_news(a: &Api, b: &Api) {
    let alice = api_user(a, None, "alice").await;
    let bob = api_user(b, None, "bob").await;
    let carol = api_user(a, None, "carol").await;
    let old = api_group(a, &alice, &[&bob]).await;
    send_text(a, &alice, &old, "before bob connected").await;
    let mut bob_ws = socket(b, &bob).await;
    // The subscription reaches Redis a moment after authentication.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A conversation created with Bob: heard without joining.
    let group = api_group(a, &alice, &[&bob, &carol]).await;
    let created = bob_ws
        .expect_where("conversation.created", about(&group))
        .await;
    assert_eq!(created["createdBy"], alice.id.as_str(), "{created}");

    // Messages there become unread updates, with a preview, one per window.
    tokio::time::sleep(Duration::from_millis(300)).await;
    send_text(a, &alice, &group, "hello bob").await;
    let update = bob_ws.expect_where("unread.updated", about(&group)).await;
    assert_eq!(update["unreadCount"], 1, "{update}");
    assert_eq!(update["lastSeq"], 1);
    assert_eq!(update["lastMessage"]["content"], "hello bob");
    for n in 2..=4 {
        send_text(a, &carol, &group, &format!("burst {n}")).await;
    }
    let folded = bob_ws
        .expect_where("unread.updated", |d| {
            d["conversationId"] == group.as_str() && d["unreadCount"] == 4
        })
        .await;
    assert_eq!(folded["lastMessage"]["content"], "burst 4", "{folded}");
    let between = bob_ws
        .collect("unread.updated", Duration::from_millis(200))
        .await;
    assert!(between.is_empty(), "the burst was folded: {between:?}");

    // The conversation he knew before connecting counts from the store.
    tokio::time::sleep(WINDOW).await;
    send_text(a, &alice, &old, "again").await;
    let update = bob_ws.expect_where("unread.updated", about(&old)).await;
    assert_eq!(update["unreadCount"], 2, "{update}");

    // Reading on another device: the receipt and a cleared count.
    let path = format!("/api/v1/conversations/{group}/read");
    let (status, body) = call(b, &bob, Method::POST, &path, Some(json!({ "seq": 4 }))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let receipt = bob_ws.expect_where("receipt.read", about(&group)).await;
    assert_eq!(
        (receipt["userId"].clone(), receipt["seq"].clone()),
        (json!(bob.id), json!(4))
    );
    let cleared = bob_ws
        .expect_where("unread.updated", |d| {
            d["conversationId"] == group.as_str() && d["unreadCount"] == 0
        })
        .await;
    assert_eq!(cleared["lastReadSeq"], 4);

    // A rename, and being muted, are heard; someone else's mute is not.
    let (status, _) = call(
        a,
        &alice,
        Method::PATCH,
        &format!("/api/v1/conversations/{group}"),
        Some(json!({ "name": "renamed" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let renamed = bob_ws.expect("conversation.updated").await;
    assert_eq!(renamed["name"], "renamed");
    let until = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let mute = |who: &ApiUser| format!("/api/v1/conversations/{group}/members/{}/mute", who.id);
    let body = json!({ "until": until, "reason": "calm down" });
    let (status, _) = call(a, &alice, Method::PUT, &mute(&carol), Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(a, &alice, Method::PUT, &mute(&bob), Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    let muted = bob_ws.expect("member.muted").await;
    assert_eq!(
        muted["userId"],
        bob.id.as_str(),
        "only his own mute: {muted}"
    );

    // A connection that joined the conversation hears it there, not twice.
    let mut joined = socket(b, &bob).await;
    joined
        .ok("conversation.join", json!({ "conversationId": group }))
        .await;
    tokio::time::sleep(WINDOW).await;
    send_text(a, &alice, &group, "to the room").await;
    joined.expect("message.created").await;
    bob_ws.expect_where("unread.updated", about(&group)).await;
    joined
        .quiet("unread.updated", Duration::from_millis(300))
        .await;

    // Removed: he hears it, and nothing more of the conversation.
    let path = format!("/api/v1/conversations/{group}/members/{}", bob.id);
    let (status, _) = call(a, &alice, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let removed = bob_ws.expect("member.removed").await;
    assert_eq!(removed["userId"], bob.id.as_str());
    tokio::time::sleep(WINDOW).await;
    send_text(a, &alice, &group, "after bob left").await;
    let late = bob_ws
        .collect("unread.updated", Duration::from_millis(500))
        .await;
    assert!(
        late.iter().all(|d| d["conversationId"] != group.as_str()),
        "{late:?}"
    );
    // Added back: heard, and history from before does not count as unread.
    let path = format!("/api/v1/conversations/{group}/members");
    let (status, _) = call(
        a,
        &alice,
        Method::POST,
        &path,
        Some(json!({ "userId": bob.id })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let added = bob_ws.expect("member.added").await;
    assert_eq!(added["userId"], bob.id.as_str());
    tokio::time::sleep(Duration::from_millis(300)).await;
    send_text(a, &alice, &group, "welcome back").await;
    let update = bob_ws.expect_where("unread.updated", about(&group)).await;
    assert_eq!(update["unreadCount"], 1, "{update}");
    let (_, list) = call(b, &bob, Method::GET, "/api/v1/conversations", None).await;
    let listed = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == group.as_str())
        .unwrap()
        .clone();
    assert_eq!(listed["unreadCount"], 1, "{listed}");
}

async fn one_instance(engine: Engine) {
    let server = TestServer::start(engine).await;
    account_news(&server, &server).await;
    server.stop().await;
}
both_engines!(account_channel_on_one_instance_, one_instance);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn account_channel_across_instances() {
    let db = TestDb::new(Engine::Postgres).await;
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let a = Instance::start(&db, &services::redis_url(), &prefix).await;
    let b = Instance::start(&db, &services::redis_url(), &prefix).await;
    account_news(&a.api, &b.api).await;
}

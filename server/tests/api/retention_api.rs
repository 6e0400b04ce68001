//! Retention over the real API on both engines: a conversation with a 2-second retention loses
//! its messages — tombstones with their seqs, the text gone from history and search — while a
//! joined client hears `message.deleted`; the tenant's maximum bounds what a conversation may
//! set; a legal hold keeps everything until it is lifted.

use crate::people_api::owner;
use crate::support::Engine;
use crate::support::api::{api_group, api_user, assert_error, call, send_text};
use crate::support::server::TestServer;
use crate::support::ws::Ws;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

async fn history(server: &TestServer, user: &crate::support::api::ApiUser, id: &str) -> Vec<Value> {
    let path = format!("/api/v1/conversations/{id}/messages?limit=50");
    let (status, page) = call(server, user, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["messages"].as_array().unwrap().clone()
}

/// Waits until every message of the conversation with a seq in `seqs` is a tombstone.
async fn deleted(server: &TestServer, user: &crate::support::api::ApiUser, id: &str, seqs: &[i64]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let messages = history(server, user, id).await;
        let gone = seqs.iter().all(|seq| {
            messages
                .iter()
                .any(|m| m["seq"] == *seq && m["deleted"] == true && m["content"].is_null())
        });
        if gone {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not deleted: {messages:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn disappearing_messages(engine: Engine) {
    let server = TestServer::start_with(engine, |s| s.retention_sweep_seconds = 1).await;
    let alice = owner(&server, engine, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let group = api_group(&server, &alice, &[&bob]).await;
    send_text(&server, &alice, &group, "zebra one").await;
    send_text(&server, &alice, &group, "zebra two").await;
    let (mut socket, _) = Ws::login(server.addr, &bob.token).await;
    socket
        .ok("conversation.join", json!({ "conversationId": group }))
        .await;

    // The tenant's maximum bounds a conversation's retention; bad values are named.
    let patch = |body: Value| {
        let path = format!("/api/v1/conversations/{group}");
        let (server, alice) = (&server, &alice);
        async move { call(server, alice, Method::PATCH, &path, Some(body)).await }
    };
    let settings = "/api/v1/admin/settings";
    let (status, body) = call(
        &server,
        &alice,
        Method::PATCH,
        settings,
        Some(json!({ "retention": { "maxSeconds": 3600 } })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["retention"],
        json!({ "maxSeconds": 3600, "legalHold": false })
    );
    for bad in [json!(0), json!(7200), json!(-1)] {
        let (status, body) = patch(json!({ "retentionSeconds": bad })).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
        assert_eq!(body["error"]["field"], "retentionSeconds", "{body}");
    }
    let (status, body) = call(
        &server,
        &bob,
        Method::PATCH,
        &format!("/api/v1/conversations/{group}"),
        Some(json!({ "retentionSeconds": 2 })),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // Two seconds: both messages go, their seqs stay, and the joined client hears it.
    let (status, body) = patch(json!({ "retentionSeconds": 2 })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["retentionSeconds"], 2);
    socket
        .expect_where("conversation.updated", |d| d["retentionSeconds"] == 2)
        .await;
    for seq in [1, 2] {
        let event = socket
            .expect_where("message.deleted", |d| d["seq"] == seq)
            .await;
        assert!(event["content"].is_null(), "{event}");
    }
    deleted(&server, &bob, &group, &[1, 2]).await;
    let sent = send_text(&server, &alice, &group, "zebra three").await;
    let messages = history(&server, &bob, &group).await;
    let seqs: Vec<i64> = messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3], "gap-free: {messages:?}");
    assert!(!sent.is_empty());
    deleted(&server, &bob, &group, &[3]).await;
    let (status, found) = call(
        &server,
        &bob,
        Method::GET,
        "/api/v1/search/messages?q=zebra",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(
        found["items"],
        json!([]),
        "the text left the search index too"
    );

    // A legal hold keeps everything until it is lifted; members may not place one.
    let hold = format!("/api/v1/admin/conversations/{group}/legal-hold");
    let (status, body) = call(
        &server,
        &bob,
        Method::PUT,
        &hold,
        Some(json!({ "hold": true })),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = call(
        &server,
        &alice,
        Method::PUT,
        &hold,
        Some(json!({ "hold": true })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    send_text(&server, &alice, &group, "held").await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let messages = history(&server, &bob, &group).await;
    assert_eq!(messages[3]["content"], "held", "{messages:?}");
    let (_, view) = call(
        &server,
        &bob,
        Method::GET,
        &format!("/api/v1/conversations/{group}"),
        None,
    )
    .await;
    assert_eq!(view["legalHold"], true);
    let (status, _) = call(
        &server,
        &alice,
        Method::PUT,
        &hold,
        Some(json!({ "hold": false })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    deleted(&server, &bob, &group, &[4]).await;

    let (_, audit) = call(
        &server,
        &alice,
        Method::GET,
        "/api/v1/admin/audit?action=conversation.legal_hold.placed",
        None,
    )
    .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1), "{audit}");
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("chemchat_retention_expired_total 4"),
        "{metrics}"
    );
    server.stop().await;
}

both_engines!(retention, disappearing_messages);

/// Counted from reading: a message stays until every member but its sender has read it, then
/// goes after the retention; one nobody else has read stays.
async fn disappearing_after_reading(engine: Engine) {
    let server = TestServer::start_with(engine, |s| s.retention_sweep_seconds = 1).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let carol = api_user(&server, None, "carol").await;
    let group = api_group(&server, &alice, &[&bob, &carol]).await;
    let path = format!("/api/v1/conversations/{group}");
    let (status, body) = call(
        &server,
        &alice,
        Method::PATCH,
        &path,
        Some(json!({ "retentionSeconds": 1, "retentionFrom": "read" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["retentionFrom"], "read");
    let (status, body) = call(
        &server,
        &alice,
        Method::PATCH,
        &path,
        Some(json!({ "retentionFrom": "soon" })),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    send_text(&server, &alice, &group, "read by all").await;
    send_text(&server, &alice, &group, "read by one").await;
    let read = format!("/api/v1/conversations/{group}/read");
    // Bob reads both, Carol only the first: only the first is read by everyone but Alice.
    for (user, seq) in [(&bob, 2), (&carol, 1)] {
        let (status, body) = call(
            &server,
            user,
            Method::POST,
            &read,
            Some(json!({ "seq": seq })),
        )
        .await;
        assert!(status.is_success(), "{body}");
    }
    deleted(&server, &alice, &group, &[1]).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let messages = history(&server, &alice, &group).await;
    assert_eq!(
        messages[1]["content"], "read by one",
        "not read by Carol yet: {messages:?}"
    );
    let (status, _) = call(
        &server,
        &carol,
        Method::POST,
        &read,
        Some(json!({ "seq": 2 })),
    )
    .await;
    assert!(status.is_success());
    deleted(&server, &alice, &group, &[2]).await;

    // A member who leaves without reading no longer holds a message back.
    send_text(&server, &alice, &group, "unread by the leaver").await;
    let (status, _) = call(
        &server,
        &bob,
        Method::POST,
        &read,
        Some(json!({ "seq": 3 })),
    )
    .await;
    assert!(status.is_success());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(history(&server, &alice, &group).await[2]["deleted"], false);
    let leave = format!("/api/v1/conversations/{group}/members/{}", carol.id);
    let (status, body) = call(&server, &carol, Method::DELETE, &leave, None).await;
    assert!(status.is_success(), "{body}");
    deleted(&server, &alice, &group, &[3]).await;
    server.stop().await;
}

both_engines!(retention_from_read, disappearing_after_reading);

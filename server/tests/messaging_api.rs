//! Messages over the real HTTP API on both engines: sends, retries, byte-exact content, edits,
//! tombstones, reactions, isolation, quotas, and every bad input with its documented error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod messaging_support;
mod support;

use chemchat_server::domain::Quotas;
use messaging_support::{api_group, api_send, api_user, assert_error, call, set_quotas};
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::{Engine, TestServer};

async fn sends_are_retry_safe_and_byte_exact(engine: Engine) {
    let server = TestServer::start(engine).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let conversation = api_group(&server, &alice, &[&bob]).await;
    let text = "שלום 👋🏽 e\u{301}\u{200f} \n  trailing  ";
    let (status, first) = api_send(&server, &alice, &conversation, text, "k1").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["content"], text);
    assert_eq!(first["sequenceNumber"], 1);
    assert_eq!(first["seq"], 1);
    assert_eq!(first["clientMessageId"], "k1");
    assert_eq!(first["senderId"], alice.id.as_str());
    let (status, retry) = api_send(&server, &alice, &conversation, text, "k1").await;
    assert_eq!(status, StatusCode::OK, "a retry is not a new message");
    assert_eq!(retry["id"], first["id"]);
    let (_, second) = api_send(&server, &bob, &conversation, "hi", "k1").await;
    assert_eq!(second["seq"], 2, "keys are per sender");
    let (status, page) = call(
        &server,
        &bob,
        Method::GET,
        &format!("/api/v1/conversations/{conversation}/messages?limit=10"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let messages = page["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0]["content"], text, "stored byte for byte");
    let (_, after) = call(
        &server,
        &bob,
        Method::GET,
        &format!("/api/v1/conversations/{conversation}/messages?after=1"),
        None,
    )
    .await;
    assert_eq!(after["messages"][0]["seq"], 2);
}
both_engines!(send_and_history, sends_are_retry_safe_and_byte_exact);

async fn edits_deletes_and_reactions_follow_the_rules(engine: Engine) {
    let server = TestServer::start(engine).await;
    let owner = api_user(&server, None, "owner").await;
    let author = api_user(&server, None, "author").await;
    let other = api_user(&server, None, "other").await;
    let conversation = api_group(&server, &owner, &[&author, &other]).await;
    let (_, message) = api_send(&server, &author, &conversation, "first", "k").await;
    let path = format!("/api/v1/messages/{}", message["id"].as_str().unwrap());

    // Only the author edits; a stale expectedVersion is a conflict; history is kept.
    let edit =
        |content: &str, version: i64| json!({ "content": content, "expectedVersion": version });
    let (s, b) = call(&server, &other, Method::PUT, &path, Some(edit("x", 1))).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    let (s, edited) = call(
        &server,
        &author,
        Method::PUT,
        &path,
        Some(edit("second", 1)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{edited}");
    assert_eq!(
        (edited["content"].as_str(), edited["version"].as_i64()),
        (Some("second"), Some(2))
    );
    assert!(edited["editedAt"].is_string());
    let (s, b) = call(&server, &author, Method::PUT, &path, Some(edit("third", 1))).await;
    assert_error(s, &b, StatusCode::CONFLICT, "stale_version");
    let (_, edits) = call(&server, &other, Method::GET, &format!("{path}/edits"), None).await;
    assert_eq!(edits["edits"][0]["content"], "first");

    // Reactions are idempotent both ways.
    let reactions = format!("{path}/reactions");
    for _ in 0..2 {
        let (s, b) = call(
            &server,
            &other,
            Method::POST,
            &reactions,
            Some(json!({ "emoji": "👍" })),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["reactions"][0]["count"], 1);
    }
    let (_, b) = call(
        &server,
        &owner,
        Method::POST,
        &reactions,
        Some(json!({ "emoji": "👍" })),
    )
    .await;
    assert_eq!(b["reactions"][0]["count"], 2);
    let thumbs = format!("{reactions}/%F0%9F%91%8D");
    for _ in 0..2 {
        let (s, b) = call(&server, &owner, Method::DELETE, &thumbs, None).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["reactions"][0]["count"], 1);
    }

    // A plain member cannot delete another's message; an owner (moderator) can.
    let (s, b) = call(&server, &other, Method::DELETE, &path, None).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    let (s, tombstone) = call(&server, &owner, Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::OK, "{tombstone}");
    assert_eq!(tombstone["content"], serde_json::Value::Null);
    assert_eq!(tombstone["deleted"], true);
    assert_eq!(tombstone["seq"], 1, "the seq stays");
    assert_eq!(tombstone["reactions"], json!([]), "reactions cleared");
    let (_, again) = call(&server, &author, Method::DELETE, &path, None).await;
    assert_eq!(again["deleted"], true, "deleting twice is harmless");
    let (s, b) = call(
        &server,
        &author,
        Method::PUT,
        &path,
        Some(json!({ "content": "back" })),
    )
    .await;
    assert_error(s, &b, StatusCode::CONFLICT, "message_deleted");
    let (_, edits) = call(
        &server,
        &author,
        Method::GET,
        &format!("{path}/edits"),
        None,
    )
    .await;
    assert_eq!(
        edits["edits"],
        json!([]),
        "the edit history goes with the text"
    );

    // The text is gone from sync's events too.
    let (_, sync) = call(&server, &author, Method::GET, "/api/v1/sync?since=AQ", None).await;
    let text = sync.to_string();
    assert!(
        !text.contains("first") && !text.contains("second"),
        "{text}"
    );
    // The author may delete their own.
    let (_, mine) = api_send(&server, &author, &conversation, "mine", "k2").await;
    let (s, _) = call(
        &server,
        &author,
        Method::DELETE,
        &format!("/api/v1/messages/{}", mine["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}
both_engines!(message_rules, edits_deletes_and_reactions_follow_the_rules);

async fn non_members_and_other_tenants_get_404(engine: Engine) {
    let server = TestServer::start(engine).await;
    server
        .add_tenant("globex", chemchat_server::domain::Tier::Enterprise)
        .await;
    let alice = api_user(&server, None, "alice").await;
    let outsider = api_user(&server, None, "outsider").await;
    let foreigner = api_user(&server, Some("globex"), "foreigner").await;
    let conversation = api_group(&server, &alice, &[]).await;
    let (_, message) = api_send(&server, &alice, &conversation, "secret", "k").await;
    let message = format!("/api/v1/messages/{}", message["id"].as_str().unwrap());
    let conv = format!("/api/v1/conversations/{conversation}");
    for user in [&outsider, &foreigner] {
        let requests = [
            (Method::GET, conv.clone(), None),
            (Method::GET, format!("{conv}/messages"), None),
            (
                Method::POST,
                format!("{conv}/messages"),
                Some(json!({ "content": "x" })),
            ),
            (
                Method::POST,
                format!("{conv}/read"),
                Some(json!({ "seq": 1 })),
            ),
            (
                Method::POST,
                format!("{conv}/members"),
                Some(json!({ "userId": user.id })),
            ),
        ];
        for (method, path, body) in requests {
            let (s, b) = call(&server, user, method.clone(), &path, body).await;
            assert_error(s, &b, StatusCode::NOT_FOUND, "conversation_not_found");
        }
        for (method, path, body) in [
            (
                Method::PUT,
                message.clone(),
                Some(json!({ "content": "x" })),
            ),
            (Method::DELETE, message.clone(), None),
            (
                Method::POST,
                format!("{message}/reactions"),
                Some(json!({ "emoji": "x" })),
            ),
            (Method::GET, format!("{message}/edits"), None),
        ] {
            let (s, b) = call(&server, user, method.clone(), &path, body).await;
            assert_error(s, &b, StatusCode::NOT_FOUND, "message_not_found");
        }
    }
    // A token of one tenant is worthless in another.
    let mut borrowed = alice.clone();
    borrowed.tenant = Some("globex".into());
    let (s, _) = call(&server, &borrowed, Method::GET, &conv, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
both_engines!(isolation, non_members_and_other_tenants_get_404);

/// A request, and the status, code and field it must be refused with.
type Case = (
    Method,
    String,
    Option<serde_json::Value>,
    StatusCode,
    &'static str,
    Option<&'static str>,
);

async fn every_bad_input_gets_its_documented_error(engine: Engine) {
    let server = TestServer::start_with(engine, |s| s.max_message_chars = 10).await;
    let alice = api_user(&server, None, "alice").await;
    let conversation = api_group(&server, &alice, &[]).await;
    let messages = format!("/api/v1/conversations/{conversation}/messages");
    let cases: Vec<Case> = vec![
        (
            Method::POST,
            messages.clone(),
            Some(json!({ "content": "" })),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("content"),
        ),
        (
            Method::POST,
            messages.clone(),
            Some(json!({ "content": " \n " })),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("content"),
        ),
        (
            Method::POST,
            messages.clone(),
            Some(json!({ "content": "ééééééééééé" })),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            Some("content"),
        ),
        (
            Method::POST,
            messages.clone(),
            Some(json!({ "content": "a\u{0}b" })),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("content"),
        ),
        (
            Method::POST,
            messages.clone(),
            Some(json!({ "clientMessageId": "k" })),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            None,
        ),
        (
            Method::POST,
            messages.clone(),
            Some(json!({ "content": 5 })),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            None,
        ),
        (
            Method::POST,
            messages.clone(),
            Some(json!({ "content": "x", "clientMessageId": "" })),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("clientMessageId"),
        ),
        (
            Method::POST,
            messages.clone(),
            Some(json!({ "content": "x", "type": "video" })),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("type"),
        ),
        (
            Method::GET,
            format!("{messages}?limit=101"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
            Some("limit"),
        ),
        (
            Method::GET,
            format!("{messages}?limit=0"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
            Some("limit"),
        ),
        (
            Method::GET,
            format!("{messages}?before=abc"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
            None,
        ),
        (
            Method::GET,
            format!("{messages}?before=5&after=1"),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
            None,
        ),
        (
            Method::GET,
            "/api/v1/conversations/not-a-uuid".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_path",
            Some("conversationId"),
        ),
        (
            Method::PUT,
            "/api/v1/messages/nope".into(),
            Some(json!({ "content": "x" })),
            StatusCode::BAD_REQUEST,
            "invalid_path",
            Some("messageId"),
        ),
        (
            Method::POST,
            format!("/api/v1/conversations/{conversation}/read"),
            Some(json!({ "seq": -1 })),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("seq"),
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            Some(json!({ "type": "triple", "memberIds": [] })),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("type"),
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            Some(json!({ "type": "dm", "memberIds": [] })),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("memberIds"),
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            Some(json!({ "type": "group", "memberIds": ["x"] })),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("memberIds"),
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            Some(json!({ "type": "group", "memberIds": [uuid::Uuid::now_v7()] })),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_members",
            Some("memberIds"),
        ),
        (
            Method::POST,
            "/api/v1/conversations".into(),
            Some(json!({ "type": "group", "name": "x".repeat(101) })),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            Some("name"),
        ),
        (
            Method::GET,
            "/api/v1/conversations?cursor=zzz".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
            Some("cursor"),
        ),
        (
            Method::GET,
            "/api/v1/sync?since=%%%".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
            None,
        ),
        (
            Method::GET,
            "/api/v1/sync?since=bm9wZQ".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
            Some("since"),
        ),
        (
            Method::GET,
            "/api/v1/sync?limit=1001".into(),
            None,
            StatusCode::BAD_REQUEST,
            "invalid_query",
            Some("limit"),
        ),
    ];
    for (method, path, body, status, code, field) in cases {
        let (s, b) = call(&server, &alice, method.clone(), &path, body.clone()).await;
        assert_error(s, &b, status, code);
        if let Some(field) = field {
            assert_eq!(b["error"]["field"], field, "{method} {path} {body:?}: {b}");
        }
    }
    let (_, ok) = api_send(&server, &alice, &conversation, "éééééééééé", "max").await;
    assert_eq!(ok["content"], "éééééééééé", "exactly the maximum is fine");
    // Not JSON at all, and no token.
    let raw = server
        .http
        .post(server.url(&messages))
        .bearer_auth(&alice.token)
        .header("content-type", "application/json")
        .body("{not json");
    let (s, b) = server.call(raw).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_body");
    let (s, b) = server.call(server.http.get(server.url(&messages))).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthenticated");
}
both_engines!(bad_inputs, every_bad_input_gets_its_documented_error);

async fn quotas_answer_429_naming_the_quota(engine: Engine) {
    let server = TestServer::start(engine).await;
    let alice = api_user(&server, None, "alice").await;
    let conversation = api_group(&server, &alice, &[]).await;
    set_quotas(
        &server,
        "default",
        Quotas {
            max_conversations: Some(1),
            max_messages_per_day: Some(3),
            ..Quotas::default()
        },
    )
    .await;
    for i in 0..3 {
        let (s, b) = api_send(&server, &alice, &conversation, "x", &format!("k{i}")).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (s, b) = api_send(&server, &alice, &conversation, "x", "k3").await;
    assert_error(s, &b, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maxMessagesPerDay"),
        "{b}"
    );
    // A retry of a stored message is not a new message and is still answered.
    let (s, _) = api_send(&server, &alice, &conversation, "x", "k0").await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = call(
        &server,
        &alice,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({ "type": "group", "name": "two" })),
    )
    .await;
    assert_error(s, &b, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maxConversations"),
        "{b}"
    );
}
both_engines!(quotas, quotas_answer_429_naming_the_quota);

async fn the_api_documents_itself(engine: Engine) {
    let server = TestServer::start(engine).await;
    let spec: serde_json::Value = server
        .http
        .get(server.url("/api/docs-json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    for path in [
        "/api/v1/conversations",
        "/api/v1/conversations/{id}/messages",
        "/api/v1/messages/{id}",
        "/api/v1/sync",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} documented");
    }
    let page = server
        .http
        .get(server.url("/api/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("/api/docs-json"));
    assert!(
        !html.contains("https://"),
        "no external assets: the page works offline"
    );
}
both_engines!(docs, the_api_documents_itself);

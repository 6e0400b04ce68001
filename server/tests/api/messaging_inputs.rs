//! Every bad input over the real HTTP API on both engines gets its documented 4xx and error
//! shape; tenant quotas answer 429 naming the quota; the API documents itself.

use crate::support::Engine;
use crate::support::api::{api_group, api_send, api_user, assert_error, call};
use crate::support::server::TestServer;
use chemchat_server::domain::Quotas;
use reqwest::{Method, StatusCode};
use serde_json::json;

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
            "validation_failed",
            Some("content"),
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
    // Names people read hide nothing; reactions are one emoji, twenty at most per person.
    let reactions = format!("/api/v1/messages/{}/reactions", ok["id"].as_str().unwrap());
    let invisible: Vec<Case> = vec![
        (
            Method::POST,
            "/api/v1/conversations".into(),
            Some(json!({ "type": "group", "name": "Admins\u{202e}\u{200b}" })),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("name"),
        ),
        (
            Method::POST,
            reactions.clone(),
            Some(json!({ "emoji": ":+1:" })),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("emoji"),
        ),
        (
            Method::POST,
            reactions.clone(),
            Some(json!({ "emoji": "👍👍" })),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("emoji"),
        ),
    ];
    for (method, path, body, status, code, field) in invisible {
        let (s, b) = call(&server, &alice, method.clone(), &path, body.clone()).await;
        assert_error(s, &b, status, code);
        assert_eq!(b["error"]["field"], field.unwrap(), "{body:?}: {b}");
    }
    let (s, b) = server
        .post(
            "/api/v1/auth/register",
            json!({ "username": "mallory", "displayName": "Admin\u{202e}\u{200b}",
                    "email": "m@example.com", "password": "correct horse battery staple" }),
        )
        .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(b["error"]["field"], "displayName");
    let emoji: Vec<char> = ('\u{1f600}'..='\u{1f614}').collect();
    for (i, e) in emoji.iter().enumerate() {
        let (s, b) = call(
            &server,
            &alice,
            Method::POST,
            &reactions,
            Some(json!({ "emoji": e.to_string() })),
        )
        .await;
        if i < 20 {
            assert!(s.is_success(), "reaction {i}: {s} {b}");
        } else {
            assert_error(s, &b, StatusCode::CONFLICT, "reaction_limit");
        }
    }
    // The same emoji again is not a new one.
    let (s, _) = call(
        &server,
        &alice,
        Method::POST,
        &reactions,
        Some(json!({ "emoji": emoji[0].to_string() })),
    )
    .await;
    assert!(s.is_success(), "{s}");
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
    server
        .set_quotas(
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
        "/api/v1/auth/login",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} documented");
    }
    // Parameters say where they go: a path parameter is in its path's template, and a query
    // parameter a handler reads as optional is documented as optional.
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                if parameter["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: `{name}` is documented as a path parameter"
                    );
                }
            }
        }
    }
    let search = &spec["paths"]["/api/v1/search/messages"]["get"]["parameters"];
    let q = search
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "q")
        .unwrap();
    assert_eq!(q["in"], "query");
    assert_ne!(q["required"], true, "{q}");
    let page = server.get("/api/docs").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("/api/docs-json"));
    assert!(
        !html.contains("https://"),
        "no external assets: the page works offline"
    );
    // The real-time protocols, which OpenAPI cannot describe, are served beside it.
    let realtime = server.get("/api/docs/realtime").await;
    assert_eq!(realtime.status(), StatusCode::OK);
    assert!(
        realtime.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/markdown"),
    );
    let text = realtime.text().await.unwrap();
    for part in ["/api/v1/ws", "/socket.io/", "message.created", "afterMs"] {
        assert!(text.contains(part), "the realtime page names {part}");
    }
}
both_engines!(docs, the_api_documents_itself);

//! Messages over the real HTTP API on both engines: concurrent and retried sends, byte-exact
//! content, edits, tombstones, reactions, and isolation between members, non-members and tenants.

use crate::support::Engine;
use crate::support::api::{api_group, api_send, api_user, assert_error, call};
use crate::support::server::TestServer;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::HashSet;

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
                Some(json!({ "emoji": "🎈" })),
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

async fn concurrent_http_sends_are_gap_free_and_retries_store_once(engine: Engine) {
    let server = TestServer::start(engine).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let conversation = api_group(&server, &alice, &[&bob]).await;
    // 50 requests in flight at once, from two members.
    let (server, conversation) = (&server, conversation.as_str());
    let sends = (0..50).map(|i| {
        let user = if i % 2 == 0 { &alice } else { &bob };
        async move { api_send(server, user, conversation, "hi", &format!("c{i}")).await }
    });
    let mut seqs: Vec<i64> = futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|(s, b)| {
            assert_eq!(s, StatusCode::CREATED, "{b}");
            b["seq"].as_i64().unwrap()
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    // The same clientMessageId 20 times at once: one 201, nineteen 200s, one message.
    let retries = (0..20).map(|_| api_send(server, &alice, conversation, "once", "same"));
    let results = futures::future::join_all(retries).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let ids: HashSet<String> = results.iter().map(|(_, b)| b["id"].to_string()).collect();
    assert_eq!((created, ids.len()), (1, 1), "{results:?}");
    assert!(results.iter().all(|(_, b)| b["seq"] == 51));
    let (_, next) = api_send(server, &bob, conversation, "next", "after").await;
    assert_eq!(next["seq"], 52, "no seq was lost to the retries");
}
both_engines!(
    concurrency,
    concurrent_http_sends_are_gap_free_and_retries_store_once
);

//! Who may speak, over the real API and WebSocket gateway on both engines: read-only
//! conversations, slow mode, mutes by a conversation's admins and by the tenant's moderators
//! (directly and from a report), and warnings.

use crate::people_api::owner;
use crate::support::Engine;
use crate::support::api::{
    Api, ApiUser, api_group, api_send, api_user, assert_error, call, request, send_text,
};
use crate::support::server::TestServer;
use crate::support::ws::Ws;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn rfc3339_in(seconds: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn patch(api: &Api, user: &ApiUser, conversation: &str, body: Value) -> (StatusCode, Value) {
    let path = format!("/api/v1/conversations/{conversation}");
    call(api, user, Method::PATCH, &path, Some(body)).await
}

async fn mute(
    api: &Api,
    actor: &ApiUser,
    conversation: &str,
    target: &ApiUser,
    until: &str,
) -> (StatusCode, Value) {
    let path = format!(
        "/api/v1/conversations/{conversation}/members/{}/mute",
        target.id
    );
    let body = json!({ "until": until, "reason": "cool off" });
    call(api, actor, Method::PUT, &path, Some(body)).await
}

async fn unmute(
    api: &Api,
    actor: &ApiUser,
    conversation: &str,
    target: &ApiUser,
) -> (StatusCode, Value) {
    let path = format!(
        "/api/v1/conversations/{conversation}/members/{}/mute",
        target.id
    );
    let body = json!({ "reason": "calmer now" });
    call(api, actor, Method::DELETE, &path, Some(body)).await
}

fn send_frame(conversation: &str, text: &str) -> Value {
    json!({ "conversationId": conversation, "content": text,
            "clientMessageId": uuid::Uuid::now_v7().to_string() })
}

async fn joined(api: &Api, user: &ApiUser, conversation: &str) -> Ws {
    let (mut ws, _) = Ws::login(api.addr, &user.token).await;
    ws.ok(
        "conversation.join",
        json!({ "conversationId": conversation }),
    )
    .await;
    ws
}

async fn read_only_and_slow_mode(engine: Engine) {
    let server = TestServer::start(engine).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let group = api_group(&server, &alice, &[&bob]).await;
    let mut bob_ws = joined(&server, &bob, &group).await;
    let (status, now) = call(&server, &bob, Method::GET, "/api/v1/sync", None).await;
    assert_eq!(status, StatusCode::OK, "{now}");
    let since = now["cursor"].as_str().unwrap().to_owned();

    // Only owners and admins change the floor; a DM has none.
    let (status, body) = patch(&server, &bob, &group, json!({ "readOnly": true })).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, dm) = call(
        &server,
        &alice,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({ "type": "dm", "memberIds": [bob.id] })),
    )
    .await;
    assert!(status.is_success(), "{dm}");
    let dm = dm["id"].as_str().unwrap();
    let (status, body) = patch(&server, &alice, dm, json!({ "slowModeSeconds": 5 })).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    // Bad input is named and changes nothing.
    for (bad, code) in [
        (json!({}), "validation_failed"),
        (json!({ "slowModeSeconds": -1 }), "validation_failed"),
        (json!({ "slowModeSeconds": 86_401 }), "validation_failed"),
        (json!({ "name": "" }), "validation_failed"),
        (json!({ "readOnly": "yes" }), "invalid_body"),
        (json!({ "topic": "x" }), "invalid_body"),
    ] {
        let (status, body) = patch(&server, &alice, &group, bad.clone()).await;
        assert_eq!(
            crate::support::api::error_code(status, &body),
            code,
            "{bad}"
        );
    }

    // Read-only: the owner posts, members are refused over REST and WebSocket.
    let (status, body) = patch(&server, &alice, &group, json!({ "readOnly": true })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["readOnly"], true);
    assert_eq!(body["slowModeSeconds"], 0);
    let updated = bob_ws.expect("conversation.updated").await;
    assert_eq!(updated["readOnly"], true, "{updated}");
    assert_eq!(updated["by"], alice.id.as_str());
    let key = uuid::Uuid::now_v7().to_string();
    let (status, body) = api_send(&server, &bob, &group, "hello?", &key).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "read_only_conversation",
    );
    let code = bob_ws
        .fails("message.send", send_frame(&group, "hello?"))
        .await;
    assert_eq!(code, "read_only_conversation");
    send_text(&server, &alice, &group, "announcement").await;

    // Slow mode: one message per interval for members; owners and admins are exempt.
    let body = json!({ "readOnly": false, "slowModeSeconds": 60 });
    let (status, body) = patch(&server, &alice, &group, body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["readOnly"].clone(), body["slowModeSeconds"].clone()),
        (json!(false), json!(60))
    );
    let (status, first) = api_send(&server, &bob, &group, "first", "k1").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let path = server.url(&format!("/api/v1/conversations/{group}/messages"));
    let response = request(&server, &bob, Method::POST, path)
        .json(&json!({ "content": "second", "clientMessageId": "k2" }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "slow_mode");
    assert!(
        (55..=60).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    let ack = bob_ws
        .request("message.send", send_frame(&group, "third"))
        .await;
    assert_eq!(ack["error"]["code"], "slow_mode", "{ack}");
    assert!(
        ack["error"]["retryAfterMs"].as_u64().unwrap() > 50_000,
        "{ack}"
    );
    send_text(&server, &alice, &group, "owners are not paced").await;
    send_text(&server, &alice, &group, "not at all").await;
    // A retry of the message that went through is still answered with it.
    let (status, again) = api_send(&server, &bob, &group, "first", "k1").await;
    assert!(status.is_success(), "{again}");
    assert_eq!(again["id"], first["id"]);

    // Off again: members post freely; the conversation and sync tell the state.
    let (status, _) = patch(&server, &alice, &group, json!({ "slowModeSeconds": 0 })).await;
    assert_eq!(status, StatusCode::OK);
    send_text(&server, &bob, &group, "free again").await;
    let (status, shown) = call(
        &server,
        &bob,
        Method::GET,
        &format!("/api/v1/conversations/{group}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (shown["readOnly"].clone(), shown["slowModeSeconds"].clone()),
        (json!(false), json!(0))
    );
    let path = format!("/api/v1/sync?since={since}");
    let (status, sync) = call(&server, &bob, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{sync}");
    let updates = sync["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "conversation.updated")
        .count();
    assert_eq!(updates, 3, "{sync}");
    // Renaming is the same route, screened like a new group's name.
    let (status, body) = patch(&server, &alice, &group, json!({ "name": "news" })).await;
    assert_eq!(
        (status, body["name"].clone()),
        (StatusCode::OK, json!("news"))
    );
    server.stop().await;
}
both_engines!(read_only_and_slow_mode_, read_only_and_slow_mode);

async fn mutes_and_warnings(engine: Engine) {
    let server = TestServer::start(engine).await;
    let boss = owner(&server, engine, "boss").await;
    let moderator = api_user(&server, None, "mod").await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let carol = api_user(&server, None, "carol").await;
    let promote = json!({ "role": "moderator", "reason": "helps out" });
    let path = format!("/api/v1/admin/users/{}", moderator.id);
    let (status, body) = call(&server, &boss, Method::PATCH, &path, Some(promote)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let group = api_group(&server, &alice, &[&bob, &carol]).await;
    let members = format!("/api/v1/conversations/{group}/members");
    let admin = json!({ "userId": carol.id, "role": "admin" });
    let (status, body) = call(&server, &alice, Method::POST, &members, Some(admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let earlier = send_text(&server, &bob, &group, "before the mute").await;
    let mut bob_ws = joined(&server, &bob, &group).await;

    // Who may mute whom.
    let in_an_hour = rfc3339_in(3600);
    let (status, body) = mute(&server, &bob, &group, &carol, &in_an_hour).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = mute(&server, &carol, &group, &alice, &in_an_hour).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = mute(&server, &carol, &group, &carol, &in_an_hour).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = mute(&server, &carol, &group, &bob, &rfc3339_in(-60)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let (status, body) = mute(&server, &carol, &group, &bob, "tomorrow").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let (status, body) = mute(&server, &carol, &group, &boss, &in_an_hour).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "user_not_found");

    // An admin of the conversation mutes a member: refused sends and edits, over both APIs.
    let (status, body) = mute(&server, &carol, &group, &bob, &in_an_hour).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let shown = body["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["userId"] == bob.id.as_str())
        .unwrap()
        .clone();
    assert!(shown["mutedUntil"].is_string(), "{shown}");
    let notice = bob_ws.expect("member.muted").await;
    assert_eq!(notice["userId"], bob.id.as_str(), "{notice}");
    assert_eq!(notice["by"], carol.id.as_str());
    let key = uuid::Uuid::now_v7().to_string();
    let (status, body) = api_send(&server, &bob, &group, "let me speak", &key).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "muted");
    let code = bob_ws
        .fails("message.send", send_frame(&group, "hey"))
        .await;
    assert_eq!(code, "muted");
    let edit = json!({ "content": "rewritten" });
    let path = format!("/api/v1/messages/{earlier}");
    let (status, body) = call(&server, &bob, Method::PUT, &path, Some(edit)).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "muted");
    // Others still speak.
    send_text(&server, &carol, &group, "we continue").await;

    // Lifted: bob speaks again, and everyone hears it was lifted.
    let (status, body) = unmute(&server, &carol, &group, &bob).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lifted = bob_ws
        .expect_where("member.muted", |d| d["mutedUntil"].is_null())
        .await;
    assert_eq!(lifted["by"], carol.id.as_str());
    send_text(&server, &bob, &group, "thanks").await;

    // A tenant moderator mutes in a conversation they are not in, DMs included; an ordinary
    // outsider cannot even see the conversation.
    let (status, body) = mute(&server, &moderator, &group, &bob, &in_an_hour).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, dm) = call(
        &server,
        &bob,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({ "type": "dm", "memberIds": [alice.id] })),
    )
    .await;
    assert!(status.is_success(), "{dm}");
    let dm = dm["id"].as_str().unwrap();
    let (status, body) = mute(&server, &alice, dm, &bob, &in_an_hour).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = mute(&server, &moderator, dm, &bob, &in_an_hour).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key = uuid::Uuid::now_v7().to_string();
    let (status, body) = api_send(&server, &bob, dm, "psst", &key).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "muted");
    let (status, body) = unmute(&server, &carol, dm, &bob).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "conversation_not_found",
    );
    let (status, body) = mute(&server, &moderator, &group, &boss, &in_an_hour).await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "conversation_not_found",
    );
    let (status, _) = unmute(&server, &moderator, &group, &bob).await;
    assert_eq!(status, StatusCode::OK);

    // From the moderation queue: mute the author where they wrote, and warn them.
    let rude = send_text(&server, &bob, &group, "something rude").await;
    let report_path = format!("/api/v1/messages/{rude}/reports");
    let reason = json!({ "reason": "rude" });
    let (status, report) = call(&server, &alice, Method::POST, &report_path, Some(reason)).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let resolve = format!(
        "/api/v1/admin/reports/{}/resolve",
        report["id"].as_str().unwrap()
    );
    let bad = json!({ "action": "mute_author", "reason": "rude" });
    let (status, body) = call(&server, &moderator, Method::POST, &resolve, Some(bad)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let bad = json!({ "action": "warn_author", "until": in_an_hour, "reason": "rude" });
    let (status, body) = call(&server, &moderator, Method::POST, &resolve, Some(bad)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let action = json!({ "action": "mute_author", "until": in_an_hour, "reason": "rude" });
    let (status, body) = call(&server, &moderator, Method::POST, &resolve, Some(action)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "resolved");
    let key = uuid::Uuid::now_v7().to_string();
    let (status, body) = api_send(&server, &bob, &group, "again", &key).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "muted");

    let second = send_text(&server, &carol, &group, "borderline").await;
    let report_path = format!("/api/v1/messages/{second}/reports");
    let reason = json!({ "reason": "borderline" });
    let (_, report) = call(&server, &alice, Method::POST, &report_path, Some(reason)).await;
    let resolve = format!(
        "/api/v1/admin/reports/{}/resolve",
        report["id"].as_str().unwrap()
    );
    let action = json!({ "action": "warn_author", "reason": "mind the tone" });
    let (status, body) = call(&server, &moderator, Method::POST, &resolve, Some(action)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // And directly, from the accounts API: her open socket learns it at once.
    let (mut carol_ws, _) = Ws::login(server.addr, &carol.token).await;
    let path = format!("/api/v1/admin/users/{}", carol.id);
    let warn = json!({ "warn": true, "reason": "second time" });
    let (status, body) = call(&server, &moderator, Method::PATCH, &path, Some(warn)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let warned = carol_ws.expect("account.warned").await;
    assert_eq!(warned["reason"], "second time", "{warned}");
    let both = json!({ "warn": true, "role": "member", "reason": "x" });
    let (status, body) = call(&server, &moderator, Method::PATCH, &path, Some(both)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let path = format!("/api/v1/admin/users/{}", moderator.id);
    let warn = json!({ "warn": true, "reason": "peers cannot" });
    let (status, body) = call(&server, &carol, Method::PATCH, &path, Some(warn)).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // The warned read their warnings, newest first, without the moderator's name.
    let (status, body) = call(
        &server,
        &carol,
        Method::GET,
        "/api/v1/auth/me/warnings",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reasons: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["second time", "mind the tone"], "{body}");
    assert!(!body.to_string().contains(&moderator.id), "{body}");
    let (status, body) = call(&server, &bob, Method::GET, "/api/v1/auth/me/warnings", None).await;
    assert_eq!((status, body["items"].clone()), (StatusCode::OK, json!([])));

    // The audit trail names who muted whom, where and why.
    let (status, audit) = call(
        &server,
        &boss,
        Method::GET,
        "/api/v1/admin/audit?action=member.",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entries = audit["items"].as_array().unwrap();
    let muted: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "member.muted")
        .collect();
    assert_eq!(muted.len(), 4, "{audit}");
    assert!(
        muted
            .iter()
            .any(|e| e["detail"]["asModerator"] == true && e["detail"]["reason"] == "rude"),
        "{audit}"
    );
    assert_eq!(
        entries
            .iter()
            .filter(|e| e["action"] == "member.unmuted")
            .count(),
        2,
        "{audit}"
    );

    // A new tenant role reaches her sockets at once too.
    let path = format!("/api/v1/admin/users/{}", carol.id);
    let promote = json!({ "role": "moderator", "reason": "trusted" });
    let (status, body) = call(&server, &boss, Method::PATCH, &path, Some(promote)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let updated = carol_ws.expect("account.updated").await;
    assert_eq!(updated["role"], "moderator", "{updated}");
    server.stop().await;
}
both_engines!(mutes_and_warnings_, mutes_and_warnings);

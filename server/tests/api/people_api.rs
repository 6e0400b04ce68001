//! People over the real API on both engines: the directory and profiles, the password, tenant
//! roles, suspensions that end sockets at once, and the audit trail.

use crate::support::api::{Api, ApiUser, PASSWORD, api_group, api_user, assert_error, call};
use crate::support::server::TestServer;
use crate::support::ws::Ws;
use crate::support::{Engine, t};
use chemchat_server::domain::{TenantRole, Tier};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// How soon a revoked socket must be closed.
const WITHIN: Duration = Duration::from_secs(1);

fn ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

async fn login_from(
    api: &Api,
    username: &str,
    password: &str,
    device: &str,
) -> (StatusCode, Value) {
    api.post(
        "/api/v1/auth/login",
        json!({ "username": username, "password": password, "deviceId": device }),
    )
    .await
}

/// Makes `user` of the server's own tenant an owner: on SQLite the first user already is one;
/// on PostgreSQL it goes through what `chemchat-server admin grant` runs.
pub(crate) async fn owner(server: &TestServer, engine: Engine, name: &str) -> ApiUser {
    let user = api_user(server, None, name).await;
    if engine == Engine::Postgres {
        let store = server.db.store().await;
        chemchat_server::app::people::grant_role(&store, &t("default"), name, TenantRole::Owner, 1)
            .await
            .unwrap();
    }
    let (status, me) = call(server, &user, Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "owner", "{me}");
    user
}

async fn directory_and_profiles(engine: Engine) {
    let server = TestServer::start(engine).await;
    server.add_tenant("globex", Tier::Free).await;
    // On SQLite the first user owns the tenant; the directory's rules are about members.
    api_user(&server, None, "root").await;
    let bob = api_user(&server, None, "bob").await;
    let ada = ApiUser::sign_up(&server, None, "ada", "Ada Lovelace").await;
    let adam = ApiUser::sign_up(&server, None, "adam", "Adam Smith").await;
    ApiUser::sign_up(&server, None, "zed", "Adaline Zed").await;
    let foreign = api_user(&server, Some("globex"), "adele").await;

    let (status, body) = call(&server, &bob, Method::GET, "/api/v1/users?q=Ad", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        ids(&body),
        ["ada", "adam", "zed"],
        "prefix of username or display name"
    );
    assert_eq!(body["items"][0]["displayName"], "Ada Lovelace");
    assert_eq!(body["items"][0]["presence"], "offline");
    assert!(
        body["items"][0].get("accountStatus").is_none(),
        "members see no status"
    );
    let (_, body) = call(&server, &bob, Method::GET, "/api/v1/users?q=lovelace", None).await;
    assert_eq!(
        ids(&body),
        Vec::<String>::new(),
        "a prefix, not a substring"
    );
    let (_, body) = call(&server, &bob, Method::GET, "/api/v1/users?q=a_", None).await;
    assert_eq!(ids(&body), Vec::<String>::new(), "wildcards are literal");

    // Paging by cursor.
    let (_, first) = call(
        &server,
        &bob,
        Method::GET,
        "/api/v1/users?q=ad&limit=2",
        None,
    )
    .await;
    assert_eq!(ids(&first), ["ada", "adam"]);
    let cursor = first["nextCursor"].as_str().unwrap();
    let path = format!("/api/v1/users?q=ad&limit=2&cursor={cursor}");
    let (_, second) = call(&server, &bob, Method::GET, &path, None).await;
    assert_eq!(ids(&second), ["zed"]);
    assert!(second["nextCursor"].is_null());

    // Batch look-up: the order asked, unknown and foreign ids left out.
    let path = format!(
        "/api/v1/users?ids={},{},{},{}",
        adam.id,
        foreign.id,
        uuid::Uuid::now_v7(),
        ada.id
    );
    let (status, body) = call(&server, &bob, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body), ["adam", "ada"]);
    let path = format!("/api/v1/users/{}", foreign.id);
    let (status, body) = call(&server, &bob, Method::GET, &path, None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "user_not_found");
    let (status, body) = call(&server, &bob, Method::GET, "/api/v1/users?q=", None).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    let (status, body) = call(&server, &bob, Method::GET, "/api/v1/users?ids=nope", None).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");

    // A profile change shows in the conversations the user is in.
    let group = api_group(&server, &bob, &[&ada]).await;
    let change = json!({ "displayName": "Countess", "statusText": "computing" });
    let (status, me) = call(
        &server,
        &ada,
        Method::PATCH,
        "/api/v1/auth/me",
        Some(change),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["displayName"], "Countess");
    assert_eq!(me["statusText"], "computing");
    let path = format!("/api/v1/conversations/{group}");
    let (_, conversation) = call(&server, &bob, Method::GET, &path, None).await;
    let member = conversation["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["userId"] == ada.id.as_str())
        .unwrap();
    assert_eq!(member["displayName"], "Countess", "{conversation}");
    let path = format!("/api/v1/users/{}", ada.id);
    let (_, card) = call(&server, &bob, Method::GET, &path, None).await;
    assert_eq!(card["statusText"], "computing");
    let (_, body) = call(&server, &bob, Method::GET, "/api/v1/users?q=count", None).await;
    assert_eq!(ids(&body), ["ada"], "the directory finds the new name");

    // Bad profile input loses nothing.
    for (bad, code, status) in [
        (
            json!({ "statusText": "x".repeat(141) }),
            "validation_failed",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "displayName": " " }),
            "validation_failed",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "nickname": "x" }),
            "invalid_body",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "avatarMediaId": "nope" }),
            "validation_failed",
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "avatarMediaId": uuid::Uuid::now_v7().to_string() }),
            "invalid_avatar",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (got, body) = call(&server, &ada, Method::PATCH, "/api/v1/auth/me", Some(bad)).await;
        assert_error(got, &body, status, code);
    }
    let (_, me) = call(&server, &ada, Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(me["displayName"], "Countess");
    server.stop().await;
}
both_engines!(directory_and_profiles_, directory_and_profiles);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_change_ends_every_other_session() {
    let server = TestServer::start(Engine::Sqlite).await;
    api_user(&server, None, "alice").await;
    let (_, phone) = login_from(&server, "alice", PASSWORD, "phone").await;
    let (_, laptop) = login_from(&server, "alice", PASSWORD, "laptop").await;
    let (mut phone_ws, _) = Ws::login(server.addr, phone["wsToken"].as_str().unwrap()).await;
    let (mut laptop_ws, _) = Ws::login(server.addr, laptop["wsToken"].as_str().unwrap()).await;
    let access = phone["accessToken"].as_str().unwrap();

    let wrong =
        json!({ "currentPassword": "not it at all", "newPassword": "a new long passphrase" });
    let (status, body) = server.post_as(access, "/api/v1/auth/password", wrong).await;
    assert_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let weak = json!({ "currentPassword": PASSWORD, "newPassword": "short" });
    let (status, body) = server.post_as(access, "/api/v1/auth/password", weak).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");

    let change = json!({ "currentPassword": PASSWORD, "newPassword": "a new long passphrase" });
    let (status, body) = server
        .post_as(access, "/api/v1/auth/password", change)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (code, reason) = laptop_ws.wait_closed(WITHIN).await;
    assert_eq!(code, 4401, "{reason}");
    assert!(reason.contains("password"), "{reason}");
    phone_ws.ok("sync", json!({})).await;
    let (status, _) = server.get_as(access, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK, "the caller's own session stays");
    let laptop_access = laptop["accessToken"].as_str().unwrap();
    let (status, _) = server.get_as(laptop_access, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = login_from(&server, "alice", PASSWORD, "tablet").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password is gone");
    let (status, _) = login_from(&server, "alice", "a new long passphrase", "tablet").await;
    assert_eq!(status, StatusCode::OK);
    server.stop().await;
}

/// PATCH /admin/users/{id} as `actor`, from a client that names itself.
async fn act(
    server: &TestServer,
    actor: &ApiUser,
    target: &str,
    change: Value,
) -> (StatusCode, Value) {
    let req = server
        .http
        .patch(server.url(&format!("/api/v1/admin/users/{target}")))
        .bearer_auth(&actor.token)
        .header("user-agent", "people-test/1.0")
        .json(&change);
    server.call(req).await
}

pub(crate) fn in_an_hour() -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn moderation_and_audit(engine: Engine) {
    let server = TestServer::start(engine).await;
    server.add_tenant("globex", Tier::Free).await;
    let boss = owner(&server, engine, "boss").await;
    let moderator = api_user(&server, None, "mod").await;
    let carol = api_user(&server, None, "carol").await;
    let foreign = api_user(&server, Some("globex"), "outsider").await;

    // Members are refused every admin route.
    for (method, path) in [
        (Method::GET, "/api/v1/admin/users".to_owned()),
        (Method::GET, "/api/v1/admin/audit".to_owned()),
    ] {
        let (status, body) = call(&server, &carol, method, &path, None).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let ban = json!({ "status": "banned", "reason": "no" });
    let (status, body) = act(&server, &carol, &moderator.id, ban).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // The owner makes a moderator.
    let promote = json!({ "role": "moderator", "reason": "helps out" });
    let (status, body) = act(&server, &boss, &moderator.id, promote).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "moderator");

    // A moderator suspends a member: sockets close at once, login is refused.
    let tokens = server.login("carol").await;
    let (mut carol_ws, _) = Ws::login(server.addr, tokens["wsToken"].as_str().unwrap()).await;
    let suspend = json!({ "status": "suspended", "until": in_an_hour(), "reason": "spam" });
    let (status, body) = act(&server, &moderator, &carol.id, suspend).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accountStatus"], "suspended");
    let (code, reason) = carol_ws.wait_closed(WITHIN).await;
    assert_eq!(code, 4401, "{reason}");
    assert!(reason.contains("suspended"), "{reason}");
    drop(carol_ws);
    let (status, body) = login_from(&server, "carol", PASSWORD, "phone").await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "account_suspended");
    let (status, _) = call(&server, &carol, Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old token died with its session"
    );

    // Suspended accounts are hidden from members' directory, listed for moderators.
    let (_, body) = call(&server, &boss, Method::GET, "/api/v1/users?q=car", None).await;
    assert_eq!(ids(&body), ["carol"], "owners moderate");
    let member = api_user(&server, None, "dave").await;
    let (_, body) = call(&server, &member, Method::GET, "/api/v1/users?q=car", None).await;
    assert_eq!(ids(&body), Vec::<String>::new());
    let (status, body) = call(
        &server,
        &moderator,
        Method::GET,
        "/api/v1/admin/users?status=suspended",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body), ["carol"]);
    assert!(body["items"][0]["suspendedUntil"].is_string());

    // Moderators act only below themselves; admins-only actions stay with admins.
    let suspend_boss = json!({ "status": "suspended", "until": in_an_hour(), "reason": "coup" });
    let (status, body) = act(&server, &moderator, &boss.id, suspend_boss).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let ban = json!({ "status": "banned", "reason": "spam again" });
    let (status, body) = act(&server, &moderator, &member.id, ban).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    // Bad input, another tenant's user, the last owner.
    for bad in [
        json!({ "status": "suspended", "reason": "no end" }),
        json!({ "status": "suspended", "until": "2000-01-01T00:00:00Z", "reason": "past" }),
        json!({ "role": "king", "reason": "x" }),
        json!({ "role": "member", "status": "banned", "reason": "two at once" }),
        json!({ "role": "member", "reason": " " }),
    ] {
        let (status, body) = act(&server, &boss, &member.id, bad.clone()).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    }
    let (status, body) = act(
        &server,
        &boss,
        &foreign.id,
        json!({ "role": "admin", "reason": "x" }),
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "user_not_found");
    let (status, body) = act(
        &server,
        &boss,
        "not-a-uuid",
        json!({ "role": "admin", "reason": "x" }),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_path");
    let (status, body) = act(
        &server,
        &boss,
        &boss.id,
        json!({ "role": "member", "reason": "x" }),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // Reinstated, carol logs in again.
    let lift = json!({ "status": "active", "reason": "appeal accepted" });
    let (status, body) = act(&server, &boss, &carol.id, lift).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = login_from(&server, "carol", PASSWORD, "phone").await;
    assert_eq!(status, StatusCode::OK);

    // The audit trail: filters, actor, target, address and user agent, paging.
    let path = "/api/v1/admin/audit?action=user.suspended";
    let (status, body) = call(&server, &boss, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entries = body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{body}");
    assert_eq!(entries[0]["actorId"], moderator.id.as_str());
    assert_eq!(entries[0]["target"], format!("user:{}", carol.id));
    assert_eq!(entries[0]["userAgent"], "people-test/1.0");
    assert_eq!(entries[0]["ip"], "127.0.0.1");
    assert_eq!(entries[0]["detail"]["reason"], "spam");
    let (status, body) = call(&server, &moderator, Method::GET, path, None).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    let mut seen = Vec::new();
    let mut path = "/api/v1/admin/audit?action=user.&limit=1".to_owned();
    loop {
        let (status, body) = call(&server, &boss, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for entry in body["items"].as_array().unwrap() {
            seen.push(entry["action"].as_str().unwrap().to_owned());
        }
        match body["nextCursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/admin/audit?action=user.&limit=1&cursor={cursor}")
            }
            None => break,
        }
    }
    let mut expected = vec!["user.role_changed", "user.suspended", "user.reinstated"];
    if engine == Engine::Postgres {
        expected.insert(0, "user.role_changed");
    }
    expected.reverse();
    assert_eq!(seen, expected, "newest first, every page once");
    let target = format!("/api/v1/admin/audit?target=user:{}", carol.id);
    let (_, body) = call(&server, &boss, Method::GET, &target, None).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 2, "{body}");
    let actor = format!("/api/v1/admin/audit?actor={}&action=login.", carol.id);
    let (_, body) = call(&server, &boss, Method::GET, &actor, None).await;
    let logins: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        logins,
        [
            "login.succeeded",
            "login.refused",
            "login.succeeded",
            "login.succeeded"
        ]
    );
    let later = format!("/api/v1/admin/audit?from={}", in_an_hour());
    let (_, body) = call(&server, &boss, Method::GET, &later, None).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 0);
    for bad in [
        "?cursor=nope",
        "?from=yesterday",
        "?actor=x",
        "?action=DROP%20TABLE",
        "?limit=0",
    ] {
        let path = format!("/api/v1/admin/audit{bad}");
        let (status, body) = call(&server, &boss, Method::GET, &path, None).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_query");
    }

    // Usage, against the quotas, matches what this test made.
    let group = api_group(&server, &boss, &[&member]).await;
    crate::support::api::send_text(&server, &boss, &group, "hello").await;
    let tokens = server.login("boss").await;
    let (_boss_ws, _) = Ws::login(server.addr, tokens["wsToken"].as_str().unwrap()).await;
    // The closed sockets leave the ledger when their tasks end, just after the close.
    let mut usage = Value::Null;
    for _ in 0..50 {
        let (status, body) = call(&server, &boss, Method::GET, "/api/v1/admin/usage", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        usage = body;
        if usage["connections"]["used"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(usage["users"]["used"], 4, "{usage}");
    assert_eq!(usage["conversations"]["used"], 1);
    assert_eq!(usage["messagesToday"]["used"], 1);
    assert_eq!(usage["storageBytes"]["used"], 0);
    assert_eq!(usage["connections"]["used"], 1);
    assert!(usage["users"]["limit"].is_u64() || usage["users"]["limit"].is_null());
    let (status, body) = call(&server, &member, Method::GET, "/api/v1/admin/usage", None).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // The last owner stays an owner.
    let (status, body) = act(
        &server,
        &boss,
        &moderator.id,
        json!({ "role": "owner", "reason": "co-owner" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = act(
        &server,
        &moderator,
        &boss.id,
        json!({ "role": "member", "reason": "x" }),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "an owner may demote another owner: {body}"
    );
    let (status, body) = act(
        &server,
        &boss,
        &moderator.id,
        json!({ "role": "member", "reason": "x" }),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    // Not even the command line leaves the tenant without an owner.
    let store = server.db.store().await;
    let refused = chemchat_server::app::people::grant_role(
        &store,
        &t("default"),
        "mod",
        TenantRole::Member,
        2,
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code.as_str(), "last_owner");
    server.stop().await;
}
both_engines!(moderation_and_audit_, moderation_and_audit);

async fn reports_and_the_queue(engine: Engine) {
    let server = TestServer::start(engine).await;
    let boss = owner(&server, engine, "boss").await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let outsider = api_user(&server, None, "outsider").await;
    let group = api_group(&server, &alice, &[&bob]).await;
    let spam = crate::support::api::send_text(&server, &bob, &group, "buy cheap pills").await;
    let rude = crate::support::api::send_text(&server, &bob, &group, "something rude").await;

    // Members of the conversation report; others cannot see the message.
    let path = format!("/api/v1/messages/{spam}/reports");
    let reason = json!({ "reason": "spam" });
    let (status, first) = call(&server, &alice, Method::POST, &path, Some(reason.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["status"], "open");
    let (_, again) = call(&server, &alice, Method::POST, &path, Some(reason.clone())).await;
    assert_eq!(
        again["id"], first["id"],
        "reporting twice answers the first report"
    );
    let (status, body) = call(&server, &outsider, Method::POST, &path, Some(reason)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "message_not_found");
    let (status, body) = call(
        &server,
        &alice,
        Method::POST,
        &path,
        Some(json!({ "reason": "" })),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let rude_path = format!("/api/v1/messages/{rude}/reports");
    let (status, second) = call(
        &server,
        &alice,
        Method::POST,
        &rude_path,
        Some(json!({ "reason": "rude" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");

    // The queue is for moderators, oldest first, with the text as reported.
    let (status, body) = call(&server, &alice, Method::GET, "/api/v1/admin/reports", None).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, queue) = call(
        &server,
        &boss,
        Method::GET,
        "/api/v1/admin/reports?limit=1",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["items"][0]["id"], first["id"]);
    assert_eq!(queue["items"][0]["content"], "buy cheap pills");
    assert_eq!(queue["items"][0]["senderId"], bob.id.as_str());
    let next = format!(
        "/api/v1/admin/reports?limit=1&cursor={}",
        queue["nextCursor"].as_str().unwrap()
    );
    let (_, page) = call(&server, &boss, Method::GET, &next, None).await;
    assert_eq!(page["items"][0]["id"], second["id"]);

    // Deleting the message as the resolution: a tombstone for everyone.
    let resolve = format!(
        "/api/v1/admin/reports/{}/resolve",
        second["id"].as_str().unwrap()
    );
    let (status, closed) = call(
        &server,
        &boss,
        Method::POST,
        &resolve,
        Some(json!({ "action": "delete_message", "reason": "rude, removed" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["status"], "resolved");
    assert!(
        closed["content"].is_null(),
        "the copy of the text goes with the report"
    );
    let history = format!("/api/v1/conversations/{group}/messages");
    let (_, messages) = call(&server, &alice, Method::GET, &history, None).await;
    let tombstone = messages["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == rude.as_str())
        .unwrap()
        .clone();
    assert!(tombstone["content"].is_null(), "{tombstone}");

    // Suspending the author: the socket closes within a second, login is refused.
    let tokens = server.login("bob").await;
    let (mut bob_ws, _) = Ws::login(server.addr, tokens["wsToken"].as_str().unwrap()).await;
    let resolve = format!(
        "/api/v1/admin/reports/{}/resolve",
        first["id"].as_str().unwrap()
    );
    let suspend = json!({ "action": "suspend_author", "until": in_an_hour(), "reason": "spam" });
    let (status, closed) = call(
        &server,
        &boss,
        Method::POST,
        &resolve,
        Some(suspend.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    let (code, reason) = bob_ws.wait_closed(WITHIN).await;
    assert_eq!(code, 4401, "{reason}");
    let (status, body) = login_from(&server, "bob", PASSWORD, "phone").await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "account_suspended");
    let (status, body) = call(&server, &boss, Method::POST, &resolve, Some(suspend)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "report_not_found");
    let (_, open) = call(&server, &boss, Method::GET, "/api/v1/admin/reports", None).await;
    assert_eq!(open["items"].as_array().unwrap().len(), 0);
    let (_, all) = call(
        &server,
        &boss,
        Method::GET,
        "/api/v1/admin/reports?status=all",
        None,
    )
    .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    for (bad, code) in [
        (
            json!({ "action": "shrug", "reason": "x" }),
            "validation_failed",
        ),
        (
            json!({ "action": "dismiss", "until": in_an_hour(), "reason": "x" }),
            "validation_failed",
        ),
    ] {
        let (status, body) = call(&server, &boss, Method::POST, &resolve, Some(bad)).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, code);
    }
    let (_, audit) = call(
        &server,
        &boss,
        Method::GET,
        "/api/v1/admin/audit?action=report.",
        None,
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "report.resolved",
            "report.resolved",
            "report.filed",
            "report.filed"
        ]
    );
    server.stop().await;
}
both_engines!(reports_and_the_queue_, reports_and_the_queue);

async fn content_policy(engine: Engine) {
    let server = TestServer::start(engine).await;
    let boss = owner(&server, engine, "boss").await;
    let alice = api_user(&server, None, "alice").await;
    let group = api_group(&server, &boss, &[&alice]).await;
    let settings = "/api/v1/admin/settings";
    let (status, body) = call(&server, &alice, Method::GET, settings, None).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = call(&server, &boss, Method::GET, settings, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["contentPolicy"]["mode"], "reject",
        "nothing blocked by default"
    );

    let bad = json!({ "contentPolicy": { "mode": "reject", "blockedPatterns": ["("] } });
    let (status, body) = call(&server, &boss, Method::PATCH, settings, Some(bad)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(body["error"]["field"], "contentPolicy.blockedPatterns");
    let policy = json!({ "contentPolicy": {
        "mode": "reject", "blockedWords": ["pills"], "blockedPatterns": [r"\d{4}-\d{4}"] } });
    let (status, body) = call(
        &server,
        &alice,
        Method::PATCH,
        settings,
        Some(policy.clone()),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = call(&server, &boss, Method::PATCH, settings, Some(policy)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["contentPolicy"]["blockedWords"][0], "pills");

    // Refused over REST and over the socket; nothing is stored.
    let messages = format!("/api/v1/conversations/{group}/messages");
    let send = |text: &str, key: &str| json!({ "content": text, "clientMessageId": key });
    let (status, body) = call(
        &server,
        &alice,
        Method::POST,
        &messages,
        Some(send("cheap PILLS", "k1")),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "content_blocked",
    );
    let tokens = server.login("alice").await;
    let (mut ws, _) = Ws::login(server.addr, tokens["wsToken"].as_str().unwrap()).await;
    let frame =
        json!({ "conversationId": group, "content": "call 1234-5678", "clientMessageId": "k2" });
    assert_eq!(ws.fails("message.send", frame).await, "content_blocked");
    let (_, history) = call(&server, &alice, Method::GET, &messages, None).await;
    assert_eq!(
        history["messages"].as_array().unwrap().len(),
        0,
        "{history}"
    );
    let (status, sent) = call(
        &server,
        &alice,
        Method::POST,
        &messages,
        Some(send("hello", "k3")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let edit = format!("/api/v1/messages/{}", sent["id"].as_str().unwrap());
    let (status, body) = call(
        &server,
        &alice,
        Method::PUT,
        &edit,
        Some(json!({ "content": "pills" })),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "content_blocked",
    );
    for change in [
        json!({ "displayName": "Pills Seller" }),
        json!({ "statusText": "pills!" }),
    ] {
        let (status, body) = call(
            &server,
            &alice,
            Method::PATCH,
            "/api/v1/auth/me",
            Some(change),
        )
        .await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "content_blocked",
        );
    }

    let group_named = json!({ "type": "group", "name": "pills club", "memberIds": [boss.id] });
    let (status, body) = call(
        &server,
        &alice,
        Method::POST,
        "/api/v1/conversations",
        Some(group_named),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "content_blocked",
    );

    // Masked instead: the message is stored with the matches starred out.
    let mask = json!({ "contentPolicy": {
        "mode": "mask", "blockedWords": ["pills"], "blockedPatterns": [r"\d{4}-\d{4}"] } });
    let (status, body) = call(&server, &boss, Method::PATCH, settings, Some(mask)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, sent) = call(
        &server,
        &alice,
        Method::POST,
        &messages,
        Some(send("call 1234-5678 for Pills", "k4")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["content"], "call ********* for *****");
    let (_, audit) = call(
        &server,
        &boss,
        Method::GET,
        "/api/v1/admin/audit?action=settings.",
        None,
    )
    .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 2);
    server.stop().await;
}
both_engines!(content_policy_, content_policy);

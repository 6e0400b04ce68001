//! The end of an account over the real API on both engines: deletion by its owner (with
//! re-authentication) and by an administrator, under both of the tenant's rules for messages;
//! and the account's export.

use crate::people_api::owner;
use crate::support::Engine;
use crate::support::api::{Api, ApiUser, PASSWORD, api_group, api_user, assert_error, call};
use crate::support::media::uploaded;
use crate::support::server::TestServer;
use crate::support::ws::Ws;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// How soon a revoked socket must be closed.
const WITHIN: Duration = Duration::from_secs(1);

async fn send(api: &Api, user: &ApiUser, conversation: &str, text: &str, files: &[&str]) -> Value {
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let body = json!({ "content": text, "clientMessageId": uuid::Uuid::now_v7().to_string(),
                       "attachments": files });
    let (status, sent) = call(api, user, Method::POST, &path, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    sent
}

/// A socket of `name` on a device of its own (a session of its own).
async fn socket(api: &TestServer, tenant: Option<&str>, name: &str) -> Ws {
    let tokens = api.login_in(tenant, name).await;
    Ws::login(api.addr, tokens["wsToken"].as_str().unwrap())
        .await
        .0
}

async fn delete_me(api: &Api, user: &ApiUser, body: Value) -> (StatusCode, Value) {
    call(api, user, Method::DELETE, "/api/v1/auth/me", Some(body)).await
}

async fn history(api: &Api, user: &ApiUser, conversation: &str) -> Vec<Value> {
    let path = format!("/api/v1/conversations/{conversation}/messages?limit=100");
    let (status, body) = call(api, user, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["messages"].as_array().unwrap().clone()
}

fn member<'a>(conversation: &'a Value, user: &ApiUser) -> Option<&'a Value> {
    conversation["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["userId"] == user.id.as_str())
}

async fn audit(api: &Api, admin: &ApiUser, query: &str) -> Vec<Value> {
    let path = format!("/api/v1/admin/audit?{query}");
    let (status, body) = call(api, admin, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn deleting_ones_own_account(engine: Engine) {
    let server = TestServer::start_with(engine, |s| s.media_sweep_seconds = 1).await;
    let boss = owner(&server, engine, "boss").await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let group = api_group(&server, &alice, &[&bob]).await;
    // Joined later than bob, so bob is the one the group passes to.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let members = format!("/api/v1/conversations/{group}/members");
    let (status, body) = call(
        &server,
        &alice,
        Method::POST,
        &members,
        Some(json!({ "userId": boss.id })),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let kept_file = uploaded(&server, &alice, "notes.txt", b"shared notes").await;
    let loose_file = uploaded(&server, &alice, "draft.txt", b"never sent").await;
    send(&server, &alice, &group, "hello from alice", &[&kept_file]).await;

    let mut alice_ws = socket(&server, None, "alice").await;
    let mut bob_ws = socket(&server, None, "bob").await;
    bob_ws
        .ok("conversation.join", json!({ "conversationId": group }))
        .await;

    // Re-authentication first; bad input changes nothing.
    let (status, body) = delete_me(&server, &alice, json!({ "password": "not it at all" })).await;
    assert_error(
        status,
        &body,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let (status, body) = delete_me(&server, &alice, json!({})).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_body");
    let (status, body) = call(&server, &alice, Method::DELETE, "/api/v1/auth/me", None).await;
    assert!(status.is_client_error(), "{status} {body}");
    let (status, _) = call(&server, &alice, Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(status, StatusCode::OK, "still there");

    let (status, body) = delete_me(&server, &alice, json!({ "password": PASSWORD })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (code, reason) = alice_ws.wait_closed(WITHIN).await;
    assert_eq!(code, 4401, "{reason}");
    let (status, _) = call(&server, &alice, Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session ended");
    let (status, _) = server
        .post(
            "/api/v1/auth/login",
            json!({ "username": "alice", "password": PASSWORD, "deviceId": "web" }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "no one logs in as it again"
    );

    // The group passes to its longest-standing remaining member, and everyone is told.
    let handed = bob_ws
        .expect_where("member.added", |d| d["userId"] == bob.id.as_str())
        .await;
    assert_eq!(handed["role"], "owner", "{handed}");
    let left = bob_ws
        .expect_where("member.removed", |d| d["userId"] == alice.id.as_str())
        .await;
    assert_eq!(left["conversationId"], group.as_str());
    let (_, conversation) = call(
        &server,
        &bob,
        Method::GET,
        &format!("/api/v1/conversations/{group}"),
        None,
    )
    .await;
    assert!(member(&conversation, &alice).is_none(), "{conversation}");
    assert_eq!(member(&conversation, &bob).unwrap()["role"], "owner");

    // The tenant keeps messages by default: shown as the deleted user's, who is a name only.
    let messages = history(&server, &bob, &group).await;
    assert_eq!(messages[0]["content"], "hello from alice");
    let (status, card) = call(
        &server,
        &bob,
        Method::GET,
        &format!("/api/v1/users/{}", alice.id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(card["displayName"], "Deleted user");
    assert_eq!(card["deleted"], true);
    assert_eq!(card["statusText"], "");
    assert!(
        !card["username"].as_str().unwrap().contains("alice"),
        "{card}"
    );
    let (_, found) = call(&server, &bob, Method::GET, "/api/v1/users?q=alice", None).await;
    assert_eq!(found["items"], json!([]), "gone from the directory");
    let path = format!("/api/v1/users?ids={}", alice.id);
    let (_, batch) = call(&server, &bob, Method::GET, &path, None).await;
    assert_eq!(batch["items"][0]["displayName"], "Deleted user");

    // The attachment of a kept message stays; media no message carries go at once.
    let (status, _) = call(
        &server,
        &bob,
        Method::GET,
        &format!("/api/v1/media/{kept_file}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let loose_dir = server
        .db
        .dir
        .path()
        .join("media")
        .join("default")
        .join(&loose_file);
    let mut waited = 0;
    while loose_dir.exists() && waited < 100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert!(
        !loose_dir.exists(),
        "{} is still there",
        loose_dir.display()
    );

    // The trail keeps what happened under a pseudonym, without the address or the name.
    assert!(
        audit(&server, &boss, &format!("actor={}", alice.id))
            .await
            .is_empty()
    );
    let deleted = audit(&server, &boss, "action=account.deleted").await;
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    let pseudonym = deleted[0]["actorId"].as_str().unwrap().to_owned();
    assert_ne!(pseudonym, alice.id);
    assert_eq!(deleted[0]["target"], format!("user:{pseudonym}"));
    assert!(
        deleted[0].get("ip").is_none_or(Value::is_null),
        "{:?}",
        deleted[0]
    );
    let history_of_alice = audit(&server, &boss, &format!("actor={pseudonym}")).await;
    assert!(
        history_of_alice.len() >= 2,
        "registration and login stay: {history_of_alice:?}"
    );
    for entry in &history_of_alice {
        assert!(entry.get("ip").is_none_or(Value::is_null), "{entry}");
        assert!(!entry.to_string().contains("alice"), "{entry}");
    }

    // The name is free again; the tenant's last owner cannot leave it ownerless.
    let again = api_user(&server, None, "alice").await;
    assert_ne!(again.id, alice.id);
    let (status, body) = delete_me(&server, &boss, json!({ "password": PASSWORD })).await;
    assert_error(status, &body, StatusCode::CONFLICT, "last_owner");
    server.stop().await;
}
both_engines!(deleting_ones_own_account_, deleting_ones_own_account);

async fn an_administrator_erases_an_account(engine: Engine) {
    let server = TestServer::start(engine).await;
    server
        .add_tenant("globex", chemchat_server::domain::Tier::Free)
        .await;
    let boss = owner(&server, engine, "boss").await;
    let moderator = api_user(&server, None, "mod").await;
    let spammer = api_user(&server, None, "spammer").await;
    let foreign = api_user(&server, Some("globex"), "outsider").await;
    let make_mod = json!({ "role": "moderator", "reason": "helps" });
    let path = format!("/api/v1/admin/users/{}", moderator.id);
    let (status, body) = call(&server, &boss, Method::PATCH, &path, Some(make_mod)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let group = api_group(&server, &boss, &[&spammer, &moderator]).await;
    for i in 0..3 {
        send(&server, &spammer, &group, &format!("buy pills {i}"), &[]).await;
    }
    send(&server, &boss, &group, "please stop", &[]).await;

    let settings = "/api/v1/admin/settings";
    let bad = json!({ "accounts": { "deletedUserMessages": "shred" } });
    let (status, body) = call(&server, &boss, Method::PATCH, settings, Some(bad)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let (status, body) = call(&server, &boss, Method::PATCH, settings, Some(json!({}))).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let erase = json!({ "accounts": { "deletedUserMessages": "erase" } });
    let (status, body) = call(&server, &boss, Method::PATCH, settings, Some(erase)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accounts"]["deletedUserMessages"], "erase");
    assert_eq!(
        body["contentPolicy"]["mode"], "reject",
        "the other part stays"
    );

    let mut boss_ws = socket(&server, None, "boss").await;
    boss_ws
        .ok("conversation.join", json!({ "conversationId": group }))
        .await;
    let mut spammer_ws = socket(&server, None, "spammer").await;

    let target = format!("/api/v1/admin/users/{}", spammer.id);
    let why = json!({ "reason": "spam" });
    let (status, body) = call(
        &server,
        &moderator,
        Method::DELETE,
        &target,
        Some(why.clone()),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = call(
        &server,
        &spammer,
        Method::DELETE,
        &format!("/api/v1/admin/users/{}", boss.id),
        Some(why.clone()),
    )
    .await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = call(&server, &boss, Method::DELETE, &target, Some(json!({}))).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_body");
    let foreign_path = format!("/api/v1/admin/users/{}", foreign.id);
    let (status, body) = call(
        &server,
        &boss,
        Method::DELETE,
        &foreign_path,
        Some(why.clone()),
    )
    .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "user_not_found");

    let (status, body) = call(&server, &boss, Method::DELETE, &target, Some(why.clone())).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (code, _) = spammer_ws.wait_closed(WITHIN).await;
    assert_eq!(code, 4401);
    let (status, body) = call(&server, &boss, Method::DELETE, &target, Some(why)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "user_not_found");

    // The eraser turns each message into a tombstone, announced like any deletion.
    for _ in 0..3 {
        let deleted = boss_ws.expect("message.deleted").await;
        assert!(deleted["content"].is_null(), "{deleted}");
    }
    let messages = history(&server, &boss, &group).await;
    let texts: Vec<&Value> = messages.iter().map(|m| &m["content"]).collect();
    assert_eq!(texts.iter().filter(|c| c.is_null()).count(), 3, "{texts:?}");
    assert!(
        texts.contains(&&json!("please stop")),
        "others' messages stay"
    );
    let path = "/api/v1/search/messages?q=pills";
    let (status, found) = call(&server, &boss, Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["items"], json!([]), "nothing left to find");

    let deleted = audit(&server, &boss, "action=account.deleted").await;
    assert_eq!(
        deleted[0]["actorId"],
        boss.id.as_str(),
        "an administrator is named"
    );
    assert_eq!(deleted[0]["detail"]["reason"], "spam");
    assert_eq!(deleted[0]["detail"]["messages"], "erase");
    server.stop().await;
}
both_engines!(
    an_administrator_erases_an_account_,
    an_administrator_erases_an_account
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mfa_accounts_need_a_code_to_be_deleted() {
    let server = TestServer::start(Engine::Sqlite).await;
    api_user(&server, None, "root").await;
    let carol = api_user(&server, None, "carol").await;
    let (_, setup) = server
        .post_as(&carol.token, "/api/v1/auth/mfa/setup", json!({}))
        .await;
    let secret = setup["secret"].as_str().unwrap();
    let totp = chemchat_server::app::auth::totp_for(secret, "carol").unwrap();
    let enable = json!({ "secret": secret, "token": totp.generate_current().to_string(),
                         "password": PASSWORD });
    let (status, body) = server
        .post_as(&carol.token, "/api/v1/auth/mfa/enable", enable)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = delete_me(&server, &carol, json!({ "password": PASSWORD })).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "mfa_required");
    let wrong = json!({ "password": PASSWORD, "code": "000000x" });
    let (status, body) = delete_me(&server, &carol, wrong).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "invalid_mfa_token");
    // The code that enabled MFA is spent; the next step's code is accepted (one step of skew).
    let next_step = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 30;
    let body = json!({ "password": PASSWORD, "code": totp.generate(next_step).to_string() });
    let (status, answer) = delete_me(&server, &carol, body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
    server.stop().await;
}

async fn exporting_ones_data(engine: Engine) {
    let server = TestServer::start(engine).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let group = api_group(&server, &alice, &[&bob]).await;
    let file = uploaded(&server, &alice, "plan.txt", b"the plan").await;
    send(&server, &alice, &group, "first", &[&file]).await;
    let second = send(&server, &alice, &group, "second", &[]).await;
    send(&server, &bob, &group, "not alice's", &[]).await;
    let path = format!("/api/v1/messages/{}", second["id"].as_str().unwrap());
    let (status, _) = call(&server, &alice, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    send(&server, &alice, &group, "third", &[]).await;

    let response = server
        .http
        .get(server.url("/api/v1/auth/me/export"))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
    );
    let export: Value = response.json().await.unwrap();
    assert_eq!(export["format"], "chemchat.account-export.v1");
    assert_eq!(export["profile"]["username"], "alice");
    assert_eq!(export["profile"]["email"], "alice@example.com");
    let texts: Vec<&str> = export["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["first", "third"],
        "own messages, deleted ones left out"
    );
    assert_eq!(export["messages"][0]["attachments"][0]["id"], file.as_str());
    assert_eq!(export["media"].as_array().unwrap().len(), 1);
    assert_eq!(export["media"][0]["filename"], "plan.txt");

    let (status, _) = server.get_as("not a token", "/api/v1/auth/me/export").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Heavy and rare: a few an hour.
    let mut refused = None;
    for _ in 0..5 {
        let (status, body) =
            call(&server, &alice, Method::GET, "/api/v1/auth/me/export", None).await;
        if status != StatusCode::OK {
            refused = Some((status, body));
            break;
        }
    }
    let (status, body) = refused.expect("the export budget runs out");
    assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    server.stop().await;
}
both_engines!(exporting_ones_data_, exporting_ones_data);

//! Every door has a limit: per user across sockets and REST, across instances sharing Redis, on
//! TOTP guesses and on sign-ups, each refused with 429 and `Retry-After` (a failed ack, not a
//! close, on a socket).

use crate::support::api::{Api, PASSWORD, api_group, api_user, assert_error, call, error_code};
use crate::support::instance::Instance;
use crate::support::server::TestServer;
use crate::support::services::redis_url;
use crate::support::ws::Ws;
use crate::support::{Engine, TestDb};
use chemchat_server::ports::Store;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The `Retry-After` of a refused REST request, in seconds.
async fn retry_after(api: &Api, token: &str, path: &str, body: Value) -> u64 {
    let response = api
        .http
        .post(api.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let seconds = response.headers()["retry-after"].to_str().unwrap().parse();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("message.send.user"),
        "the error names the limit: {body}"
    );
    seconds.unwrap()
}

async fn one_user_on_three_sockets(engine: Engine) {
    let server = TestServer::start_with(engine, |s| {
        s.rate_limits = Some("message.send.user=6/min".into());
    })
    .await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let room = api_group(&server, &alice, &[&bob]).await;
    let mut sockets = Vec::new();
    for _ in 0..3 {
        sockets.push(Ws::login(server.addr, &alice.token).await.0);
    }
    let mut sent = 0;
    let mut refused = 0;
    for round in 0..3 {
        for (i, ws) in sockets.iter_mut().enumerate() {
            let key = format!("m{round}-{i}");
            let ack = ws
                .request(
                    "message.send",
                    json!({ "conversationId": room, "content": key, "clientMessageId": key }),
                )
                .await;
            if ack["ok"] == true {
                sent += 1;
            } else {
                assert_eq!(ack["error"]["code"], "rate_limited", "{ack}");
                refused += 1;
            }
        }
    }
    assert_eq!(
        (sent, refused),
        (6, 3),
        "the budget is the user's, not a socket's"
    );
    // REST draws on the same budget; the refusal says when to retry.
    let path = format!("/api/v1/conversations/{room}/messages");
    let wait = retry_after(
        &server,
        &alice.token,
        &path,
        json!({ "content": "rest", "clientMessageId": "rest-1" }),
    )
    .await;
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // The sockets stay open (a soft limit), and another user is unaffected.
    for ws in &mut sockets {
        ws.ok("sync", json!({})).await;
    }
    let (status, body) = call(
        &server,
        &bob,
        Method::POST,
        &path,
        Some(json!({ "content": "hi", "clientMessageId": "bob-1" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
both_engines!(user_send_budget, one_user_on_three_sockets);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn limits_hold_across_instances_sharing_redis() {
    let db = TestDb::new(Engine::Postgres).await;
    let prefix = format!("limits-{}:", uuid::Uuid::new_v4().simple());
    let env = [("CHEMCHAT_RATE_LIMITS", "message.send.user=4/min")];
    let a = Instance::start_with(&db, &redis_url(), &prefix, &env).await;
    let b = Instance::start_with(&db, &redis_url(), &prefix, &env).await;
    let alice = api_user(&a.api, None, "alice").await;
    let bob = api_user(&a.api, None, "bob").await;
    let room = api_group(&a.api, &alice, &[&bob]).await;
    let path = format!("/api/v1/conversations/{room}/messages");
    for (i, api) in [&a.api, &b.api, &a.api, &b.api].into_iter().enumerate() {
        let (status, body) = call(
            api,
            &alice,
            Method::POST,
            &path,
            Some(json!({ "content": "x", "clientMessageId": format!("k{i}") })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "send {i}: {body}");
    }
    for api in [&a.api, &b.api] {
        retry_after(
            api,
            &alice.token,
            &path,
            json!({ "content": "x", "clientMessageId": "over" }),
        )
        .await;
    }
}

async fn totp_guessing(engine: Engine) {
    let server = TestServer::start(engine).await;
    let alice = api_user(&server, None, "alice").await;
    let (_, setup) = server
        .post_as(&alice.token, "/api/v1/auth/mfa/setup", json!({}))
        .await;
    let secret = setup["secret"].as_str().unwrap();
    let totp = chemchat_server::app::auth::totp_for(secret, "alice").unwrap();
    let (status, body) = server
        .post_as(
            &alice.token,
            "/api/v1/auth/mfa/enable",
            json!({ "secret": secret, "token": totp.generate_current().to_string(),
                    "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A code that is never right: the current step's code plus one, modulo a million.
    let wrong = || {
        let right: u32 = totp.generate_current().to_string().parse().unwrap();
        format!("{:06}", (right + 1) % 1_000_000)
    };
    let mut answers = Vec::new();
    for _ in 0..6 {
        let (status, body) = server
            .post_as(
                &alice.token,
                "/api/v1/auth/mfa/verify",
                json!({ "token": wrong() }),
            )
            .await;
        answers.push(error_code(status, &body));
    }
    assert_eq!(&answers[..5], ["invalid_mfa_token"; 5]);
    assert_eq!(answers[5], "rate_limited", "{answers:?}");
    // Login's code step draws on the same budget, and the refusal is audited.
    let (status, body) = server
        .post(
            "/api/v1/auth/login",
            json!({ "username": "alice", "password": PASSWORD, "mfaToken": wrong() }),
        )
        .await;
    assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    let tenant = chemchat_server::domain::TenantId::parse("default").unwrap();
    let audit = server.db.store().await.audit_entries(&tenant, 50).await;
    let actions: Vec<String> = audit.unwrap().into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"mfa.throttled".to_owned()), "{actions:?}");
}
both_engines!(totp_guesses, totp_guessing);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ups_are_limited_per_address() {
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.rate_limits = Some("register.address=3/h".into());
    })
    .await;
    let mut codes = Vec::new();
    for i in 0..5 {
        let (status, body) = server
            .post(
                "/api/v1/auth/register",
                json!({ "username": format!("user{i}"), "displayName": "u",
                        "email": format!("user{i}@example.com"), "password": PASSWORD }),
            )
            .await;
        codes.push(if status.is_success() {
            "created".to_owned()
        } else {
            error_code(status, &body)
        });
    }
    assert_eq!(
        codes,
        [
            "created",
            "created",
            "created",
            "rate_limited",
            "rate_limited"
        ]
    );
}

/// Opens a socket for `token` on `api` and returns how it ended up: `None` when it is open and
/// authenticated, else its close code and reason.
async fn connect_as(api: &Api, token: &str) -> (Ws, Option<(u16, String)>) {
    let mut ws = Ws::connect(api.addr, "").await;
    ws.send(json!({ "event": "authenticate", "data": { "token": token } }))
        .await;
    let ack = ws
        .collect("authenticated", std::time::Duration::from_millis(500))
        .await;
    let closed = if ack.is_empty() {
        Some(ws.wait_closed(std::time::Duration::from_secs(5)).await)
    } else {
        None
    };
    (ws, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_are_limited_per_user_and_per_tenant_across_instances() {
    let db = TestDb::new(Engine::Postgres).await;
    let prefix = format!("conns-{}:", uuid::Uuid::new_v4().simple());
    let env = [("CHEMCHAT_WS_MAX_CONNECTIONS_PER_USER", "2")];
    let a = Instance::start_with(&db, &redis_url(), &prefix, &env).await;
    let b = Instance::start_with(&db, &redis_url(), &prefix, &env).await;
    let alice = api_user(&a.api, None, "alice").await;
    let (_a1, closed) = connect_as(&a.api, &alice.token).await;
    assert_eq!(closed, None);
    let (_a2, closed) = connect_as(&b.api, &alice.token).await;
    assert_eq!(closed, None);
    let (_, closed) = connect_as(&a.api, &alice.token).await;
    let (code, reason) = closed.expect("a third socket of alice is refused");
    assert_eq!(code, 4429, "{reason}");
    assert!(reason.contains("connection limit"), "{reason}");
    // Closing one frees its place.
    drop(_a1);
    let mut admitted = false;
    for _ in 0..50 {
        let (ws, closed) = connect_as(&b.api, &alice.token).await;
        if closed.is_none() {
            admitted = true;
            drop(ws);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(admitted, "the closed socket's place was not freed");

    // The tenant's maxConnections counts every user on every instance.
    let quotas = chemchat_server::domain::Quotas {
        max_users: None,
        max_conversations: None,
        max_messages_per_day: None,
        max_storage_bytes: None,
        max_connections: Some(3),
    };
    let tenant = chemchat_server::domain::Tenant {
        quotas,
        ..crate::support::tenant("default", chemchat_server::domain::Tier::Enterprise)
    };
    db.store().await.upsert_tenant(&tenant).await.unwrap();
    let mut open = Vec::new();
    let mut refused = None;
    for (i, api) in [&a.api, &b.api, &a.api, &b.api].into_iter().enumerate() {
        let user = api_user(api, None, &format!("user{i}")).await;
        let (ws, closed) = connect_as(api, &user.token).await;
        match closed {
            None => open.push(ws),
            Some(closed) => refused = Some((open.len(), closed)),
        }
    }
    // alice's remaining socket(s) count too: at most 3 in all.
    let (admitted, (code, reason)) = refused.expect("the tenant's quota refuses one");
    assert!(admitted < 3, "{admitted} admitted before the refusal");
    assert_eq!(code, 4429);
    assert!(reason.contains("maxConnections"), "{reason}");

    // An administrator's usage counts the live sockets of every instance: alice's one left
    // and those admitted (sockets dropped above leave the ledger when their tasks end).
    let store = db.store().await;
    let default = crate::support::t("default");
    let admin = chemchat_server::domain::TenantRole::Admin;
    chemchat_server::app::people::grant_role(&store, &default, "alice", admin, 1)
        .await
        .unwrap();
    let live = open.len() as u64 + 1;
    let mut usage = Value::Null;
    for _ in 0..50 {
        let (status, body) = b.api.get_as(&alice.token, "/api/v1/admin/usage").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        usage = body;
        if usage["connections"]["used"] == live {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(usage["connections"]["used"], live, "{usage}");
    assert_eq!(usage["connections"]["limit"], 3);
}

/// An action's budgets are taken together or not at all, in one step on the shared Redis: a
/// spent tenant budget leaves the user's untouched, and the refusal names the spent one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_are_taken_together_in_redis() {
    use chemchat_server::adapters::redis::RedisLimiter;
    use chemchat_server::domain::{BudgetKey, Rate};
    use chemchat_server::ports::RateLimiter;
    use std::time::Duration;
    let prefix = format!("test-{}:", uuid::Uuid::new_v4().simple());
    let limiter = RedisLimiter::connect(&crate::support::services::redis_url(), &prefix)
        .await
        .unwrap();
    let slow = Rate {
        count: 1,
        per: Duration::from_secs(3_600),
        burst: 2,
    };
    let user = (BudgetKey::shared("user"), slow);
    let tenant = (BudgetKey::shared("tenant"), Rate { burst: 1, ..slow });
    let both = [user.clone(), tenant.clone()];
    assert_eq!(limiter.acquire_all(&both).await, Ok(()));
    let (spent, throttled) = limiter.acquire_all(&both).await.unwrap_err();
    assert_eq!(spent, 1, "the tenant's budget is the spent one");
    assert!(throttled.retry_after > Duration::from_secs(3_000));
    // The refusal took nothing from the user's budget: one more alone still fits.
    assert_eq!(
        limiter.acquire_all(std::slice::from_ref(&user)).await,
        Ok(())
    );
    assert_eq!(limiter.acquire_all(&[user]).await.map_err(|e| e.0), Err(0));
    assert_eq!(limiter.acquire_all(&[]).await, Ok(()));
}

//! Revocation reaches live connections: a socket never outlives the session or the token it
//! authenticated with, on whichever instance it is connected.

use crate::support::api::{Api, PASSWORD, api_user};
use crate::support::instance::Instance;
use crate::support::server::TestServer;
use crate::support::services::redis_url;
use crate::support::ws::Ws;
use crate::support::{Engine, TestDb};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// How soon a revoked socket must be closed.
const WITHIN: Duration = Duration::from_secs(1);

/// Logs `username` in from `device`; returns the token response.
async fn login_from(api: &Api, username: &str, device: &str) -> Value {
    let (status, body) = api
        .post(
            "/api/v1/auth/login",
            json!({ "username": username, "password": PASSWORD, "deviceId": device }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn token<'a>(tokens: &'a Value, name: &str) -> &'a str {
    tokens[name].as_str().unwrap()
}

/// Asserts the socket is still served: a request is answered.
async fn still_open(ws: &mut Ws) {
    ws.ok("sync", json!({})).await;
    ws.expect("sync.complete").await;
}

async fn closed_unauthenticated(ws: &mut Ws, wait: Duration) -> String {
    let started = std::time::Instant::now();
    let (code, reason) = ws.wait_closed(wait).await;
    assert_eq!(code, 4401, "closed with {code}: {reason}");
    eprintln!("closed after {:?}: {reason}", started.elapsed());
    reason
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logout_on_one_instance_closes_sockets_on_another() {
    let db = TestDb::new(Engine::Postgres).await;
    let prefix = format!("revoke-{}:", uuid::Uuid::new_v4().simple());
    let a = Instance::start(&db, &redis_url(), &prefix).await;
    let b = Instance::start(&db, &redis_url(), &prefix).await;
    api_user(&a.api, None, "alice").await;
    let phone = login_from(&a.api, "alice", "phone").await;
    let laptop = login_from(&a.api, "alice", "laptop").await;
    let (mut phone_ws, _) = Ws::login(b.api.addr, token(&phone, "wsToken")).await;
    let (mut laptop_ws, _) = Ws::login(b.api.addr, token(&laptop, "wsToken")).await;
    // Let instance B's subscription to the control channel settle.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (status, _) = a
        .api
        .post_as(
            token(&phone, "accessToken"),
            "/api/v1/auth/logout",
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{status}");
    let reason = closed_unauthenticated(&mut phone_ws, WITHIN).await;
    assert!(reason.contains("logged out"), "{reason}");
    still_open(&mut laptop_ws).await;

    let (status, _) = a
        .api
        .post_as(
            token(&laptop, "accessToken"),
            "/api/v1/auth/logout",
            json!({ "allDevices": true }),
        )
        .await;
    assert!(status.is_success(), "{status}");
    closed_unauthenticated(&mut laptop_ws, WITHIN).await;
    // The ended session cannot come back on a new socket either.
    let mut again = Ws::connect(b.api.addr, "").await;
    again
        .send(json!({ "event": "authenticate", "data": { "token": token(&laptop, "wsToken") } }))
        .await;
    closed_unauthenticated(&mut again, WITHIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_refresh_token_closes_the_sessions_sockets() {
    let server = TestServer::start(Engine::Sqlite).await;
    api_user(&server, None, "alice").await;
    let tokens = login_from(&server, "alice", "phone").await;
    let other = login_from(&server, "alice", "laptop").await;
    let (mut ws, _) = Ws::login(server.addr, token(&tokens, "wsToken")).await;
    let (mut other_ws, _) = Ws::login(server.addr, token(&other, "wsToken")).await;
    let refresh = json!({ "refreshToken": token(&tokens, "refreshToken") });
    let (status, _) = server.post("/api/v1/auth/refresh", refresh.clone()).await;
    assert_eq!(status, StatusCode::OK);
    still_open(&mut ws).await;
    let (status, _) = server.post("/api/v1/auth/refresh", refresh).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let reason = closed_unauthenticated(&mut ws, WITHIN).await;
    assert!(reason.contains("refresh token"), "{reason}");
    still_open(&mut other_ws).await;
}

fn expiry_ms(authenticated: &Value) -> i128 {
    let at = authenticated["expiresAt"].as_str().unwrap();
    let at =
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap();
    at.unix_timestamp_nanos() / 1_000_000
}

async fn sleep_until_ms(unix_ms: i128) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let left = u64::try_from(unix_ms - now).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(left)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_lives_as_long_as_its_newest_token() {
    let server = TestServer::start_with(Engine::Sqlite, |s| s.ws_token_seconds = 3).await;
    api_user(&server, None, "alice").await;
    let tokens = login_from(&server, "alice", "phone").await;
    let (mut ws, first) = Ws::login(server.addr, token(&tokens, "wsToken")).await;
    // A fresh token from a refresh, issued in a later second than the first one.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let (status, fresh) = server
        .post(
            "/api/v1/auth/refresh",
            json!({ "refreshToken": token(&tokens, "refreshToken") }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    let renewed = ws
        .ok("authenticate", json!({ "token": token(&fresh, "wsToken") }))
        .await;
    assert!(expiry_ms(&renewed) > expiry_ms(&first));

    sleep_until_ms(expiry_ms(&first) + 300).await;
    still_open(&mut ws).await;
    let reason = closed_unauthenticated(&mut ws, Duration::from_secs(4)).await;
    assert!(reason.contains("expired"), "{reason}");

    // Another user's token cannot take over an authenticated socket.
    api_user(&server, None, "mallory").await;
    let mallory = login_from(&server, "mallory", "evil").await;
    let again = login_from(&server, "alice", "phone").await;
    let (mut ws, _) = Ws::login(server.addr, token(&again, "wsToken")).await;
    let code = ws
        .fails(
            "authenticate",
            json!({ "token": token(&mallory, "wsToken") }),
        )
        .await;
    assert_eq!(code, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mfa_change_signs_out_every_other_session() {
    let server = TestServer::start(Engine::Postgres).await;
    api_user(&server, None, "alice").await;
    let mine = login_from(&server, "alice", "phone").await;
    let theirs = login_from(&server, "alice", "stolen").await;
    let (mut mine_ws, _) = Ws::login(server.addr, token(&mine, "wsToken")).await;
    let (mut theirs_ws, _) = Ws::login(server.addr, token(&theirs, "wsToken")).await;
    let access = token(&mine, "accessToken");
    let (_, setup) = server
        .post_as(access, "/api/v1/auth/mfa/setup", json!({}))
        .await;
    let secret = setup["secret"].as_str().unwrap();
    let code = chemchat_server::app::auth::totp_for(secret, "alice")
        .unwrap()
        .generate_current()
        .to_string();
    let (status, body) = server
        .post_as(
            access,
            "/api/v1/auth/mfa/enable",
            json!({ "secret": secret, "token": code, "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reason = closed_unauthenticated(&mut theirs_ws, WITHIN).await;
    assert!(reason.contains("MFA"), "{reason}");
    still_open(&mut mine_ws).await;
    let (status, _) = server
        .get_as(token(&theirs, "accessToken"), "/api/v1/auth/me")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server.get_as(access, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
}

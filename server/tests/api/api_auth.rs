//! The authentication API against the real server, on both engines.

use crate::support::Engine;
use crate::support::api::{PASSWORD, api_user, error_code};
use crate::support::server::TestServer;
use chemchat_server::app::auth::totp_for;
use chemchat_server::domain::{TenantId, Tier};
use chemchat_server::ports::Store;
use reqwest::StatusCode;
use serde_json::json;

async fn register_login_me_refresh_logout(engine: Engine) {
    let server = TestServer::start(engine).await;
    let user = server.register("alice").await;
    assert_eq!(user["username"], "alice");
    assert_eq!(user["mfaEnabled"], false);
    assert!(user.get("passwordHash").is_none() && !user.to_string().contains("argon2"));

    // Login by username or email, case-insensitively.
    let by_email = server
        .post(
            "/api/v1/auth/login",
            json!({ "username": "ALICE@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(by_email.0, StatusCode::OK, "{}", by_email.1);
    let login = server.login("Alice").await;
    assert_eq!(login["tokenType"], "Bearer");
    assert_eq!(login["expiresIn"], 900);
    assert_eq!(login["refreshExpiresIn"], 7 * 24 * 3600);
    assert_eq!(login["wsExpiresIn"], 3600);
    assert_eq!(login["deviceId"], "test-device");
    let access = login["accessToken"].as_str().unwrap();

    let (status, me) = server.get_as(access, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["id"], user["id"]);

    // Each token kind is refused where another is expected.
    let ws = login["wsToken"].as_str().unwrap();
    let refresh = login["refreshToken"].as_str().unwrap();
    for wrong in [ws, refresh] {
        let (status, body) = server.get_as(wrong, "/api/v1/auth/me").await;
        assert_eq!(error_code(status, &body), "unauthenticated");
    }
    let (status, body) = server
        .post("/api/v1/auth/refresh", json!({ "refreshToken": access }))
        .await;
    assert_eq!(error_code(status, &body), "invalid_refresh_token");

    // Rotation: the new refresh token works, the old one is a replay that kills the session.
    let (status, rotated) = server
        .post("/api/v1/auth/refresh", json!({ "refreshToken": refresh }))
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(rotated["sessionId"], login["sessionId"]);
    let next_refresh = rotated["refreshToken"].as_str().unwrap();
    assert_ne!(next_refresh, refresh);
    let new_access = rotated["accessToken"].as_str().unwrap();
    assert_eq!(
        server.get_as(new_access, "/api/v1/auth/me").await.0,
        StatusCode::OK
    );

    let (status, body) = server
        .post("/api/v1/auth/refresh", json!({ "refreshToken": refresh }))
        .await;
    assert_eq!(error_code(status, &body), "refresh_token_reused");
    let (status, body) = server
        .post(
            "/api/v1/auth/refresh",
            json!({ "refreshToken": next_refresh }),
        )
        .await;
    assert_eq!(
        error_code(status, &body),
        "invalid_refresh_token",
        "the family is revoked"
    );
    let (status, body) = server.get_as(new_access, "/api/v1/auth/me").await;
    assert_eq!(
        error_code(status, &body),
        "unauthenticated",
        "access tokens of the family die too"
    );

    // Logout ends this device only; logout with allDevices ends the rest.
    let phone = server.login("alice").await;
    let (status, laptop) = server
        .post(
            "/api/v1/auth/login",
            json!({ "username": "alice", "password": PASSWORD, "deviceId": "laptop" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let phone_access = phone["accessToken"].as_str().unwrap();
    let laptop_access = laptop["accessToken"].as_str().unwrap();
    let (status, _) = server
        .call(
            server
                .http
                .post(server.url("/api/v1/auth/logout"))
                .bearer_auth(phone_access),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        server.get_as(phone_access, "/api/v1/auth/me").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.get_as(laptop_access, "/api/v1/auth/me").await.0,
        StatusCode::OK
    );
    let other = server.login("alice").await;
    let (status, _) = server
        .post_as(
            laptop_access,
            "/api/v1/auth/logout",
            json!({ "allDevices": true }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for token in [laptop_access, other["accessToken"].as_str().unwrap()] {
        assert_eq!(
            server.get_as(token, "/api/v1/auth/me").await.0,
            StatusCode::UNAUTHORIZED
        );
    }

    // Security-relevant events are in the audit log.
    let store = server.db.store().await;
    let actions: Vec<String> = store
        .audit_entries(&TenantId::parse("default").unwrap(), 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for expected in [
        "login.succeeded",
        "token.reused",
        "logout",
        "logout.all_devices",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing from {actions:?}"
        );
    }
    server.stop().await;
}
both_engines!(auth_flow, register_login_me_refresh_logout);

async fn unknown_user_and_wrong_password_look_the_same(engine: Engine) {
    let server = TestServer::start(engine).await;
    server.register("alice").await;
    let wrong = server
        .post(
            "/api/v1/auth/login",
            json!({ "username": "alice", "password": "not the password" }),
        )
        .await;
    let unknown = server
        .post(
            "/api/v1/auth/login",
            json!({ "username": "mallory", "password": "not the password" }),
        )
        .await;
    assert_eq!(wrong.0, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.0, unknown.0);
    assert_eq!(error_code(wrong.0, &wrong.1), "invalid_credentials");
    assert_eq!(wrong.1["error"]["message"], unknown.1["error"]["message"]);
    assert_eq!(error_code(unknown.0, &unknown.1), "invalid_credentials");

    let store = server.db.store().await;
    let failures = store
        .audit_entries(&TenantId::parse("default").unwrap(), 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "login.failed")
        .count();
    assert_eq!(failures, 2);
}
both_engines!(
    login_failures,
    unknown_user_and_wrong_password_look_the_same
);

/// Waits until the current TOTP step has at least 5 s left, so codes computed for the previous,
/// current and next step stay inside the one-step skew window for the rest of the test.
async fn away_from_step_boundary() -> u64 {
    loop {
        let now = time::OffsetDateTime::now_utc()
            .unix_timestamp()
            .unsigned_abs();
        if 30 - now % 30 >= 5 {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// What a user's authenticator app holds after `mfa/setup`, with codes for the steps around a
/// fixed "now" that stays clear of a step boundary.
struct Authenticator {
    secret: String,
    totp: totp_rs::Totp,
    now: u64,
}

impl Authenticator {
    /// Runs `mfa/setup` for `username` and checks its answer.
    async fn set_up(server: &TestServer, access: &str, username: &str) -> Self {
        let (status, setup) = server
            .post_as(access, "/api/v1/auth/mfa/setup", json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{setup}");
        let secret = setup["secret"].as_str().unwrap().to_owned();
        let uri = setup["otpauthUri"].as_str().unwrap();
        assert!(
            uri.starts_with("otpauth://totp/") && uri.contains("ChemChat"),
            "{uri}"
        );
        let totp = totp_for(&secret, username).unwrap();
        Self {
            secret,
            totp,
            now: away_from_step_boundary().await,
        }
    }

    /// The code of the step `offset` steps from now.
    fn code(&self, offset: i64) -> String {
        self.totp
            .generate(self.now.saturating_add_signed(offset * 30))
            .to_string()
    }
}

async fn mfa_on_and_off(engine: Engine) {
    let server = TestServer::start(engine).await;
    let access = api_user(&server, None, "carol").await.token;
    let app = Authenticator::set_up(&server, &access, "carol").await;
    let (secret, code) = (app.secret.as_str(), |offset| app.code(offset));

    let (status, body) = server
        .post_as(
            &access,
            "/api/v1/auth/mfa/enable",
            json!({ "secret": secret, "token": "000000", "password": PASSWORD }),
        )
        .await;
    assert_eq!(error_code(status, &body), "invalid_mfa_token");
    let (status, body) = server
        .post_as(
            &access,
            "/api/v1/auth/mfa/enable",
            json!({ "secret": secret, "token": code(-1), "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .post_as(&access, "/api/v1/auth/mfa/setup", json!({}))
        .await;
    assert_eq!(error_code(status, &body), "mfa_already_enabled");

    // Login now needs the code; without it, or with a wrong one, it is refused.
    let login = |mfa: Option<String>| {
        let mut body = json!({ "username": "carol", "password": PASSWORD });
        if let Some(mfa) = mfa {
            body["mfaToken"] = json!(mfa);
        }
        server.post("/api/v1/auth/login", body)
    };
    let (status, body) = login(None).await;
    assert_eq!(error_code(status, &body), "mfa_required");
    let (status, body) = login(Some("123456".into())).await;
    assert_eq!(error_code(status, &body), "invalid_mfa_token");
    let (status, body) = login(Some(code(0))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["mfaEnabled"], true);
    // The same code again inside its window is a replay.
    let (status, body) = login(Some(code(0))).await;
    assert_eq!(error_code(status, &body), "invalid_mfa_token");

    // Step-up with the next step's code; replaying it fails.
    let (status, body) = server
        .post_as(
            &access,
            "/api/v1/auth/mfa/verify",
            json!({ "token": code(1) }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["verified"], true);
    assert!(body["accessToken"].is_string());
    let (status, body) = server
        .post_as(
            &access,
            "/api/v1/auth/mfa/verify",
            json!({ "token": code(1) }),
        )
        .await;
    assert_eq!(error_code(status, &body), "invalid_mfa_token");

    let actions: Vec<String> = server
        .db
        .store()
        .await
        .audit_entries(&TenantId::parse("default").unwrap(), 50)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"mfa.enabled".to_owned()), "{actions:?}");
}
both_engines!(mfa, mfa_on_and_off);

async fn mfa_can_be_disabled(engine: Engine) {
    let server = TestServer::start(engine).await;
    let access = api_user(&server, None, "dave").await.token;
    let app = Authenticator::set_up(&server, &access, "dave").await;
    let (secret, code) = (app.secret.as_str(), |offset| app.code(offset));
    let (status, _) = server
        .post_as(
            &access,
            "/api/v1/auth/mfa/enable",
            json!({ "secret": secret, "token": code(0), "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server
        .post_as(
            &access,
            "/api/v1/auth/mfa/disable",
            json!({ "token": code(0), "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        error_code(status, &body),
        "invalid_mfa_token",
        "replayed code"
    );
    // A stolen access token alone cannot turn MFA off: the password is asked for.
    let (status, body) = server
        .post_as(
            &access,
            "/api/v1/auth/mfa/disable",
            json!({ "token": code(1), "password": "not the password at all" }),
        )
        .await;
    assert_eq!(error_code(status, &body), "invalid_credentials");
    let (status, body) = server
        .post_as(
            &access,
            "/api/v1/auth/mfa/disable",
            json!({ "token": code(1) }),
        )
        .await;
    assert_eq!(error_code(status, &body), "invalid_body");
    let (status, body) = server
        .post_as(
            &access,
            "/api/v1/auth/mfa/disable",
            json!({ "token": code(1), "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = server
        .post(
            "/api/v1/auth/login",
            json!({ "username": "dave", "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "login without a code once MFA is off: {body}"
    );
    let (status, body) = server
        .post_as(
            &access,
            "/api/v1/auth/mfa/verify",
            json!({ "token": code(1) }),
        )
        .await;
    assert_eq!(error_code(status, &body), "mfa_not_enabled");
}
both_engines!(mfa_disable, mfa_can_be_disabled);

async fn tokens_never_cross_tenants(engine: Engine) {
    let server = TestServer::start(engine).await;
    server.add_tenant("acme", Tier::Pro).await;
    server.add_tenant("globex", Tier::Pro).await;
    let in_tenant =
        |tenant: &'static str, req: reqwest::RequestBuilder| req.header("x-tenant-id", tenant);

    let register = |tenant: &'static str| {
        in_tenant(tenant, server.http.post(server.url("/api/v1/auth/register"))).json(&json!({
            "username": "alice", "displayName": "Alice", "email": "alice@example.com", "password": PASSWORD
        }))
    };
    assert_eq!(server.call(register("acme")).await.0, StatusCode::CREATED);
    let login = in_tenant("acme", server.http.post(server.url("/api/v1/auth/login")))
        .json(&json!({ "username": "alice", "password": PASSWORD }));
    let (status, tokens) = server.call(login).await;
    assert_eq!(status, StatusCode::OK);
    let access = tokens["accessToken"].as_str().unwrap();
    let refresh = tokens["refreshToken"].as_str().unwrap();

    let me = |tenant: &'static str| {
        in_tenant(tenant, server.http.get(server.url("/api/v1/auth/me"))).bearer_auth(access)
    };
    assert_eq!(server.call(me("acme")).await.0, StatusCode::OK);
    let (status, body) = server.call(me("globex")).await;
    assert_eq!(error_code(status, &body), "unauthenticated");
    let (status, body) = server.call(me("default")).await;
    assert_eq!(error_code(status, &body), "unauthenticated");
    let refresh_in = |tenant: &'static str| {
        in_tenant(tenant, server.http.post(server.url("/api/v1/auth/refresh")))
            .json(&json!({ "refreshToken": refresh }))
    };
    let (status, body) = server.call(refresh_in("globex")).await;
    assert_eq!(error_code(status, &body), "invalid_refresh_token");
    // The same username in another tenant is another account with its own password.
    let login_globex = in_tenant("globex", server.http.post(server.url("/api/v1/auth/login")))
        .json(&json!({ "username": "alice", "password": PASSWORD }));
    let (status, body) = server.call(login_globex).await;
    assert_eq!(error_code(status, &body), "invalid_credentials");
    assert_eq!(server.call(register("globex")).await.0, StatusCode::CREATED);

    // Unknown tenants are 404, by header or by subdomain.
    let (status, body) = server.call(me("initech")).await;
    assert_eq!(error_code(status, &body), "tenant_not_found");
    let by_host = server
        .http
        .get(server.url("/api/v1/auth/me"))
        .header("host", "initech.localhost")
        .bearer_auth(access);
    let (status, body) = server.call(by_host).await;
    assert_eq!(error_code(status, &body), "tenant_not_found");
    let by_host = server
        .http
        .get(server.url("/api/v1/auth/me"))
        .header("host", "acme.localhost")
        .bearer_auth(access);
    assert_eq!(server.call(by_host).await.0, StatusCode::OK);
}
both_engines!(tenant_isolation, tokens_never_cross_tenants);

async fn pinned_server_refuses_other_tenants(engine: Engine) {
    let server = TestServer::start_with(engine, |s| {
        s.tenant_id = Some("acme".into());
        s.tenant_tier = Some("pro".into());
        s.quota_max_users = Some(2);
    })
    .await;
    server.add_tenant("globex", Tier::Pro).await;
    server.register("alice").await;
    let (status, body) = server
        .call(
            server
                .http
                .post(server.url("/api/v1/auth/login"))
                .header("x-tenant-id", "globex")
                .json(&json!({ "username": "alice", "password": PASSWORD })),
        )
        .await;
    assert_eq!(error_code(status, &body), "tenant_not_found");
    // The pinned tenant's quotas come from the configuration.
    server.register("bob").await;
    let (status, body) = server
        .post("/api/v1/auth/register", json!({ "username": "carol", "displayName": "C", "email": "c@example.com", "password": PASSWORD }))
        .await;
    assert_eq!(error_code(status, &body), "quota_exceeded");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maxUsers")
    );
    let tenant = server
        .db
        .store()
        .await
        .tenant(&TenantId::parse("acme").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tenant.tier, Tier::Pro);
    assert_eq!(tenant.quotas.max_users, Some(2));
}
both_engines!(pinned, pinned_server_refuses_other_tenants);

#[tokio::test]
async fn login_attempts_are_throttled_with_retry_after() {
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.login_attempts_per_ip = 100;
        s.login_attempts_per_account = 3;
    })
    .await;
    server.register("erin").await;
    for _ in 0..3 {
        let (status, _) = server
            .post(
                "/api/v1/auth/login",
                json!({ "username": "erin", "password": "wrong password!" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = server
        .http
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "username": "erin", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another account from the same address is unaffected by this account's budget.
    server.register("frank").await;
    server.login("frank").await;
}

#[tokio::test]
async fn per_ip_budget_covers_all_accounts() {
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.login_attempts_per_ip = 2;
        s.login_attempts_per_account = 100;
    })
    .await;
    for name in ["gina", "hank"] {
        let (status, _) = server
            .post(
                "/api/v1/auth/login",
                json!({ "username": name, "password": "whatever at all" }),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = server
        .post(
            "/api/v1/auth/login",
            json!({ "username": "ivan", "password": "whatever at all" }),
        )
        .await;
    assert_eq!(error_code(status, &body), "rate_limited");
}

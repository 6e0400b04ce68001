//! Bad input: every malformed request gets a 4xx in the documented shape, never a 500.

use crate::support::Engine;
use crate::support::api::{PASSWORD, api_user, error_code};
use crate::support::server::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn registration() -> Value {
    json!({ "username": "alice", "displayName": "Alice", "email": "alice@example.com", "password": PASSWORD })
}

fn with(field: &str, value: Value) -> Value {
    let mut body = registration();
    body[field] = value;
    body
}

fn without(field: &str) -> Value {
    let mut body = registration();
    body.as_object_mut().unwrap().remove(field);
    body
}

async fn bad_registrations_are_refused_with_the_field(engine: Engine) {
    let server = TestServer::start(engine).await;
    let cases: Vec<(Value, StatusCode, &str, Option<&str>)> = vec![
        (
            without("username"),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            None,
        ),
        (
            without("password"),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            None,
        ),
        (
            with("username", json!(42)),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            None,
        ),
        (
            with("email", json!(["a@b.c"])),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            None,
        ),
        (
            with("username", json!("ab")),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("username"),
        ),
        (
            with("username", json!("x".repeat(33))),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("username"),
        ),
        (
            with("username", json!("bad name")),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("username"),
        ),
        (
            with("username", json!("x".repeat(100_000))),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("username"),
        ),
        (
            with("email", json!("not-an-email")),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("email"),
        ),
        (
            with("email", json!(format!("{}@example.com", "x".repeat(300)))),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("email"),
        ),
        (
            with("password", json!("short")),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("password"),
        ),
        (
            with("password", json!("p".repeat(2000))),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("password"),
        ),
        (
            with("displayName", json!("   ")),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("displayName"),
        ),
        (
            with("displayName", json!("d".repeat(65))),
            StatusCode::BAD_REQUEST,
            "validation_failed",
            Some("displayName"),
        ),
        (
            json!([1, 2, 3]),
            StatusCode::BAD_REQUEST,
            "invalid_body",
            None,
        ),
        (json!(null), StatusCode::BAD_REQUEST, "invalid_body", None),
    ];
    for (body, status, code, field) in cases {
        let (got, answer) = server.post("/api/v1/auth/register", body.clone()).await;
        assert_eq!(got, status, "{body} → {answer}");
        assert_eq!(error_code(got, &answer), code, "{body}");
        assert_eq!(
            answer["error"]["field"].as_str(),
            field,
            "{body} → {answer}"
        );
    }
    // Nothing was stored by any of them: the valid registration still succeeds.
    server.register("alice").await;
    let (status, body) = server.post("/api/v1/auth/register", registration()).await;
    assert_eq!(error_code(status, &body), "username_taken");
    assert_eq!(body["error"]["field"], "username");
    let (status, body) = server
        .post("/api/v1/auth/register", with("username", json!("alice2")))
        .await;
    assert_eq!(error_code(status, &body), "email_taken");
}
both_engines!(registration, bad_registrations_are_refused_with_the_field);

#[tokio::test]
async fn malformed_bodies_routes_and_methods() {
    let server = TestServer::start(Engine::Sqlite).await;
    let raw = |path: &str, content_type: &str, body: &'static str| {
        server
            .http
            .post(server.url(path))
            .header("content-type", content_type.to_owned())
            .body(body)
    };
    for body in [
        "{",
        "{\"username\": }",
        "not json at all",
        "",
        "{\"username\":\"a\",}",
    ] {
        let (status, answer) = server
            .call(raw("/api/v1/auth/login", "application/json", body))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?} → {answer}");
        assert_eq!(error_code(status, &answer), "invalid_body");
    }
    let (status, answer) = server
        .call(raw("/api/v1/auth/login", "text/plain", "{}"))
        .await;
    assert_eq!(error_code(status, &answer), "unsupported_media_type");
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = format!(
        "{{\"username\":\"{}\",\"password\":\"x\"}}",
        "a".repeat(2 << 20)
    );
    let (status, answer) = server
        .call(
            server
                .http
                .post(server.url("/api/v1/auth/login"))
                .header("content-type", "application/json")
                .body(huge),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(status, &answer), "payload_too_large");

    for path in [
        "/nope",
        "/api/v1/nope",
        "/api/v2/auth/login",
        "/api/v1/auth/login/extra",
    ] {
        let (status, answer) = server.call(server.http.get(server.url(path))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(status, &answer), "not_found");
    }
    let (status, answer) = server
        .call(server.http.get(server.url("/api/v1/auth/login")))
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(status, &answer), "method_not_allowed");

    // Authentication problems.
    let (status, answer) = server
        .call(server.http.get(server.url("/api/v1/auth/me")))
        .await;
    assert_eq!(error_code(status, &answer), "unauthenticated");
    for header in [
        "Bearer",
        "Bearer not.a.token",
        "Basic dXNlcjpwYXNz",
        "bearer ",
        "Token abc",
    ] {
        let (status, answer) = server
            .call(
                server
                    .http
                    .get(server.url("/api/v1/auth/me"))
                    .header("authorization", header),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header}");
        assert_eq!(error_code(status, &answer), "unauthenticated");
    }
    // Bad tenant names are simply unknown tenants.
    for tenant in ["UPPER", "-x", "a b", "ünïcode", &"t".repeat(100)] {
        let (status, answer) = server
            .call(
                server
                    .http
                    .get(server.url("/api/v1/auth/me"))
                    .header("x-tenant-id", tenant.to_owned()),
            )
            .await;
        assert_eq!(error_code(status, &answer), "tenant_not_found", "{tenant}");
    }
    // Wrong types and bad values on the other auth endpoints.
    let token = api_user(&server, None, "zoe").await.token;
    for (path, body) in [
        (
            "/api/v1/auth/login",
            json!({ "username": "zoe", "password": PASSWORD, "deviceId": "bad/device" }),
        ),
        (
            "/api/v1/auth/login",
            json!({ "username": "", "password": PASSWORD }),
        ),
        (
            "/api/v1/auth/login",
            json!({ "username": "zoe", "password": 12 }),
        ),
        ("/api/v1/auth/refresh", json!({})),
        ("/api/v1/auth/refresh", json!({ "refreshToken": 5 })),
        (
            "/api/v1/auth/mfa/enable",
            json!({ "secret": "not base32!", "token": "123456" }),
        ),
        ("/api/v1/auth/mfa/enable", json!({ "token": "123456" })),
        ("/api/v1/auth/mfa/verify", json!({ "token": ["1"] })),
        ("/api/v1/auth/logout", json!({ "allDevices": "yes" })),
    ] {
        let (status, answer) = server.post_as(&token, path, body.clone()).await;
        assert!(
            status.is_client_error(),
            "{path} {body} → {status} {answer}"
        );
        error_code(status, &answer);
    }
    // Every response carries a request id, and error bodies repeat it.
    let response = server.http.get(server.url("/nope")).send().await.unwrap();
    let header = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["requestId"], header);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = TestServer::start(Engine::Sqlite).await;
    let (status, body) = server.call(server.http.get(server.url("/health"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["dependencies"]["database"]["status"], "up");
    assert_eq!(body["dependencies"]["database"]["engine"], "sqlite");
    assert_eq!(
        server
            .call(server.http.get(server.url("/health/live")))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        server
            .call(server.http.get(server.url("/health/ready")))
            .await
            .0,
        StatusCode::OK
    );
    server
        .call(server.http.get(server.url("/api/v1/nope")))
        .await;
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("chemchat_http_requests_total"),
        "{metrics}"
    );
    assert!(metrics.contains("route=\"/health/ready\""), "{metrics}");
    assert!(metrics.contains("status=\"404\""), "{metrics}");
    assert!(
        metrics.contains("chemchat_http_request_duration_seconds_bucket"),
        "{metrics}"
    );
}

//! Recovery and proof of address by email, against a real SMTP server (aiosmtpd) on both
//! engines: reset links that work once, for 30 minutes, and only the newest; the same answer
//! for unknown addresses; sessions and sockets ended by a reset; addresses proven.

use crate::support::Engine;
use crate::support::api::{PASSWORD, api_user, assert_error, call};
use crate::support::mailbox::{Mailbox, token_in};
use crate::support::server::TestServer;
use crate::support::ws::Ws;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

async fn recovering_an_account(engine: Engine) {
    let mailbox = Mailbox::start().await;
    let url = mailbox.url();
    let server = TestServer::start_with(engine, move |s| {
        s.smtp_url = Some(url.into());
        s.public_url = "https://chat.example.com/".to_owned();
    })
    .await;
    let alice = api_user(&server, None, "alice").await;
    let tokens = server.login("alice").await;
    let (mut socket, _) = Ws::login(server.addr, tokens["wsToken"].as_str().unwrap()).await;

    // Registration mailed a confirmation link; the profile says the address is not proven yet.
    let welcome = mailbox.next_to("alice@example.com", 0).await;
    assert!(
        welcome.contains("Subject: Confirm your email address"),
        "{welcome}"
    );
    let (_, me) = call(&server, &alice, Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(me["emailVerified"], false);
    let verify = json!({ "token": token_in(&welcome) });
    let (status, body) = server
        .post("/api/v1/auth/email/verify", verify.clone())
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, me) = call(&server, &alice, Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(me["emailVerified"], true);
    let (status, body) = server.post("/api/v1/auth/email/verify", verify).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_token");

    // Known and unknown addresses get the same answer; only the known one gets mail.
    let forgot = |email: &str| json!({ "email": email });
    let (status, _) = server
        .post("/api/v1/auth/password/forgot", forgot("nobody@example.com"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, _) = server
        .post("/api/v1/auth/password/forgot", forgot("ALICE@example.com"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let first = mailbox.next_to("alice@example.com", 1).await;
    assert!(
        first.contains("https://chat.example.com/reset-password?tenant"),
        "{first}"
    );
    let (status, _) = server
        .post("/api/v1/auth/password/forgot", forgot("alice@example.com"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let second = mailbox.next_to("alice@example.com", 2).await;
    assert_eq!(mailbox.count_to("nobody@example.com"), 0);

    // Only the newest link works, once; bad input changes nothing.
    let reset = |token: String, password: &str| json!({ "token": token, "newPassword": password });
    let (status, body) = server
        .post(
            "/api/v1/auth/password/reset",
            reset(token_in(&first), "a brand new passphrase"),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_token");
    let (status, body) = server
        .post(
            "/api/v1/auth/password/reset",
            reset(token_in(&second), "short"),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let (status, body) = server
        .post(
            "/api/v1/auth/password/reset",
            reset("nonsense".into(), "a brand new passphrase"),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let (status, body) = server
        .post(
            "/api/v1/auth/password/reset",
            json!({ "token": token_in(&second) }),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_body");

    let (status, body) = server
        .post(
            "/api/v1/auth/password/reset",
            reset(token_in(&second), "a brand new passphrase"),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (code, reason) = socket.wait_closed(Duration::from_secs(1)).await;
    assert_eq!(code, 4401, "{reason}");
    let (status, _) = call(&server, &alice, Method::GET, "/api/v1/auth/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "every session ended");
    let login =
        |password: &str| json!({ "username": "alice", "password": password, "deviceId": "laptop" });
    let (status, _) = server.post("/api/v1/auth/login", login(PASSWORD)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the old password is gone");
    let (status, _) = server
        .post("/api/v1/auth/login", login("a brand new passphrase"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = server
        .post(
            "/api/v1/auth/password/reset",
            reset(token_in(&second), "yet another passphrase"),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_token");

    // Asking is throttled per address and per account.
    let mut answers = Vec::new();
    for _ in 0..12 {
        let (status, _) = server
            .post("/api/v1/auth/password/forgot", forgot("alice@example.com"))
            .await;
        answers.push(status);
    }
    assert!(
        answers.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{answers:?}"
    );
    server.stop().await;
}
both_engines!(recovering_an_account_, recovering_an_account);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_mail_recovery_says_so() {
    let server = TestServer::start(Engine::Sqlite).await;
    let alice = api_user(&server, None, "alice").await;
    let (status, body) = server
        .post(
            "/api/v1/auth/password/forgot",
            json!({ "email": "alice@example.com" }),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_IMPLEMENTED,
        "mail_not_configured",
    );
    let (status, body) = call(
        &server,
        &alice,
        Method::POST,
        "/api/v1/auth/email/verification",
        None,
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_IMPLEMENTED,
        "mail_not_configured",
    );
    let (status, body) = server
        .post(
            "/api/v1/auth/password/forgot",
            json!({ "email": "not an address" }),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    server.stop().await;
}

//! The HTTP edge: whose address counts, slow clients, the headers of every answer, CORS, the
//! WebSocket `Origin` check, bounded metrics and the admin listener.

use crate::support::Engine;
use crate::support::api::{PASSWORD, api_user};
use crate::support::process::free_port;
use crate::support::server::TestServer;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A login attempt for a user that does not exist, "from" `forwarded` when given.
async fn login_from(server: &TestServer, forwarded: Option<&str>) -> StatusCode {
    let mut request = server
        .http
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "username": "nobody", "password": PASSWORD }));
    if let Some(forwarded) = forwarded {
        request = request.header("x-forwarded-for", forwarded);
    }
    request.send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    // The test client connects from 127.0.0.1: first untrusted, then a trusted proxy.
    for (trusted, expect_shared_budget) in [(None, true), (Some("127.0.0.1/32"), false)] {
        let server = TestServer::start_with(Engine::Sqlite, |s| {
            s.trusted_proxies = trusted.map(str::to_owned);
            s.login_attempts_per_ip = 2;
        })
        .await;
        let mut answers = Vec::new();
        for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
            answers.push(login_from(&server, Some(client)).await);
        }
        let throttled = answers.contains(&StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            throttled, expect_shared_budget,
            "trusted {trusted:?}: {answers:?}"
        );
        if !expect_shared_budget {
            // Each forwarded client has its own budget, and it holds.
            for _ in 0..2 {
                login_from(&server, Some("198.51.100.9")).await;
            }
            assert_eq!(
                login_from(&server, Some("198.51.100.9")).await,
                StatusCode::TOO_MANY_REQUESTS
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed() {
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.header_read_timeout_seconds = 1;
    })
    .await;
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    for socket in [&mut slow, &mut idle] {
        let mut buffer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut buffer))
            .await
            .expect("the server closes a connection whose headers do not come");
        assert!(read.is_ok() || buffer.is_empty());
        assert!(
            !String::from_utf8_lossy(&buffer).contains("200 OK"),
            "a half-sent request was served"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let server = TestServer::start_with(Engine::Sqlite, |s| s.hsts_seconds = 31_536_000).await;
    for path in ["/api/docs", "/api/v1/auth/me", "/health/live", "/nope"] {
        let response = server.http.get(server.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(
            headers["strict-transport-security"]
                .to_str()
                .unwrap()
                .starts_with("max-age=31536000"),
            "{path}"
        );
    }
    let page = server
        .http
        .get(server.url("/api/docs"))
        .send()
        .await
        .unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "inline code in the page"
    );
    let login = server
        .http
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "username": "nobody", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.headers()["cache-control"], "no-store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_listed_origins_only() {
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.cors_origins = Some("https://app.example.com".into());
    })
    .await;
    let preflight = |origin: &'static str| {
        server
            .http
            .request(
                reqwest::Method::OPTIONS,
                server.url("/api/v1/conversations"),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin"),
        "a foreign origin got CORS headers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_from_foreign_origins_are_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.cors_origins = Some("https://app.example.com".into());
    })
    .await;
    let connect = |origin: String| {
        let mut request = format!("ws://{}/api/v1/ws", server.addr)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        tokio_tungstenite::connect_async(request)
    };
    let refused = connect("https://evil.example".into()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
        }
        other => panic!("a foreign origin upgraded: {other:?}"),
    }
    connect("https://app.example.com".into())
        .await
        .expect("a listed origin upgrades");
    connect(format!("http://{}", server.addr))
        .await
        .expect("the server's own origin upgrades");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_labels_stay_bounded_and_operations_move_to_the_admin_listener() {
    let admin_port = free_port();
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.admin_listen = Some(format!("127.0.0.1:{admin_port}").parse().unwrap());
    })
    .await;
    api_user(&server, None, "alice").await;
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        server
            .http
            .request(method, server.url("/api/v1/conversations"))
            .send()
            .await
            .unwrap();
    }
    // The public listener no longer serves health or metrics.
    let public = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    let admin = format!("http://127.0.0.1:{admin_port}");
    let metrics = server
        .http
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("INVENTED"),
        "a series per invented method"
    );
    assert!(metrics.contains("method=\"other\""), "{metrics}");
    let ready = server
        .http
        .get(format!("{admin}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

//! `make bench`: message throughput and history latency on SQLite and PostgreSQL.
//!
//! Runs the real server in this process on 127.0.0.1:0 and drives it over HTTP, so the figures
//! include JSON, authentication and the network stack (and share the machine's cores with the
//! client). PostgreSQL is measured when `CHEMCHAT_TEST_DATABASE_URL` names a server (`make bench`
//! sets it); a throwaway database is created and dropped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chemchat_server::Server;
use chemchat_server::config::Settings;
use futures::stream::{self, StreamExt};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Messages per throughput run.
const SENDS: usize = 3000;
/// Requests in flight at once.
const CONCURRENCY: usize = 32;
/// History requests for the latency figure.
const READS: usize = 1000;

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    async fn group(&self) -> String {
        let body = self
            .post(
                "/api/v1/conversations",
                json!({ "type": "group", "name": "bench" }),
            )
            .await;
        body["id"].as_str().unwrap().to_owned()
    }
}

struct Figures {
    engine: &'static str,
    one_conversation: f64,
    hundred_conversations: f64,
    p50: Duration,
    p95: Duration,
}

async fn start(url: &str, dir: &std::path::Path) -> (Client, tokio::sync::oneshot::Sender<()>) {
    let settings = Settings {
        database_url: SecretString::from(url.to_owned()),
        jwt_secret: Some(SecretString::from("bench-signing-secret-0123456789abcdef")),
        data_dir: dir.join("data"),
        media_dir: dir.join("media"),
        // One user sends as fast as the store allows: the benchmark measures the store, not the
        // per-user budget.
        rate_limits: Some(
            "message.send.user=1000000/s,message.send.tenant=1000000/s,\
             conversation.create.user=1000000/s,conversation.create.tenant=1000000/s"
                .to_owned(),
        ),
        ..Settings::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = Server::build(settings).await.expect("server builds");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(listener, async move {
        let _ = rx.await;
    }));
    let http = reqwest::Client::new();
    let password = "bench password 0123";
    let register = json!({ "username": "bench", "displayName": "Bench",
        "email": "bench@example.com", "password": password });
    http.post(format!("{base}/api/v1/auth/register"))
        .json(&register)
        .send()
        .await
        .unwrap();
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "bench", "password": password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["accessToken"].as_str().expect("logged in").to_owned();
    (Client { http, base, token }, tx)
}

/// Sends `SENDS` messages spread round-robin over `conversations`; returns sends per second.
async fn throughput(client: &Client, conversations: &[String], tag: &str) -> f64 {
    let started = Instant::now();
    stream::iter(0..SENDS)
        .for_each_concurrent(CONCURRENCY, |i| async move {
            let conversation = &conversations[i % conversations.len()];
            client
                .post(
                    &format!("/api/v1/conversations/{conversation}/messages"),
                    json!({ "content": format!("bench message {i}"), "clientMessageId": format!("{tag}-{i}") }),
                )
                .await;
        })
        .await;
    SENDS as f64 / started.elapsed().as_secs_f64()
}

/// Latencies of `GET …/messages?limit=50` at random positions, 8 in flight.
async fn history_latency(client: &Client, conversation: &str) -> (Duration, Duration) {
    let mut latencies: Vec<Duration> = stream::iter(0..READS)
        .map(|i| async move {
            let before = 51 + (i * 7919) % (SENDS - 50);
            let url = format!(
                "{}/api/v1/conversations/{conversation}/messages?limit=50&before={before}",
                client.base
            );
            let started = Instant::now();
            let response = client
                .http
                .get(url)
                .bearer_auth(&client.token)
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            let _ = response.bytes().await.unwrap();
            started.elapsed()
        })
        .buffer_unordered(8)
        .collect()
        .await;
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    (at(0.50), at(0.95))
}

async fn measure(engine: &'static str, url: &str, dir: &std::path::Path) -> Figures {
    let (client, stop) = start(url, dir).await;
    let one = client.group().await;
    let one_conversation = throughput(&client, std::slice::from_ref(&one), "one").await;
    let mut many = Vec::new();
    for _ in 0..100 {
        many.push(client.group().await);
    }
    let hundred_conversations = throughput(&client, &many, "many").await;
    let (p50, p95) = history_latency(&client, &one).await;
    let _ = stop.send(());
    Figures {
        engine,
        one_conversation,
        hundred_conversations,
        p50,
        p95,
    }
}

async fn admin(url: &str, sql: String) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("reach PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .expect("admin statement");
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("chemchat-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut figures = vec![
        measure(
            "sqlite",
            &format!("sqlite://{}/bench.db", dir.display()),
            &dir,
        )
        .await,
    ];
    match std::env::var("CHEMCHAT_TEST_DATABASE_URL") {
        Ok(admin_url) => {
            let name = format!("chemchat_bench_{}", uuid::Uuid::new_v4().simple());
            admin(&admin_url, format!("CREATE DATABASE {name}")).await;
            let (base, _) = admin_url.rsplit_once('/').expect("URL ends with /database");
            figures.push(measure("postgres", &format!("{base}/{name}"), &dir).await);
            admin(
                &admin_url,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
        Err(_) => eprintln!(
            "CHEMCHAT_TEST_DATABASE_URL is unset: PostgreSQL not measured (run `make bench`)"
        ),
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!();
    println!("{SENDS} sends per run, {CONCURRENCY} in flight; {READS} history reads, 8 in flight");
    println!(
        "| engine   | sends/s, 1 conversation | sends/s, 100 conversations | GET messages?limit=50 p50 | p95 |"
    );
    println!(
        "|----------|------------------------:|---------------------------:|--------------------------:|----:|"
    );
    for f in figures {
        println!(
            "| {:<8} | {:>23.0} | {:>26.0} | {:>22.2} ms | {:.2} ms |",
            f.engine,
            f.one_conversation,
            f.hundred_conversations,
            f.p50.as_secs_f64() * 1000.0,
            f.p95.as_secs_f64() * 1000.0
        );
    }
}

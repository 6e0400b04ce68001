//! `make bench`: the notifier — decisions per second for a 1 000-member group in which 900
//! members are looking at the conversation (their attention recorded in Redis, as the gateway
//! records it) and 100 are offline, every member with a push subscription; and the delay from a
//! message's send to its push arriving at the push service, p50/p95/p99.
//!
//! Runs the real server in this process on 127.0.0.1:0 (SQLite for the store, Redis for
//! attention) with coalescing off, so every message is decided for every member and pushed to
//! every offline one. The push service is a sink in this process that decrypts each push
//! (RFC 8291, with the subscription's private key) to learn which message it announces.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chemchat_server::Server;
use chemchat_server::adapters::redis::RedisAttention;
use chemchat_server::adapters::sql;
use chemchat_server::config::Settings;
use chemchat_server::domain::{ConversationId, PushSubscriptionId, TenantId, UserId};
use chemchat_server::ports::{Attention, NotificationStore, PushSubscription};
use futures::StreamExt;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Members of the group (`BENCH_NOTIFY_MEMBERS`, default 1 000); a tenth of them offline.
fn members() -> usize {
    std::env::var("BENCH_NOTIFY_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000)
}
/// Messages of the throughput burst.
const BURST: usize = 200;
/// Messages of the latency run, one every 100 ms.
const PACED: usize = 50;

/// Arrivals at the sink: seq → arrival times.
type Arrivals = Arc<Mutex<HashMap<i64, Vec<Instant>>>>;

struct Sink {
    secret: p256::SecretKey,
    auth: [u8; 16],
    arrivals: Arrivals,
}

async fn accept(State(sink): State<Arc<Sink>>, body: axum::body::Bytes) -> StatusCode {
    let at = Instant::now();
    let auth = web_push_native::Auth::from(sink.auth);
    let plain = web_push_native::decrypt(body.to_vec(), &sink.secret, &auth).expect("decrypts");
    let notice: Value = serde_json::from_slice(&plain).unwrap();
    let seq = notice["seq"].as_i64().unwrap();
    sink.arrivals
        .lock()
        .unwrap()
        .entry(seq)
        .or_default()
        .push(at);
    StatusCode::CREATED
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn counter(metrics: &str, line: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(line))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() {
    let (members, offline) = (members(), members() / 10);
    let Ok(redis) = std::env::var("CHEMCHAT_TEST_REDIS_URL") else {
        eprintln!("bench_notify: CHEMCHAT_TEST_REDIS_URL is not set (run it through `make bench`)");
        std::process::exit(2);
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("bench-{}:", &uuid::Uuid::new_v4().simple().to_string()[..8]);

    // The push service: one key pair for every subscription (the work per push is the same).
    let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
    let p256dh = URL_SAFE_NO_PAD.encode(secret.public_key().to_encoded_point(false).as_bytes());
    let auth = [9u8; 16];
    let arrivals: Arrivals = Arc::default();
    let sink = Arc::new(Sink {
        secret,
        auth,
        arrivals: Arc::clone(&arrivals),
    });
    let app = axum::Router::new()
        .route("/push/{id}", axum::routing::post(accept))
        .with_state(sink);
    let sink_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sink_url = format!("http://{}", sink_listener.local_addr().unwrap());
    let sink_task = tokio::spawn(async move { axum::serve(sink_listener, app).await.unwrap() });

    let database_url = format!("sqlite://{}/chemchat.db", dir.path().display());
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: SecretString::from(database_url.clone()),
        jwt_secret: Some(SecretString::from(
            "notify-benchmark-secret-notify-benchmark",
        )),
        data_dir: dir.path().join("data"),
        media_dir: dir.path().join("media"),
        redis_url: Some(SecretString::from(redis.clone())),
        redis_prefix: prefix.clone(),
        tenant_tier: Some("enterprise".into()),
        push_allow_private_endpoints: true,
        push_coalesce_ms: 0,
        login_attempts_per_ip: 1_000_000,
        rate_limits: Some(
            "register.address=1000000/s,register.tenant=1000000/s,\
             message.send.user=1000000/s,message.send.tenant=1000000/s"
                .into(),
        ),
        ..Settings::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = Server::build(settings).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server.serve(listener, async move {
        let _ = stopped.await;
    }));

    // Members: registered over the API (Argon2 bounds this: a few at a time).
    eprintln!("bench_notify: registering {members} members");
    let http = reqwest::Client::new();
    let password = "notify benchmark password";
    let ids: Vec<String> = futures::future::join_all((0..members).map(|i| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            loop {
                let response = http
                    .post(format!("{base}/api/v1/auth/register"))
                    .json(&json!({ "username": format!("member{i}"), "displayName": format!("Member {i}"),
                        "email": format!("member{i}@example.com"), "password": password }))
                    .send()
                    .await
                    .unwrap();
                if response.status() == StatusCode::CREATED {
                    let body: Value = response.json().await.unwrap();
                    return body["id"].as_str().unwrap().to_owned();
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }))
    .await;
    let login: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "member0", "password": password, "deviceId": "bench" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["accessToken"].as_str().unwrap().to_owned();
    let group: Value = http
        .post(format!("{base}/api/v1/conversations"))
        .bearer_auth(&token)
        .json(&json!({ "type": "group", "name": "Everyone", "memberIds": &ids[1..] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let group_id = ConversationId::parse(group["id"].as_str().expect("a group")).unwrap();

    // Every member subscribed; the first 900 after the sender look at the conversation.
    let store = sql::connect(&database_url, 4).await.unwrap();
    let tenant = TenantId::parse("default").unwrap();
    let attention = RedisAttention::connect(&redis, &prefix).await.unwrap();
    for (i, id) in ids.iter().enumerate() {
        let user = UserId::parse(id).unwrap();
        let subscription = PushSubscription {
            id: PushSubscriptionId::generate(),
            user,
            device_id: None,
            endpoint: format!("{sink_url}/push/{i}"),
            p256dh: p256dh.clone(),
            auth: URL_SAFE_NO_PAD.encode(auth),
            created_at_ms: 0,
        };
        store
            .save_push_subscription(&tenant, &subscription, 10)
            .await
            .unwrap();
        if (1..members - offline).contains(&i) {
            let now = now_ms();
            attention
                .look(
                    &tenant,
                    user,
                    &format!("bench:{i}"),
                    &[group_id],
                    Duration::from_secs(3600),
                    now,
                )
                .await
                .unwrap();
        }
    }

    let send = |seq: usize| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let response = http
                .post(format!("{base}/api/v1/conversations/{group_id}/messages"))
                .bearer_auth(&token)
                .json(&json!({ "content": format!("message {seq}") }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::CREATED);
        }
    };
    let metrics_url = format!("{base}/metrics");
    let decisions = || {
        let (http, url) = (http.clone(), metrics_url.clone());
        async move {
            let text = http.get(url).send().await.unwrap().text().await.unwrap();
            ["push", "sender", "looking", "level", "snoozed", "quiet"]
                .iter()
                .map(|v| {
                    counter(
                        &text,
                        &format!("chemchat_push_decisions_total{{verdict=\"{v}\"}}"),
                    )
                })
                .sum::<f64>()
        }
    };

    // Throughput: a burst of sends, timed until every member of every message was decided and
    // every offline member's push arrived.
    eprintln!("bench_notify: burst of {BURST} messages");
    let started = Instant::now();
    futures::stream::iter((1..=BURST).map(send))
        .buffer_unordered(8)
        .collect::<Vec<()>>()
        .await;
    let sent_in = started.elapsed();
    let want = (BURST * members) as f64;
    while decisions().await < want || pushes(&arrivals) < BURST * offline {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the notifier stalled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let decided_in = started.elapsed();

    // Latency: paced sends, each timed from its request to its pushes' arrival.
    eprintln!("bench_notify: {PACED} paced messages");
    let mut sent_at = HashMap::new();
    for n in 0..PACED {
        let seq = (BURST + n + 1) as i64;
        sent_at.insert(seq, Instant::now());
        send(seq as usize).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while pushes(&arrivals) < (BURST + PACED) * offline && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut delays: Vec<f64> = Vec::new();
    for (seq, at) in &sent_at {
        for arrived in arrivals.lock().unwrap().get(seq).into_iter().flatten() {
            delays.push(arrived.duration_since(*at).as_secs_f64() * 1000.0);
        }
    }
    delays.sort_by(f64::total_cmp);

    println!(
        "notifier: {members}-member group, {} looking, {offline} offline, all subscribed; {BURST} \
         messages sent in {:.2} s",
        members - offline - 1,
        sent_in.as_secs_f64()
    );
    println!(
        "  decisions: {:.0}/s ({} in {:.2} s); pushes accepted: {:.0}/s",
        want / decided_in.as_secs_f64(),
        want as u64,
        decided_in.as_secs_f64(),
        (BURST * offline) as f64 / decided_in.as_secs_f64()
    );
    println!(
        "  send → push accepted, {PACED} messages at 10/s × {offline} pushes: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms ({} of {} arrived)",
        percentile(&delays, 50.0),
        percentile(&delays, 95.0),
        percentile(&delays, 99.0),
        delays.len(),
        PACED * offline
    );
    let _ = stop.send(());
    let _ = served.await;
    sink_task.abort();
}

fn pushes(arrivals: &Arrivals) -> usize {
    arrivals.lock().unwrap().values().map(Vec::len).sum()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

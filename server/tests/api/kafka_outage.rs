//! Live chat does not wait for the event stream's broker. A private tansu broker is paused in
//! the middle of a conversation (SIGSTOP: it keeps its data but answers nothing, as during a
//! network partition or a broker stall): sends are still acknowledged and delivered live, the
//! outbox backlog grows and `/health` says the event log is down; once the broker resumes,
//! every event is shipped, per conversation in order, with no more duplicates than the dedupe
//! rule of docs/events.md allows.

use crate::support::Engine;

use crate::support::process::{Private, free_port};
use crate::support::server::TestServer;
use crate::support::services::tansu_binary;
use crate::support::ws::{Ws, pair_in_a_room};
use chemchat_server::adapters::kafka::{KafkaEventLog, KafkaSettings, TopicSettings};
use chemchat_server::ports::EventLog;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

/// A private broker on a free port.
async fn private_broker() -> Private {
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let mut command = Command::new(tansu_binary());
    command.args([
        "broker",
        "--listener-url",
        &url,
        "--advertised-listener-url",
        &url,
    ]);
    command.args(["--storage-engine", "memory://tansu/"]);
    Private::start(command, port, "the broker (tansu)").await
}

async fn health(server: &TestServer) -> Value {
    server.call(server.http.get(server.url("/health"))).await.1
}

/// Polls `/health` until `check` holds.
async fn health_until(server: &TestServer, within: Duration, check: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + within;
    loop {
        let body = health(server).await;
        if check(&body) {
            return;
        }
        assert!(Instant::now() < deadline, "health never got there: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chat_stays_live_while_the_broker_is_down_and_everything_ships_after() {
    let broker = private_broker().await;
    let brokers = format!("127.0.0.1:{}", broker.port);
    let server = TestServer::start_with(Engine::Sqlite, |s| {
        s.kafka_brokers = Some(brokers.clone());
    })
    .await;
    let (room, mut a, mut b) = pair_in_a_room(&server).await;
    let mut sent = 0;
    let send = async |a: &mut Ws, b: &mut Ws, sent: &mut i64| {
        *sent += 1;
        let key = format!("m{sent}");
        let ack = a
            .ok(
                "message.send",
                json!({ "conversationId": room, "content": key, "clientMessageId": key }),
            )
            .await;
        assert_eq!(ack["seq"], *sent);
        let created = b.expect("message.created").await;
        assert_eq!(created["sequenceNumber"], *sent, "{created}");
    };
    for _ in 0..5 {
        send(&mut a, &mut b, &mut sent).await;
    }
    health_until(&server, Duration::from_secs(20), |h| {
        h["dependencies"]["eventLog"]["outboxBacklog"] == 0
    })
    .await;

    broker.signal("-STOP");
    for _ in 0..20 {
        send(&mut a, &mut b, &mut sent).await;
    }
    // The relay's produce times out (10 s), the backlog is what waits.
    health_until(&server, Duration::from_secs(30), |h| {
        h["status"] == "degraded"
            && h["dependencies"]["eventLog"]["status"] == "down"
            && h["dependencies"]["eventLog"]["outboxBacklog"].as_u64() > Some(0)
    })
    .await;
    for _ in 0..5 {
        send(&mut a, &mut b, &mut sent).await;
    }

    broker.signal("-CONT");
    health_until(&server, Duration::from_secs(60), |h| {
        h["dependencies"]["eventLog"]["status"] == "up"
            && h["dependencies"]["eventLog"]["outboxBacklog"] == 0
    })
    .await;

    // Read the tenant's topic from the start: conversation.created, then every message, each
    // conversation's event seqs 1..=n in order once duplicates are dropped by event id.
    let log = KafkaEventLog::connect(KafkaSettings {
        brokers: brokers.clone(),
        tenant: Some("default".into()),
        topic: TopicSettings::default(),
    })
    .await
    .unwrap();
    let mut consumer = log
        .consumer(&format!("outage-{}", uuid::Uuid::new_v4().simple()))
        .await
        .unwrap();
    let expected = usize::try_from(sent).unwrap() + 1;
    let mut ids = HashSet::new();
    let mut seqs = Vec::new();
    let mut records = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while ids.len() < expected {
        assert!(
            Instant::now() < deadline,
            "only {} of {expected} events in the topic",
            ids.len()
        );
        let batch = tokio::time::timeout(Duration::from_secs(5), consumer.next_batch(500)).await;
        let Ok(batch) = batch else { continue };
        for event in batch.unwrap() {
            records += 1;
            if event.conversation_id.to_string() == room && ids.insert(event.id) {
                seqs.push(event.event_seq);
            }
        }
    }
    let in_order: Vec<i64> = (1..=i64::try_from(expected).unwrap()).collect();
    assert_eq!(seqs, in_order, "every event once, in order, after dedupe");
    assert!(
        records - expected <= 500,
        "{records} records for {expected} events: more duplicates than one batch"
    );
}

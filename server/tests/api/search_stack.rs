//! The scaled deployment end to end: a server on PostgreSQL whose outbox relay ships to Kafka
//! (tansu) and whose search indexer feeds OpenSearch (osmem) from its consumer group. Pinned to a
//! tenant of its own, so its topic, index and consumer group are this test's alone. The topic,
//! read raw afterwards, holds no copy of any text: not of an edited, a deleted or an expired
//! message.

use crate::support::Engine;
use crate::support::api::{ApiUser, api_group, api_user, call, send_text};
use crate::support::server::TestServer;
use crate::support::services;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// One record of the topic as bytes: key, headers and value together, and its kind.
struct RawRecord {
    kind: String,
    bytes: Vec<u8>,
}

/// Every record of the tenant's events topic, read from the start without a consumer group's
/// help or the server's decoding: what anyone with read access to the topic would see.
async fn raw_topic(tenant: &str) -> Vec<RawRecord> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", services::kafka_brokers())
        .set("group.id", format!("raw-reader-{}", uuid::Uuid::new_v4()))
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .create()
        .expect("a Kafka consumer");
    let topic = chemchat_crds::contract::events_topic(tenant);
    let metadata = tokio::task::block_in_place(|| {
        consumer.fetch_metadata(Some(&topic), Duration::from_secs(10))
    })
    .unwrap_or_else(|e| panic!("cannot read the metadata of {topic}: {e}"));
    let partitions = metadata.topics()[0].partitions().len();
    assert!(partitions > 0, "{topic} has no partitions");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        let partition = i32::try_from(partition).unwrap();
        assignment
            .add_partition_offset(&topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).unwrap();
    let mut records = Vec::new();
    let mut ended = HashSet::new();
    while ended.len() < partitions {
        let next = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("{topic}: no end of partition within 30 s"));
        match next {
            Ok(record) => {
                let mut bytes = record.key().unwrap_or_default().to_vec();
                let mut kind = String::new();
                for header in record.headers().iter().flat_map(|h| h.iter()) {
                    let value = header.value.unwrap_or_default();
                    if header.key == "chemchat-event-kind" {
                        kind = String::from_utf8_lossy(value).into_owned();
                    }
                    bytes.extend_from_slice(value);
                }
                bytes.extend_from_slice(record.payload().unwrap_or_default());
                records.push(RawRecord { kind, bytes });
            }
            Err(KafkaError::PartitionEOF(partition)) => {
                ended.insert(partition);
            }
            Err(error) => panic!("reading {topic}: {error}"),
        }
    }
    records
}

/// Waits until the relay has shipped everything (its backlog gauge reads 0).
async fn shipped(server: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.metrics().await.contains("chemchat_outbox_backlog 0") {
        assert!(Instant::now() < deadline, "the outbox never drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn search(server: &TestServer, user: &ApiUser, q: &str) -> Vec<String> {
    let url = format!("/api/v1/search/messages?q={q}");
    let (status, body) = call(server, user, Method::GET, &url, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["message"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls until the search for `q` returns `want`; returns how long that took.
async fn until(
    server: &TestServer,
    user: &ApiUser,
    q: &str,
    want: &[&str],
    within: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let got = search(server, user, q).await;
        if got == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "'{q}' after {within:?}: {got:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kafka_to_opensearch_finds_edits_and_forgets_deletes_within_five_seconds() {
    let tenant = format!("stack-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let (brokers, search_url) = (services::kafka_brokers(), services::search_url());
    let server = TestServer::start_with(Engine::Postgres, |settings| {
        settings.tenant_id = Some(tenant.clone());
        settings.retention_sweep_seconds = 1;
        settings.kafka_brokers = Some(brokers);
        settings.search_url = Some(search_url.into());
    })
    .await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let conversation = api_group(&server, &alice, &[&bob]).await;

    // The first message also waits for the indexer to join its consumer group.
    let warm = send_text(&server, &alice, &conversation, "warming up").await;
    until(&server, &bob, "warming", &[&warm], Duration::from_secs(60)).await;

    let five = Duration::from_secs(5);
    let id = send_text(&server, &alice, &conversation, "quarterly numbers attached").await;
    let found = until(&server, &bob, "quarterly", &[&id], five).await;
    let path = format!("/api/v1/messages/{id}");
    let body = json!({ "content": "yearly numbers attached" });
    let (status, _) = call(&server, &alice, Method::PUT, &path, Some(body)).await;
    assert_eq!(status, StatusCode::OK);
    let edited = until(&server, &bob, "yearly", &[&id], five).await;
    until(&server, &bob, "quarterly", &[], five).await;
    let (status, _) = call(&server, &alice, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let deleted = until(&server, &bob, "numbers", &[], five).await;
    eprintln!("found after {found:?}, edit after {edited:?}, delete after {deleted:?}");

    // Disappearing messages: found while they last, then swept from the store and the index.
    let expiring = send_text(&server, &alice, &conversation, "zebra crossing at noon").await;
    until(&server, &bob, "zebra", &[&expiring], five).await;
    let group = format!("/api/v1/conversations/{conversation}");
    let body = json!({ "retentionSeconds": 2 });
    let (status, answer) = call(&server, &alice, Method::PATCH, &group, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    until(&server, &bob, "zebra", &[], Duration::from_secs(15)).await;

    // The relay's figures are on /metrics; once it has shipped everything, the raw topic holds
    // every event — and none of the words.
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("chemchat_outbox_shipped_total"),
        "{metrics}"
    );
    shipped(&server).await;
    let records = raw_topic(&tenant).await;
    let kinds: HashSet<&str> = records.iter().map(|r| r.kind.as_str()).collect();
    for kind in ["message.created", "message.updated", "message.deleted"] {
        assert!(kinds.contains(kind), "no {kind} record in {kinds:?}");
    }
    let deletions = records
        .iter()
        .filter(|r| r.kind == "message.deleted")
        .count();
    assert!(deletions >= 2, "a delete and an expiry: {deletions}");
    for word in [
        "warming",
        "quarterly",
        "yearly",
        "numbers",
        "zebra",
        "crossing",
    ] {
        let leaks = records
            .iter()
            .filter(|r| r.bytes.windows(word.len()).any(|w| w == word.as_bytes()))
            .count();
        assert_eq!(
            leaks,
            0,
            "'{word}' is readable in {leaks} of {} records",
            records.len()
        );
    }
    server.stop().await;
}

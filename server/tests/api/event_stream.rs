//! The outbox relay and the Kafka event stream, against the real broker of `make services`
//! (tansu) and PostgreSQL: per-conversation order, no loss when a relay dies half-way, no
//! concurrent shipping by two replicas, and consumers that read it back.

use crate::support::services::{self, unique_tenant};
use crate::support::store::{new_message, store_group, store_message, store_user};
use crate::support::{Engine, TestDb, tenant};
use chemchat_server::adapters::kafka::{KafkaEventLog, KafkaSettings, TopicSettings};
use chemchat_server::adapters::sql::SqlStore;
use chemchat_server::app::chat::OutboxRelay;
use chemchat_server::domain::{ConversationId, TenantId, Tier};
use chemchat_server::ports::chat::StoredEvent;
use chemchat_server::ports::{EventLog, Store, SystemClock};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONVERSATIONS: usize = 50;
const MESSAGES_PER_CONVERSATION: usize = 199; // + conversation.created = 200 events each

async fn kafka(tenant: &TenantId) -> Arc<KafkaEventLog> {
    let log = KafkaEventLog::connect(KafkaSettings {
        brokers: services::kafka_brokers(),
        tenant: Some(tenant.to_string()),
        topic: TopicSettings {
            partitions: 3,
            ..TopicSettings::default()
        },
    })
    .await
    .unwrap_or_else(|e| {
        panic!("cannot reach the Kafka broker ({e:#}); start it with `make services`")
    });
    Arc::new(log)
}

fn relay(store: &Arc<dyn Store>, log: Arc<KafkaEventLog>) -> OutboxRelay {
    OutboxRelay::new(
        Arc::clone(store),
        log,
        Arc::new(SystemClock),
        Arc::default(),
    )
}

/// 50 conversations × 200 events, sent by 50 concurrent writers.
async fn seed(store: &SqlStore, tenant: &TenantId) -> Vec<ConversationId> {
    store.upsert_tenant(&tenant_of(tenant)).await.unwrap();
    let user = store_user(store, tenant.as_str(), "writer").await;
    let mut conversations = Vec::new();
    for _ in 0..CONVERSATIONS {
        conversations.push(store_group(store, tenant.as_str(), user, &[]).await);
    }
    let writers = conversations.iter().map(|&conversation| {
        let store = store.clone();
        let tenant = tenant.clone();
        tokio::spawn(async move {
            for i in 0..MESSAGES_PER_CONVERSATION {
                let message = new_message(conversation, user, &format!("k{i}"));
                store_message(&store, tenant.as_str(), &message).await;
            }
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer.unwrap();
    }
    conversations
}

fn tenant_of(id: &TenantId) -> chemchat_server::domain::Tenant {
    tenant(id.as_str(), Tier::Enterprise)
}

async fn wait_for_backlog(store: &Arc<dyn Store>, at_most: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let backlog = store.outbox_backlog().await.unwrap();
        if backlog <= at_most {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "outbox backlog still {backlog} after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads the tenant's topic from the start with a fresh consumer group until `expected`
/// distinct events arrived.
async fn read_back(log: &KafkaEventLog, expected: usize) -> Vec<Arc<StoredEvent>> {
    let purpose = format!("test-{}", uuid::Uuid::new_v4().simple());
    let mut consumer = log.consumer(&purpose).await.unwrap();
    let mut events = Vec::new();
    let mut ids = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while ids.len() < expected {
        let batch = tokio::time::timeout(Duration::from_secs(60), consumer.next_batch(1000))
            .await
            .expect("the broker delivers within a minute")
            .unwrap();
        for event in batch {
            ids.insert(event.id);
            events.push(event);
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {expected} events came back",
            ids.len()
        );
    }
    consumer.commit().await.unwrap();
    events
}

/// Per conversation: every event exactly once after deduplication on the id, and the raw
/// stream never jumps ahead (a re-delivery may go back, never skip).
fn assert_ordered(events: &[Arc<StoredEvent>], conversations: &[ConversationId]) -> usize {
    let mut seen: BTreeMap<ConversationId, (i64, Vec<i64>)> = BTreeMap::new();
    let mut ids = HashSet::new();
    let mut duplicates = 0;
    for event in events {
        let (highest, distinct) = seen.entry(event.conversation_id).or_default();
        assert!(
            event.event_seq <= *highest + 1,
            "conversation {} jumped from {highest} to {}",
            event.conversation_id,
            event.event_seq
        );
        *highest = (*highest).max(event.event_seq);
        if ids.insert(event.id) {
            distinct.push(event.event_seq);
        } else {
            duplicates += 1;
        }
    }
    assert_eq!(seen.len(), conversations.len());
    let all: Vec<i64> = (1..=(MESSAGES_PER_CONVERSATION as i64 + 1)).collect();
    for (conversation, (_, distinct)) in seen {
        assert_eq!(
            distinct, all,
            "events of {conversation}, in order, each once"
        );
    }
    duplicates
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_events_arrive_in_order_though_a_relay_dies_half_way() {
    let db = TestDb::new(Engine::Postgres).await;
    let sql = db.store().await;
    let tenant = unique_tenant("relay");
    let conversations = seed(&sql, &tenant).await;
    let total = CONVERSATIONS * (MESSAGES_PER_CONVERSATION + 1);
    let store: Arc<dyn Store> = Arc::new(sql);
    assert_eq!(store.outbox_backlog().await.unwrap(), total as u64);

    // Two replicas ship at once, each with its own producer; one dies half-way through.
    let doomed = tokio::spawn(relay(&store, kafka(&tenant).await).run());
    let survivor = tokio::spawn(relay(&store, kafka(&tenant).await).run());
    wait_for_backlog(&store, total as u64 / 2, Duration::from_secs(120)).await;
    doomed.abort();
    let _ = doomed.await;
    // Its replacement starts while the survivor is still shipping.
    let replacement = tokio::spawn(relay(&store, kafka(&tenant).await).run());
    wait_for_backlog(&store, 0, Duration::from_secs(120)).await;
    survivor.abort();
    replacement.abort();

    let events = read_back(&*kafka(&tenant).await, total).await;
    let duplicates = assert_ordered(&events, &conversations);
    // Only the batch the dead relay had shipped but not marked can come twice; replicas alive
    // together never ship the same conversation.
    assert!(duplicates <= 500, "{duplicates} duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_shipping_together_never_ship_an_event_twice() {
    let db = TestDb::new(Engine::Postgres).await;
    let sql = db.store().await;
    let tenant = unique_tenant("replicas");
    let conversations = seed(&sql, &tenant).await;
    let total = CONVERSATIONS * (MESSAGES_PER_CONVERSATION + 1);
    let store: Arc<dyn Store> = Arc::new(sql);
    let relays: Vec<_> = futures::future::join_all((0..3).map(|_| kafka(&tenant)))
        .await
        .into_iter()
        .map(|log| relay(&store, log))
        .collect();
    let shipped: usize = futures::future::join_all(relays.iter().map(OutboxRelay::drain))
        .await
        .into_iter()
        .map(Result::unwrap)
        .sum();
    // drain() stops when nothing is claimable; the others' claims may have been in flight.
    let rest = relays[0].drain().await.unwrap();
    assert_eq!(shipped + rest, total, "every event shipped exactly once");
    let events = read_back(&*kafka(&tenant).await, total).await;
    assert_eq!(assert_ordered(&events, &conversations), 0, "no duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_is_named_and_the_events_wait() {
    let started = Instant::now();
    let error = KafkaEventLog::connect(KafkaSettings {
        brokers: "127.0.0.1:1".into(),
        tenant: None,
        topic: TopicSettings::default(),
    })
    .await
    .unwrap_err();
    let text = format!("{error:#}");
    assert!(text.contains("127.0.0.1:1"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "fails fast: {:?}",
        started.elapsed()
    );
}

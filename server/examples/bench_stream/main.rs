//! `make bench`, part two: the event stream and search.
//!
//! - Relay throughput: events per second the outbox relay moves from the store to the event
//!   log (in-process, and the Kafka broker when `CHEMCHAT_TEST_KAFKA_BROKERS` is set), over a
//!   backlog seeded straight into the outbox.
//! - Search latency: p50/p95/p99 of `SearchIndex::search_messages` over `BENCH_SEARCH_MESSAGES`
//!   messages (default 1 000 000) on SQLite FTS5, PostgreSQL `tsvector` (when
//!   `CHEMCHAT_TEST_DATABASE_URL` is set) and OpenSearch (when `CHEMCHAT_TEST_SEARCH_URL` is).
//!   The searcher belongs to 50 of 1 000 conversations, as the use case passes them; half the
//!   queries are one common word, half two rarer words.
//!
//! - Retention: messages per second the retention sweeper turns into tombstones (each with its
//!   `message.deleted` event), over `BENCH_RETENTION_MESSAGES` expired messages (default
//!   100 000) on SQLite and PostgreSQL.
//!
//! Figures are printed, never asserted: everything shares this machine's cores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod corpus;
mod seed;

use chemchat_server::adapters::elasticsearch::{ElasticSearchIndex, IndexSettings};
use chemchat_server::adapters::events::InProcessEventLog;
use chemchat_server::adapters::kafka::{KafkaEventLog, KafkaSettings, TopicSettings};
use chemchat_server::adapters::sql::{self, SqlStore};
use chemchat_server::app::chat::{OutboxRelay, RetentionSweeper};
use chemchat_server::domain::{ConversationId, TenantId};
use chemchat_server::ports::{
    AuditEntry, EventLog, MessageSearch, PeopleStore, RetentionChange, SearchIndex, SettingsChange,
    Store, SystemClock,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events in the relay's backlog.
const RELAY_EVENTS: usize = 100_000;
/// Searches per adapter (`BENCH_SEARCH_QUERIES`).
fn queries() -> usize {
    std::env::var("BENCH_SEARCH_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

struct Database {
    url: String,
    _dir: tempfile::TempDir,
    drop: Option<(String, String)>,
}

async fn database(postgres: bool) -> Database {
    let dir = tempfile::tempdir().unwrap();
    if !postgres {
        let url = format!("sqlite://{}/bench.db", dir.path().display());
        return Database {
            url,
            _dir: dir,
            drop: None,
        };
    }
    let admin = std::env::var("CHEMCHAT_TEST_DATABASE_URL").unwrap();
    let name = format!("chemchat_bench_{}", uuid::Uuid::new_v4().simple());
    seed::admin(&admin, &format!("CREATE DATABASE {name}")).await;
    let (base, _) = admin.rsplit_once('/').unwrap();
    Database {
        url: format!("{base}/{name}"),
        _dir: dir,
        drop: Some((admin, name)),
    }
}

impl Database {
    async fn store(&self) -> SqlStore {
        let store = sql::connect(&self.url, 8).await.unwrap();
        sql::migrate(&store).await.unwrap();
        store
    }

    async fn dispose(self) {
        if let Some((admin, name)) = self.drop {
            seed::admin(
                &admin,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

async fn relay_throughput(postgres: bool, log: Arc<dyn EventLog>, label: &str) {
    let db = database(postgres).await;
    let store = db.store().await;
    let tenant = TenantId::parse("bench").unwrap();
    seed::outbox(&store, &tenant, RELAY_EVENTS).await;
    let store: Arc<dyn Store> = Arc::new(store);
    let relay = OutboxRelay::new(store, log, Arc::new(SystemClock), Arc::default());
    let started = Instant::now();
    let shipped = relay.drain().await.unwrap();
    let elapsed = started.elapsed();
    println!(
        "relay  {label:<28} {shipped:>8} events  {:>8.0} events/s",
        shipped as f64 / elapsed.as_secs_f64()
    );
    db.dispose().await;
}

async fn search_latency(label: &str, index: &dyn SearchIndex, corpus: &corpus::Corpus) {
    let count = queries();
    let mut timings = Vec::with_capacity(count);
    let mut hits = 0;
    for i in 0..count {
        let query = MessageSearch {
            tenant: corpus.tenant.clone(),
            terms: corpus.query(i),
            conversations: corpus.readable.clone(),
            after: None,
            limit: 20,
        };
        let started = Instant::now();
        hits += index.search_messages(&query).await.unwrap().len();
        timings.push(started.elapsed());
    }
    timings.sort();
    println!(
        "search {label:<28} {:>8} messages  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  ({:.1} hits/query)",
        corpus.messages,
        percentile(&timings, 0.50),
        percentile(&timings, 0.95),
        percentile(&timings, 0.99),
        hits as f64 / count as f64
    );
}

async fn sql_search(postgres: bool, corpus: &corpus::Corpus) {
    let db = database(postgres).await;
    let store = db.store().await;
    let started = Instant::now();
    seed::messages(&store, corpus).await;
    eprintln!(
        "bench: seeded {} messages in {:?}",
        corpus.messages,
        started.elapsed()
    );
    let label = if postgres {
        "PostgreSQL tsvector"
    } else {
        "SQLite FTS5"
    };
    search_latency(label, &store, corpus).await;
    db.dispose().await;
}

async fn opensearch_search(url: &str, corpus: &corpus::Corpus) {
    let index = ElasticSearchIndex::connect(
        url,
        IndexSettings {
            shards: 1,
            replicas: 0,
        },
    )
    .await
    .unwrap();
    let started = Instant::now();
    for start in (0..corpus.messages).step_by(5000) {
        let end = (start + 5000).min(corpus.messages);
        index.apply(&corpus.events(start..end)).await.unwrap();
    }
    eprintln!(
        "bench: indexed {} messages in {:?}",
        corpus.messages,
        started.elapsed()
    );
    search_latency("OpenSearch API (osmem)", &index, corpus).await;
}

/// Expired messages the retention sweeper works off (`BENCH_RETENTION_MESSAGES`).
fn retention_messages() -> usize {
    std::env::var("BENCH_RETENTION_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

async fn retention_sweep(postgres: bool) {
    let db = database(postgres).await;
    let store = db.store().await;
    let corpus = corpus::Corpus::new(retention_messages(), ConversationId::generate);
    seed::messages(&store, &corpus).await;
    // Every seeded message is from 2023: a day's retention expires them all.
    let change = SettingsChange {
        content: None,
        accounts: None,
        retention: Some(RetentionChange {
            max_seconds: Some(Some(86_400)),
            legal_hold: None,
        }),
    };
    let audit = AuditEntry {
        id: chemchat_server::domain::AuditId::generate(),
        at_ms: 0,
        user_id: None,
        action: "settings.changed".into(),
        target: None,
        ip: None,
        user_agent: None,
        detail: serde_json::json!({}),
    };
    store
        .change_settings(&corpus.tenant, &change, &audit)
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let sweeper = RetentionSweeper::new(store, Arc::new(SystemClock), Duration::from_secs(60));
    let started = Instant::now();
    let expired = sweeper.sweep().await.unwrap();
    let label = if postgres { "PostgreSQL" } else { "SQLite" };
    println!(
        "retention {label:<25} {expired:>8} messages  {:>8.0} tombstones/s",
        expired as f64 / started.elapsed().as_secs_f64()
    );
    db.dispose().await;
}

#[tokio::main]
async fn main() {
    let postgres = std::env::var("CHEMCHAT_TEST_DATABASE_URL").is_ok();
    let kafka = std::env::var("CHEMCHAT_TEST_KAFKA_BROKERS").ok();
    let search = std::env::var("CHEMCHAT_TEST_SEARCH_URL").ok();
    let messages: usize = std::env::var("BENCH_SEARCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);

    println!("== event stream: outbox relay ==");
    for engine in [false, true].into_iter().filter(|pg| !pg || postgres) {
        let name = if engine { "PostgreSQL" } else { "SQLite" };
        let local: Arc<dyn EventLog> = Arc::new(InProcessEventLog::new());
        relay_throughput(engine, local, &format!("{name} → in-process")).await;
        if let Some(brokers) = &kafka {
            let tenant = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
            let log = KafkaEventLog::connect(KafkaSettings {
                brokers: brokers.clone(),
                tenant: Some(tenant),
                topic: TopicSettings::default(),
            })
            .await
            .unwrap();
            relay_throughput(engine, Arc::new(log), &format!("{name} → Kafka (tansu)")).await;
        }
    }

    println!("== retention: the sweeper over expired messages ==");
    for engine in [false, true].into_iter().filter(|pg| !pg || postgres) {
        retention_sweep(engine).await;
    }

    println!("== search: {messages} messages, 50 of 1 000 conversations readable ==");
    let corpus = corpus::Corpus::new(messages, ConversationId::generate);
    sql_search(false, &corpus).await;
    if postgres {
        sql_search(true, &corpus).await;
    }
    if let Some(url) = &search {
        opensearch_search(url, &corpus).await;
    }
}

//! The Elasticsearch/OpenSearch search adapter and the search indexer, against the real
//! OpenSearch-API server of `make services` (and its Kafka broker for the indexer's feed):
//! found within seconds, edits and deletes applied, duplicates and late events ignored, no
//! other tenant's or conversation's messages.

use crate::support::services::{self, unique_tenant};
use crate::support::store::{new_message, store_group, store_message, store_user};
use crate::support::{Engine, TestDb};
use chemchat_server::adapters::elasticsearch::{ElasticSearchIndex, IndexSettings};
use chemchat_server::adapters::kafka::{KafkaEventLog, KafkaSettings, TopicSettings};
use chemchat_server::app::chat::OutboxRelay;
use chemchat_server::app::indexer::SearchIndexer;
use chemchat_server::domain::{ConversationId, EventId, MessageId, TenantId, Tier};
use chemchat_server::ports::chat::MessageEditRequest;
use chemchat_server::ports::chat::{EventKind, EventPayload, MessageView, StoredEvent, rfc3339};
use chemchat_server::ports::{
    EventLog, MARK_END, MARK_START, MessageSearch, SearchIndex, SearchPosition, Store, SystemClock,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn index() -> Arc<ElasticSearchIndex> {
    let url = services::search_url();
    let index = ElasticSearchIndex::connect(
        &url,
        IndexSettings {
            shards: 1,
            replicas: 0,
        },
    )
    .await
    .unwrap_or_else(|e| {
        panic!("cannot reach the search server at {url} ({e:#}); start it with `make services`")
    });
    Arc::new(index)
}

/// A message event as the store writes it.
fn event(
    tenant: &TenantId,
    conversation: ConversationId,
    message: MessageId,
    kind: &str,
    event_seq: i64,
    content: &str,
    at_ms: i64,
) -> Arc<StoredEvent> {
    let kind = EventKind::parse(kind).unwrap();
    let deleted = kind == EventKind::MessageDeleted;
    let view = MessageView {
        id: message.to_string(),
        conversation_id: conversation.to_string(),
        sender_id: "0193a5e0-0000-7000-8000-0000000000aa".into(),
        content: (!deleted).then(|| content.to_owned()),
        kind: "text".into(),
        sequence_number: event_seq,
        seq: event_seq,
        client_message_id: message.to_string(),
        timestamp: rfc3339(at_ms),
        version: 1,
        edited_at: None,
        deleted_at: deleted.then(|| rfc3339(at_ms)),
        deleted,
        reactions: Vec::new(),
        attachments: Vec::new(),
    };
    let payload = match kind {
        EventKind::MessageCreated => EventPayload::MessageCreated(view),
        EventKind::MessageUpdated => EventPayload::MessageUpdated(view),
        _ => EventPayload::MessageDeleted(view),
    };
    Arc::new(StoredEvent {
        tenant: tenant.clone(),
        id: EventId::generate(),
        conversation_id: conversation,
        event_seq,
        payload,
        created_at_ms: at_ms,
        trace: None,
    })
}

fn query(tenant: &TenantId, words: &str, conversations: &[ConversationId]) -> MessageSearch {
    MessageSearch {
        tenant: tenant.clone(),
        terms: words.split_whitespace().map(str::to_owned).collect(),
        conversations: conversations.to_vec(),
        after: None,
        limit: 20,
    }
}

async fn found(index: &dyn SearchIndex, query: &MessageSearch) -> Vec<MessageId> {
    index
        .search_messages(query)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.message_id)
        .collect()
}

/// Polls until the search returns `want` (an external index is eventually consistent).
async fn eventually(index: &dyn SearchIndex, query: &MessageSearch, want: &[MessageId]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = found(index, query).await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after 5 s {:?} found {got:?}, want {want:?}",
            query.terms
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletes_win_over_duplicates_and_late_events() {
    let index = index().await;
    let tenant = unique_tenant("search");
    let conversation = ConversationId::generate();
    let message = MessageId::generate();
    let created = event(
        &tenant,
        conversation,
        message,
        "message.created",
        2,
        "the quick brown fox",
        1_000,
    );
    let edited = event(
        &tenant,
        conversation,
        message,
        "message.updated",
        3,
        "a lazy dog sleeps",
        1_000,
    );
    index.apply(std::slice::from_ref(&created)).await.unwrap();
    let scope = [conversation];
    eventually(&*index, &query(&tenant, "quick fox", &scope), &[message]).await;

    // Highlights mark the words; stemming finds "sleeping" for "sleeps" after the edit.
    index
        .apply(&[edited.clone(), created.clone()])
        .await
        .unwrap();
    eventually(&*index, &query(&tenant, "quick", &scope), &[]).await;
    eventually(&*index, &query(&tenant, "sleeping", &scope), &[message]).await;
    let hits = index
        .search_messages(&query(&tenant, "lazy", &scope))
        .await
        .unwrap();
    assert_eq!(
        hits[0].fragments,
        [format!("a {MARK_START}lazy{MARK_END} dog sleeps")]
    );

    // Deleted: gone, and neither a duplicate of the deletion nor a late create brings it back.
    let deleted = event(
        &tenant,
        conversation,
        message,
        "message.deleted",
        4,
        "",
        1_000,
    );
    index.apply(std::slice::from_ref(&deleted)).await.unwrap();
    index.apply(&[created, edited, deleted]).await.unwrap();
    eventually(&*index, &query(&tenant, "lazy", &scope), &[]).await;
    eventually(&*index, &query(&tenant, "quick", &scope), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_given_conversations_of_the_tenant_are_searched() {
    let index = index().await;
    let (acme, globex) = (unique_tenant("acme"), unique_tenant("globex"));
    let (mine, theirs) = (ConversationId::generate(), ConversationId::generate());
    let (a, b, c) = (
        MessageId::generate(),
        MessageId::generate(),
        MessageId::generate(),
    );
    index
        .apply(&[
            event(&acme, mine, a, "message.created", 2, "launch plan", 1_000),
            event(&acme, theirs, b, "message.created", 2, "launch plan", 2_000),
            event(&globex, mine, c, "message.created", 2, "launch plan", 3_000),
        ])
        .await
        .unwrap();
    eventually(&*index, &query(&acme, "launch", &[mine]), &[a]).await;
    eventually(&*index, &query(&acme, "launch", &[mine, theirs]), &[b, a]).await;
    eventually(&*index, &query(&globex, "launch", &[theirs]), &[]).await;
    // A tenant without an index yet simply finds nothing.
    eventually(
        &*index,
        &query(&unique_tenant("empty"), "launch", &[mine]),
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_follow_the_cursor_newest_first_each_hit_once() {
    let index = index().await;
    let tenant = unique_tenant("pages");
    let conversation = ConversationId::generate();
    let events: Vec<_> = (0..45)
        .map(|i| {
            let at = 1_000 + (i / 2) * 10; // pairs share a timestamp: the id breaks the tie
            event(
                &tenant,
                conversation,
                MessageId::generate(),
                "message.created",
                i + 2,
                "status report",
                at,
            )
        })
        .collect();
    index.apply(&events).await.unwrap();
    let mut all = query(&tenant, "report", &[conversation]);
    all.limit = 100;
    let deadline = Instant::now() + Duration::from_secs(5);
    while found(&*index, &all).await.len() < 45 {
        assert!(Instant::now() < deadline, "not all 45 indexed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut seen: Vec<SearchPosition> = Vec::new();
    let mut page = query(&tenant, "report", &[conversation]);
    loop {
        let hits = index.search_messages(&page).await.unwrap();
        if hits.is_empty() {
            break;
        }
        page.after = hits.last().map(|h| h.position);
        seen.extend(hits.iter().map(|h| h.position));
    }
    assert_eq!(seen.len(), 45);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "strictly newest first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_indexer_reads_the_text_from_the_store_and_ignores_duplicates() {
    let index = index().await;
    let tenant = unique_tenant("indexer");
    let log = Arc::new(
        KafkaEventLog::connect(KafkaSettings {
            brokers: services::kafka_brokers(),
            tenant: Some(tenant.to_string()),
            topic: TopicSettings::default(),
        })
        .await
        .unwrap_or_else(|e| {
            panic!("cannot reach the Kafka broker ({e:#}); start it with `make services`")
        }),
    );
    let db = TestDb::new(Engine::Sqlite).await;
    let sql = db.store().await;
    sql.upsert_tenant(&crate::support::tenant(tenant.as_str(), Tier::Enterprise))
        .await
        .unwrap();
    let user = store_user(&sql, tenant.as_str(), "writer").await;
    let conversation = store_group(&sql, tenant.as_str(), user, &[]).await;
    let mut new = new_message(conversation, user, "k1");
    new.content = "quarterly numbers".into();
    let message = store_message(&sql, tenant.as_str(), &new).await.id;
    let store: Arc<dyn Store> = Arc::new(sql);
    let relay = OutboxRelay::new(
        Arc::clone(&store),
        log.clone(),
        Arc::new(SystemClock),
        Arc::default(),
    );
    let indexer = tokio::spawn(
        SearchIndexer::new(Arc::clone(&store), log.clone(), index.clone())
            .start()
            .await,
    );
    relay.drain().await.unwrap();
    let scope = [conversation];
    let deadline = Duration::from_secs(40); // the first group join takes a while on tansu
    let started = Instant::now();
    while found(&*index, &query(&tenant, "quarterly", &scope))
        .await
        .is_empty()
    {
        assert!(
            started.elapsed() < deadline,
            "the indexer never indexed the message"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let edit = MessageEditRequest {
        id: message,
        editor: user,
        content: "yearly numbers".into(),
        expected_version: None,
        at_ms: 3_000,
    };
    store.edit_message(&tenant, &edit).await.unwrap();
    relay.drain().await.unwrap();
    // The relay re-ships after a crash: the creation again, as the log carries it (no text).
    let created = event(
        &tenant,
        conversation,
        message,
        "message.created",
        2,
        "",
        2_000,
    );
    log.publish(&[created.without_text()]).await.unwrap();
    eventually(&*index, &query(&tenant, "yearly", &scope), &[message]).await;
    eventually(&*index, &query(&tenant, "quarterly", &scope), &[]).await;
    indexer.abort();
}

//! The chat store on both engines: gap-free seqs under concurrency, idempotent sends, paging,
//! sync, the outbox relay, tenant isolation.

use crate::support::store::{
    new_message, store, store_group, store_message, store_send, store_user,
};
use crate::support::{Engine, t};
use chemchat_server::adapters::events::InProcessEventLog;
use chemchat_server::adapters::sql::SqlStore;
use chemchat_server::app::chat::OutboxRelay;
use chemchat_server::domain::{ConversationId, UserId};
use chemchat_server::ports::chat::{
    DailyQuota, EventPayload, HistoryPage, ReactionChange, SendOutcome, StoredEvent, SyncPosition,
};
use chemchat_server::ports::{
    ChatStore, CommitListener, Delivery, EventConsumer, EventLog, EventLogError, Store, SystemClock,
};
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Reads the whole history forwards, 100 at a time.
async fn all_seqs(
    store: &impl ChatStore,
    conversation: ConversationId,
    viewer: UserId,
) -> Vec<i64> {
    tenant_seqs(store, "acme", conversation, viewer).await
}

/// [`all_seqs`] in `tenant`.
async fn tenant_seqs(
    store: &impl ChatStore,
    tenant: &str,
    conversation: ConversationId,
    viewer: UserId,
) -> Vec<i64> {
    let mut seqs = Vec::new();
    let mut page = HistoryPage::After(0);
    loop {
        let batch = store
            .messages(&t(tenant), conversation, viewer, page, 100)
            .await
            .unwrap()
            .expect("member");
        let Some(last) = batch.last() else { break };
        page = HistoryPage::After(last.seq);
        seqs.extend(batch.iter().map(|m| m.seq));
    }
    seqs
}

async fn fifty_concurrent_senders_get_gap_free_seqs(engine: Engine) {
    let (_db, store) = store(engine).await;
    let owner = store_user(&store, "acme", "owner").await;
    let mut senders = Vec::new();
    for i in 0..50 {
        senders.push(store_user(&store, "acme", &format!("sender{i}")).await);
    }
    let conversation = store_group(&store, "acme", owner, &senders).await;
    const EACH: usize = 4;
    let mut tasks = Vec::new();
    for (i, sender) in senders.iter().copied().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for k in 0..EACH {
                seqs.push(store_send(&store, conversation, sender, &format!("{i}-{k}")).await);
            }
            seqs
        }));
    }
    let mut returned = Vec::new();
    for task in tasks {
        returned.extend(task.await.unwrap());
    }
    returned.sort_unstable();
    let n = i64::try_from(50 * EACH).unwrap();
    assert_eq!(returned, (1..=n).collect::<Vec<_>>(), "seqs handed out");
    assert_eq!(
        all_seqs(&store, conversation, owner).await,
        (1..=n).collect::<Vec<_>>()
    );
    // The event log is gap-free too: the creation event, then one per message.
    let page = store
        .sync(&t("acme"), owner, &SyncPosition::new(), 1000)
        .await
        .unwrap();
    let event_seqs: Vec<i64> = page.events.iter().map(|e| e.event_seq).collect();
    assert_eq!(event_seqs, (1..=n + 1).collect::<Vec<_>>());
}
both_engines!(
    concurrent_senders,
    fifty_concurrent_senders_get_gap_free_seqs
);

async fn the_same_client_message_id_twenty_times_stores_one_message(engine: Engine) {
    let (_db, store) = store(engine).await;
    let sender = store_user(&store, "acme", "sender").await;
    let conversation = store_group(&store, "acme", sender, &[]).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let message = new_message(conversation, sender, "retry-me");
            store
                .send_message(&t("acme"), &message, None)
                .await
                .unwrap()
        }));
    }
    let mut sent = 0;
    let mut ids = HashSet::new();
    for task in tasks {
        match task.await.unwrap() {
            SendOutcome::Sent(m) => {
                sent += 1;
                ids.insert((m.id, m.seq));
            }
            SendOutcome::Duplicate(m) => {
                ids.insert((m.id, m.seq));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(sent, 1, "exactly one send stores");
    assert_eq!(ids.len(), 1, "every retry sees the original: {ids:?}");
    assert_eq!(all_seqs(&store, conversation, sender).await, vec![1]);
    // The next message still gets seq 2: the duplicates consumed no seq.
    assert_eq!(store_send(&store, conversation, sender, "next").await, 2);
}
both_engines!(
    idempotent_send,
    the_same_client_message_id_twenty_times_stores_one_message
);

/// Text that means something to SQL — quotes, backslashes, a quote after a backslash, dollar
/// quotes, a statement of its own — is stored and read back as it was sent by a batch of sends,
/// and found again as a retry's twin.
async fn text_that_means_something_to_sql_is_stored_as_sent(engine: Engine) {
    let (_db, store) = store(engine).await;
    let sender = store_user(&store, "acme", "sender").await;
    let conversation = store_group(&store, "acme", sender, &[]).await;
    let texts = [
        "it's",
        r"back\slash",
        r"\'); DROP TABLE messages; --",
        "'); DELETE FROM messages; --",
        "$$ dollar $tag$ quotes $$",
        "E'escape' \\x41 \\u0041 \\\\ \n line \t tab",
        "ünïcødé ✓ 💬 \u{7f}",
    ];
    let messages: Vec<_> = texts
        .iter()
        .map(|text| {
            let mut message = new_message(conversation, sender, text);
            message.content = (*text).to_owned();
            message
        })
        .collect();
    // Sent together, so that they share batches.
    let mut tasks = Vec::new();
    for message in messages.clone() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .send_message(&t("acme"), &message, None)
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        assert!(matches!(task.await.unwrap(), SendOutcome::Sent(_)));
    }
    let stored = store
        .messages(&t("acme"), conversation, sender, HistoryPage::After(0), 100)
        .await
        .unwrap()
        .expect("member");
    let mut read: Vec<(String, Option<String>)> = stored
        .iter()
        .map(|m| (m.client_message_id.clone(), m.content.clone()))
        .collect();
    read.sort();
    let mut sent: Vec<(String, Option<String>)> = texts
        .iter()
        .map(|text| ((*text).to_owned(), Some((*text).to_owned())))
        .collect();
    sent.sort();
    assert_eq!(read, sent);
    for message in &messages {
        let mut retry = message.clone();
        retry.id = chemchat_server::domain::MessageId::generate();
        match store.send_message(&t("acme"), &retry, None).await.unwrap() {
            SendOutcome::Duplicate(original) => assert_eq!(original.id, message.id),
            other => panic!("a retry of {:?}: {other:?}", message.client_message_id),
        }
    }
}
both_engines!(
    sql_text_stored_as_sent,
    text_that_means_something_to_sql_is_stored_as_sent
);

/// Concurrent sends are committed in batches; each send still gets its own answer: a stranger
/// is refused, twins repeat the first, the daily quota stops exactly at its maximum, and every
/// conversation's seqs stay gap-free.
async fn a_mixed_burst_answers_each_send_for_itself(engine: Engine) {
    let (_db, store) = store(engine).await;
    let owner = store_user(&store, "acme", "owner").await;
    let stranger = store_user(&store, "acme", "stranger").await;
    let rooms = [
        store_group(&store, "acme", owner, &[]).await,
        store_group(&store, "acme", owner, &[]).await,
        store_group(&store, "acme", owner, &[]).await,
    ];
    let quota = DailyQuota { max: 40, day: 0 };
    let mut tasks = Vec::new();
    for i in 0..60 {
        let store = store.clone();
        let room = rooms[i % 3];
        // Every fifth send repeats the key of the one before it in the same room.
        let key = if i % 5 == 4 { i - 3 } else { i };
        let sender = if i == 7 { stranger } else { owner };
        tasks.push(tokio::spawn(async move {
            let message = new_message(room, sender, &format!("k{key}"));
            let outcome = store.send_message(&t("acme"), &message, Some(quota)).await;
            (i, outcome.unwrap())
        }));
    }
    let (mut sent, mut refused) = (Vec::new(), 0);
    for task in tasks {
        match task.await.unwrap() {
            (7, outcome) => assert!(matches!(outcome, SendOutcome::NotFound), "{outcome:?}"),
            (_, SendOutcome::Sent(m)) => sent.push(m),
            (_, SendOutcome::Duplicate(m)) => assert!(m.content.is_some()),
            (_, SendOutcome::QuotaExceeded) => refused += 1,
            (i, other) => panic!("send {i}: {other:?}"),
        }
    }
    assert_eq!(sent.len(), 40, "the quota's messages, no more, no fewer");
    assert!(refused > 0);
    for room in rooms {
        let mut seqs: Vec<i64> = sent
            .iter()
            .filter(|m| m.conversation_id == room)
            .map(|m| m.seq)
            .collect();
        seqs.sort_unstable();
        let expected: Vec<i64> = (1..=i64::try_from(seqs.len()).unwrap()).collect();
        assert_eq!(seqs, expected);
        assert_eq!(all_seqs(&store, room, owner).await, expected);
    }
}
both_engines!(mixed_burst, a_mixed_burst_answers_each_send_for_itself);

async fn paging_over_a_thousand_messages_returns_each_once(engine: Engine) {
    let (_db, store) = store(engine).await;
    let sender = store_user(&store, "acme", "sender").await;
    let conversation = store_group(&store, "acme", sender, &[]).await;
    for i in 0..1000 {
        store_send(&store, conversation, sender, &format!("m{i}")).await;
    }
    let all: Vec<i64> = (1..=1000).collect();
    // Forwards, with a page size that does not divide 1 000.
    let mut forwards = Vec::new();
    let mut after = 0;
    loop {
        let page = store
            .messages(
                &t("acme"),
                conversation,
                sender,
                HistoryPage::After(after),
                97,
            )
            .await
            .unwrap()
            .unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        forwards.extend(page.iter().map(|m| m.seq));
    }
    assert_eq!(forwards, all);
    // Backwards from the latest page; each page is itself in seq order.
    let mut backwards = Vec::new();
    let mut page_request = HistoryPage::Latest;
    loop {
        let page = store
            .messages(&t("acme"), conversation, sender, page_request, 100)
            .await
            .unwrap()
            .unwrap();
        let Some(first) = page.first() else { break };
        assert!(
            page.windows(2).all(|w| w[0].seq < w[1].seq),
            "page in seq order"
        );
        page_request = HistoryPage::Before(first.seq);
        backwards.splice(0..0, page.iter().map(|m| m.seq));
    }
    assert_eq!(backwards, all);
}
both_engines!(
    history_paging,
    paging_over_a_thousand_messages_returns_each_once
);

async fn sync_after_two_hundred_missed_events_returns_exactly_those(engine: Engine) {
    let (_db, store) = store(engine).await;
    let reader = store_user(&store, "acme", "reader").await;
    let writer = store_user(&store, "acme", "writer").await;
    let first = store_group(&store, "acme", writer, &[reader]).await;
    let second = store_group(&store, "acme", writer, &[reader]).await;
    let since = store.sync_position(&t("acme"), reader).await.unwrap();

    // 200 events while the reader is away: 120 messages, 50 reactions, 30 edits.
    let mut ids = Vec::new();
    for i in 0..120 {
        let conversation = if i % 2 == 0 { first } else { second };
        let message = new_message(conversation, writer, &format!("k{i}"));
        let SendOutcome::Sent(m) = store
            .send_message(&t("acme"), &message, None)
            .await
            .unwrap()
        else {
            panic!("not sent")
        };
        ids.push(m.id);
    }
    for id in &ids[..50] {
        store
            .set_reaction(
                &t("acme"),
                *id,
                writer,
                "👍",
                ReactionChange::Add { max_distinct: 20 },
                3_000,
            )
            .await
            .unwrap();
    }
    for id in &ids[50..80] {
        let edit = chemchat_server::ports::chat::MessageEditRequest {
            id: *id,
            editor: writer,
            content: "edited".into(),
            expected_version: None,
            at_ms: 4_000,
        };
        store.edit_message(&t("acme"), &edit).await.unwrap();
    }

    let mut position = since;
    let mut seen = Vec::new();
    loop {
        let page = store.sync(&t("acme"), reader, &position, 64).await.unwrap();
        seen.extend(
            page.events
                .iter()
                .map(|e| (e.conversation_id, e.event_seq, e.kind().as_str())),
        );
        position = page.position;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(seen.len(), 200, "exactly the missed events");
    let unique: HashSet<_> = seen.iter().map(|(c, s, _)| (*c, *s)).collect();
    assert_eq!(unique.len(), 200, "nothing twice");
    let count = |kind: &str| seen.iter().filter(|(_, _, k)| *k == kind).count();
    assert_eq!(
        (
            count("message.created"),
            count("reaction.added"),
            count("message.updated")
        ),
        (120, 50, 30)
    );
    // Caught up: nothing more, and the position stays put.
    let again = store.sync(&t("acme"), reader, &position, 64).await.unwrap();
    assert!(again.events.is_empty() && !again.has_more);
    assert_eq!(again.position, position);
}
both_engines!(
    sync_missed_events,
    sync_after_two_hundred_missed_events_returns_exactly_those
);

async fn the_relay_ships_every_event_once_to_subscribers(engine: Engine) {
    let (_db, store) = store(engine).await;
    let user = store_user(&store, "acme", "user").await;
    let conversation = store_group(&store, "acme", user, &[]).await;
    let other = store_user(&store, "globex", "other").await;
    let foreign = store_group(&store, "globex", other, &[]).await;
    for i in 0..5 {
        store_send(&store, conversation, user, &format!("m{i}")).await;
    }
    let store: Arc<dyn Store> = Arc::new(store);
    let log = Arc::new(InProcessEventLog::new());
    let mut stream = log.subscribe();
    let relay = OutboxRelay::new(
        Arc::clone(&store),
        log.clone(),
        Arc::new(SystemClock),
        Arc::default(),
    );
    // Both tenants' events: 1 + 5 for acme, 1 for globex.
    assert_eq!(relay.drain().await.unwrap(), 7);
    assert_eq!(relay.drain().await.unwrap(), 0, "marked as published");
    let mut per_conversation: Vec<(ConversationId, i64)> = Vec::new();
    for _ in 0..7 {
        let Some(Delivery::Event(event)) = stream.next().await else {
            panic!("missing event")
        };
        per_conversation.push((event.conversation_id, event.event_seq));
    }
    let acme: Vec<i64> = per_conversation
        .iter()
        .filter(|(c, _)| *c == conversation)
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(acme, vec![1, 2, 3, 4, 5, 6], "in order per conversation");
    assert!(per_conversation.contains(&(foreign, 1)));
}
both_engines!(
    outbox_relay,
    the_relay_ships_every_event_once_to_subscribers
);

/// A claim says when it stopped at a limit (events per claim; on PostgreSQL also conversations
/// per claim, 64), and the relay claims again only then: one round ships past both limits.
async fn a_claim_says_when_it_stopped_at_a_limit(engine: Engine) {
    let (_db, store) = store(engine).await;
    let user = store_user(&store, "acme", "user").await;
    let conversation = store_group(&store, "acme", user, &[]).await;
    for i in 0..4 {
        store_send(&store, conversation, user, &format!("m{i}")).await;
    }
    // Five events wait.
    let claim = store.claim_outbox(3).await.unwrap();
    assert_eq!(claim.events().len(), 3);
    assert!(claim.reached_limit(), "three of five");
    claim.shipped().await.unwrap();
    let claim = store.claim_outbox(3).await.unwrap();
    assert_eq!(claim.events().len(), 2);
    assert!(!claim.reached_limit(), "the last two");
    claim.shipped().await.unwrap();

    // Seventy conversations with one event each: more than a PostgreSQL claim locks at once.
    for _ in 0..70 {
        store_group(&store, "acme", user, &[]).await;
    }
    assert_eq!(
        relay_of(&store).drain().await.unwrap(),
        70,
        "past the limit in one drain"
    );
    assert!(store.claim_outbox(500).await.unwrap().events().is_empty());

    // Seventy more, claimed once. (A claim dropped unmarked would keep its conversations locked
    // until its connection is next used, so this one is marked.)
    for _ in 0..70 {
        store_group(&store, "acme", user, &[]).await;
    }
    let claim = store.claim_outbox(500).await.unwrap();
    match engine {
        Engine::Postgres => {
            assert_eq!(claim.events().len(), 64);
            assert!(claim.reached_limit(), "stopped at 64 conversations");
        }
        Engine::Sqlite => {
            assert_eq!(claim.events().len(), 70);
            assert!(!claim.reached_limit());
        }
    }
    claim.shipped().await.unwrap();
}
both_engines!(claim_limits, a_claim_says_when_it_stopped_at_a_limit);

/// An event log that commits one more message while it publishes its first batch, as a stream
/// of sends does during a relay's round trips.
#[derive(Debug)]
struct SendsWhilePublishing {
    log: InProcessEventLog,
    store: SqlStore,
    conversation: ConversationId,
    sender: UserId,
    sent: AtomicBool,
}

#[async_trait::async_trait]
impl EventLog for SendsWhilePublishing {
    async fn publish(&self, events: &[StoredEvent]) -> Result<(), EventLogError> {
        if !self.sent.swap(true, Ordering::SeqCst) {
            store_send(&self.store, self.conversation, self.sender, "meanwhile").await;
        }
        self.log.publish(events).await
    }

    async fn consumer(&self, purpose: &str) -> Result<Box<dyn EventConsumer>, EventLogError> {
        self.log.consumer(purpose).await
    }
}

/// A round does not claim again for what was committed during it: that waits for the next
/// round (which the commit's wake-up starts), so a steady stream is not shipped a few events
/// per claim.
async fn a_drain_leaves_what_was_committed_during_it_for_the_next_round(engine: Engine) {
    let (_db, store) = store(engine).await;
    let user = store_user(&store, "acme", "user").await;
    let conversation = store_group(&store, "acme", user, &[]).await;
    for i in 0..3 {
        store_send(&store, conversation, user, &format!("m{i}")).await;
    }
    let log = SendsWhilePublishing {
        log: InProcessEventLog::new(),
        store: store.clone(),
        conversation,
        sender: user,
        sent: AtomicBool::new(false),
    };
    let relay = OutboxRelay::new(
        Arc::new(store),
        Arc::new(log),
        Arc::new(SystemClock),
        Arc::default(),
    );
    assert_eq!(
        relay.drain().await.unwrap(),
        4,
        "the group's event and three messages"
    );
    assert_eq!(
        relay.drain().await.unwrap(),
        1,
        "the message sent meanwhile"
    );
    assert_eq!(relay.drain().await.unwrap(), 0);
}
both_engines!(
    drain_rounds,
    a_drain_leaves_what_was_committed_during_it_for_the_next_round
);

async fn nothing_crosses_tenants(engine: Engine) {
    let (_db, store) = store(engine).await;
    let user = store_user(&store, "acme", "user").await;
    let conversation = store_group(&store, "acme", user, &[]).await;
    store_send(&store, conversation, user, "a").await;
    // The same user id asked through another tenant sees nothing.
    let globex = t("globex");
    assert_eq!(
        store
            .conversation(&globex, conversation, user)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .messages(&globex, conversation, user, HistoryPage::Latest, 10)
            .await
            .unwrap(),
        None
    );
    let message = new_message(conversation, user, "b");
    assert_eq!(
        store.send_message(&globex, &message, None).await.unwrap(),
        SendOutcome::NotFound
    );
    assert!(store.sync_position(&globex, user).await.unwrap().is_empty());
}
both_engines!(tenant_isolation, nothing_crosses_tenants);

/// The threads of this process named `name` (each test is a process of its own under nextest,
/// which `make test` runs).
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}

/// A send after `close` is answered with an error at once, not left waiting for a writer that is
/// gone; and `close` has stopped the thread the batches ran on.
async fn a_send_after_close_is_refused_at_once(engine: Engine) {
    let (_db, store) = store(engine).await;
    assert_eq!(
        threads_named("chemchat-sends"),
        0,
        "started by the first send"
    );
    let owner = store_user(&store, "acme", "owner").await;
    let conversation = store_group(&store, "acme", owner, &[]).await;
    let first = new_message(conversation, owner, "before");
    assert!(matches!(
        store.send_message(&t("acme"), &first, None).await,
        Ok(SendOutcome::Sent(_))
    ));
    assert_eq!(threads_named("chemchat-sends"), 1);
    assert!(
        threads_named("chemchat-fanout") >= 1,
        "the batch was delivered on the thread's blocking pool"
    );
    store.close().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let running = || threads_named("chemchat-sends") + threads_named("chemchat-fanout");
    while running() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(threads_named("chemchat-sends"), 0, "close stops the thread");
    assert_eq!(
        threads_named("chemchat-fanout"),
        0,
        "and its delivery threads"
    );
    let late = new_message(conversation, owner, "after");
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.send_message(&t("acme"), &late, None),
    )
    .await
    .expect("answered, not left waiting");
    assert!(answer.is_err(), "{answer:?}");
}
both_engines!(send_after_close, a_send_after_close_is_refused_at_once);

/// The send queue keeps the writer's connection while sends keep coming: other writes still get
/// the writer between its batches, and `close` (which waits for every connection the pool lent)
/// returns once the sends are answered.
async fn a_stream_of_sends_leaves_the_writer_to_other_writes_and_to_close(engine: Engine) {
    let (_db, store) = store(engine).await;
    let owner = store_user(&store, "acme", "owner").await;
    let mut senders = Vec::new();
    for i in 0..20 {
        senders.push(store_user(&store, "acme", &format!("streamer{i}")).await);
    }
    let conversation = store_group(&store, "acme", owner, &senders).await;
    let mut tasks = Vec::new();
    for (i, sender) in senders.iter().copied().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..30 {
                store_send(&store, conversation, sender, &format!("{i}-{k}")).await;
            }
        }));
    }
    // Writes of other kinds while the stream runs: each needs the writer's connection.
    for i in 0..5 {
        store_user(&store, "acme", &format!("newcomer{i}")).await;
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        all_seqs(&store, conversation, owner).await,
        (1..=600).collect::<Vec<_>>()
    );
    tokio::time::timeout(std::time::Duration::from_secs(10), store.close())
        .await
        .expect("close returns: no connection is left kept");
}
both_engines!(
    send_stream_shares_the_writer,
    a_stream_of_sends_leaves_the_writer_to_other_writes_and_to_close
);

/// Two tenants' streams of sends at once: their batches alternate on the writer's connection,
/// and a batch's transaction, begun with the previous batch's commit, is scoped to the tenant
/// whose sends it then carries — on PostgreSQL row-level security refuses any other.
async fn two_tenants_streams_alternate_on_the_writer(engine: Engine) {
    let (_db, store) = store(engine).await;
    let mut rooms = Vec::new();
    for tenant in ["acme", "globex"] {
        let owner = store_user(&store, tenant, "owner").await;
        let mut senders = Vec::new();
        for i in 0..5 {
            senders.push(store_user(&store, tenant, &format!("streamer{i}")).await);
        }
        let conversation = store_group(&store, tenant, owner, &senders).await;
        rooms.push((tenant, owner, conversation, senders));
    }
    let mut tasks = Vec::new();
    for (tenant, _, conversation, senders) in &rooms {
        for (i, sender) in senders.iter().copied().enumerate() {
            let (store, tenant, conversation) = (store.clone(), t(tenant), *conversation);
            tasks.push(tokio::spawn(async move {
                for k in 0..20 {
                    let message = new_message(conversation, sender, &format!("{i}-{k}"));
                    let sent = store.send_message(&tenant, &message, None).await;
                    assert!(matches!(sent, Ok(SendOutcome::Sent(_))), "{sent:?}");
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    for (tenant, owner, conversation, _) in &rooms {
        assert_eq!(
            tenant_seqs(&store, tenant, *conversation, *owner).await,
            (1..=100).collect::<Vec<_>>()
        );
    }
}
both_engines!(
    two_tenants_streams,
    two_tenants_streams_alternate_on_the_writer
);

/// Sends and reactions in one conversation at once: both take the conversation's next event
/// numbers, the sends in batches on the writer's connection, the reactions on others. The batch
/// holds the conversation locked from its read to its commit (on PostgreSQL its read locks it),
/// so every operation succeeds and the event log stays gap-free; a batch that read the counters
/// unlocked would write an event number a reaction took meanwhile.
async fn sends_and_reactions_at_once_number_events_without_gaps(engine: Engine) {
    let (_db, store) = store(engine).await;
    let owner = store_user(&store, "acme", "owner").await;
    let mut members = Vec::new();
    for i in 0..10 {
        members.push(store_user(&store, "acme", &format!("member{i}")).await);
    }
    let conversation = store_group(&store, "acme", owner, &members).await;
    let target = store_message(&store, "acme", &new_message(conversation, owner, "target"))
        .await
        .id;
    const EACH: usize = 20;
    const EMOJI: [&str; 4] = ["👍", "🎉", "👀", "🚀"];
    let mut tasks = Vec::new();
    for (i, member) in members.iter().copied().enumerate() {
        let sending = store.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..EACH {
                store_send(&sending, conversation, member, &format!("{i}-{k}")).await;
            }
        }));
        let reacting = store.clone();
        tasks.push(tokio::spawn(async move {
            for emoji in EMOJI {
                let change = ReactionChange::Add { max_distinct: 20 };
                reacting
                    .set_reaction(&t("acme"), target, member, emoji, change, 3_000)
                    .await
                    .expect("a reaction beside the sends");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let page = store
        .sync(&t("acme"), owner, &SyncPosition::new(), 1000)
        .await
        .unwrap();
    let event_seqs: Vec<i64> = page.events.iter().map(|e| e.event_seq).collect();
    // The creation, the target, every send and every reaction, each numbered once.
    let n = i64::try_from(2 + members.len() * (EACH + EMOJI.len())).unwrap();
    assert_eq!(event_seqs, (1..=n).collect::<Vec<_>>());
}
both_engines!(
    sends_beside_reactions,
    sends_and_reactions_at_once_number_events_without_gaps
);

/// Records the messages whose `message.created` the store handed to its listener.
#[derive(Debug, Default)]
struct Heard(Mutex<Vec<String>>);

impl CommitListener for Heard {
    fn committed(&self, events: &[StoredEvent]) {
        let mut heard = self.0.lock().unwrap();
        for event in events {
            if let EventPayload::MessageCreated(message) = &event.payload {
                heard.push(message.id.clone());
            }
        }
    }
}

/// Sends whose callers give up at every point of their batch (queued, reading, writing,
/// committing) leave nothing half-done: the writer takes the next batches and other writes, the
/// sends that did commit are numbered without gaps, and a retry under the same key finds them.
/// sqlx cannot roll back a transaction whose `BEGIN` was cut short, so no batch may be cut short
/// with its connection handed back inside one (`send_thread.rs`). And each committed message
/// reaches the fan-out once, at its commit, even when nobody waits for its batch any more.
async fn sends_abandoned_mid_batch_leave_the_writer_whole(engine: Engine) {
    const ABANDONED: u64 = 240;
    let (_db, store) = store(engine).await;
    let heard = Arc::new(Heard::default());
    let store = store.with_listener(heard.clone());
    let owner = store_user(&store, "acme", "owner").await;
    let conversation = store_group(&store, "acme", owner, &[]).await;
    let tenant = t("acme");
    for k in 0..ABANDONED {
        let message = new_message(conversation, owner, &format!("abandoned-{k}"));
        {
            let send = store.send_message(&tenant, &message, None);
            tokio::pin!(send);
            // Polled for a while that grows with k (0 to 3 ms: a batch's whole life on either
            // engine), then dropped wherever it stands.
            let until = std::time::Instant::now() + std::time::Duration::from_nanos(12_500 * k);
            while std::time::Instant::now() < until {
                if futures::poll!(send.as_mut()).is_ready() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        // A write of another kind right after: a transaction left open on the writer's
        // connection would refuse it (or hold it past the busy timeout).
        store_user(&store, "acme", &format!("bystander{k}")).await;
    }
    // Whatever was abandoned, the writer serves a send and another write at once.
    let after = new_message(conversation, owner, "after");
    let sent = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.send_message(&tenant, &after, None),
    )
    .await
    .expect("the writer is free");
    assert!(matches!(sent, Ok(SendOutcome::Sent(_))), "{sent:?}");
    store_user(&store, "acme", "newcomer").await;
    // The abandoned sends that committed are there once each, numbered without gaps; a retry
    // of each abandoned send stores it or returns the stored one.
    let committed = all_seqs(&store, conversation, owner).await;
    assert_eq!(committed, (1..=committed.len() as i64).collect::<Vec<_>>());
    for k in 0..ABANDONED {
        let message = new_message(conversation, owner, &format!("abandoned-{k}"));
        let retried = store.send_message(&tenant, &message, None).await;
        assert!(
            matches!(
                retried,
                Ok(SendOutcome::Sent(_) | SendOutcome::Duplicate(_))
            ),
            "{retried:?}"
        );
    }
    assert_eq!(
        all_seqs(&store, conversation, owner).await,
        (1..=ABANDONED as i64 + 1).collect::<Vec<_>>()
    );
    let heard = heard.0.lock().unwrap().clone();
    let distinct: HashSet<&String> = heard.iter().collect();
    assert_eq!(
        (heard.len(), distinct.len()),
        (ABANDONED as usize + 1, ABANDONED as usize + 1),
        "every message reaches the listener once"
    );
}
both_engines!(
    abandoned_sends,
    sends_abandoned_mid_batch_leave_the_writer_whole
);

/// Sends to many conversations at once share batches, and each batch is handed to the fan-out
/// one conversation at a time, by a caller of that conversation: every send is acknowledged
/// only after its message reached the listener, and each message reaches it once.
async fn sends_to_many_conversations_are_acknowledged_after_the_fanout_has_them(engine: Engine) {
    const CONVERSATIONS: usize = 4;
    const SENDERS: usize = 5;
    const EACH: usize = 20;
    let (_db, store) = store(engine).await;
    let heard = Arc::new(Heard::default());
    let store = store.with_listener(heard.clone());
    let owner = store_user(&store, "acme", "owner").await;
    let mut tasks = Vec::new();
    for c in 0..CONVERSATIONS {
        let mut senders = Vec::new();
        for s in 0..SENDERS {
            senders.push(store_user(&store, "acme", &format!("sender{c}x{s}")).await);
        }
        let conversation = store_group(&store, "acme", owner, &senders).await;
        for sender in senders {
            let (store, heard) = (store.clone(), heard.clone());
            tasks.push(tokio::spawn(async move {
                for k in 0..EACH {
                    let message = new_message(conversation, sender, &format!("{c}-{k}"));
                    match store.send_message(&t("acme"), &message, None).await {
                        Ok(SendOutcome::Sent(sent)) => assert!(
                            heard.0.lock().unwrap().contains(&sent.id.to_string()),
                            "acknowledged before the fan-out had it"
                        ),
                        other => panic!("{other:?}"),
                    }
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let heard = heard.0.lock().unwrap().clone();
    let distinct: HashSet<&String> = heard.iter().collect();
    let total = CONVERSATIONS * SENDERS * EACH;
    assert_eq!((heard.len(), distinct.len()), (total, total));
}
both_engines!(
    sends_to_many_conversations,
    sends_to_many_conversations_are_acknowledged_after_the_fanout_has_them
);

/// Two of PostgreSQL's row counters of `table` (`columns`, from `pg_stat_user_tables`), once the
/// first has reached `at_least` or 20 s have passed. Closes `store` first: a backend reports its
/// table statistics when it ends at the latest.
async fn table_counts(
    store: SqlStore,
    url: &str,
    table: &str,
    columns: &str,
    at_least: i64,
) -> (i64, i64) {
    store.close().await;
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    let sql = format!("SELECT {columns} FROM pg_stat_user_tables WHERE relname = '{table}'");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let counts = loop {
        let counts: (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_one(&mut admin)
            .await
            .unwrap();
        if counts.0 >= at_least || std::time::Instant::now() > deadline {
            break counts;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    admin.close().await.unwrap();
    counts
}

/// The columns of `conversations` every send batch updates.
const COUNTERS: &str = "'last_seq', 'last_event_seq', 'last_activity_at'";

/// The indexes of `conversations` that cover a column of [`COUNTERS`].
async fn indexes_covering_counters(store: &SqlStore, engine: Engine) -> Vec<String> {
    let sql = match engine {
        Engine::Sqlite => format!(
            "SELECT DISTINCT l.name FROM pragma_index_list('conversations') l, \
             pragma_index_info(l.name) i WHERE i.name IN ({COUNTERS}) ORDER BY 1"
        ),
        Engine::Postgres => format!(
            "SELECT DISTINCT i.relname::text FROM pg_index x \
             JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(x.indkey) \
             WHERE c.relname = 'conversations' AND c.relnamespace = 'public'::regnamespace \
             AND a.attname IN ({COUNTERS}) ORDER BY 1"
        ),
    };
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .unwrap()
}

/// Every send updates its conversation's counters, so no index may cover them: on PostgreSQL
/// such an index keeps each update from being heap-only (HOT), and a conversation's row piles
/// up dead versions, each with index entries that every look-up of the conversation walks until
/// vacuum comes. On PostgreSQL the updates of twenty sends are all HOT.
async fn conversation_counters_are_updated_in_place(engine: Engine) {
    let (db, store) = store(engine).await;
    assert_eq!(
        indexes_covering_counters(&store, engine).await,
        Vec::<String>::new()
    );
    if engine == Engine::Sqlite {
        return;
    }
    const SENDS: i64 = 20;
    let owner = store_user(&store, "acme", "owner").await;
    let conversation = store_group(&store, "acme", owner, &[]).await;
    for i in 0..SENDS {
        store_send(&store, conversation, owner, &format!("k{i}")).await;
    }
    let (updated, hot) = table_counts(
        store,
        &db.url,
        "conversations",
        "n_tup_upd, n_tup_hot_upd",
        SENDS,
    )
    .await;
    assert!(
        updated >= SENDS,
        "the sends' updates are counted: {updated}"
    );
    assert_eq!(hot, updated, "every update of the counters is heap-only");
}
both_engines!(
    counters_in_place,
    conversation_counters_are_updated_in_place
);

/// A relay that ships to an in-process log, for draining by hand.
fn relay_of(store: &SqlStore) -> OutboxRelay {
    OutboxRelay::new(
        Arc::new(store.clone()),
        Arc::new(InProcessEventLog::new()),
        Arc::new(SystemClock),
        Arc::default(),
    )
}

/// Shipping an event deletes its outbox row and leaves the event as it was written: on
/// PostgreSQL `events` sees inserts only (a mark in the event's row wrote its payload a second
/// time, and with the mark's column in the outbox indexes' predicates it was never heap-only).
async fn shipping_leaves_the_event_log_as_written(engine: Engine) {
    let (db, store) = store(engine).await;
    const SENDS: i64 = 20;
    let owner = store_user(&store, "acme", "owner").await;
    let conversation = store_group(&store, "acme", owner, &[]).await;
    for i in 0..SENDS {
        store_send(&store, conversation, owner, &format!("w{i}")).await;
    }
    let waiting = store.outbox_backlog().await.unwrap();
    assert!(
        waiting > SENDS as u64,
        "the group and its sends wait: {waiting}"
    );
    assert_eq!(relay_of(&store).drain().await.unwrap() as u64, waiting);
    assert_eq!(store.outbox_backlog().await.unwrap(), 0);
    assert!(store.claim_outbox(500).await.unwrap().events().is_empty());
    let history = all_seqs(&store, conversation, owner).await;
    assert_eq!(
        history.len() as i64,
        SENDS,
        "every message still reads back"
    );
    if engine == Engine::Sqlite {
        return;
    }
    let (inserted, updated) = table_counts(
        store,
        &db.url,
        "events",
        "n_tup_ins, n_tup_upd",
        waiting as i64,
    )
    .await;
    assert!(
        inserted >= waiting as i64,
        "the inserts are counted: {inserted}"
    );
    assert_eq!(updated, 0, "no event row is written again");
}
both_engines!(
    event_log_written_once,
    shipping_leaves_the_event_log_as_written
);

/// An outbox row whose event is gone (its conversation was deleted before the relay came) is
/// claimed, has nothing to ship, and leaves the outbox with the next mark.
async fn an_outbox_row_whose_event_is_gone_leaves_unshipped(engine: Engine) {
    let (_db, store) = store(engine).await;
    let owner = store_user(&store, "acme", "owner").await;
    let kept = store_group(&store, "acme", owner, &[]).await;
    let gone = store_group(&store, "acme", owner, &[]).await;
    for i in 0..3 {
        store_send(&store, kept, owner, &format!("k{i}")).await;
        store_send(&store, gone, owner, &format!("g{i}")).await;
    }
    let mut tx = store.pool().begin().await.unwrap();
    if engine == Engine::Postgres {
        sqlx::query("SELECT set_config('chemchat.outbox_relay', 'on', true)")
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let deleted = sqlx::query("DELETE FROM events WHERE conversation_id = $1")
        .bind(gone.to_string())
        .execute(&mut *tx)
        .await
        .unwrap()
        .rows_affected();
    tx.commit().await.unwrap();
    assert_eq!(deleted, 4, "the group's creation and its three sends");
    assert_eq!(
        store.outbox_backlog().await.unwrap(),
        8,
        "their rows still wait"
    );

    let claim = store.claim_outbox(500).await.unwrap();
    let shipped: Vec<_> = claim.events().iter().map(|e| e.conversation_id).collect();
    assert_eq!(shipped, vec![kept; 4], "only the events that exist");
    claim.shipped().await.unwrap();
    assert_eq!(store.outbox_backlog().await.unwrap(), 0);
}
both_engines!(
    outbox_orphans,
    an_outbox_row_whose_event_is_gone_leaves_unshipped
);

/// A send's search entries go into the index with the send (PostgreSQL's GIN `fastupdate` off):
/// a pending list of them would be merged into the index by whichever send batch found it
/// full, and the single writer, with every send queued behind it, stalled for as long.
/// SQLite's FTS5 keeps no such list.
#[tokio::test]
async fn search_entries_with_the_send() {
    let (_db, store) = store(Engine::Postgres).await;
    // The Any driver reads no arrays: the options as one text.
    let options: Option<String> = sqlx::query_scalar(
        "SELECT array_to_string(c.reloptions, ',') FROM pg_class c \
         WHERE c.relname = 'messages_search' AND c.relnamespace = 'public'::regnamespace",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert!(
        options
            .unwrap_or_default()
            .split(',')
            .any(|option| option == "fastupdate=off"),
        "messages_search has no pending list"
    );
}

/// The send path's look-up of an earlier send with the same key (tenant, conversation, sender,
/// client id) is served by that key's unique index on a table without statistics, as a new
/// database's are until autovacuum's first analyze: the planner priced the sender's index (two
/// equal columns) like the key's (four) and took it, and each send walked its sender's whole
/// history. (Forty messages stay below autovacuum's analyze threshold of fifty rows.)
#[tokio::test]
async fn the_send_key_has_its_own_index_without_statistics() {
    let (_db, store) = store(Engine::Postgres).await;
    let sender = store_user(&store, "acme", "sender").await;
    let conversation = store_group(&store, "acme", sender, &[]).await;
    for i in 0..40 {
        store_send(&store, conversation, sender, &format!("k{i}")).await;
    }
    let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN SELECT id FROM messages WHERE tenant_id = 'acme' \
         AND conversation_id = '{conversation}' AND sender_id = '{sender}' \
         AND client_message_id = 'k40' LIMIT 1"
    )))
    .fetch_all(store.pool())
    .await
    .unwrap();
    let plan = plan.join("\n");
    assert!(
        plan.contains("messages_tenant_id_conversation_id_sender_id_client_message_key"),
        "the look-up takes the send key's index, not\n{plan}"
    );
}

/// A new PostgreSQL database gets its first statistics from the server as soon as a table
/// holds a few pages, not a minute later from autovacuum (or never, with autovacuum off): a send
/// batch's read is a prepared statement whose generic plan, made while `messages` was small and
/// never analyzed, could take the history's index and walk each conversation's history for
/// every send until something replanned it. The round analyzes `messages` once it reaches the
/// given size (here one page), which also invalidates the plans kept for it, and then reports
/// its work done.
#[tokio::test]
async fn a_new_database_gets_its_first_statistics() {
    let (_db, store) = store(Engine::Postgres).await;
    let first = store
        .first_statistics()
        .expect("PostgreSQL takes first statistics");
    let sender = store_user(&store, "acme", "sender").await;
    let conversation = store_group(&store, "acme", sender, &[]).await;
    let before = first.round(8192).await.unwrap();
    assert!(
        !before.analyzed.contains(&"messages".to_owned()) && !before.done,
        "an empty messages table waits: {before:?}"
    );
    for i in 0..40 {
        store_send(&store, conversation, sender, &format!("k{i}")).await;
    }
    let round = first.round(8192).await.unwrap();
    assert!(
        round.analyzed.contains(&"messages".to_owned()) && round.done,
        "messages analyzed once it holds a page: {round:?}"
    );
    let (analyzed, statistics): (bool, i64) = sqlx::query_as(
        "SELECT last_analyze IS NOT NULL, \
         (SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() \
          AND tablename = 'messages') \
         FROM pg_stat_user_tables WHERE relname = 'messages' AND schemaname = current_schema()",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert!(
        analyzed && statistics > 0,
        "messages has statistics ({statistics} columns)"
    );
    let again = first.round(8192).await.unwrap();
    assert!(
        again.done && !again.analyzed.contains(&"messages".to_owned()),
        "a table is analyzed once: {again:?}"
    );
}

/// Under sends that never stop, SQLite's log still starts over: when the checkpointer asks, the
/// send loop ends its chain of transactions and copies the rest of the log before the next
/// batch begins. Without that the log only grew while sends kept coming.
#[tokio::test]
async fn sqlite_log_starts_over_under_a_steady_send_load() {
    let (db, store) = store(Engine::Sqlite).await;
    let owner = store_user(&store, "acme", "owner").await;
    let conversation = store_group(&store, "acme", owner, &[]).await;
    let checkpointer = store
        .checkpointer()
        .expect("a SQLite file database has a checkpointer")
        .restarting_after(1);
    let log = db.dir.path().join("chemchat.db-wal");
    let before = log_generation(&log);
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for i in 0..32 {
        let (store, stop) = (store.clone(), Arc::clone(&stop));
        senders.push(tokio::spawn(async move {
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                store_send(&store, conversation, owner, &format!("{i}-{k}")).await;
                k += 1;
            }
        }));
    }
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        checkpointer.checkpoint().await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.await.unwrap();
    }
    let restarts = log_generation(&log).wrapping_sub(before);
    assert!(
        restarts >= 3,
        "the log started over {restarts} times in 20 checkpoints under load"
    );
}

/// How many times SQLite's log started over: the checkpoint sequence in its header.
fn log_generation(log: &Path) -> u32 {
    let header = std::fs::read(log).expect("the log exists");
    let sequence = header.get(12..16).expect("the log has its 32-byte header");
    u32::from_be_bytes(sequence.try_into().expect("four bytes"))
}

//! The built-in search index below the API, on both engines: the migration indexes messages
//! stored before it, the index names no tenant yet never answers across tenants, and (SQLite)
//! the triggers keep the FTS5 index identical to the table through edits and deletes.

use crate::support::store::{
    OrdinaryRole, new_message, store, store_group, store_message, store_user,
};
use crate::support::{Engine, TestDb, t, tenant};
use chemchat_server::adapters::sql::{self, SqlStore};
use chemchat_server::domain::{ConversationId, MessageId, Tier, UserId};
use chemchat_server::ports::chat::{MessageEditRequest, NewMessage};
use chemchat_server::ports::{ChatStore, MARK_END, MARK_START, MessageSearch, SearchIndex, Store};
use std::collections::HashSet;
use std::path::Path;

/// The migration that adds the index.
const SEARCH_MIGRATION: i64 = 20261124000003;

/// Stores `text` under a fresh key; returns the message's id.
async fn send(
    store: &SqlStore,
    tenant: &str,
    conversation: ConversationId,
    sender: UserId,
    text: &str,
) -> MessageId {
    let message = NewMessage {
        content: text.to_owned(),
        ..new_message(conversation, sender, &uuid::Uuid::new_v4().to_string())
    };
    store_message(store, tenant, &message).await.id
}

async fn found(
    store: &SqlStore,
    tenant: &str,
    conversations: &[ConversationId],
    word: &str,
) -> HashSet<MessageId> {
    let query = MessageSearch {
        tenant: t(tenant),
        terms: vec![word.to_owned()],
        conversations: conversations.to_vec(),
        after: None,
        limit: 100,
    };
    let hits = store.search_messages(&query).await.unwrap();
    for hit in &hits {
        let fragment = hit.fragments.concat();
        assert!(
            fragment.contains(MARK_START) && fragment.contains(MARK_END),
            "{hit:?}"
        );
    }
    hits.into_iter().map(|h| h.message_id).collect()
}

async fn messages_stored_before_the_migration_are_found(engine: Engine) {
    let db = TestDb::new(engine).await;
    let store = sql::connect(&db.url, 4).await.unwrap();
    let folder = match engine {
        Engine::Sqlite => "../migrations/sqlite",
        Engine::Postgres => "../migrations/postgres",
    };
    let earlier = sqlx::migrate::Migrator::new(Path::new(folder))
        .await
        .unwrap();
    earlier
        .run_to(SEARCH_MIGRATION - 1, store.pool())
        .await
        .unwrap();
    store
        .upsert_tenant(&tenant("acme", Tier::Enterprise))
        .await
        .unwrap();
    // Written as the schema of then stood (the store's statements follow the newest schema).
    let (alice, room) = old_user_and_room(&store).await;
    let kept = old_message(&store, room, alice, 1, Some("an older message")).await;
    old_message(&store, room, alice, 2, None).await;

    sql::migrate(&store).await.unwrap();
    assert_eq!(
        found(&store, "acme", &[room], "message").await,
        HashSet::from([kept])
    );
    let newer = send(&store, "acme", room, alice, "a newer message").await;
    assert_eq!(
        found(&store, "acme", &[room], "messages").await,
        HashSet::from([kept, newer])
    );
}
both_engines!(backfill, messages_stored_before_the_migration_are_found);

/// A message row of tenant `acme` as the messaging migration created the table: `None` content
/// is a tombstone. Moves the conversation's counter past it.
/// A user and a group of theirs, as the schema of the search migration's time stood.
async fn old_user_and_room(store: &SqlStore) -> (UserId, ConversationId) {
    let (alice, room) = (UserId::generate(), ConversationId::generate());
    for (sql, id) in [
        (
            "INSERT INTO users (tenant_id, id, username, email, display_name, password_hash, \
             created_at, updated_at) VALUES ('acme', $1, 'alice', 'alice@example.com', 'alice', \
             'x', 1, 1)",
            alice.to_string(),
        ),
        (
            "INSERT INTO conversations (tenant_id, id, kind, name, created_by, created_at, \
             last_activity_at) VALUES ('acme', $1, 'group', 'team', $2, 1, 1)",
            room.to_string(),
        ),
        (
            "INSERT INTO conversation_members (tenant_id, conversation_id, user_id, role, \
             joined_at) VALUES ('acme', $1, $2, 'owner', 1)",
            room.to_string(),
        ),
    ] {
        let mut query = sqlx::query(sql).bind(id);
        if sql.contains("$2") {
            query = query.bind(alice.to_string());
        }
        query.execute(store.pool()).await.unwrap();
    }
    (alice, room)
}

async fn old_message(
    store: &SqlStore,
    room: ConversationId,
    sender: UserId,
    seq: i64,
    content: Option<&str>,
) -> MessageId {
    let id = MessageId::generate();
    sqlx::query(
        "INSERT INTO messages (tenant_id, id, conversation_id, seq, sender_id, \
         client_message_id, kind, content, created_at, deleted_at) \
         VALUES ('acme', $1, $2, $3, $4, $5, 'text', $6, $7, $8)",
    )
    .bind(id.to_string())
    .bind(room.to_string())
    .bind(seq)
    .bind(sender.to_string())
    .bind(format!("old-{seq}"))
    .bind(content)
    .bind(1_000 + seq)
    .bind(content.is_none().then_some(2_000i64))
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE conversations SET last_seq = $1 WHERE id = $2")
        .bind(seq)
        .bind(room.to_string())
        .execute(store.pool())
        .await
        .unwrap();
    id
}

async fn a_search_never_crosses_tenants(engine: Engine) {
    let (_db, store) = store(engine).await;
    let alice = store_user(&store, "acme", "alice").await;
    let room = store_group(&store, "acme", alice, &[]).await;
    let id = send(&store, "acme", room, alice, "quarterly numbers").await;
    assert_eq!(
        found(&store, "acme", &[room], "quarterly").await,
        HashSet::from([id])
    );
    // Another tenant naming this conversation (a forged list) still gets nothing.
    assert_eq!(
        found(&store, "globex", &[room], "quarterly").await,
        HashSet::new()
    );
    // A conversation not in the list is not searched.
    let other = store_group(&store, "acme", alice, &[]).await;
    assert_eq!(
        found(&store, "acme", &[other], "quarterly").await,
        HashSet::new()
    );
}
both_engines!(tenants, a_search_never_crosses_tenants);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_search_runs_under_row_level_security() {
    let (db, superuser) = store(Engine::Postgres).await;
    let alice = store_user(&superuser, "acme", "alice").await;
    let room = store_group(&superuser, "acme", alice, &[]).await;
    let id = send(&superuser, "acme", room, alice, "quarterly numbers").await;
    let role = OrdinaryRole::create(&db).await;
    assert_eq!(
        found(&role.store, "acme", &[room], "quarterly").await,
        HashSet::from([id])
    );
    assert_eq!(
        found(&role.store, "globex", &[room], "quarterly").await,
        HashSet::new()
    );
    role.drop_role().await;
}

/// FTS5's own check that the index holds exactly what `messages` holds, row for row.
async fn fts5_integrity(store: &SqlStore) {
    sqlx::query("INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)")
        .execute(store.pool())
        .await
        .expect("the FTS5 index matches the messages table");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_index_stays_identical_to_the_table() {
    let (_db, store) = store(Engine::Sqlite).await;
    let alice = store_user(&store, "acme", "alice").await;
    let room = store_group(&store, "acme", alice, &[]).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(send(&store, "acme", room, alice, &format!("draft number {i}")).await);
    }
    fts5_integrity(&store).await;
    for (i, id) in ids.iter().enumerate() {
        if i % 2 == 0 {
            let edit = MessageEditRequest {
                id: *id,
                editor: alice,
                content: format!("final version {i}"),
                expected_version: None,
                at_ms: 3_000,
            };
            store.edit_message(&t("acme"), &edit).await.unwrap();
        }
        if i % 3 == 0 {
            store
                .delete_message(&t("acme"), *id, alice, 4_000)
                .await
                .unwrap();
        }
    }
    fts5_integrity(&store).await;
    let drafts = found(&store, "acme", &[room], "draft").await;
    let finals = found(&store, "acme", &[room], "final").await;
    for (i, id) in ids.iter().enumerate() {
        let deleted = i % 3 == 0;
        assert_eq!(drafts.contains(id), !deleted && i % 2 == 1, "draft {i}");
        assert_eq!(finals.contains(id), !deleted && i % 2 == 0, "final {i}");
    }
}

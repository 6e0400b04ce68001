//! The chat store below the API: a migrated store with tenants, users, groups and messages written
//! directly, and a connection that row-level security binds.

use super::{Engine, TestDb, pg_exec, services, t, tenant};
use chemchat_server::adapters::sql::{self, SqlStore};
use chemchat_server::domain::{ConversationId, ConversationKind, Role, Tier, UserId};
use chemchat_server::ports::chat::{
    ConversationCreation, Message, NewConversation, NewMessage, SendOutcome,
};
use chemchat_server::ports::{ChatStore, NewUser, Store};

/// A store on a fresh database with `tenants`.
pub async fn store_with(engine: Engine, tenants: &[(&str, Tier)]) -> (TestDb, SqlStore) {
    let db = TestDb::new(engine).await;
    let store = db.store().await;
    for (id, tier) in tenants {
        store.upsert_tenant(&tenant(id, *tier)).await.unwrap();
    }
    (db, store)
}

/// A store on a fresh database with tenants `acme` and `globex`.
pub async fn store(engine: Engine) -> (TestDb, SqlStore) {
    store_with(
        engine,
        &[("acme", Tier::Enterprise), ("globex", Tier::Enterprise)],
    )
    .await
}

/// Stores a user directly (no password hashing: these tests are about messages).
pub async fn store_user(store: &SqlStore, tenant: &str, name: &str) -> UserId {
    let id = UserId::generate();
    let user = NewUser {
        id,
        username: name.to_owned(),
        email: format!("{name}@example.com"),
        display_name: name.to_owned(),
        password_hash: "$argon2id$fake".to_owned(),
        created_at_ms: 1_000,
        role: chemchat_server::domain::TenantRole::Member,
        owner_if_first: false,
        invite: None,
    };
    store.create_user(&t(tenant), &user, None).await.unwrap();
    id
}

/// A group owned by `owner` with `members`.
pub async fn store_group(
    store: &SqlStore,
    tenant: &str,
    owner: UserId,
    members: &[UserId],
) -> ConversationId {
    let mut all = vec![(owner, Role::Owner)];
    all.extend(members.iter().map(|m| (*m, Role::Member)));
    let new = NewConversation {
        id: ConversationId::generate(),
        kind: ConversationKind::Group,
        name: Some("group".into()),
        created_by: owner,
        members: all,
        dm_key: None,
        at_ms: 1_000,
    };
    match store
        .create_conversation(&t(tenant), &new, None)
        .await
        .unwrap()
    {
        ConversationCreation::Created(c) => c.id,
        other => panic!("not created: {other:?}"),
    }
}

pub fn new_message(conversation: ConversationId, sender: UserId, key: &str) -> NewMessage {
    NewMessage {
        id: chemchat_server::domain::MessageId::generate(),
        conversation_id: conversation,
        sender_id: sender,
        client_message_id: key.to_owned(),
        kind: "text".into(),
        content: format!("message {key}"),
        attachments: Vec::new(),
        at_ms: 2_000,
    }
}

/// Sends `message` in `tenant` through the store; panics unless stored.
pub async fn store_message(store: &SqlStore, tenant: &str, message: &NewMessage) -> Message {
    match store.send_message(&t(tenant), message, None).await.unwrap() {
        SendOutcome::Sent(m) => m,
        other => panic!("not sent: {other:?}"),
    }
}

/// Sends `key` in `acme` through the store; panics unless stored; returns its seq.
pub async fn store_send(
    store: &SqlStore,
    conversation: ConversationId,
    sender: UserId,
    key: &str,
) -> i64 {
    store_message(store, "acme", &new_message(conversation, sender, key))
        .await
        .seq
}

/// A store connected as an ordinary PostgreSQL role, which row-level security binds (the test
/// suite's superuser bypasses it). Call [`OrdinaryRole::drop_role`] at the end.
pub struct OrdinaryRole {
    pub store: SqlStore,
    role: String,
    url: String,
}

impl OrdinaryRole {
    /// Creates a login role with read and write grants on `db`'s tables and connects as it.
    pub async fn create(db: &TestDb) -> Self {
        let role = format!("chemchat_rls_{}", uuid::Uuid::new_v4().simple());
        let admin = services::postgres_admin_url();
        pg_exec(&admin, &format!("CREATE ROLE {role} LOGIN")).await;
        pg_exec(
            &db.url,
            &format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"
            ),
        )
        .await;
        let (scheme, rest) = db.url.split_once("://").unwrap();
        let host = rest.split_once('@').map_or(rest, |(_, host)| host);
        let store = sql::connect(&format!("{scheme}://{role}@{host}"), 4)
            .await
            .unwrap();
        Self {
            store,
            role,
            url: db.url.clone(),
        }
    }

    /// Closes the pool and removes the role (before the database itself is dropped).
    pub async fn drop_role(self) {
        self.store.pool().close().await;
        pg_exec(&self.url, &format!("DROP OWNED BY {}", self.role)).await;
        let admin = services::postgres_admin_url();
        pg_exec(&admin, &format!("DROP ROLE {}", self.role)).await;
    }
}

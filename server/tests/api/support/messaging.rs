//! Helpers shared by the messaging and conversation tests, on top of the lead's `support`.
#![allow(dead_code)]

use crate::support::{Engine, TestDb, TestServer, tenant};
use chemchat_server::adapters::sql::{self, SqlStore};
use chemchat_server::domain::{
    ConversationId, ConversationKind, Quotas, Role, Tenant, TenantId, Tier, UserId,
};
use chemchat_server::ports::chat::{
    ConversationCreation, NewConversation, NewMessage, SendOutcome,
};
use chemchat_server::ports::{ChatStore, NewUser, Store};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A store on a fresh database with tenants `acme` and `globex`.
pub async fn store(engine: Engine) -> (TestDb, SqlStore) {
    let db = TestDb::new(engine).await;
    let store = db.store().await;
    store
        .upsert_tenant(&tenant("acme", Tier::Enterprise))
        .await
        .unwrap();
    store
        .upsert_tenant(&tenant("globex", Tier::Enterprise))
        .await
        .unwrap();
    (db, store)
}

pub fn t(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
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
        at_ms: 2_000,
    }
}

/// Sends through the store; panics unless stored.
pub async fn store_send(
    store: &SqlStore,
    conversation: ConversationId,
    sender: UserId,
    key: &str,
) -> i64 {
    match store
        .send_message(&t("acme"), &new_message(conversation, sender, key), None)
        .await
        .unwrap()
    {
        SendOutcome::Sent(m) => m.seq,
        other => panic!("not sent: {other:?}"),
    }
}

/// A registered, logged-in user of the API.
#[derive(Debug, Clone)]
pub struct ApiUser {
    pub id: String,
    pub token: String,
    pub tenant: Option<String>,
}

/// Registers and logs in `name` (in `tenant`, or the default tenant).
pub async fn api_user(server: &TestServer, tenant: Option<&str>, name: &str) -> ApiUser {
    let with_tenant = |req: reqwest::RequestBuilder| match tenant {
        Some(t) => req.header("x-tenant-id", t),
        None => req,
    };
    let (status, body) = server
        .call(
            with_tenant(server.http.post(server.url("/api/v1/auth/register"))).json(&json!({
                "username": name, "displayName": name, "email": format!("{name}@example.com"),
                "password": crate::support::PASSWORD,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, body) = server
        .call(
            with_tenant(server.http.post(server.url("/api/v1/auth/login"))).json(&json!({
                "username": name, "password": crate::support::PASSWORD, "deviceId": "test",
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    ApiUser {
        id,
        token: body["accessToken"].as_str().unwrap().to_owned(),
        tenant: tenant.map(str::to_owned),
    }
}

/// Calls the API as `user` with an optional JSON body.
pub async fn call(
    server: &TestServer,
    user: &ApiUser,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = server
        .http
        .request(method, server.url(path))
        .bearer_auth(&user.token);
    if let Some(tenant) = &user.tenant {
        req = req.header("x-tenant-id", tenant);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    server.call(req).await
}

/// Creates a group of `owner` and `members` through the API; returns its id.
pub async fn api_group(server: &TestServer, owner: &ApiUser, members: &[&ApiUser]) -> String {
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    let (status, body) = call(
        server,
        owner,
        Method::POST,
        "/api/v1/conversations",
        Some(json!({ "type": "group", "name": "team", "memberIds": ids })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Sends `content` with `key`; returns status and body.
pub async fn api_send(
    server: &TestServer,
    user: &ApiUser,
    conversation: &str,
    content: &str,
    key: &str,
) -> (StatusCode, Value) {
    call(
        server,
        user,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(json!({ "content": content, "clientMessageId": key })),
    )
    .await
}

/// Replaces a tenant's quotas.
pub async fn set_quotas(server: &TestServer, id: &str, quotas: Quotas) {
    let tenant = Tenant {
        id: t(id),
        display_name: id.to_owned(),
        tier: Tier::Enterprise,
        quotas,
    };
    server
        .db
        .store()
        .await
        .upsert_tenant(&tenant)
        .await
        .unwrap();
}

/// The engine-agnostic error check: status, documented shape, code.
pub fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(
        crate::support::error_code(status, body),
        want_code,
        "{body}"
    );
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
        let admin = crate::support::postgres_admin_url();
        pg_exec(&admin, format!("CREATE ROLE {role} LOGIN")).await;
        pg_exec(
            &db.url,
            format!(
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
        pg_exec(&self.url, format!("DROP OWNED BY {}", self.role)).await;
        let admin = crate::support::postgres_admin_url();
        pg_exec(&admin, format!("DROP ROLE {}", self.role)).await;
    }
}

/// Runs one statement on its own connection.
pub async fn pg_exec(url: &str, statement: String) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(statement))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

//! Bulk seeding straight into the tables (the use cases would take hours for a million rows):
//! multi-row inserts in large transactions. Triggers and generated columns still run, so the
//! full-text indexes are built as in production.

use super::corpus::Corpus;
use chemchat_server::adapters::sql::SqlStore;
use chemchat_server::domain::{ConversationId, EventId, MessageId, Tenant, TenantId, Tier};
use chemchat_server::ports::Store;

/// Rows per INSERT statement (well under both engines' bind limits).
const ROWS: usize = 400;
/// Statements per transaction.
const STATEMENTS: usize = 25;

/// Runs one statement on the PostgreSQL server's admin database.
pub async fn admin(url: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn tenant(store: &SqlStore, tenant: &TenantId, conversations: &[ConversationId]) {
    store
        .upsert_tenant(&Tenant {
            id: tenant.clone(),
            display_name: "bench".into(),
            tier: Tier::Enterprise,
            quotas: Tier::Enterprise.default_quotas(),
        })
        .await
        .unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    for chunk in conversations.chunks(ROWS) {
        let values = values(chunk.len(), 2, ", 'group', 'bench', 1, 1");
        let sql = format!(
            "INSERT INTO conversations (tenant_id, id, kind, created_by, created_at, \
             last_activity_at) VALUES {values}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(tenant.as_str()).bind(id.to_string());
        }
        query.execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// `($1, …, $n<suffix>), (…)` for `rows` rows of `binds` bound values followed by constants.
fn values(rows: usize, binds: usize, suffix: &str) -> String {
    (0..rows)
        .map(|r| {
            let slots: Vec<String> = (1..=binds).map(|c| format!("${}", r * binds + c)).collect();
            format!("({}{suffix})", slots.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The corpus's conversations and messages.
pub async fn messages(store: &SqlStore, corpus: &Corpus) {
    tenant(store, &corpus.tenant, &corpus.conversations).await;
    let sender = corpus.sender.to_string();
    let mut start = 0;
    while start < corpus.messages {
        let mut tx = store.pool().begin().await.unwrap();
        for _ in 0..STATEMENTS {
            let end = (start + ROWS).min(corpus.messages);
            if start >= end {
                break;
            }
            let values = values(end - start, 8, "");
            let sql = format!(
                "INSERT INTO messages (tenant_id, id, conversation_id, seq, sender_id, \
                 client_message_id, content, created_at) VALUES {values}"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for i in start..end {
                let (conversation, seq, at, text) = corpus.message(i);
                query = query
                    .bind(corpus.tenant.as_str())
                    .bind(MessageId::generate().to_string())
                    .bind(conversation.to_string())
                    .bind(seq)
                    .bind(sender.clone())
                    .bind(format!("k{i}"))
                    .bind(text)
                    .bind(at);
            }
            query.execute(&mut *tx).await.unwrap();
            start = end;
        }
        tx.commit().await.unwrap();
    }
}

/// A backlog of `events` unshipped `message.created` events over 100 conversations.
pub async fn outbox(store: &SqlStore, tenant_id: &TenantId, events: usize) {
    let conversations: Vec<ConversationId> = (0..100).map(|_| ConversationId::generate()).collect();
    tenant(store, tenant_id, &conversations).await;
    // One message's view for every event: the relay ships payloads, it does not read them, but
    // they must parse as the typed `message.created` they claim to be.
    let message = chemchat_server::ports::chat::MessageView {
        id: MessageId::generate().to_string(),
        conversation_id: conversations[0].to_string(),
        sender_id: chemchat_server::domain::UserId::generate().to_string(),
        content: Some("x".repeat(200)),
        kind: "text".into(),
        sequence_number: 1,
        seq: 1,
        client_message_id: "bench".into(),
        timestamp: "2026-12-01T00:00:00Z".into(),
        version: 1,
        ..Default::default()
    };
    let payload = serde_json::to_string(&message).unwrap();
    let mut start = 0;
    while start < events {
        let mut tx = store.pool().begin().await.unwrap();
        for _ in 0..STATEMENTS {
            let end = (start + ROWS).min(events);
            if start >= end {
                break;
            }
            let values = values(end - start, 6, ", 1");
            let sql = format!(
                "INSERT INTO events (tenant_id, conversation_id, event_seq, id, kind, payload, \
                 created_at) VALUES {values}"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for i in start..end {
                query = query
                    .bind(tenant_id.as_str())
                    .bind(conversations[i % 100].to_string())
                    .bind((i / 100) as i64 + 1)
                    .bind(EventId::generate().to_string())
                    .bind("message.created")
                    .bind(payload.clone());
            }
            query.execute(&mut *tx).await.unwrap();
            start = end;
        }
        tx.commit().await.unwrap();
    }
}

//! PostgreSQL's row-level security, seen by an ordinary role (the test suite's superuser bypasses
//! it): request transactions see only their tenant; the outbox relay alone sees every tenant.

use crate::support::store::{OrdinaryRole, store, store_group, store_send, store_user};
use crate::support::{Engine, t};
use chemchat_server::ports::ChatStore;
use chemchat_server::ports::chat::HistoryPage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_walled_off_and_the_relay_spans_them() {
    let (db, superuser) = store(Engine::Postgres).await;
    let alice = store_user(&superuser, "acme", "alice").await;
    let acme = store_group(&superuser, "acme", alice, &[]).await;
    store_send(&superuser, acme, alice, "a").await;
    let gus = store_user(&superuser, "globex", "gus").await;
    store_group(&superuser, "globex", gus, &[]).await;

    let role = OrdinaryRole::create(&db).await;
    let app = &role.store;

    // A request transaction of acme reads acme's rows; of globex, none of them.
    let page = app
        .messages(&t("acme"), acme, alice, HistoryPage::Latest, 10)
        .await
        .unwrap();
    assert_eq!(page.map(|m| m.len()), Some(1));
    let mut tx = app.pool().begin().await.unwrap();
    sqlx::query("SELECT set_config('chemchat.tenant_id', 'globex', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let visible: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        visible, 0,
        "globex sees none of acme's messages, whatever the query says"
    );
    tx.rollback().await.unwrap();
    // Writes pass the policy's check for the transaction's own tenant.
    store_send(app, acme, alice, "b").await;

    // The relay sees and marks both tenants' events.
    assert_eq!(app.outbox_backlog().await.unwrap(), 4);
    let claim = app.claim_outbox(100).await.unwrap();
    let tenants: std::collections::BTreeSet<String> = claim
        .events()
        .iter()
        .map(|e| e.tenant.to_string())
        .collect();
    assert_eq!(tenants.into_iter().collect::<Vec<_>>(), ["acme", "globex"]);
    claim.shipped().await.unwrap();
    assert!(app.claim_outbox(100).await.unwrap().events().is_empty());
    assert_eq!(app.outbox_backlog().await.unwrap(), 0);

    role.drop_role().await;
    drop(superuser);
    drop(db);
}

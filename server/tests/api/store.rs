//! Every `Store` method on both engines, each test on a fresh database.

use crate::support::store::store_with;
use crate::support::{Engine, TestDb, t, tenant};
use chemchat_server::adapters::sql::SqlStore;
use chemchat_server::domain::{AuditId, DeviceId, SessionId, TenantRole, Tier, UserId};
use chemchat_server::ports::{
    AuditEntry, MfaChange, NewSession, NewUser, Rotation, SessionScope, Store, TokenSwap,
    UserCreation,
};
use serde_json::json;

/// A store with a Pro and a Free tenant, whose quotas differ.
async fn store(engine: Engine) -> (TestDb, SqlStore) {
    store_with(engine, &[("acme", Tier::Pro), ("globex", Tier::Free)]).await
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        id: UserId::generate(),
        username: name.to_owned(),
        email: format!("{name}@example.com"),
        display_name: name.to_uppercase(),
        password_hash: "$argon2id$fake".to_owned(),
        created_at_ms: 1_700_000_000_000,
        role: TenantRole::Member,
        owner_if_first: false,
        invite: None,
    }
}

fn audit(action: &str, user: Option<UserId>, at_ms: i64) -> AuditEntry {
    AuditEntry {
        id: AuditId::generate(),
        at_ms,
        user_id: user,
        action: action.to_owned(),
        target: None,
        ip: Some("127.0.0.1".to_owned()),
        user_agent: None,
        detail: json!({ "k": "v" }),
    }
}

fn session(user: UserId, device: &str, token: &str, expires_at_ms: i64) -> NewSession {
    NewSession {
        id: SessionId::generate(),
        user_id: user,
        device_id: DeviceId::parse(device).unwrap(),
        token_id: token.to_owned(),
        created_at_ms: 1_000,
        expires_at_ms,
    }
}

fn swap<'a>(presented: &'a str, next: &'a str, now_ms: i64) -> TokenSwap<'a> {
    TokenSwap {
        presented,
        next,
        now_ms,
        expires_at_ms: 30_000,
    }
}

/// Alice in `acme`, logged in on her phone with refresh token `t1`; the session ends at 10 000 ms.
async fn alice_on_phone(store: &SqlStore) -> (NewUser, NewSession) {
    let alice = new_user("alice");
    store.create_user(&t("acme"), &alice, None).await.unwrap();
    let s = session(alice.id, "phone", "t1", 10_000);
    store
        .start_session(&t("acme"), &s, &audit("login.succeeded", Some(alice.id), 1))
        .await
        .unwrap();
    (alice, s)
}

async fn tenants_upsert_ensure_and_get(engine: Engine) {
    let (_db, store) = store(engine).await;
    assert!(store.ping().await.is_ok());
    let acme = store
        .tenant(&t("acme"))
        .await
        .unwrap()
        .expect("acme exists");
    assert_eq!(acme.tier, Tier::Pro);
    assert_eq!(acme.quotas, Tier::Pro.default_quotas());
    assert_eq!(store.tenant(&t("nobody")).await.unwrap(), None);

    // ensure keeps what is stored; upsert replaces it.
    let kept = store
        .ensure_tenant(&tenant("acme", Tier::Free))
        .await
        .unwrap();
    assert_eq!(kept.tier, Tier::Pro);
    store
        .upsert_tenant(&tenant("acme", Tier::Enterprise))
        .await
        .unwrap();
    let changed = store.tenant(&t("acme")).await.unwrap().unwrap();
    assert_eq!(changed.tier, Tier::Enterprise);
    assert_eq!(
        changed.quotas.max_users,
        Some(chemchat_crds::contract::ENTERPRISE_QUOTAS.max_users),
        "the contract's enterprise quota"
    );
    let created = store
        .ensure_tenant(&tenant("initech", Tier::Free))
        .await
        .unwrap();
    assert_eq!(created.tier, Tier::Free);
}
both_engines!(tenants, tenants_upsert_ensure_and_get);

async fn users_create_and_find(engine: Engine) {
    let (_db, store) = store(engine).await;
    let alice = new_user("alice");
    assert_eq!(
        store.create_user(&t("acme"), &alice, None).await.unwrap(),
        UserCreation::Created
    );

    let same_name = NewUser {
        email: "other@example.com".into(),
        ..new_user("alice")
    };
    assert_eq!(
        store
            .create_user(&t("acme"), &same_name, None)
            .await
            .unwrap(),
        UserCreation::UsernameTaken
    );
    let same_email = NewUser {
        email: "alice@example.com".into(),
        ..new_user("alice2")
    };
    assert_eq!(
        store
            .create_user(&t("acme"), &same_email, None)
            .await
            .unwrap(),
        UserCreation::EmailTaken
    );

    let by_id = store
        .user(&t("acme"), alice.id)
        .await
        .unwrap()
        .expect("by id");
    assert_eq!(by_id.username, "alice");
    assert_eq!(by_id.display_name, "ALICE");
    assert_eq!(by_id.mfa_secret, None);
    assert_eq!(
        store
            .user_by_login(&t("acme"), "alice")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(alice.id)
    );
    assert_eq!(
        store
            .user_by_login(&t("acme"), "alice@example.com")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(alice.id)
    );
    assert_eq!(
        store.user_by_login(&t("acme"), "nobody").await.unwrap(),
        None
    );

    // The same username in another tenant is another user, and tenants never see each other.
    assert_eq!(
        store
            .create_user(&t("globex"), &new_user("alice"), None)
            .await
            .unwrap(),
        UserCreation::Created
    );
    assert_eq!(store.user(&t("globex"), alice.id).await.unwrap(), None);
    assert_ne!(
        store
            .user_by_login(&t("globex"), "alice")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(alice.id)
    );
}
both_engines!(users, users_create_and_find);

async fn user_quota_is_enforced(engine: Engine) {
    let (_db, store) = store(engine).await;
    for name in ["u1", "u2"] {
        assert_eq!(
            store
                .create_user(&t("acme"), &new_user(name), Some(2))
                .await
                .unwrap(),
            UserCreation::Created
        );
    }
    assert_eq!(
        store
            .create_user(&t("acme"), &new_user("u3"), Some(2))
            .await
            .unwrap(),
        UserCreation::QuotaExceeded
    );
    // Another tenant's users do not count.
    assert_eq!(
        store
            .create_user(&t("globex"), &new_user("u3"), Some(2))
            .await
            .unwrap(),
        UserCreation::Created
    );
}
both_engines!(user_quota, user_quota_is_enforced);

async fn concurrent_registrations_respect_the_quota(engine: Engine) {
    let (_db, store) = store(engine).await;
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_user(&t("acme"), &new_user(&format!("user{i}")), Some(5))
                .await
                .unwrap()
        }));
    }
    let mut created = 0;
    for task in tasks {
        if task.await.unwrap() == UserCreation::Created {
            created += 1;
        }
    }
    assert_eq!(created, 5);
}
both_engines!(
    user_quota_concurrent,
    concurrent_registrations_respect_the_quota
);

async fn mfa_secret_and_totp_steps(engine: Engine) {
    let (_db, store) = store(engine).await;
    let alice = new_user("alice");
    store.create_user(&t("acme"), &alice, None).await.unwrap();
    store
        .set_mfa_secret(
            &t("acme"),
            alice.id,
            MfaChange {
                secret: Some("JBSWY3DPEHPK3PXP"),
                step: 100,
                keep: SessionId::generate(),
                now_ms: 5,
            },
            &audit("mfa.enabled", Some(alice.id), 5),
        )
        .await
        .unwrap();
    let stored = store.user(&t("acme"), alice.id).await.unwrap().unwrap();
    assert_eq!(stored.mfa_secret.as_deref(), Some("JBSWY3DPEHPK3PXP"));
    assert_eq!(stored.mfa_last_step, 100);

    assert!(
        !store
            .consume_totp_step(&t("acme"), alice.id, 100)
            .await
            .unwrap(),
        "same step is a replay"
    );
    assert!(
        !store
            .consume_totp_step(&t("acme"), alice.id, 99)
            .await
            .unwrap(),
        "older step refused"
    );
    assert!(
        store
            .consume_totp_step(&t("acme"), alice.id, 101)
            .await
            .unwrap()
    );
    assert!(
        !store
            .consume_totp_step(&t("acme"), alice.id, 101)
            .await
            .unwrap()
    );
    // Another tenant cannot touch the user.
    assert!(
        !store
            .consume_totp_step(&t("globex"), alice.id, 500)
            .await
            .unwrap()
    );

    store
        .set_mfa_secret(
            &t("acme"),
            alice.id,
            MfaChange {
                secret: None,
                step: 0,
                keep: SessionId::generate(),
                now_ms: 6,
            },
            &audit("mfa.disabled", Some(alice.id), 6),
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .user(&t("acme"), alice.id)
            .await
            .unwrap()
            .unwrap()
            .mfa_secret,
        None
    );
    let actions: Vec<String> = store
        .audit_entries(&t("acme"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["mfa.disabled", "mfa.enabled"]);
}
both_engines!(mfa, mfa_secret_and_totp_steps);

async fn sessions_rotate_and_detect_reuse(engine: Engine) {
    let (_db, store) = store(engine).await;
    let (alice, s) = alice_on_phone(&store).await;
    assert!(store.session_active(&t("acme"), s.id, 2_000).await.unwrap());
    assert!(
        !store
            .session_active(&t("acme"), s.id, 10_001)
            .await
            .unwrap(),
        "expired"
    );
    assert!(
        !store
            .session_active(&t("globex"), s.id, 2_000)
            .await
            .unwrap(),
        "other tenant"
    );

    let reuse = audit("token.reused", Some(alice.id), 3);
    let rotate = |presented: &'static str, next: &'static str| {
        let (store, reuse) = (store.clone(), reuse.clone());
        async move {
            store
                .rotate_session(&t("acme"), s.id, swap(presented, next, 3_000), &reuse)
                .await
                .unwrap()
        }
    };
    assert_eq!(rotate("t1", "t2").await, Rotation::Rotated);
    assert!(
        store
            .session_active(&t("acme"), s.id, 15_000)
            .await
            .unwrap(),
        "extended"
    );
    assert_eq!(rotate("t2", "t3").await, Rotation::Rotated);
    // t1 again: a replay. The whole session dies, including the current t3.
    assert_eq!(rotate("t1", "t4").await, Rotation::Reused);
    assert!(!store.session_active(&t("acme"), s.id, 3_000).await.unwrap());
    assert_eq!(rotate("t3", "t5").await, Rotation::Invalid);
    let unknown = store
        .rotate_session(
            &t("acme"),
            SessionId::generate(),
            swap("x", "y", 3_000),
            &reuse,
        )
        .await
        .unwrap();
    assert_eq!(unknown, Rotation::Invalid);
    let actions: Vec<String> = store
        .audit_entries(&t("acme"), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["token.reused", "login.succeeded"]);
}
both_engines!(sessions, sessions_rotate_and_detect_reuse);

async fn expired_sessions_do_not_rotate(engine: Engine) {
    let (_db, store) = store(engine).await;
    let (alice, s) = alice_on_phone(&store).await;
    let reuse = audit("token.reused", Some(alice.id), 3);
    let late = store
        .rotate_session(&t("acme"), s.id, swap("t1", "t2", 10_500), &reuse)
        .await
        .unwrap();
    assert_eq!(late, Rotation::Invalid);
}
both_engines!(sessions_expired, expired_sessions_do_not_rotate);

async fn ending_sessions_by_device_or_all(engine: Engine) {
    let (_db, store) = store(engine).await;
    let alice = new_user("alice");
    store.create_user(&t("acme"), &alice, None).await.unwrap();
    let phone = session(alice.id, "phone", "p1", 10_000);
    let laptop = session(alice.id, "laptop", "l1", 10_000);
    let tablet = session(alice.id, "tablet", "x1", 10_000);
    for s in [&phone, &laptop, &tablet] {
        store
            .start_session(&t("acme"), s, &audit("login.succeeded", Some(alice.id), 1))
            .await
            .unwrap();
    }
    let device = DeviceId::parse("phone").unwrap();
    let ended = store
        .end_sessions(
            &t("acme"),
            alice.id,
            &SessionScope::Device(device),
            2_000,
            &audit("logout", Some(alice.id), 2),
        )
        .await
        .unwrap();
    assert_eq!(ended, 1);
    assert!(
        !store
            .session_active(&t("acme"), phone.id, 2_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .session_active(&t("acme"), laptop.id, 2_000)
            .await
            .unwrap()
    );
    // Another tenant's logout reaches nothing here.
    assert_eq!(
        store
            .end_sessions(
                &t("globex"),
                alice.id,
                &SessionScope::All,
                2_000,
                &audit("logout", None, 2)
            )
            .await
            .unwrap(),
        0
    );
    // Every session but one (an MFA change), then the live ones among a list.
    let ended = store
        .end_sessions(
            &t("acme"),
            alice.id,
            &SessionScope::AllExcept(tablet.id),
            2_500,
            &audit("mfa.enabled", Some(alice.id), 2),
        )
        .await
        .unwrap();
    assert_eq!(ended, 1);
    let all = [phone.id, laptop.id, tablet.id];
    let live = store.live_sessions(&t("acme"), &all, 2_500).await.unwrap();
    assert_eq!(live, vec![tablet.id]);
    assert!(
        store
            .live_sessions(&t("globex"), &all, 2_500)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .live_sessions(&t("acme"), &all, 10_001)
            .await
            .unwrap()
            .is_empty(),
        "expired"
    );
    let ended = store
        .end_sessions(
            &t("acme"),
            alice.id,
            &SessionScope::All,
            3_000,
            &audit("logout.all_devices", Some(alice.id), 3),
        )
        .await
        .unwrap();
    assert_eq!(ended, 1);
    assert!(
        !store
            .session_active(&t("acme"), tablet.id, 3_000)
            .await
            .unwrap()
    );
}
both_engines!(end_sessions, ending_sessions_by_device_or_all);

async fn audit_log_is_per_tenant_and_newest_first(engine: Engine) {
    let (_db, store) = store(engine).await;
    for (i, action) in ["a", "b", "c"].into_iter().enumerate() {
        store
            .append_audit(&t("acme"), &audit(action, None, i64::try_from(i).unwrap()))
            .await
            .unwrap();
    }
    store
        .append_audit(&t("globex"), &audit("other", None, 9))
        .await
        .unwrap();
    let entries = store.audit_entries(&t("acme"), 2).await.unwrap();
    assert_eq!(
        entries
            .iter()
            .map(|e| e.action.as_str())
            .collect::<Vec<_>>(),
        ["c", "b"]
    );
    assert_eq!(entries[0].detail, json!({ "k": "v" }));
    assert_eq!(entries[0].ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        store.audit_entries(&t("globex"), 10).await.unwrap().len(),
        1
    );
}
both_engines!(audit_log, audit_log_is_per_tenant_and_newest_first);

/// Row-level security is a second wall: a role that is subject to it (not a superuser) sees
/// only the rows of the tenant its transaction is scoped to, even with no tenant predicate.
#[tokio::test]
async fn postgres_row_level_security_hides_other_tenants() {
    use sqlx::{Connection, Executor};
    let (db, store) = store(Engine::Postgres).await;
    store
        .create_user(&t("acme"), &new_user("alice"), None)
        .await
        .unwrap();
    store
        .create_user(&t("globex"), &new_user("bob"), None)
        .await
        .unwrap();

    let role = format!("rls_probe_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} NOLOGIN")))
        .await
        .unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!(
        "GRANT SELECT ON users TO {role}"
    )))
    .await
    .unwrap();
    let mut tx = conn.begin().await.unwrap();
    tx.execute(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {role}")))
        .await
        .unwrap();
    sqlx::query("SELECT set_config('chemchat.tenant_id', 'acme', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT username FROM users")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(names, ["alice"]);
    sqlx::query("SELECT set_config('chemchat.tenant_id', '', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let none: Vec<String> = sqlx::query_scalar("SELECT username FROM users")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert!(none.is_empty(), "an unscoped transaction sees nothing");
    tx.rollback().await.unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!(
        "REVOKE ALL ON users FROM {role}"
    )))
    .await
    .unwrap();
    conn.execute(sqlx::AssertSqlSafe(format!("DROP ROLE {role}")))
        .await
        .unwrap();
}

/// SQLite's writer never checkpoints inside a commit (a send would wait for the copy and its
/// fsync); the checkpointer copies the log from a reader connection instead, and with nothing
/// else running it copies all of it.
#[tokio::test]
async fn sqlite_checkpoints_run_beside_the_writer() {
    let (_db, store) = store(Engine::Sqlite).await;
    let (alice, _) = alice_on_phone(&store).await;
    assert!(store.user(&t("acme"), alice.id).await.unwrap().is_some());
    let checkpointer = store
        .checkpointer()
        .expect("a SQLite file database has a checkpointer");
    let (log, copied) = checkpointer.checkpoint().await.unwrap();
    assert!(log > 0, "the writes above are in the log");
    assert_eq!(
        copied, log,
        "a passive checkpoint with no reader copies everything"
    );
    let automatic = pragma(store.writer_pool(), "wal_autocheckpoint").await;
    assert_eq!(
        automatic, 0,
        "the writer leaves checkpoints to the checkpointer"
    );
}

/// SQLite's readers keep a small page cache each (the pool's caches add up in a connection
/// storm); the writer keeps SQLite's default.
#[tokio::test]
async fn sqlite_readers_keep_a_small_page_cache() {
    let (_db, store) = store(Engine::Sqlite).await;
    let reader = pragma(store.pool(), "cache_size").await;
    assert_eq!(reader, -256, "KiB per reader connection");
    let writer = pragma(store.writer_pool(), "cache_size").await;
    assert_eq!(writer, -2000, "SQLite's default for the writer");
}

/// The writer keeps statement journals in memory: a send batch's spilled to a temporary file
/// created and deleted per batch.
#[tokio::test]
async fn sqlite_writer_keeps_statement_journals_in_memory() {
    let (_db, store) = store(Engine::Sqlite).await;
    let temp_store = pragma(store.writer_pool(), "temp_store").await;
    assert_eq!(temp_store, 2, "MEMORY on the writer");
}

/// A SQLite setting as one of `pool`'s connections has it.
async fn pragma(pool: &sqlx::AnyPool, name: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("PRAGMA {name}")))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("PRAGMA {name}: {e}"))
}

#[tokio::test]
async fn postgres_has_no_checkpointer() {
    let (_db, store) = store(Engine::Postgres).await;
    assert!(store.checkpointer().is_none());
}

/// A use case dropped at any point of its transaction (a client that went away), `BEGIN` in
/// flight included, leaves no pooled connection inside a transaction: the next borrower would
/// run in it, scoped to the first caller's tenant (`adapters/sql/begin.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abandoned_use_cases_leave_no_connection_in_a_transaction() {
    let (_db, store) = store(Engine::Postgres).await;
    let (alice, _) = alice_on_phone(&store).await;
    for k in 0..150u64 {
        // Polled for a while that grows with k (0 to 1.5 ms: a read's or a write's whole life
        // here), then dropped wherever it stands.
        let until = std::time::Duration::from_nanos(10_000 * k);
        if k % 2 == 0 {
            poll_for(store.user(&t("acme"), alice.id), until).await;
        } else {
            let user = new_user(&format!("abandoned{k}"));
            poll_for(store.create_user(&t("acme"), &user, None), until).await;
        }
        // Every connection of the pool, held at once so that each is seen. A savepoint can be
        // set only inside a transaction block.
        let pool = store.pool();
        let mut held = Vec::new();
        for _ in 0..pool.size() {
            held.push(pool.acquire().await.unwrap());
        }
        for connection in &mut held {
            let probe = sqlx::raw_sql("SAVEPOINT probe; RELEASE SAVEPOINT probe")
                .execute(&mut **connection)
                .await;
            let outside = matches!(&probe, Err(e) if e.to_string().contains("transaction block"));
            assert!(
                outside,
                "a connection was handed back inside a transaction (k = {k}): {probe:?}"
            );
        }
    }
}

/// Polls `work` until it finishes or `until` has passed, then drops it.
async fn poll_for<F: std::future::Future>(work: F, until: std::time::Duration) {
    tokio::pin!(work);
    let deadline = std::time::Instant::now() + until;
    while std::time::Instant::now() < deadline {
        if futures::poll!(work.as_mut()).is_ready() {
            return;
        }
        tokio::task::yield_now().await;
    }
}

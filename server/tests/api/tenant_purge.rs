//! `tenant purge`: two tenants with rows in every table, one purged — it has no row left
//! anywhere, the other has every row it had. On PostgreSQL the purge runs as an ordinary role,
//! which row-level security binds.

use std::collections::BTreeMap;

use crate::support::store::{
    OrdinaryRole, new_message, store as two_tenant_store, store_group, store_message, store_user,
};
use crate::support::{Engine, TestDb, t};
use chemchat_server::adapters::sql::{PurgeError, SqlStore, TENANT_TABLES, purge_tenant};
use chemchat_server::domain::media::{FileName, MediaStatus};
use chemchat_server::domain::{
    AuditId, DeviceId, MediaId, NotifyPreferences, PushSubscriptionId, SessionId, UserId,
};
use chemchat_server::ports::chat::{
    DailyQuota, MessageEditRequest, NewMessage, ReactionChange, SendOutcome,
};
use chemchat_server::ports::{
    AuditEntry, ChatStore, MailRecipients, MediaStore, NewMedia, NewSession, NotificationStore,
    PushSubscription, StorageQuota, Store,
};

/// Writes a row of `tenant` into every table: users, a device and session with their audit
/// entries, a group with members, messages with events and daily usage, an edit, a reaction, a
/// media item attached to a message and the tenant's stored bytes.
async fn seed(store: &SqlStore, tenant: &str) {
    let alice = store_user(store, tenant, "alice").await;
    let bob = store_user(store, tenant, "bob").await;
    let session = NewSession {
        id: SessionId::generate(),
        user_id: alice,
        device_id: DeviceId::parse("phone").unwrap(),
        token_id: "t1".to_owned(),
        created_at_ms: 1_000,
        expires_at_ms: 10_000,
    };
    let audit = AuditEntry {
        id: AuditId::generate(),
        at_ms: 1_000,
        user_id: Some(alice),
        action: "login".to_owned(),
        target: None,
        ip: None,
        user_agent: None,
        detail: serde_json::json!({}),
    };
    store
        .start_session(&t(tenant), &session, &audit)
        .await
        .unwrap();
    let group = store_group(store, tenant, alice, &[bob]).await;
    let quota = Some(DailyQuota { max: 100, day: 0 });
    let mut first = None;
    for key in ["a", "b", "c"] {
        let message = new_message(group, alice, key);
        match store
            .send_message(&t(tenant), &message, quota)
            .await
            .unwrap()
        {
            SendOutcome::Sent(m) => first = first.or(Some(m.id)),
            other => panic!("not sent: {other:?}"),
        }
    }
    let first = first.unwrap();
    let edit = MessageEditRequest {
        id: first,
        editor: alice,
        content: "edited".to_owned(),
        expected_version: None,
        at_ms: 3_000,
    };
    store.edit_message(&t(tenant), &edit).await.unwrap();
    let report = chemchat_server::ports::NewReport {
        id: chemchat_server::domain::ReportId::generate(),
        message_id: first,
        reporter_id: bob,
        reason: "spam".to_owned(),
        at_ms: 3_500,
    };
    let filed = chemchat_server::ports::ModerationStore::file_report(
        store,
        &t(tenant),
        &report,
        &AuditEntry {
            id: AuditId::generate(),
            at_ms: 3_500,
            user_id: Some(bob),
            action: "report.filed".to_owned(),
            target: None,
            ip: None,
            user_agent: None,
            detail: serde_json::json!({}),
        },
    )
    .await
    .unwrap();
    assert!(matches!(
        filed,
        chemchat_server::ports::ReportFiling::Filed(_)
    ));
    let rules = chemchat_server::domain::content_policy::PolicyRules {
        words: vec!["spam".to_owned()],
        ..Default::default()
    };
    let changed = AuditEntry {
        id: AuditId::generate(),
        at_ms: 3_600,
        user_id: Some(alice),
        action: "settings.changed".to_owned(),
        target: None,
        ip: None,
        user_agent: None,
        detail: serde_json::json!({}),
    };
    let change = chemchat_server::ports::SettingsChange {
        content: Some(rules),
        accounts: None,
        retention: None,
    };
    chemchat_server::ports::PeopleStore::change_settings(store, &t(tenant), &change, &changed)
        .await
        .unwrap();
    // An invitation to register.
    let invite = chemchat_server::ports::NewInvite {
        invite: chemchat_server::ports::Invite {
            id: chemchat_server::domain::InviteId::generate(),
            created_by: alice,
            created_at_ms: 3_700,
            expires_at_ms: 9_000,
            max_uses: Some(3),
            uses: 0,
            revoked_at_ms: None,
            note: String::new(),
        },
        code_hash: format!("{:064}", 9),
    };
    let made = AuditEntry {
        id: AuditId::generate(),
        action: "invite.created".to_owned(),
        ..changed
    };
    chemchat_server::ports::PeopleStore::create_invite(store, &t(tenant), &invite, &made)
        .await
        .unwrap();
    // A browser's push subscription and notification preferences.
    let subscription = PushSubscription {
        id: PushSubscriptionId::generate(),
        user: bob,
        device_id: Some("phone".to_owned()),
        endpoint: format!("https://push.example.com/{tenant}"),
        p256dh: "key".to_owned(),
        auth: "secret".to_owned(),
        created_at_ms: 3_800,
    };
    store
        .save_push_subscription(&t(tenant), &subscription, 10)
        .await
        .unwrap()
        .expect("kept");
    store
        .set_notification_preferences(&t(tenant), bob, &NotifyPreferences::default(), 3_800)
        .await
        .unwrap();
    // A mention waiting for Bob's digest, and the time of his last one (written as the digest
    // sender writes it: taking a digest needs a proven address).
    let mention = MailRecipients::Mentioned {
        sender: alice,
        usernames: vec!["bob".to_owned()],
    };
    store
        .queue_mail(&t(tenant), group, 1, &mention, 3_900)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO notification_mail_sent (tenant_id, user_id, last_sent_at) VALUES ($1, $2, $3)",
    )
    .bind(tenant)
    .bind(bob.to_string())
    .bind(3_900_i64)
    .execute(store.pool())
    .await
    .unwrap();
    store
        .set_reaction(
            &t(tenant),
            first,
            bob,
            "👍",
            ReactionChange::Add { max_distinct: 20 },
            4_000,
        )
        .await
        .unwrap();
    // A media item (and the tenant's stored bytes), attached to a message.
    let media = NewMedia {
        id: MediaId::generate(),
        uploader_id: alice,
        filename: FileName::parse("a.txt").unwrap(),
        content_type: "text/plain".to_owned(),
        size: 5,
        status: MediaStatus::Ready,
        at_ms: 5_000,
    };
    let quota = StorageQuota { max_bytes: None };
    store.create_media(&t(tenant), &media, quota).await.unwrap();
    let message = NewMessage {
        attachments: vec![media.id],
        ..new_message(group, alice, "with-file")
    };
    let sent = store
        .send_message(&t(tenant), &message, None)
        .await
        .unwrap();
    assert!(matches!(sent, SendOutcome::Sent(_)), "{sent:?}");
    // A reset token waiting in someone's mail.
    let token = chemchat_server::ports::NewAccountToken {
        hash: format!("{:064}", 7),
        user: bob,
        purpose: chemchat_server::domain::TokenPurpose::PasswordReset,
        email: "bob@example.com".to_owned(),
        at_ms: 5_500,
        expires_at_ms: 9_000,
    };
    chemchat_server::ports::PeopleStore::issue_account_token(store, &t(tenant), &token)
        .await
        .unwrap();
    // A deleted account whose messages await the eraser.
    let carol = store_user(store, tenant, "carol").await;
    let erasure = chemchat_server::ports::AccountErasure {
        pseudonym: UserId::generate(),
        messages: chemchat_server::domain::DeletedMessages::Erase,
        audit: AuditEntry {
            id: AuditId::generate(),
            at_ms: 6_000,
            user_id: None,
            action: "account.deleted".to_owned(),
            target: None,
            ip: None,
            user_agent: None,
            detail: serde_json::json!({}),
        },
    };
    let deleted =
        chemchat_server::ports::PeopleStore::delete_account(store, &t(tenant), carol, &erasure)
            .await
            .unwrap();
    assert_eq!(deleted, chemchat_server::ports::AccountChange::Changed);
}

/// The tenant's rows per table, read by the test's superuser (which row-level security does not
/// bind).
async fn rows(store: &SqlStore, tenant: &str) -> BTreeMap<&'static str, i64> {
    let mut counts = BTreeMap::new();
    for &(table, column) in TENANT_TABLES {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1");
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(tenant)
            .fetch_one(store.pool())
            .await
            .unwrap();
        counts.insert(table, count);
    }
    counts
}

/// Every table of the schema with a `tenant_id` column: each must be purged.
async fn tables_with_tenant_rows(store: &SqlStore, engine: Engine) -> Vec<String> {
    let sql = match engine {
        Engine::Sqlite => {
            "SELECT m.name FROM sqlite_master m JOIN pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND c.name = 'tenant_id' ORDER BY m.name"
        }
        Engine::Postgres => {
            "SELECT table_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name"
        }
    };
    sqlx::query_scalar(sql)
        .fetch_all(store.pool())
        .await
        .unwrap()
}

async fn purges_one_tenant_and_leaves_the_other(engine: Engine) {
    let (db, store) = two_tenant_store(engine).await;
    let listed: Vec<&str> = TENANT_TABLES.iter().map(|(table, _)| *table).collect();
    for table in tables_with_tenant_rows(&store, engine).await {
        if table == "tenant_roles" {
            // Not a tenant's data but its PostgreSQL role's record: `drop_tenant_role` removes
            // it with the role after the rows (tenant_credentials.rs).
            continue;
        }
        assert!(
            listed.contains(&table.as_str()),
            "table {table} holds tenant rows but the purge does not know it"
        );
    }
    seed(&store, "acme").await;
    seed(&store, "globex").await;
    let acme_before = rows(&store, "acme").await;
    let globex_before = rows(&store, "globex").await;
    for (table, count) in &acme_before {
        assert!(
            *count > 0,
            "the seed leaves table {table} empty: {acme_before:?}"
        );
    }

    // An ordinary role on PostgreSQL: the purge must pass row-level security on its own.
    let role = match engine {
        Engine::Postgres => Some(OrdinaryRole::create(&db).await),
        Engine::Sqlite => None,
    };
    let purger = role.as_ref().map_or(&store, |r| &r.store);
    // Batches of 2 rows: every table with more rows takes several transactions.
    let report = purge_tenant(purger, &t("acme"), 2, false).await.unwrap();
    assert_eq!(report.total(), acme_before.values().sum::<i64>() as u64);

    let acme_after = rows(&store, "acme").await;
    assert!(
        acme_after.values().all(|count| *count == 0),
        "acme has rows left: {acme_after:?}"
    );
    assert_eq!(rows(&store, "globex").await, globex_before);
    assert!(store.tenant(&t("globex")).await.unwrap().is_some());
    if engine == Engine::Sqlite {
        // The full-text index dropped the purged messages with their rows.
        sqlx::query("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
            .execute(store.pool())
            .await
            .unwrap();
    }

    // A finished purge again: unknown, unless the caller accepts that.
    let again = purge_tenant(purger, &t("acme"), 2, false).await;
    assert!(
        matches!(&again, Err(PurgeError::Unknown(id)) if id.as_str() == "acme"),
        "{again:?}"
    );
    assert!(
        again
            .unwrap_err()
            .to_string()
            .contains("unknown tenant `acme`")
    );
    let report = purge_tenant(purger, &t("acme"), 2, true).await.unwrap();
    assert_eq!(report.total(), 0);
    assert_eq!(rows(&store, "globex").await, globex_before);

    if let Some(role) = role {
        role.drop_role().await;
    }
    drop(store);
    drop(db);
}

both_engines!(
    purges_one_tenant_and_leaves_the_other_engine,
    purges_one_tenant_and_leaves_the_other
);

/// A purge cut short — its process killed between two batches or inside one — leaves a tenant
/// that a second run purges to nothing, without touching the other tenant.
async fn a_purge_cut_short_finishes_when_run_again(engine: Engine) {
    let (db, store) = two_tenant_store(engine).await;
    seed(&store, "acme").await;
    seed(&store, "globex").await;
    // Enough rows that a purge in batches of 2 takes hundreds of transactions.
    let writer = store_user(&store, "acme", "writer").await;
    let group = store_group(&store, "acme", writer, &[]).await;
    for i in 0..200 {
        store_message(
            &store,
            "acme",
            &new_message(group, writer, &format!("bulk{i}")),
        )
        .await;
    }
    let globex_before = rows(&store, "globex").await;
    let acme_before: i64 = rows(&store, "acme").await.values().sum();

    // A store of its own, closed with the purge: its connections go as a killed process's do.
    let doomed = db.store().await;
    {
        let acme = t("acme");
        let purge = purge_tenant(&doomed, &acme, 2, false);
        tokio::pin!(purge);
        loop {
            tokio::select! {
                done = &mut purge => panic!("the purge finished before it was cut short: {done:?}"),
                () = tokio::time::sleep(std::time::Duration::from_millis(2)) => {}
            }
            let left: i64 = rows(&store, "acme").await.values().sum();
            if left < acme_before {
                break;
            }
        }
    }
    doomed.pool().close().await;
    drop(doomed);
    if engine == Engine::Postgres {
        // A closed socket does not undo a statement its backend has already received: the
        // cut-short purge's last COMMIT may still be running there, and would land after the
        // count below. Its backend is active until then (the store's own connections idle).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let busy: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND backend_type = 'client backend' AND pid <> pg_backend_pid() \
                 AND state <> 'idle'",
            )
            .fetch_one(store.pool())
            .await
            .unwrap();
            if busy == 0 || std::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    let left: i64 = rows(&store, "acme").await.values().sum();
    assert!(
        left > 0 && left < acme_before,
        "cut short: {left} of {acme_before} rows left"
    );

    let report = purge_tenant(&store, &t("acme"), 2, false).await.unwrap();
    assert_eq!(
        report.total(),
        left as u64,
        "the second run reports what it removed"
    );
    let acme_after = rows(&store, "acme").await;
    assert!(acme_after.values().all(|n| *n == 0), "{acme_after:?}");
    assert_eq!(rows(&store, "globex").await, globex_before);
}

both_engines!(
    a_purge_cut_short_finishes_when_run_again_engine,
    a_purge_cut_short_finishes_when_run_again
);

fn cli(db: &TestDb, args: &[&str]) -> std::process::Output {
    cli_with(db, args, &[])
}

/// The server binary run with `args` on `db`, plus the variables `env`.
fn cli_with(db: &TestDb, args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_chemchat-server"))
        .args(args)
        .current_dir(db.dir.path())
        .env("CHEMCHAT_DATABASE_URL", &db.url)
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .output()
        .expect("the binary runs")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_purges_a_known_tenant_and_refuses_bad_ids() {
    let db = TestDb::new(Engine::Sqlite).await;
    // `tenant <id>` still saves a tenant beside the `purge` subcommand.
    let saved = cli(&db, &["tenant", "acme", "--tier", "pro"]);
    assert!(saved.status.success(), "{}", stderr(&saved));
    let store = db.store().await;
    seed(&store, "acme").await;

    let invalid = cli(&db, &["tenant", "purge", "Not_A_Tenant"]);
    assert!(!invalid.status.success());
    assert!(
        stderr(&invalid).contains("`Not_A_Tenant` is not a tenant id"),
        "{}",
        stderr(&invalid)
    );
    let unknown = cli(&db, &["tenant", "purge", "ghost"]);
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("unknown tenant `ghost`"),
        "{}",
        stderr(&unknown)
    );

    let purged = cli(&db, &["tenant", "purge", "acme"]);
    assert!(purged.status.success(), "{}", stderr(&purged));
    assert!(rows(&store, "acme").await.values().all(|count| *count == 0));
    let again = cli(&db, &["tenant", "purge", "acme", "--missing-ok"]);
    assert!(again.status.success(), "{}", stderr(&again));
    store.close().await;
}

/// Objects of `acme`, of another tenant and of one whose id starts with `acme`.
const OBJECTS: [(&str, bool); 4] = [
    ("acme/m1/original", true),
    ("acme/m1/thumb", true),
    ("other/m2/original", false),
    ("acmecorp/m3/original", false),
];

/// The purge deletes `acme`'s objects before its rows, and nothing outside its prefix:
/// `blobs` is the store the command is configured for by `env`.
async fn purges_only_its_own_media(
    db: &TestDb,
    blobs: &dyn chemchat_server::ports::BlobStore,
    env: &[(&str, String)],
) {
    let saved = cli(db, &["tenant", "acme", "--tier", "pro"]);
    assert!(saved.status.success(), "{}", stderr(&saved));
    for (key, _) in OBJECTS {
        blobs
            .put_bytes(key, bytes::Bytes::from_static(b"bytes"), "image/png")
            .await
            .unwrap();
    }
    let purged = cli_with(db, &["tenant", "purge", "acme"], env);
    assert!(purged.status.success(), "{}", stderr(&purged));
    for (key, purged) in OBJECTS {
        let size = blobs.size(key).await.unwrap();
        assert_eq!(size.is_none(), purged, "{key}: {size:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_removes_the_tenants_local_media_and_nothing_else() {
    let db = TestDb::new(Engine::Sqlite).await;
    let dir = db.dir.path().join("media");
    let blobs = chemchat_server::adapters::blobs::LocalBlobs::open(dir.clone())
        .await
        .unwrap();
    let env = [("CHEMCHAT_MEDIA_DIR", dir.display().to_string())];
    purges_only_its_own_media(&db, &blobs, &env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_removes_the_tenants_s3_objects_and_nothing_else() {
    let db = TestDb::new(Engine::Sqlite).await;
    let bucket = format!("purge-{}", uuid::Uuid::new_v4().simple());
    let blobs = crate::support::media::s3_blobs(&bucket);
    blobs.ensure_bucket().await.unwrap();
    let (key, secret) = crate::support::services::s3_credentials();
    let env = [
        (
            "CHEMCHAT_S3_ENDPOINT",
            crate::support::services::s3_endpoint(),
        ),
        ("CHEMCHAT_S3_BUCKET", bucket),
        ("CHEMCHAT_S3_REGION", "us-east-1".to_owned()),
        ("CHEMCHAT_S3_PATH_STYLE", "true".to_owned()),
        ("CHEMCHAT_S3_ACCESS_KEY_ID", key),
        ("CHEMCHAT_S3_SECRET_ACCESS_KEY", secret),
    ];
    purges_only_its_own_media(&db, &blobs, &env).await;
}

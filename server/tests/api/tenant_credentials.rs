//! Per-tenant credentials: a tenant's PostgreSQL role sees its own tenant's rows and nothing
//! else, through every policy (the request's and the workers'), whatever it sets; a server
//! given one tenant's derived signing key and that tenant's role serves it, accepts the tokens
//! the platform signs for it, and its key signs nothing another tenant accepts. A rotation to
//! the tenant's other role leaves the first one working, pinned likewise, until it is retired:
//! then it logs in no more and its open sessions are ended.

use crate::support::api::{Api, ApiUser, api_user};
use crate::support::store::{
    OrdinaryRole, new_message, store, store_group, store_message, store_send, store_user,
};
use crate::support::{Engine, RELAXED_LIMITS, TestDb, pg_exec, services, t};
use base64::Engine as _;
use chemchat_backends::{RoleSlot, TenantKey};
use chemchat_server::Server;
use chemchat_server::adapters::sql::{self, SqlStore};
use chemchat_server::config::Settings;
use chemchat_server::domain::TenantId;
use chemchat_server::ports::ChatStore;
use reqwest::StatusCode;
use secrecy::SecretString;
use sqlx::{Connection, Row};

const MASTER: &str = "test-signing-secret-0123456789abcdef";
const PASSWORD: &str = "a-tenant-role-password-of-some-length";

/// `db`'s URL with `role` and [`PASSWORD`] as its user.
fn url_as(db: &TestDb, role: &str) -> String {
    url_with(db, role, PASSWORD)
}

/// `db`'s URL with `role` and `password` as its user.
fn url_with(db: &TestDb, role: &str, password: &str) -> String {
    let (scheme, rest) = db.url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{role}:{password}@{host}")
}

/// Gives `tenant`'s role in `slot` `password`, as the platform.
async fn provision(
    platform: &SqlStore,
    tenant: &TenantId,
    slot: RoleSlot,
    password: &str,
) -> Result<sql::ProvisionedRole, sql::TenantRoleError> {
    sql::provision_tenant_role(platform, tenant, slot, &SecretString::from(password)).await
}

/// Creates `tenant`'s role on `db` (as the platform) and connects as it.
async fn tenant_role(db: &TestDb, platform: &SqlStore, tenant: &str) -> (String, SqlStore) {
    let provisioned = provision(platform, &t(tenant), RoleSlot::A, PASSWORD)
        .await
        .expect("the platform's role provisions a tenant role");
    assert!(provisioned.created);
    let store = sql::connect(&url_as(db, &provisioned.role), 4)
        .await
        .unwrap();
    (provisioned.role, store)
}

/// Removes a role and its grants before the database goes.
async fn drop_role(db: &TestDb, role: &str) {
    pg_exec(&db.url, &format!("DROP OWNED BY {role}")).await;
    pg_exec(
        &services::postgres_admin_url(),
        &format!("DROP ROLE {role}"),
    )
    .await;
}

/// Rows of `table` the role sees in one transaction after `settings` (`name`, `value`).
async fn visible(store: &SqlStore, settings: &[(&str, &str)], query: &str) -> Vec<String> {
    let mut tx = store.pool().begin().await.unwrap();
    for (name, value) in settings {
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(*name)
            .bind(*value)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let rows = sqlx::query(sqlx::AssertSqlSafe(query.to_owned()))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    rows.iter().map(|r| r.get::<String, _>(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_role_sees_its_own_tenant_only_through_every_policy() {
    let (db, platform) = store(Engine::Postgres).await;
    for tenant in ["acme", "globex"] {
        let owner = store_user(&platform, tenant, &format!("{tenant}-owner")).await;
        let group = store_group(&platform, tenant, owner, &[]).await;
        if tenant == "acme" {
            store_send(&platform, group, owner, "a").await;
        } else {
            store_message(&platform, tenant, &new_message(group, owner, "g")).await;
        }
        // One pending media item and one queued erasure each, for the workers' policies.
        pg_exec(
            &db.url,
            &format!(
                "INSERT INTO media (tenant_id, id, uploader_id, filename, content_type, size, \
                 status, created_at) VALUES ('{tenant}', '{tenant}-m', '{owner}', 'a.png', \
                 'image/png', 1, 'pending', 1)"
            ),
        )
        .await;
        pg_exec(
            &db.url,
            &format!(
                "INSERT INTO erasures (tenant_id, user_id, requested_at) \
                 VALUES ('{tenant}', '{owner}', 1)"
            ),
        )
        .await;
    }
    let (role, acme) = tenant_role(&db, &platform, "acme").await;
    // The platform's own (ordinary, RLS-bound) role, for comparison.
    let ordinary = OrdinaryRole::create(&db).await;
    assert_eq!(
        sql::pinned_tenant(&acme).await.unwrap().as_deref(),
        Some("acme")
    );

    let tenants = "SELECT DISTINCT tenant_id FROM users ORDER BY 1";
    assert_eq!(
        visible(&acme, &[("chemchat.tenant_id", "acme")], tenants).await,
        ["acme"]
    );
    assert!(
        visible(&acme, &[("chemchat.tenant_id", "globex")], tenants)
            .await
            .is_empty(),
        "setting another tenant shows nothing"
    );
    assert_eq!(
        visible(
            &acme,
            &[("chemchat.tenant_id", "globex")],
            "SELECT id FROM tenants"
        )
        .await,
        Vec::<String>::new()
    );
    // The workers' policies span tenants for the platform, never for a tenant role.
    for (switch, table) in [
        ("chemchat.outbox_relay", "events"),
        ("chemchat.media_worker", "media"),
        ("chemchat.eraser", "erasures"),
    ] {
        let query = format!("SELECT DISTINCT tenant_id FROM {table}");
        assert_eq!(
            visible(&acme, &[(switch, "on")], &query).await,
            ["acme"],
            "{switch}"
        );
        assert_eq!(
            visible(&ordinary.store, &[(switch, "on")], &query)
                .await
                .len(),
            2,
            "{switch} still spans tenants for the platform"
        );
    }
    let claim = acme.claim_outbox(100).await.unwrap();
    assert!(!claim.events().is_empty());
    assert!(claim.events().iter().all(|e| e.tenant == t("acme")));
    drop(claim);

    // Writing another tenant's rows is refused, even with its id set.
    let mut tx = acme.pool().begin().await.unwrap();
    sqlx::query("SELECT set_config('chemchat.tenant_id', 'globex', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let written = sqlx::query(
        "INSERT INTO tenant_daily_usage (tenant_id, day, messages) VALUES ('globex', 1, 1)",
    )
    .execute(&mut *tx)
    .await;
    assert!(written.is_err(), "a row of globex was written");
    drop(tx);
    // The record of who is pinned where is not the role's to read or change.
    let read = sqlx::query("SELECT tenant_id FROM tenant_roles")
        .fetch_all(acme.pool())
        .await;
    assert!(read.is_err(), "tenant_roles was readable");

    // A role named like a tenant's but recorded for none sees nothing at all.
    let stray = "chemchat_tenant_0123456789abcdef0123456789abcdef";
    pg_exec(
        &services::postgres_admin_url(),
        &format!("CREATE ROLE {stray} LOGIN PASSWORD '{PASSWORD}'"),
    )
    .await;
    pg_exec(
        &db.url,
        &format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {stray}"),
    )
    .await;
    let unpinned = sql::connect(&url_as(&db, stray), 2).await.unwrap();
    assert!(
        visible(&unpinned, &[("chemchat.tenant_id", "acme")], tenants)
            .await
            .is_empty()
    );
    assert!(
        visible(
            &unpinned,
            &[("chemchat.outbox_relay", "on")],
            "SELECT tenant_id FROM events"
        )
        .await
        .is_empty()
    );

    // A second run gives the same role a new password.
    let again = provision(&platform, &t("acme"), RoleSlot::A, PASSWORD)
        .await
        .unwrap();
    assert_eq!((again.role.as_str(), again.created), (role.as_str(), false));

    ordinary.drop_role().await;
    unpinned.pool().close().await;
    acme.pool().close().await;
    drop_role(&db, stray).await;
    drop_role(&db, &role).await;
}

/// A server pinned to `tenant` on `db`, configured as the operator configures one: the tenant's
/// role and its derived key, no master.
async fn pinned_server(
    db: &TestDb,
    role: &str,
    tenant: &str,
) -> (Api, tokio::sync::oneshot::Sender<()>) {
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: SecretString::from(url_as(db, role)),
        jwt_tenant_key: Some(SecretString::from(
            TenantKey::derive(MASTER.as_bytes(), tenant).to_text(),
        )),
        tenant_id: Some(tenant.to_owned()),
        data_dir: db.dir.path().join("pinned"),
        media_dir: db.dir.path().join("pinned-media"),
        rate_limits: Some(RELAXED_LIMITS.to_owned()),
        shutdown_grace_seconds: 1,
        ..Settings::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::build(settings)
        .await
        .expect("a pinned server starts on its tenant's role and key");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve(listener, async move {
        let _ = rx.await;
    }));
    (Api::new(addr), tx)
}

/// `token`'s claims re-signed with `key`: what a holder of that key could present.
fn re_signed(token: &str, key: &[u8]) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .unwrap()
}

async fn me(api: &Api, user: &ApiUser) -> StatusCode {
    crate::support::api::call(api, user, reqwest::Method::GET, "/api/v1/auth/me", None)
        .await
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pinned_server_with_one_tenants_credentials_cannot_act_for_another() {
    // The platform: the master secret, the platform's database role, every tenant.
    let platform = crate::support::server::TestServer::start(Engine::Postgres).await;
    platform
        .add_tenant("acme", chemchat_server::domain::Tier::Pro)
        .await;
    platform
        .add_tenant("globex", chemchat_server::domain::Tier::Pro)
        .await;
    let alice = api_user(&platform, Some("acme"), "alice").await;
    let gus = api_user(&platform, Some("globex"), "gus").await;
    let platform_store = platform.db.store().await;
    let (role, role_store) = tenant_role(&platform.db, &platform_store, "acme").await;
    role_store.pool().close().await;

    let (acme, stop) = pinned_server(&platform.db, &role, "acme").await;
    // The token the platform signed for acme works on acme's server, and back.
    let alice_on_acme = ApiUser {
        tenant: None,
        ..alice.clone()
    };
    assert_eq!(me(&acme, &alice_on_acme).await, StatusCode::OK);
    let bob = api_user(&acme, None, "bob").await;
    let bob_on_platform = ApiUser {
        tenant: Some("acme".to_owned()),
        ..bob
    };
    assert_eq!(me(&platform, &bob_on_platform).await, StatusCode::OK);
    // Acme's server serves no other tenant.
    assert_eq!(me(&acme, &gus).await, StatusCode::NOT_FOUND);

    // Globex's token re-signed with acme's key — all a compromised acme pod could do — is
    // refused by globex; re-signed with globex's own key it passes, so the refusal is the key's.
    let acme_key = TenantKey::derive(MASTER.as_bytes(), "acme");
    let forged = ApiUser {
        token: re_signed(&gus.token, acme_key.bytes()),
        ..gus.clone()
    };
    assert_eq!(me(&platform, &forged).await, StatusCode::UNAUTHORIZED);
    let globex_key = TenantKey::derive(MASTER.as_bytes(), "globex");
    let genuine = ApiUser {
        token: re_signed(&gus.token, globex_key.bytes()),
        ..gus.clone()
    };
    assert_eq!(me(&platform, &genuine).await, StatusCode::OK);
    // The master secret itself signs no tenant's tokens.
    let raw = ApiUser {
        token: re_signed(&gus.token, MASTER.as_bytes()),
        ..gus
    };
    assert_eq!(me(&platform, &raw).await, StatusCode::UNAUTHORIZED);

    // Acme's rows went through acme's role; globex's are out of its reach (the first test
    // tries the policies one by one).
    let _ = stop.send(());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop_role(&platform.db, &role).await;
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_a_tenant_role_must_serve_that_tenant() {
    let db = TestDb::new(Engine::Postgres).await;
    let platform = db.store().await;
    let (role, store) = tenant_role(&db, &platform, "acme").await;
    store.pool().close().await;
    let settings = Settings {
        database_url: SecretString::from(url_as(&db, &role)),
        jwt_tenant_key: Some(SecretString::from(
            TenantKey::derive(MASTER.as_bytes(), "globex").to_text(),
        )),
        tenant_id: Some("globex".to_owned()),
        data_dir: db.dir.path().join("data"),
        ..Settings::default()
    };
    let err = Server::build(settings).await.expect_err("refused");
    let message = format!("{err:#}");
    assert!(
        message.contains("CHEMCHAT_DATABASE_URL") && message.contains("`acme`"),
        "{message}"
    );

    // The purge of the tenant drops its role with it.
    assert_eq!(
        sql::drop_tenant_role(&platform, &t("acme")).await.unwrap(),
        std::slice::from_ref(&role)
    );
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_roles WHERE rolname = $1")
        .bind(&role)
        .fetch_one(platform.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert!(
        sql::drop_tenant_role(&platform, &t("acme"))
            .await
            .unwrap()
            .is_empty()
    );
}

const SECOND_PASSWORD: &str = "the-tenant-role-password-after-rotation";
const THIRD_PASSWORD: &str = "the-tenant-role-password-after-two-rotations";

/// Whether `role` logs in with `password` now. The test server trusts local connections, so
/// this tells a role that may log in (LOGIN) from one that may not, not a right password from a
/// wrong one; `ALTER ROLE … PASSWORD` is PostgreSQL's own to enforce.
async fn logs_in(db: &TestDb, role: &str, password: &str) -> bool {
    sqlx::PgConnection::connect(&url_with(db, role, password))
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_role_password_keeps_the_old_role_until_it_is_retired() {
    let (db, platform) = store(Engine::Postgres).await;
    let owner = store_user(&platform, "acme", "acme-owner").await;
    store_group(&platform, "acme", owner, &[]).await;
    let tenant = t("acme");
    let first = provision(&platform, &tenant, RoleSlot::A, PASSWORD)
        .await
        .unwrap();
    // A server of the older version, connected on the first role, mid-work.
    let mut old_pod = sqlx::PgConnection::connect(&url_as(&db, &first.role))
        .await
        .unwrap();

    // The rotation gives the new password to the other role: both log in, both are pinned.
    let second = provision(&platform, &tenant, RoleSlot::B, SECOND_PASSWORD)
        .await
        .unwrap();
    assert_ne!(second.role, first.role);
    assert_eq!((second.slot, second.created), (RoleSlot::B, true));
    assert!(logs_in(&db, &first.role, PASSWORD).await, "the old role");
    assert!(logs_in(&db, &second.role, SECOND_PASSWORD).await);
    let recorded: Vec<String> = sqlx::query_scalar(
        "SELECT role_name FROM tenant_roles WHERE tenant_id = 'acme' ORDER BY role_name",
    )
    .fetch_all(platform.pool())
    .await
    .unwrap();
    let mut both = vec![first.role.clone(), second.role.clone()];
    both.sort();
    assert_eq!(recorded, both, "both roles are recorded for the tenant");
    let new_pod = sql::connect(&url_with(&db, &second.role, SECOND_PASSWORD), 2)
        .await
        .unwrap();
    assert_eq!(
        sql::pinned_tenant(&new_pod).await.unwrap().as_deref(),
        Some("acme")
    );
    let tenants = "SELECT DISTINCT tenant_id FROM users ORDER BY 1";
    assert_eq!(
        visible(&new_pod, &[("chemchat.tenant_id", "globex")], tenants).await,
        Vec::<String>::new(),
        "the second role is pinned like the first"
    );
    let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut old_pod)
        .await
        .expect("the older pod's open session keeps working");
    assert_eq!(seen, 0, "no tenant set: no row, as ever");

    // Once no pod uses it, the first role is retired: no new session, the open one ended.
    let retired = sql::retire_tenant_role(&platform, &tenant, RoleSlot::B)
        .await
        .unwrap();
    assert_eq!(
        (retired.role.as_str(), retired.slot, retired.existed),
        (first.role.as_str(), RoleSlot::A, true)
    );
    assert!(retired.sessions_ended >= 1, "{retired:?}");
    let after = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&mut old_pod)
        .await;
    assert!(after.is_err(), "the retired role's session still answers");
    assert!(!logs_in(&db, &first.role, PASSWORD).await);
    assert!(logs_in(&db, &second.role, SECOND_PASSWORD).await);
    assert_eq!(
        sql::pinned_tenant(&new_pod).await.unwrap().as_deref(),
        Some("acme"),
        "the current role's sessions are left alone"
    );
    // Retiring again is nothing new.
    let again = sql::retire_tenant_role(&platform, &tenant, RoleSlot::B)
        .await
        .unwrap();
    assert_eq!(again.sessions_ended, 0);

    // The next rotation gives the first role a password again, and the second stays.
    let third = provision(&platform, &tenant, RoleSlot::A, THIRD_PASSWORD)
        .await
        .unwrap();
    assert_eq!(
        (third.role.as_str(), third.created),
        (first.role.as_str(), false)
    );
    assert!(logs_in(&db, &first.role, THIRD_PASSWORD).await);
    assert!(logs_in(&db, &second.role, SECOND_PASSWORD).await);

    // The purge drops both.
    new_pod.pool().close().await;
    let mut dropped = sql::drop_tenant_role(&platform, &tenant).await.unwrap();
    dropped.sort();
    assert_eq!(dropped, both);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_roles WHERE rolname IN ($1, $2)")
        .bind(&both[0])
        .bind(&both[1])
        .fetch_one(platform.pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// Runs `chemchat-server tenant role acme <args>` on `db` as the operator's Jobs do.
fn role_command(db: &TestDb, password: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_chemchat-server"))
        .args(["tenant", "role", "acme"])
        .args(args)
        .current_dir(db.dir.path())
        .env("CHEMCHAT_DATABASE_URL", &db.url)
        // The test harness's role creates databases (see `TestDb`).
        .env("CHEMCHAT_ALLOW_RLS_BYPASS", "true")
        .env("CHEMCHAT_TENANT_ROLE_PASSWORD", password)
        .output()
        .expect("the binary runs")
}

fn succeeded(output: &std::process::Output, password: &str) {
    let logged = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{logged}");
    assert!(!logged.contains(password), "the password was logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_command_rotates_between_the_two_slots() {
    let (db, platform) = store(Engine::Postgres).await;
    let [a, b] = RoleSlot::ALL.map(|slot| {
        let database = db
            .url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap();
        chemchat_backends::database_role_in_slot(database, "acme", slot)
    });
    succeeded(&role_command(&db, PASSWORD, &["--slot", "a"]), PASSWORD);
    assert!(logs_in(&db, &a, PASSWORD).await);
    succeeded(
        &role_command(&db, SECOND_PASSWORD, &["--slot", "b"]),
        SECOND_PASSWORD,
    );
    assert!(logs_in(&db, &a, PASSWORD).await, "slot a untouched");
    assert!(logs_in(&db, &b, SECOND_PASSWORD).await);
    // The retire Job's run: slot b set again (no change), slot a retired.
    succeeded(
        &role_command(&db, SECOND_PASSWORD, &["--slot", "b", "--retire"]),
        SECOND_PASSWORD,
    );
    assert!(!logs_in(&db, &a, PASSWORD).await);
    assert!(logs_in(&db, &b, SECOND_PASSWORD).await);
    let unknown = role_command(&db, SECOND_PASSWORD, &["--slot", "c"]);
    assert!(!unknown.status.success());

    let mut dropped = sql::drop_tenant_role(&platform, &t("acme")).await.unwrap();
    dropped.sort();
    let mut both = vec![a, b];
    both.sort();
    assert_eq!(dropped, both);
}

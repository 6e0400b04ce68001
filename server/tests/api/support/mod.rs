//! Test support: fresh databases on both engines, the real server on 127.0.0.1:0, and the clients
//! that drive it.

pub mod api;
pub mod instance;
pub mod mailbox;
pub mod otlp;
#[macro_use]
pub mod media;
pub mod process;
pub mod server;
pub mod services;
pub mod socketio;
pub mod store;
pub mod ws;

use chemchat_server::adapters::sql::{self, SqlStore};
use chemchat_server::domain::{Tenant, TenantId, Tier};

/// Rate limits far above what any test does, so tests of other things are never throttled; the
/// tests of limits set their own.
pub const RELAXED_LIMITS: &str = "message.send.user=100000/s,message.send.tenant=100000/s,\
    message.edit.user=100000/s,reaction.user=100000/s,conversation.create.user=100000/s,\
    conversation.create.tenant=100000/s,member.change.user=100000/s,search.user=100000/s,\
    search.tenant=100000/s,register.address=100000/s,register.tenant=100000/s,\
    upload.user=100000/s,upload.tenant=100000/s,upload.address=100000/s,download.user=100000/s,\
    download.tenant=100000/s";

/// The database engines every store and API test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A database that exists for one test: a SQLite file in a temporary folder, or a PostgreSQL
/// database created for the test and dropped afterwards.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    drop_pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(engine: Engine) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        match engine {
            Engine::Sqlite => {
                let url = format!("sqlite://{}/chemchat.db", dir.path().display());
                Self {
                    url,
                    dir,
                    drop_pg: None,
                }
            }
            Engine::Postgres => {
                let admin = services::postgres_admin_url();
                let name = format!("chemchat_test_{}", uuid::Uuid::new_v4().simple());
                pg_exec(&admin, &format!("CREATE DATABASE {name}")).await;
                let url = replace_database(&admin, &name);
                Self {
                    url,
                    dir,
                    drop_pg: Some((admin, name)),
                }
            }
        }
    }

    /// A migrated store on this database.
    pub async fn store(&self) -> SqlStore {
        let store = sql::connect(&self.url, 16).await.expect("connect");
        sql::migrate(&store).await.expect("migrate");
        store
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.drop_pg.take() {
            // Drop runs outside any runtime guarantee; use a private one on its own thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(pg_exec(
                        &admin,
                        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    ));
                }
            })
            .join();
        }
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, _) = url
        .rsplit_once('/')
        .expect("database URL ends with /dbname");
    format!("{base}/{name}")
}

/// Runs one statement on its own connection to the PostgreSQL database at `url`.
pub async fn pg_exec(url: &str, statement: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!("cannot reach PostgreSQL at {url} ({e}); start it with `make services`")
    });
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(&mut conn)
        .await
        .expect(statement);
    conn.close().await.expect("connection closed");
}

/// A tenant with the given tier's quotas.
pub fn tenant(id: &str, tier: Tier) -> Tenant {
    Tenant {
        id: t(id),
        display_name: id.to_owned(),
        tier,
        quotas: tier.default_quotas(),
    }
}

pub fn t(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

/// Runs an async test body once per engine: `both_engines!(name, body_fn)` defines
/// `name::sqlite` and `name::postgres`.
macro_rules! both_engines {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$body($crate::support::Engine::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$body($crate::support::Engine::Postgres).await;
            }
        }
    };
}

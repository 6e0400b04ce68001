//! Test support: fresh databases on both engines, and the real server on 127.0.0.1:0 driven by a
//! real HTTP client.
#![allow(dead_code)]

pub mod messaging;
pub mod ws;

use chemchat_server::Server;
use chemchat_server::adapters::sql::{self, SqlStore};
use chemchat_server::config::Settings;
use chemchat_server::domain::{Tenant, TenantId, Tier};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::net::SocketAddr;
use tokio::sync::oneshot;

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
                let admin = postgres_admin_url();
                let name = format!("chemchat_test_{}", uuid::Uuid::new_v4().simple());
                admin_exec(&admin, &format!("CREATE DATABASE {name}")).await;
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
                    rt.block_on(admin_exec(
                        &admin,
                        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    ));
                }
            })
            .join();
        }
    }
}

/// The PostgreSQL server the tests use. Missing configuration fails the test: a test that
/// needs PostgreSQL never passes without it.
pub fn postgres_admin_url() -> String {
    std::env::var("CHEMCHAT_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "CHEMCHAT_TEST_DATABASE_URL is not set: PostgreSQL tests need it. Run `make test`, \
             or `eval \"$(make -s services)\"` first to start the services and export it."
        )
    })
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, _) = url
        .rsplit_once('/')
        .expect("database URL ends with /dbname");
    format!("{base}/{name}")
}

async fn admin_exec(admin: &str, sql: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot reach PostgreSQL at {admin} ({e}); start it with `make services`")
        });
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .expect(sql);
}

/// A tenant with the given tier's quotas.
pub fn tenant(id: &str, tier: Tier) -> Tenant {
    Tenant {
        id: TenantId::parse(id).unwrap(),
        display_name: id.to_owned(),
        tier,
        quotas: tier.default_quotas(),
    }
}

/// Settings for a test server on `db`.
pub fn settings(db: &TestDb) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: SecretString::from(db.url.clone()),
        jwt_secret: Some(SecretString::from("test-signing-secret-0123456789abcdef")),
        data_dir: db.dir.path().join("data"),
        media_dir: db.dir.path().join("media"),
        login_attempts_per_ip: 1000,
        login_attempts_per_account: 1000,
        shutdown_grace_seconds: 1,
        ..Settings::default()
    }
}

/// The real server on 127.0.0.1:0.
pub struct TestServer {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start(engine: Engine) -> Self {
        Self::start_with(engine, |_| {}).await
    }

    pub async fn start_with(engine: Engine, tweak: impl FnOnce(&mut Settings)) -> Self {
        let db = TestDb::new(engine).await;
        let mut settings = settings(&db);
        tweak(&mut settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::build(settings).await.expect("server builds");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            http: reqwest::Client::new(),
            db,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// The Prometheus exposition of `/metrics`.
    pub async fn metrics(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server exits cleanly");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Creates another tenant in the server's database.
    pub async fn add_tenant(&self, id: &str, tier: Tier) {
        use chemchat_server::ports::Store;
        self.db
            .store()
            .await
            .upsert_tenant(&tenant(id, tier))
            .await
            .unwrap();
    }

    /// Sends a request and returns the status and the JSON body (`Value::Null` when empty).
    pub async fn call(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = req.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body: {text}"))
        };
        (status, body)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(self.http.post(self.url(path)).json(&body)).await
    }

    pub async fn post_as(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(
            self.http
                .post(self.url(path))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    pub async fn get_as(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(self.http.get(self.url(path)).bearer_auth(token))
            .await
    }

    /// Registers `username` with a standard password; panics unless 201.
    pub async fn register(&self, username: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/auth/register",
                json!({
                    "username": username,
                    "displayName": username.to_uppercase(),
                    "email": format!("{username}@example.com"),
                    "password": PASSWORD,
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Logs `username` in; returns the token response.
    pub async fn login(&self, username: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/auth/login",
                json!({ "username": username, "password": PASSWORD, "deviceId": "test-device" }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Registers and logs in; returns the access token.
    pub async fn user(&self, username: &str) -> String {
        self.register(username).await;
        self.login(username).await["accessToken"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The password every test user has.
pub const PASSWORD: &str = "correct horse battery staple";

/// Asserts the documented error shape and returns the code.
pub fn error_code(status: StatusCode, body: &Value) -> String {
    assert!(
        status.is_client_error() || status.is_server_error(),
        "expected an error, got {status}: {body}"
    );
    let error = &body["error"];
    assert!(error["code"].is_string(), "no error.code in {body}");
    assert!(error["message"].is_string(), "no error.message in {body}");
    assert!(
        error["requestId"].is_string(),
        "no error.requestId in {body}"
    );
    error["code"].as_str().unwrap().to_owned()
}

/// Runs an async test body once per engine: `both_engines!(name, body_fn)` defines
/// `name_sqlite` and `name_postgres`.
#[macro_export]
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

/// The Kafka-protocol broker of `make services` (tansu).
pub fn kafka_brokers() -> String {
    service_env("CHEMCHAT_TEST_KAFKA_BROKERS", "the Kafka broker (tansu)")
}

/// The OpenSearch-API server of `make services` (osmem).
pub fn search_url() -> String {
    service_env(
        "CHEMCHAT_TEST_SEARCH_URL",
        "the search server (OpenSearch API)",
    )
}

fn service_env(name: &str, service: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need {service}. Run `make test`, or \
             `eval \"$(make -s services)\"` first to start the services and export it."
        )
    })
}

/// A tenant id of its own (`<prefix>-<random>`), so a test's topic, index and consumer group are
/// its alone on services that outlive the test.
pub fn unique_tenant(prefix: &str) -> chemchat_server::domain::TenantId {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    chemchat_server::domain::TenantId::parse(&format!("{prefix}-{}", &suffix[..10])).unwrap()
}

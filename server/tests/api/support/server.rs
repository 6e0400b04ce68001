//! The real server in this process, on 127.0.0.1:0 and a database of its own.

use super::api::Api;
use super::{Engine, TestDb, tenant};
use chemchat_server::Server;
use chemchat_server::config::Settings;
use chemchat_server::domain::{Quotas, Tenant, Tier};
use chemchat_server::ports::Store;
use secrecy::SecretString;
use std::ops::Deref;
use tokio::sync::oneshot;

/// Settings for a test server on `db`.
fn settings(db: &TestDb) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: SecretString::from(db.url.clone()),
        jwt_secret: Some(SecretString::from("test-signing-secret-0123456789abcdef")),
        data_dir: db.dir.path().join("data"),
        media_dir: db.dir.path().join("media"),
        login_attempts_per_ip: 1000,
        login_attempts_per_account: 1000,
        rate_limits: Some(super::RELAXED_LIMITS.to_owned()),
        // The test PostgreSQL URL is a superuser (it creates a database per test); the
        // row-level-security tests connect as an ordinary role of their own.
        allow_rls_bypass: true,
        shutdown_grace_seconds: 1,
        ..Settings::default()
    }
}

/// The real server on 127.0.0.1:0. It derefs to its [`Api`] client, so the helpers that drive a
/// server take either this or a `chemchat-server` process.
pub struct TestServer {
    api: Api,
    pub db: TestDb,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    pub async fn start(engine: Engine) -> Self {
        Self::start_with(engine, |_| {}).await
    }

    pub async fn start_with(engine: Engine, tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::start_on(TestDb::new(engine).await, tweak).await
    }

    /// A server on an existing database (and its media folder).
    pub async fn start_on(db: TestDb, tweak: impl FnOnce(&mut Settings)) -> Self {
        Self::start_at(db, "127.0.0.1:0".parse().unwrap(), tweak).await
    }

    /// A server on an existing database, listening on `addr` (a browser test restarts its
    /// server where the page expects it).
    pub async fn start_at(
        db: TestDb,
        addr: std::net::SocketAddr,
        tweak: impl FnOnce(&mut Settings),
    ) -> Self {
        let mut settings = settings(&db);
        tweak(&mut settings);
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::build(settings).await.expect("server builds");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async move {
            let _ = rx.await;
        }));
        Self {
            api: Api::new(addr),
            db,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server and waits for it; returns its database, to start another on.
    pub async fn stop_keeping_db(mut self) -> TestDb {
        self.halt().await;
        let spent = TestDb {
            url: String::new(),
            dir: tempfile::tempdir().expect("temporary folder"),
            drop_pg: None,
        };
        std::mem::replace(&mut self.db, spent)
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        self.halt().await;
    }

    async fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server exits cleanly");
        }
    }

    /// Creates another tenant in the server's database.
    pub async fn add_tenant(&self, id: &str, tier: Tier) {
        self.db
            .store()
            .await
            .upsert_tenant(&tenant(id, tier))
            .await
            .unwrap();
    }

    /// Replaces a tenant's quotas.
    pub async fn set_quotas(&self, id: &str, quotas: Quotas) {
        let tenant = Tenant {
            quotas,
            ..tenant(id, Tier::Enterprise)
        };
        self.db.store().await.upsert_tenant(&tenant).await.unwrap();
    }
}

impl Deref for TestServer {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

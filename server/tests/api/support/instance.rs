//! A `chemchat-server serve` process, for the tests of more than one instance (and of what
//! happens when one dies).

use super::TestDb;
use super::api::Api;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One `chemchat-server serve` process.
pub struct Instance {
    child: Child,
    /// Its API.
    pub api: Api,
}

impl Instance {
    /// Starts an instance on `db` and the Redis at `redis_url`, its channels under `prefix`.
    pub async fn start(db: &TestDb, redis_url: &str, prefix: &str) -> Self {
        Self::start_with(db, redis_url, prefix, &[]).await
    }

    /// Like [`Instance::start`], with extra environment variables (they win over the defaults).
    pub async fn start_with(
        db: &TestDb,
        redis_url: &str,
        prefix: &str,
        env: &[(&str, &str)],
    ) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_chemchat-server"))
            .arg("serve")
            .env("CHEMCHAT_LISTEN", addr.to_string())
            .env("CHEMCHAT_DATABASE_URL", &db.url)
            .env(
                "CHEMCHAT_JWT_SECRET",
                "test-signing-secret-0123456789abcdef",
            )
            .env("CHEMCHAT_REDIS_URL", redis_url)
            .env("CHEMCHAT_REDIS_PREFIX", prefix)
            .env("CHEMCHAT_DATA_DIR", db.dir.path().join("data"))
            .env("CHEMCHAT_LOGIN_ATTEMPTS_PER_IP", "1000")
            .env("CHEMCHAT_RATE_LIMITS", super::RELAXED_LIMITS)
            .env("CHEMCHAT_ALLOW_RLS_BYPASS", "true")
            .env("CHEMCHAT_SHUTDOWN_GRACE_SECONDS", "1")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("server process starts");
        let api = Api::new(addr);
        for _ in 0..300 {
            let ready = api.http.get(api.url("/health/ready")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Self { child, api };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("instance on {addr} not ready within 30 s");
    }

    /// Kills the process (no graceful shutdown: a crash).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

//! A throw-away service process of a test's own (a Redis or a broker it may kill or pause
//! without disturbing the shared ones): started on a free port, waited for, killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running service process.
pub struct Private {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Private {
    /// Runs `command` and waits until something answers on `port`.
    pub async fn start(mut command: Command, port: u16, what: &str) -> Self {
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} ({e}); see `make services`"));
        // Owned from here on, so every path (including the panic below) kills and reaps it.
        let service = Self { child, port };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return service;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{what} did not answer on port {port}");
    }

    /// Sends a signal (`-STOP` pauses the process, `-CONT` resumes it).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal} failed");
    }

    /// Kills and reaps it (a crash, not a shutdown).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        self.kill();
    }
}

//! Real Socket.IO clients that no one here wrote — python-socketio and socket.io-client on node —
//! driven through `tests/api/socketio/driver.{py,cjs}`: commands in, what the client saw out,
//! one JSON object a line each way.

use super::api::ApiUser;
use super::services;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long any expected output may take.
const WITHIN: Duration = Duration::from_secs(15);

/// Which client library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Library {
    /// python-socketio's `AsyncClient` (aiohttp).
    Python,
    /// socket.io-client, run with node.
    Node,
}

/// One client process.
pub struct SioClient {
    library: Library,
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    /// Output read while looking for something else.
    seen: VecDeque<Value>,
    tags: u64,
}

/// A client of `library` connected to the server at `addr` and authenticated as `user` by the
/// CONNECT packet's `auth`, over `transports` when given.
pub async fn connected(
    library: Library,
    addr: SocketAddr,
    user: &ApiUser,
    transports: Option<&[&str]>,
) -> SioClient {
    let mut client = SioClient::start(library).await;
    let outcome = client
        .connect(
            &format!("http://{addr}"),
            Some(json!({ "token": user.token })),
            transports,
        )
        .await;
    assert_eq!(outcome["type"], "connect", "{library:?}: {outcome}");
    client
}

fn driver(name: &str) -> String {
    format!("{}/tests/api/socketio/{name}", env!("CARGO_MANIFEST_DIR"))
}

impl SioClient {
    /// Starts a client of `library`.
    pub async fn start(library: Library) -> Self {
        let mut command = match library {
            Library::Python => {
                let mut c = Command::new("python3");
                c.arg("-u").arg(driver("driver.py"));
                c
            }
            Library::Node => {
                let mut c = Command::new("node");
                c.arg(driver("driver.cjs"))
                    .env("NODE_PATH", services::node_path());
                c
            }
        };
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {library:?} Socket.IO client: {e}"));
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            library,
            child,
            stdin,
            lines,
            seen: VecDeque::new(),
            tags: 0,
        }
    }

    async fn command(&mut self, command: Value) {
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// The next output line that matches `pred`; earlier ones are kept for later searches.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self.seen.iter().position(&pred) {
            return self.seen.remove(at).unwrap();
        }
        let deadline = tokio::time::Instant::now() + WITHIN;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{:?} client: no {what} within {WITHIN:?}; saw {:?}",
                        self.library, self.seen
                    )
                })
                .unwrap()
                .unwrap_or_else(|| panic!("{:?} client exited before {what}", self.library));
            let value: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{:?} client wrote {line:?}: {e}", self.library));
            if pred(&value) {
                return value;
            }
            self.seen.push_back(value);
        }
    }

    /// Connects to `url` (`http://127.0.0.1:port`) with `auth` and, when given, only these
    /// transports; returns `connect`, `connect_error` or `connect_failed`.
    pub async fn connect(
        &mut self,
        url: &str,
        auth: Option<Value>,
        transports: Option<&[&str]>,
    ) -> Value {
        self.command(
            json!({ "op": "connect", "url": url, "auth": auth, "transports": transports }),
        )
        .await;
        self.wait_for("connection outcome", |v| {
            matches!(
                v["type"].as_str(),
                Some("connect" | "connect_error" | "connect_failed")
            )
        })
        .await
    }

    /// Emits without asking for an acknowledgement.
    pub async fn emit(&mut self, event: &str, data: Value) {
        self.command(json!({ "op": "emit", "event": event, "data": data }))
            .await;
    }

    /// Emits with an acknowledgement callback; returns what the callback received.
    pub async fn call(&mut self, event: &str, data: Value) -> Value {
        self.tags += 1;
        let tag = self.tags;
        self.command(
            json!({ "op": "emit", "event": event, "data": data, "ack": true, "tag": tag }),
        )
        .await;
        self.wait_for(&format!("the ack of {event}"), |v| {
            v["type"] == "ack" && v["tag"] == tag
        })
        .await["data"]
            .clone()
    }

    /// [`Self::call`], expecting `{ok: true}`; returns the result.
    pub async fn ok(&mut self, event: &str, data: Value) -> Value {
        let reply = self.call(event, data).await;
        assert_eq!(reply["ok"], true, "{:?}: {event}: {reply}", self.library);
        reply["result"].clone()
    }

    /// The next server event `event` whose data matches `pred`.
    pub async fn event(&mut self, event: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for(event, |v| {
            v["type"] == "event" && v["event"] == event && pred(&v["data"])
        })
        .await["data"]
            .clone()
    }

    /// Whether the server event `event` with data matching `pred` has arrived and was passed
    /// over by an earlier search: what a client would have seen by now, without waiting.
    pub fn saw(&self, event: &str, pred: impl Fn(&Value) -> bool) -> bool {
        self.seen
            .iter()
            .any(|v| v["type"] == "event" && v["event"] == event && pred(&v["data"]))
    }

    /// Waits until the server disconnects the client; returns the reason the library gives.
    pub async fn disconnected(&mut self) -> String {
        let line = self
            .wait_for("disconnect", |v| v["type"] == "disconnect")
            .await;
        line["reason"].as_str().unwrap_or_default().to_owned()
    }

    /// The transport in use now (`polling` or `websocket`).
    pub async fn transport(&mut self) -> String {
        self.command(json!({ "op": "transport" })).await;
        let line = self
            .wait_for("transport", |v| v["type"] == "transport")
            .await;
        line["name"].as_str().unwrap_or_default().to_owned()
    }

    /// Disconnects and ends the process.
    pub async fn stop(mut self) {
        self.command(json!({ "op": "disconnect" })).await;
        drop(self.stdin);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}

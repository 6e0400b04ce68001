//! The web client in a real browser: Debian's Chromium driven by playwright-core runs
//! `tests/api/web/scenario.cjs` against the real server — two people register, start a DM,
//! chat both ways with typing and read ticks, one sends while the server restarts and nothing
//! is lost or doubled, an image shows its thumbnail to the other, search finds a message, and a
//! keyboard-only send works. Screenshots of the main views land in the test's output folder.

use crate::support::server::TestServer;
use crate::support::{Engine, services};
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// The whole scenario, restarts included.
const WITHIN: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_people_chat_in_chromium_through_a_restart() {
    let mut server = TestServer::start(Engine::Sqlite).await;
    let addr = server.addr;
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-client");
    std::fs::create_dir_all(&shots).unwrap();
    let mut scenario = Command::new("node")
        .arg(format!(
            "{}/tests/api/web/scenario.cjs",
            env!("CARGO_MANIFEST_DIR")
        ))
        .env("NODE_PATH", services::node_path())
        .env("CHEMCHAT_WEB_URL", format!("http://{addr}"))
        .env("CHEMCHAT_CHROMIUM", services::chromium())
        .env("CHEMCHAT_WEB_SHOTS", &shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs the browser scenario (see `make services`)");
    let mut stdin = scenario.stdin.take().unwrap();
    let mut lines = BufReader::new(scenario.stdout.take().unwrap()).lines();
    let mut steps = Vec::new();
    let run = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Ok(message) = serde_json::from_str::<Value>(&line) else {
                eprintln!("scenario: {line}");
                continue;
            };
            if let Some(step) = message["step"].as_str() {
                eprintln!("scenario step: {step}");
                steps.push(step.to_owned());
            }
            if message["need"] == "restart" {
                let db = server.stop_keeping_db().await;
                server = TestServer::start_at(db, addr, |_| {}).await;
                stdin.write_all(b"{\"restarted\":true}\n").await.unwrap();
                stdin.flush().await.unwrap();
            }
        }
        scenario.wait().await.unwrap()
    };
    let status = tokio::time::timeout(WITHIN, run).await.unwrap_or_else(|_| {
        panic!(
            "the browser scenario took over {WITHIN:?}; screenshots in {}",
            shots.display()
        )
    });
    assert!(
        status.success(),
        "the browser scenario failed ({status}) after steps {steps:?}; screenshots in {}",
        shots.display()
    );
    assert!(
        steps.iter().any(|s| s.contains("restart")),
        "the scenario went through a restart: {steps:?}"
    );
}

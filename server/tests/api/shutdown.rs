//! Every task has an owner: once `serve` returns, nothing the server spawned is still running
//! (the outbox relay, the hub's upkeep, typing expiry, the connections' tasks). Counted with the
//! runtime's own count of live tasks, so a loop someone forgets to own fails this test.

use crate::support::Engine;

use crate::support::server::TestServer;
use crate::support::ws::pair_in_a_room;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_returns_with_no_task_left_running() {
    let alive = || Handle::current().metrics().num_alive_tasks();
    let before = alive();
    let server = TestServer::start(Engine::Sqlite).await;
    let (room, mut a, mut b) = pair_in_a_room(&server).await;
    // A typing indicator leaves an expiry timer behind; a message wakes the relay.
    a.ok("typing.start", json!({ "conversationId": room }))
        .await;
    a.ok(
        "message.send",
        json!({ "conversationId": room, "content": "bye", "clientMessageId": "k1" }),
    )
    .await;
    b.expect("message.created").await;
    assert!(alive() > before, "the server runs tasks while it serves");

    server.stop().await;
    drop((a, b));
    // The clients' own connection tasks end as their sockets close; give them a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive() > before && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(alive(), before, "tasks still running after serve returned");
}

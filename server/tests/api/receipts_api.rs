//! Stored delivery receipts over REST and the socket, on both engines: the delivered pointer
//! moves forward only, members carry it, sync replays it, and reading implies delivery.

use crate::support::Engine;
use crate::support::api::{api_group, api_user, assert_error, call, send_text};
use crate::support::server::TestServer;
use crate::support::ws::Ws;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn member<'a>(conversation: &'a Value, user: &str) -> &'a Value {
    conversation["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["userId"] == user)
        .unwrap()
}

async fn delivery_receipts(engine: Engine) {
    let server = TestServer::start(engine).await;
    let alice = api_user(&server, None, "alice").await;
    let bob = api_user(&server, None, "bob").await;
    let outsider = api_user(&server, None, "outsider").await;
    let group = api_group(&server, &alice, &[&bob]).await;
    for n in 1..=5 {
        send_text(&server, &alice, &group, &format!("m{n}")).await;
    }
    let (_, now) = call(&server, &alice, Method::GET, "/api/v1/sync", None).await;
    let since = now["cursor"].as_str().unwrap().to_owned();
    let (mut alice_ws, _) = Ws::login(server.addr, &alice.token).await;
    alice_ws
        .ok("conversation.join", json!({ "conversationId": group }))
        .await;
    let (mut bob_ws, _) = Ws::login(server.addr, &bob.token).await;

    // Delivered over the socket: stored, heard by the room, forward only.
    let ack = bob_ws
        .ok(
            "message.delivered",
            json!({ "conversationId": group, "seq": 3 }),
        )
        .await;
    assert_eq!(ack["seq"], 3, "{ack}");
    let heard = alice_ws.expect("receipt.delivered").await;
    assert_eq!(
        (heard["userId"].clone(), heard["seq"].clone()),
        (json!(bob.id), json!(3))
    );
    let ack = bob_ws
        .ok(
            "message.delivered",
            json!({ "conversationId": group, "seq": 2 }),
        )
        .await;
    assert_eq!(ack["seq"], 3, "never back: {ack}");

    // Over REST; beyond the latest message it stops at the latest.
    let path = format!("/api/v1/conversations/{group}/delivered");
    let (status, body) = call(
        &server,
        &bob,
        Method::POST,
        &path,
        Some(json!({ "seq": 99 })),
    )
    .await;
    assert_eq!(
        (status, body["seq"].clone()),
        (StatusCode::OK, json!(5)),
        "{body}"
    );
    let (status, body) = call(
        &server,
        &bob,
        Method::POST,
        &path,
        Some(json!({ "seq": -1 })),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
    let (status, body) = call(
        &server,
        &outsider,
        Method::POST,
        &path,
        Some(json!({ "seq": 1 })),
    )
    .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "conversation_not_found",
    );
    let code = bob_ws
        .fails(
            "message.delivered",
            json!({ "conversationId": uuid::Uuid::now_v7(), "seq": 1 }),
        )
        .await;
    assert_eq!(code, "conversation_not_found");

    // Members carry both pointers.
    let conversation = format!("/api/v1/conversations/{group}");
    let (_, shown) = call(&server, &alice, Method::GET, &conversation, None).await;
    let bob_there = member(&shown, &bob.id);
    assert_eq!(
        (
            bob_there["lastDeliveredSeq"].clone(),
            bob_there["lastReadSeq"].clone()
        ),
        (json!(5), json!(0))
    );

    // Reading implies delivery: for Alice's receipt of her own messages, and for Carol's.
    let carol = api_user(&server, None, "carol").await;
    let members = format!("/api/v1/conversations/{group}/members");
    call(
        &server,
        &alice,
        Method::POST,
        &members,
        Some(json!({ "userId": carol.id })),
    )
    .await;
    send_text(&server, &alice, &group, "m6").await;
    let read = format!("/api/v1/conversations/{group}/read");
    let (status, _) = call(
        &server,
        &carol,
        Method::POST,
        &read,
        Some(json!({ "seq": 6 })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, shown) = call(&server, &alice, Method::GET, &conversation, None).await;
    let carol_there = member(&shown, &carol.id);
    assert_eq!(
        (
            carol_there["lastDeliveredSeq"].clone(),
            carol_there["lastReadSeq"].clone()
        ),
        (json!(6), json!(6))
    );

    // Sync replays the stored receipts, in order.
    let (_, sync) = call(
        &server,
        &alice,
        Method::GET,
        &format!("/api/v1/sync?since={since}"),
        None,
    )
    .await;
    let delivered: Vec<i64> = sync["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "receipt.delivered")
        .map(|e| e["data"]["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(delivered, [3, 5], "{sync}");
    server.stop().await;
}
both_engines!(delivery_receipts_, delivery_receipts);

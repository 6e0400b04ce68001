//! The reference fan-out server of the load benchmark answers a send the way ChemChat does: an
//! ack `{id, seq}` to the sender and `message.created` to every member that joined.

use chemchat_e2e::load::frames;
use chemchat_e2e::load::reference::Reference;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn next_event(ws: &mut Ws, event: &str) -> Value {
    loop {
        let message = ws.next().await.expect("open").expect("frame");
        if let Message::Text(text) = message {
            let frame: Value = serde_json::from_str(text.as_str()).expect("JSON");
            if frame["event"] == event {
                return frame["data"].clone();
            }
        }
    }
}

async fn member(url: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connects");
    next_event(&mut ws, "authenticated").await;
    ws.send(Message::text(frames::join("room-0", 1)))
        .await
        .expect("sent");
    let ack = next_event(&mut ws, "ack").await;
    assert_eq!(ack["ok"], true);
    ws
}

#[tokio::test]
async fn a_send_is_acked_and_fanned_out_to_the_room() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "ws://{}/api/v1/ws?token=x",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(Arc::new(Reference::default()).serve(listener));
    let mut alice = member(&url).await;
    let mut bob = member(&url).await;
    let stamp = frames::Stamp {
        step: 0,
        intended: 42,
        written: 43,
    };
    let content = frames::content(stamp, 32);
    alice
        .send(Message::text(frames::send("room-0", &content, "c-1", 7)))
        .await
        .expect("sent");
    let ack = next_event(&mut alice, "ack").await;
    assert_eq!(ack["ackId"], 7);
    assert_eq!(ack["result"]["seq"], 1);
    for ws in [&mut alice, &mut bob] {
        let created = next_event(ws, "message.created").await;
        assert_eq!(created["content"], content.as_str());
        assert_eq!(created["sequenceNumber"], 1);
        assert_eq!(created["clientMessageId"], "c-1");
    }
}

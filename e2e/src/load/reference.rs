//! The reference fan-out server: ChemChat's WebSocket protocol subset (`authenticate`,
//! `conversation.join`, `message.send` → ack `{id, seq}` + `message.created` to the room) with
//! no persistence and no authentication, serialising each frame once. Whatever it sustains on a
//! machine is the ceiling of JSON-over-WebSocket fan-out there, which puts ChemChat's figures
//! in proportion.

use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames a connection may have queued (ChemChat's default too). A member whose queue is full
/// is dropped from the room rather than slowing the sender; its missing deliveries show in the
/// generator's report.
const SEND_QUEUE: usize = 256;

#[derive(Debug, Default)]
struct Room {
    seq: i64,
    members: Vec<(u64, mpsc::Sender<Utf8Bytes>)>,
}

/// The server's shared state: rooms by conversation id.
#[derive(Debug, Default)]
pub struct Reference {
    rooms: Mutex<HashMap<String, Room>>,
    next_conn: AtomicU64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    event: String,
    #[serde(default)]
    data: Value,
    ack_id: Option<u64>,
}

impl Reference {
    /// Accepts connections on `listener` until the process ends.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (socket, _) = listener.accept().await?;
            let _ = socket.set_nodelay(true);
            tokio::spawn(self.clone().connection(socket));
        }
    }

    async fn connection(self: Arc<Self>, socket: TcpStream) {
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let Ok(ws) = tokio_tungstenite::accept_async_with_config(socket, Some(config)).await else {
            return;
        };
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (mut sink, mut stream) = ws.split();
        let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(SEND_QUEUE);
        let writer = tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                if sink.send(Message::Text(text)).await.is_err() {
                    return;
                }
            }
            let _ = sink.close().await;
        });
        // Authentication is accepted unchecked: the generator passes `?token=`, after which
        // ChemChat answers `authenticated` at once, so this server does the same.
        let hello = json!({ "event": "authenticated", "data": { "userId": format!("ref-{id}"), "sessionId": format!("ref-{id}") } });
        let _ = tx.try_send(hello.to_string().into());
        let mut joined = Vec::new();
        while let Some(Ok(message)) = stream.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let Ok(envelope) = serde_json::from_str::<Envelope>(text.as_str()) else {
                continue;
            };
            if !self.handle(id, &tx, envelope, &mut joined) {
                break;
            }
        }
        self.leave(id, &joined);
        drop(tx);
        let _ = writer.await;
    }

    /// Handles one envelope; false once this connection's queue is full.
    fn handle(
        &self,
        id: u64,
        tx: &mpsc::Sender<Utf8Bytes>,
        envelope: Envelope,
        joined: &mut Vec<String>,
    ) -> bool {
        let conversation = envelope.data["conversationId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let ack = |result: Value| match envelope.ack_id {
            Some(ack_id) => {
                let ack = json!({ "event": "ack", "data": { "ackId": ack_id, "ok": true, "result": result } });
                tx.try_send(ack.to_string().into()).is_ok()
            }
            None => true,
        };
        match envelope.event.as_str() {
            "conversation.join" => {
                if let Ok(mut rooms) = self.rooms.lock() {
                    let room = rooms.entry(conversation.clone()).or_default();
                    room.members.push((id, tx.clone()));
                }
                joined.push(conversation);
                ack(json!({}))
            }
            "message.send" => {
                let Ok(mut rooms) = self.rooms.lock() else {
                    return false;
                };
                let room = rooms.entry(conversation.clone()).or_default();
                room.seq += 1;
                let seq = room.seq;
                let message_id = format!("ref-{seq}");
                // Like ChemChat, the sender learns the seq before the room sees the message.
                let acked = ack(json!({ "id": message_id, "seq": seq }));
                // Serialised once; every member's queue gets a reference-counted copy.
                let frame: Utf8Bytes = json!({ "event": "message.created", "data": {
                    "id": message_id, "conversationId": conversation, "senderId": format!("ref-{id}"),
                    "content": envelope.data["content"], "sequenceNumber": seq,
                    "clientMessageId": envelope.data["clientMessageId"], "timestamp": taken_at(),
                } })
                .to_string()
                .into();
                room.members
                    .retain(|(_, member)| member.try_send(frame.clone()).is_ok());
                acked
            }
            // `authenticate` was answered on connect; the rest of the protocol is out of scope.
            _ => true,
        }
    }

    fn leave(&self, id: u64, joined: &[String]) {
        if let Ok(mut rooms) = self.rooms.lock() {
            for conversation in joined {
                if let Some(room) = rooms.get_mut(conversation) {
                    room.members.retain(|(member, _)| *member != id);
                }
            }
        }
    }
}

/// Now, to the millisecond, as ChemChat stamps a message when its use case takes the send: the
/// generator cuts both servers' latencies at this point.
fn taken_at() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_millisecond(now.millisecond())
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

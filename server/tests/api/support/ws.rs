//! A real WebSocket client (tokio-tungstenite) for the gateway tests: envelopes in, frames out,
//! frames kept in arrival order so a test can wait for one event without losing the others.

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame that must come.
pub const WAIT: Duration = Duration::from_secs(10);

/// One client connection.
pub struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pending: VecDeque<Value>,
    next_ack: u64,
    /// The close frame, once the server closed.
    pub closed: Option<(u16, String)>,
}

impl Ws {
    /// Connects to `/api/v1/ws` with an optional query string (`token=…`).
    pub async fn connect(addr: SocketAddr, query: &str) -> Self {
        let url = format!("ws://{addr}/api/v1/ws?{query}");
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("WebSocket connects");
        Self {
            stream,
            pending: VecDeque::new(),
            next_ack: 1,
            closed: None,
        }
    }

    /// Connects and authenticates with the first frame; returns the `authenticated` data too.
    pub async fn login(addr: SocketAddr, token: &str) -> (Self, Value) {
        let mut ws = Self::connect(addr, "").await;
        ws.send(json!({ "event": "authenticate", "data": { "token": token } }))
            .await;
        let data = ws.expect("authenticated").await;
        (ws, data)
    }

    /// Sends a JSON value as a text frame.
    pub async fn send(&mut self, value: Value) {
        self.send_raw(&value.to_string()).await;
    }

    /// Sends text as it is.
    pub async fn send_raw(&mut self, text: &str) {
        self.stream
            .send(Message::text(text.to_owned()))
            .await
            .expect("frame sent");
    }

    /// Sends binary data.
    pub async fn send_binary(&mut self, bytes: Vec<u8>) {
        self.stream
            .send(Message::binary(bytes))
            .await
            .expect("frame sent");
    }

    /// Reads one frame from the socket; `None` once closed.
    async fn read(&mut self, wait: Duration) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(wait, self.stream.next())
                .await
                .expect("a frame within the wait");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Some(serde_json::from_str(text.as_str()).expect("JSON frame"));
                }
                Some(Ok(Message::Close(frame))) => {
                    self.closed = Some(frame.map_or((1005, String::new()), |f: CloseFrame| {
                        (u16::from(f.code), f.reason.as_str().to_owned())
                    }));
                    return None;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    self.closed.get_or_insert((1006, String::new()));
                    return None;
                }
            }
        }
    }

    /// The next frame of `event` (others stay queued); returns its data.
    pub async fn expect(&mut self, event: &str) -> Value {
        self.expect_where(event, |_| true).await
    }

    /// The next frame of `event` whose data satisfies `pred`.
    pub async fn expect_where(&mut self, event: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self
            .pending
            .iter()
            .position(|f| f["event"] == event && pred(&f["data"]))
        {
            return self.pending.remove(at).unwrap()["data"].take();
        }
        loop {
            let frame = self.read(WAIT).await.unwrap_or_else(|| {
                panic!(
                    "closed {:?} while waiting for {event}; pending {:?}",
                    self.closed, self.pending
                )
            });
            if frame["event"] == event && pred(&frame["data"]) {
                return frame["data"].clone();
            }
            self.pending.push_back(frame);
        }
    }

    /// Sends `event` with a fresh ackId and returns the ack's data (`{ackId, ok, result|error}`).
    pub async fn request(&mut self, event: &str, data: Value) -> Value {
        let ack_id = self.next_ack;
        self.next_ack += 1;
        self.send(json!({ "event": event, "data": data, "ackId": ack_id }))
            .await;
        self.expect_where("ack", |d| d["ackId"] == ack_id).await
    }

    /// Like [`Ws::request`], asserting success; returns the result.
    pub async fn ok(&mut self, event: &str, data: Value) -> Value {
        let ack = self.request(event, data).await;
        assert_eq!(ack["ok"], true, "{event} failed: {ack}");
        ack["result"].clone()
    }

    /// Like [`Ws::request`], asserting failure; returns the error code.
    pub async fn fails(&mut self, event: &str, data: Value) -> String {
        let ack = self.request(event, data).await;
        assert_eq!(ack["ok"], false, "{event} should fail: {ack}");
        ack["error"]["code"].as_str().unwrap().to_owned()
    }

    /// Frames of `event` already received or arriving within `wait`.
    pub async fn collect(&mut self, event: &str, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(frame)) =
            tokio::time::timeout_at(deadline, async { self.read(WAIT).await }).await
        {
            self.pending.push_back(frame);
        }
        let (hits, rest): (Vec<Value>, Vec<Value>) =
            self.pending.drain(..).partition(|f| f["event"] == event);
        self.pending = rest.into();
        hits.into_iter().map(|mut f| f["data"].take()).collect()
    }

    /// Waits for the server to close; returns the close code and reason.
    pub async fn wait_closed(&mut self, wait: Duration) -> (u16, String) {
        let deadline = tokio::time::Instant::now() + wait;
        while self.closed.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            assert!(!left.is_zero(), "not closed within {wait:?}");
            if let Some(frame) = self.read(left).await {
                self.pending.push_back(frame);
            }
        }
        self.closed.clone().unwrap()
    }

    /// Asserts that no frame of `event` arrives within `wait`.
    pub async fn quiet(&mut self, event: &str, wait: Duration) {
        let got = self.collect(event, wait).await;
        assert!(got.is_empty(), "unexpected {event}: {got:?}");
    }
}

/// Alice and Bob in a group of their own on `api`, each connected and joined: the room's id and
/// their two connections.
pub async fn pair_in_a_room(api: &super::api::Api) -> (String, Ws, Ws) {
    use super::api::{api_group, api_user};
    let alice = api_user(api, None, "alice").await;
    let bob = api_user(api, None, "bob").await;
    let room = api_group(api, &alice, &[&bob]).await;
    let (mut a, _) = Ws::login(api.addr, &alice.token).await;
    let (mut b, _) = Ws::login(api.addr, &bob.token).await;
    for ws in [&mut a, &mut b] {
        ws.ok("conversation.join", json!({ "conversationId": room }))
            .await;
    }
    (room, a, b)
}

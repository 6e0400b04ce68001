//! One benchmark connection: open, authenticate, join, then a reader task that records acks and
//! deliveries and a writer task that sends what the scheduler hands it.

use super::frames::{self, Incoming};
use super::stats::Stats;
use anyhow::{Context as _, bail};
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long opening, authenticating and joining may take.
const HANDSHAKE_WAIT: Duration = Duration::from_secs(60);

/// What the scheduler asks a connection's writer to do.
#[derive(Debug, Clone, Copy)]
pub enum Command {
    /// Send one message of `step`, meant to leave at `sent_micros` (see [`frames::origin`]).
    Send {
        /// The phase it belongs to.
        step: usize,
        /// Its intended send time.
        sent_micros: u64,
        /// A per-connection counter, for the ack and client message ids.
        n: u64,
    },
    /// Close the connection.
    Close,
}

/// A connection as the scheduler sees it.
#[derive(Debug)]
pub struct Conn {
    /// The writer's queue. Small: a connection that cannot keep up has its sends skipped (and
    /// counted) rather than queued without bound, which would hide the overload as latency.
    pub tx: mpsc::Sender<Command>,
    /// Members of its room (the deliveries each of its sends should produce).
    pub room_members: u64,
}

/// Client buffers kept small: the generator holds up to 10 000 connections next to the server,
/// and tungstenite's default 128 KiB read buffer each would cost more than the server does.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// Opens `ws_base/api/v1/ws?token=…`, waits for `authenticated`, joins `conversation`, and
/// starts the reader and writer tasks.
pub async fn open(
    ws_base: &str,
    token: &str,
    conversation: String,
    room_members: u64,
    content_bytes: usize,
    stats: Arc<Stats>,
) -> anyhow::Result<Conn> {
    let url = format!("{ws_base}/api/v1/ws?token={token}");
    let ws = tokio::time::timeout(HANDSHAKE_WAIT, async {
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config()), true)
            .await
            .context("connect")?;
        wait_for(&mut ws, |f| f.event == "authenticated").await?;
        ws.send(Message::text(frames::join(&conversation, 1)))
            .await?;
        wait_for(&mut ws, |f| f.event == "ack" && f.data.ack_id == Some(1)).await?;
        anyhow::Ok(ws)
    })
    .await
    .context("handshake timed out")??;
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Command>(8);
    let reader_stats = stats.clone();
    tokio::spawn(async move {
        while let Some(message) = stream.next().await {
            match message {
                Ok(Message::Text(text)) => record(&reader_stats, text.as_str()),
                Ok(Message::Close(frame)) => {
                    reader_stats.closed(frame.map_or(1005, |f| u16::from(f.code)));
                    return;
                }
                Ok(_) => {}
                Err(_) => {
                    reader_stats.closed(1006);
                    return;
                }
            }
        }
        reader_stats.closed(1006);
    });
    tokio::spawn(async move {
        while let Some(command) = rx.recv().await {
            match command {
                Command::Send {
                    step,
                    sent_micros,
                    n,
                } => {
                    let content = frames::content(step, sent_micros, content_bytes);
                    let text = frames::send(
                        &conversation,
                        &content,
                        &format!("lg-{sent_micros}-{n}"),
                        frames::send_ack_id(step, n),
                    );
                    if sink.send(Message::text(text)).await.is_err() {
                        return;
                    }
                    stats.steps[step].sent.fetch_add(1, Ordering::Relaxed);
                }
                Command::Close => {
                    let _ = sink.close().await;
                    return;
                }
            }
        }
    });
    Ok(Conn { tx, room_members })
}

/// Reads frames until one satisfies `pred`; fails on close or a failed ack.
async fn wait_for(ws: &mut Ws, pred: impl Fn(&Incoming) -> bool) -> anyhow::Result<()> {
    while let Some(message) = ws.next().await {
        if let Message::Text(text) = message? {
            let frame: Incoming = serde_json::from_str(text.as_str()).context("JSON frame")?;
            if frame.event == "ack" && frame.data.ok == Some(false) {
                bail!("refused: {text}");
            }
            if pred(&frame) {
                return Ok(());
            }
        }
    }
    bail!("closed during the handshake")
}

/// Counts one received frame.
fn record(stats: &Stats, text: &str) {
    let Ok(frame) = serde_json::from_str::<Incoming>(text) else {
        stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    match frame.event.as_str() {
        "message.created" => {
            let now = frames::now_micros();
            if let Some((step, sent)) = frame
                .data
                .content
                .as_deref()
                .and_then(frames::parse_content)
                && let Some(step_stats) = stats.steps.get(step)
            {
                step_stats.delivered(now.saturating_sub(sent));
            }
        }
        "ack" => {
            if let Some(step) = frame.data.ack_id.and_then(frames::ack_step)
                && let Some(step_stats) = stats.steps.get(step)
            {
                let counter = if frame.data.ok == Some(true) {
                    &step_stats.acks
                } else {
                    &step_stats.nacks
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        "error" => {
            stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }
}

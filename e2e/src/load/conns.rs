//! One benchmark connection: open, authenticate, join, then a reader task that records acks and
//! deliveries and a writer task that sends what the scheduler hands it.

use super::frames::{self, Incoming};
use super::sio;
use super::stats::{Cut, Stats};
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

/// The wire a connection speaks: ChemChat's JSON WebSocket protocol, or the same protocol over
/// Socket.IO (WebSocket transport), so `make bench` compares the two paths in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `/api/v1/ws`.
    Json,
    /// `/socket.io/`.
    SocketIo,
}

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

/// Opens a connection (`ws_base/api/v1/ws?token=…`, or `ws_base/socket.io/` with the token as
/// the CONNECT `auth`), waits for `authenticated`, joins `conversation`, and starts the reader
/// and writer tasks.
pub async fn open(
    ws_base: &str,
    protocol: Protocol,
    token: &str,
    conversation: String,
    room_members: u64,
    content_bytes: usize,
    stats: Arc<Stats>,
) -> anyhow::Result<Conn> {
    let url = match protocol {
        Protocol::Json => format!("{ws_base}/api/v1/ws?token={token}"),
        Protocol::SocketIo => format!("{ws_base}/socket.io/?EIO=4&transport=websocket"),
    };
    let ws = tokio::time::timeout(HANDSHAKE_WAIT, async {
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config()), true)
            .await
            .context("connect")?;
        if protocol == Protocol::SocketIo {
            wait_for(&mut ws, protocol, |p| matches!(p, Seen::Open)).await?;
            ws.send(Message::text(sio::connect(token))).await?;
        }
        wait_for(
            &mut ws,
            protocol,
            |p| matches!(p, Seen::Frame(f) if f.event == "authenticated"),
        )
        .await?;
        ws.send(Message::text(join(protocol, &conversation)))
            .await?;
        wait_for(
            &mut ws,
            protocol,
            |p| matches!(p, Seen::Frame(f) if f.event == "ack" && f.data.ack_id == Some(1)),
        )
        .await?;
        anyhow::Ok(ws)
    })
    .await
    .context("handshake timed out")??;
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Command>(8);
    // Engine.IO pings are answered by the writer, which owns the sink.
    let (pong, mut pongs) = mpsc::channel::<()>(2);
    let reader_stats = stats.clone();
    tokio::spawn(async move {
        while let Some(message) = stream.next().await {
            match message {
                Ok(Message::Text(text)) => match read(protocol, text.as_str()) {
                    Some(Seen::Frame(frame)) => record(&reader_stats, &frame),
                    Some(Seen::Ping) => {
                        let _ = pong.try_send(());
                    }
                    Some(Seen::Gone) => {
                        reader_stats.closed(1000);
                        return;
                    }
                    Some(Seen::Open) => {}
                    None => {
                        reader_stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
                    }
                },
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
        loop {
            let command = tokio::select! {
                command = rx.recv() => command,
                Some(()) = pongs.recv() => {
                    if sink.send(Message::text(sio::PONG)).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            match command {
                Some(Command::Send {
                    step,
                    sent_micros,
                    n,
                }) => {
                    let stamp = frames::Stamp {
                        step,
                        intended: sent_micros,
                        written: frames::now_micros(),
                    };
                    let content = frames::content(stamp, content_bytes);
                    let client_message_id = format!("lg-{sent_micros}-{n}");
                    let ack_id = frames::send_ack_id(step, n);
                    let text = match protocol {
                        Protocol::Json => {
                            frames::send(&conversation, &content, &client_message_id, ack_id)
                        }
                        Protocol::SocketIo => sio::event(
                            "message.send",
                            &serde_json::json!({ "conversationId": conversation,
                                "content": content, "clientMessageId": client_message_id }),
                            ack_id,
                        ),
                    };
                    if sink.send(Message::text(text)).await.is_err() {
                        return;
                    }
                    stats.steps[step].sent.fetch_add(1, Ordering::Relaxed);
                }
                Some(Command::Close) | None => {
                    let _ = sink.close().await;
                    return;
                }
            }
        }
    });
    Ok(Conn { tx, room_members })
}

/// The `conversation.join` request, ack id 1.
fn join(protocol: Protocol, conversation: &str) -> String {
    match protocol {
        Protocol::Json => frames::join(conversation, 1),
        Protocol::SocketIo => sio::event(
            "conversation.join",
            &serde_json::json!({ "conversationId": conversation }),
            1,
        ),
    }
}

/// What a received text frame is, whatever the wire.
enum Seen {
    /// Socket.IO's open packet.
    Open,
    /// Socket.IO's ping, to answer.
    Ping,
    /// The server disconnected.
    Gone,
    /// An event or an ack, as the JSON envelope carries it.
    Frame(Incoming),
}

fn read(protocol: Protocol, text: &str) -> Option<Seen> {
    match protocol {
        Protocol::Json => serde_json::from_str::<Incoming>(text).ok().map(Seen::Frame),
        Protocol::SocketIo => match sio::decode(text) {
            sio::Packet::Open => Some(Seen::Open),
            sio::Packet::Ping => Some(Seen::Ping),
            sio::Packet::Disconnected | sio::Packet::Refused(_) => Some(Seen::Gone),
            sio::Packet::Frame(frame) => Some(Seen::Frame(frame)),
            sio::Packet::Connected | sio::Packet::Other => Some(Seen::Open),
        },
    }
}

/// Reads frames until one satisfies `pred`, answering pings; fails on close, a refusal or a
/// failed ack.
async fn wait_for(
    ws: &mut Ws,
    protocol: Protocol,
    pred: impl Fn(&Seen) -> bool,
) -> anyhow::Result<()> {
    while let Some(message) = ws.next().await {
        if let Message::Text(text) = message? {
            let seen = read(protocol, text.as_str()).with_context(|| format!("frame {text}"))?;
            match &seen {
                Seen::Gone => bail!("refused: {text}"),
                Seen::Ping => ws.send(Message::text(sio::PONG)).await?,
                Seen::Frame(frame) if frame.event == "ack" && frame.data.ok == Some(false) => {
                    bail!("refused: {text}")
                }
                _ => {}
            }
            if pred(&seen) {
                return Ok(());
            }
        }
    }
    bail!("closed during the handshake")
}

/// Counts one received frame.
fn record(stats: &Stats, frame: &Incoming) {
    match frame.event.as_str() {
        "message.created" => {
            let now = frames::now_micros();
            if let Some(stamp) = frame
                .data
                .content
                .as_deref()
                .and_then(frames::parse_content)
                && let Some(step_stats) = stats.steps.get(stamp.step)
            {
                step_stats.delivered(now.saturating_sub(stamp.intended));
                if frames::split_sampled(stamp.intended)
                    && let Some(at) = frame
                        .data
                        .timestamp
                        .as_deref()
                        .and_then(frames::server_micros)
                {
                    let micros = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
                    step_stats.split(Cut {
                        generator: micros(stamp.written) - micros(stamp.intended),
                        intake: at - micros(stamp.written),
                        after: micros(now) - at,
                    });
                }
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

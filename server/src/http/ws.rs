//! The WebSocket transport of the gateway: `GET /api/v1/ws`, one task per connection, and the
//! buffer sizes that keep an idle connection small.
//!
//! The protocol itself (events, acks, limits) lives in `crate::gateway`; this file only moves
//! frames between axum's socket and a gateway [`Session`].

use super::HttpState;
use super::error::ApiError;
use super::extract::{ClientIp, TENANT_HEADER};
use super::realtime::{Admitted, Deadline, Handling, Held, admit, aim, end, expiry, took_back};
use super::ws_handshake::{Handshake, Socket};
use super::ws_write::TextFrames;
use crate::gateway::conn::Conn;
use crate::gateway::protocol::{CloseReason, Frame};
use crate::gateway::{Flow, Gateway, Session};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use futures::future::OptionFuture;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tracing::Instrument;

/// Bytes read from the socket at a time. tungstenite zero-fills its read buffer up to this size,
/// so all of it is resident for every connection; chat frames are a few hundred bytes, and a
/// larger frame grows the buffer as it needs.
pub(super) const READ_BUFFER: usize = 512;
/// tungstenite writes only control frames (pongs, the close); everything else goes around it
/// (`ws_write.rs`), so its buffer is written through at once.
const WRITE_BUFFER: usize = 0;

/// `/ws`.
pub fn routes() -> Router<HttpState> {
    Router::new().route("/ws", get(upgrade))
}

#[derive(Debug, Deserialize)]
struct WsQuery {
    token: Option<String>,
    /// Browsers cannot set `X-Tenant-ID` on a WebSocket; they may name the tenant here.
    tenant: Option<String>,
}

async fn upgrade(
    State(state): State<HttpState>,
    Query(query): Query<WsQuery>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    handshake: Handshake,
) -> Result<Response, ApiError> {
    let explicit = headers
        .get(TENANT_HEADER)
        .map(|v| v.to_str().unwrap_or("").trim().to_owned())
        .or(query.tenant);
    let Admitted { tenant, held } = admit(&state, explicit, &headers, ip).await?;
    let gateway = state.gateway.clone();
    // The protocol's own limit closes oversized frames with a reason; tungstenite's hard cap sits
    // above it so that check is reached rather than a bare protocol error.
    let hard_cap = gateway
        .settings()
        .max_frame_bytes
        .saturating_mul(2)
        .max(READ_BUFFER);
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_frame_size(Some(hard_cap))
        .max_message_size(Some(hard_cap));
    let tasks = gateway.tasks().clone();
    Ok(handshake.accept(&tasks, config, move |socket| {
        let span = tracing::info_span!("ws", tenant = %tenant.id);
        let start = Start {
            socket,
            gateway,
            tenant,
            token: query.token,
            held,
        };
        run(Box::new(start)).instrument(span)
    }))
}

/// What a connection starts with. [`run`] takes it boxed: an `async fn` keeps its arguments
/// apart from the locals they are moved into, for its whole life (rust-lang/rust#62958), and
/// these are most of a connection's state.
struct Start {
    socket: Socket,
    gateway: Gateway,
    tenant: crate::domain::Tenant,
    token: Option<String>,
    held: Held,
}

/// One task per connection: it reads frames, writes what the hub queued, and watches the
/// deadlines, so an idle connection costs one small future and its socket's buffers.
///
/// What stays in that future for the connection's life is laid out with care (measured with
/// `-Zprint-type-sizes`): the session has one slot (a local that is borrowed keeps its slot
/// after it moves on, so the session is never a local of its own), the once-per-connection
/// steps are boxed, and no `await` is reached while the `select!`'s output is alive.
async fn run(start: Box<Start>) {
    let Start {
        mut socket,
        gateway,
        tenant,
        token,
        held,
    } = *start;
    let Held { permit, pending } = held;
    let mut pending = Some(pending);
    let (session, conn) = Session::open(&gateway, tenant);
    conn.attach(socket.get_ref().0.clone());
    // The session is lent to the frame being handled and comes back with its outcome: while a
    // use case runs (a send waiting for the database), the connection keeps writing what others
    // send it, and reads its next frame only after (frames are handled in order).
    let mut idle = Some(session);
    if let (Some(token), Some(session)) = (token, idle.as_mut())
        && let Flow::Close(reason) = Box::pin(session.authenticate(&token, None)).await
    {
        conn.close(reason);
    }
    let (auth_timeout, heartbeat_timeout) = {
        let settings = gateway.settings();
        (settings.auth_timeout, settings.heartbeat_timeout)
    };
    let auth_deadline = Instant::now() + auth_timeout;
    let mut heard = Instant::now();
    let mut expires = idle.as_ref().and_then(expiry);
    if expires.is_some() {
        pending = None;
    }
    let mut handling: Option<Handling> = None;
    // One timer for the three deadlines, kept across turns of the loop (`realtime::aim`).
    let timer = tokio::time::sleep_until(auth_deadline);
    tokio::pin!(timer);
    loop {
        let deadline = Deadline::next(expires, auth_deadline, Some(heard + heartbeat_timeout));
        aim(timer.as_mut(), deadline.at);
        let turn = tokio::select! {
            biased;
            () = conn.notified() => Turn::Write,
            handled = OptionFuture::from(handling.as_mut()), if handling.is_some() => {
                handling = None;
                Turn::Then(took_back(handled, &mut idle, &mut expires, &mut pending))
            }
            () = &mut timer => Turn::Then(Flow::Close(deadline.reason())),
            received = socket.next(), if handling.is_none() => {
                heard = Instant::now();
                match (received, idle.take()) {
                    (None | Some(Err(_)) | Some(Ok(Message::Close(_))), session) => {
                        idle = session;
                        break;
                    }
                    (Some(Ok(Message::Text(text))), Some(mut session)) => {
                        handling = Some(Box::pin(async move {
                            let flow = session.on_text(text.as_str()).await;
                            (session, flow)
                        }));
                        Turn::Then(Flow::Continue)
                    }
                    (Some(Ok(Message::Binary(_))), Some(mut session)) => {
                        let flow = session.on_binary();
                        idle = Some(session);
                        Turn::Then(flow)
                    }
                    (_, session) => {
                        idle = session;
                        Turn::Then(Flow::Continue)
                    }
                }
            }
        };
        let flow = match turn {
            // Boxed: a write's state lives only while it runs, not in every idle connection.
            Turn::Write => match Box::pin(flush(&mut socket, &conn)).await {
                Written::More => Flow::Continue,
                Written::CloseSent => {
                    Box::pin(finish_closing(&mut socket)).await;
                    break;
                }
                Written::Failed => break,
            },
            Turn::Then(flow) => flow,
        };
        if let Flow::Close(reason) = flow {
            conn.close(reason);
        }
    }
    conn.detach();
    Box::pin(end(idle, handling)).await;
    drop((permit, pending));
}

/// What a turn of a connection's loop does once its `select!` has chosen.
enum Turn {
    /// Write what the hub queued.
    Write,
    /// Go on as the flow says.
    Then(Flow),
}

/// What a flush left behind.
enum Written {
    /// The connection goes on.
    More,
    /// A close frame went out; the client's answer is awaited.
    CloseSent,
    /// The socket failed, or the client stopped reading while a close was requested.
    Failed,
}

/// Time a client has to answer the server's close frame.
const CLOSE_ANSWER: std::time::Duration = std::time::Duration::from_secs(1);

/// The closing handshake: reads (and drops) what the client still sends until its close frame,
/// briefly, so a client still writing sees a close rather than a reset connection.
async fn finish_closing(socket: &mut Socket) {
    let _ = tokio::time::timeout(CLOSE_ANSWER, async {
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Close(_) = message {
                return;
            }
        }
    })
    .await;
}

/// Writes everything queued, batched into one flush, then the close frame if one was asked
/// for. A client that stops reading blocks the write; the hub then asks to close it, and since
/// a close frame cannot get through a full socket either, the connection is dropped.
async fn flush(socket: &mut Socket, conn: &Conn) -> Written {
    let outgoing = conn.take();
    let write = async {
        // What tungstenite still holds (a pong) and the rest of a frame written through go first:
        // frames must not interleave.
        socket.flush().await.map_err(drop)?;
        let mut frames = TextFrames::with_capacity(outgoing.frames.len() + 1);
        for frame in &outgoing.frames {
            frames.push(frame.bytes().clone());
        }
        if let Some(after_ms) = outgoing.reconnect_after_ms {
            let reconnect = Frame::new("reconnect", &json!({ "afterMs": after_ms }));
            frames.push(reconnect.bytes().clone());
        }
        frames.write_to(socket.get_mut()).await.map_err(drop)?;
        if let Some(reason) = &outgoing.close {
            socket.send(close_message(reason)).await.map_err(drop)?;
            return Ok::<_, ()>(Written::CloseSent);
        }
        conn.written();
        crate::gateway::metrics::written(&outgoing.frames);
        Ok(Written::More)
    };
    tokio::pin!(write);
    // A wake-up taken here, for frames queued while this batch was written, is handed on: they
    // go in the next batch rather than wait for the connection's next frame.
    let mut woken = false;
    loop {
        tokio::select! {
            biased;
            written = &mut write => {
                if woken {
                    conn.wake();
                }
                return written.unwrap_or(Written::Failed);
            }
            () = conn.notified(), if outgoing.close.is_none() => {
                if conn.closing() {
                    return Written::Failed;
                }
                woken = true;
            }
        }
    }
}

fn close_message(reason: &CloseReason) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(reason.code),
        reason: reason.reason.clone().into(),
    }))
}

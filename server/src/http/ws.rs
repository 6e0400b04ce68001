//! The WebSocket transport of the gateway: `GET /api/v1/ws`, a reader and a writer task per
//! connection, and the buffer sizes that keep an idle connection small.
//!
//! The protocol itself (events, acks, limits) lives in `crate::gateway`; this file only moves
//! frames between axum's socket and a gateway [`Session`].

use super::HttpState;
use super::error::ApiError;
use super::extract::{TENANT_HEADER, subdomain};
use crate::app::ErrorCode;
use crate::gateway::hub::Outbound;
use crate::gateway::protocol::{
    CLOSE_HEARTBEAT_TIMEOUT, CLOSE_RESTART, CLOSE_UNAUTHENTICATED, CloseReason, Frame,
};
use crate::gateway::{Flow, Gateway, Session};
use axum::Router;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tracing::Instrument;

/// Bytes read from the socket at a time. tungstenite's default (128 KiB) is allocated per
/// connection; chat frames are small, so 4 KiB keeps ten thousand idle connections cheap.
const READ_BUFFER: usize = 4 * 1024;
/// Frames are written once this much is buffered (or on flush, which the writer does whenever
/// its queue is empty).
const WRITE_BUFFER: usize = 8 * 1024;
/// Frames to batch into one flush.
const BATCH: usize = 64;

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
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let explicit = headers
        .get(TENANT_HEADER)
        .map(|v| v.to_str().unwrap_or("").trim().to_owned())
        .or(query.tenant);
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let tenant = state
        .app
        .resolve_tenant(explicit.as_deref(), host.and_then(subdomain))
        .await?;
    let gateway = state.gateway.clone();
    let permit = gateway.admit().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "this instance is draining or full; reconnect to another",
        )
    })?;
    // The protocol's own limit closes oversized frames with a reason; tungstenite's hard cap sits
    // above it so that check is reached rather than a bare protocol error.
    let hard_cap = gateway
        .settings()
        .max_frame_bytes
        .saturating_mul(2)
        .max(READ_BUFFER);
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(usize::MAX)
        .max_frame_size(hard_cap)
        .max_message_size(hard_cap)
        .on_upgrade(move |socket| {
            let span = tracing::info_span!("ws", tenant = %tenant.id);
            run(socket, gateway, tenant, query.token, permit).instrument(span)
        }))
}

async fn run(
    socket: WebSocket,
    gateway: Gateway,
    tenant: crate::domain::Tenant,
    token: Option<String>,
    permit: OwnedSemaphorePermit,
) {
    let (session, outbound) = Session::open(&gateway, tenant);
    let (sink, stream) = socket.split();
    let writer = tokio::spawn(write(
        sink,
        outbound,
        gateway.draining(),
        gateway.settings().drain_jitter_ms,
    ));
    let session = read(stream, session, token, &gateway, writer).await;
    session.close().await;
    drop(permit);
}

/// The reader: frames in, until the client leaves, a limit closes, or the writer ends.
async fn read(
    mut stream: SplitStream<WebSocket>,
    mut session: Session,
    token: Option<String>,
    gateway: &Gateway,
    mut writer: tokio::task::JoinHandle<()>,
) -> Session {
    let settings = gateway.settings().clone();
    let hub_close = |session: &Session, reason: CloseReason| session.request_close(reason);
    if let Some(token) = token
        && let Flow::Close(reason) = session.authenticate(&token, None).await
    {
        hub_close(&session, reason);
    }
    let deadline = tokio::time::Instant::now() + settings.auth_timeout;
    loop {
        let next = tokio::time::timeout(settings.heartbeat_timeout, stream.next());
        let flow = tokio::select! {
            _ = &mut writer => return session,
            () = tokio::time::sleep_until(deadline), if !session.authenticated() => {
                Flow::Close(CloseReason::new(CLOSE_UNAUTHENTICATED, "authentication timeout"))
            }
            received = next => match received {
                Err(_) => Flow::Close(CloseReason::new(CLOSE_HEARTBEAT_TIMEOUT, "heartbeat timeout")),
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => break,
                Ok(Some(Ok(Message::Text(text)))) => session.on_text(text.as_str()).await,
                Ok(Some(Ok(Message::Binary(_)))) => session.on_binary(),
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => Flow::Continue,
            },
        };
        if let Flow::Close(reason) = flow {
            hub_close(&session, reason);
        }
    }
    // The client went away: stop the writer.
    writer.abort();
    session
}

/// The writer: queued frames out, batched per flush; a close request or draining ends it.
async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut outbound: Outbound,
    mut draining: watch::Receiver<bool>,
    jitter_ms: u64,
) {
    loop {
        tokio::select! {
            biased;
            changed = outbound.close.changed() => {
                let reason = outbound.close.borrow().clone();
                if let (Ok(()), Some(reason)) = (changed, reason) {
                    let _ = sink.send(close_message(&reason)).await;
                }
                return;
            }
            changed = draining.changed() => {
                if changed.is_ok() && *draining.borrow() {
                    let after_ms = if jitter_ms == 0 { 0 } else { rand::random::<u64>() % jitter_ms };
                    let reconnect = Frame::new("reconnect", &json!({ "afterMs": after_ms }));
                    let _ = sink.feed(text(&reconnect)).await;
                    let reason = CloseReason::new(CLOSE_RESTART, "server draining; reconnect");
                    let _ = sink.send(close_message(&reason)).await;
                    return;
                }
            }
            frame = outbound.frames.recv() => {
                let Some(frame) = frame else { return };
                // A client that stops reading blocks the write; the hub then asks to close it,
                // and since a close frame cannot get through a full socket either, drop it.
                tokio::select! {
                    written = write_batch(&mut sink, &mut outbound.frames, frame) => {
                        if written.is_err() {
                            return;
                        }
                    }
                    _ = outbound.close.changed() => return,
                }
            }
        }
    }
}

async fn write_batch(
    sink: &mut SplitSink<WebSocket, Message>,
    frames: &mut tokio::sync::mpsc::Receiver<Frame>,
    first: Frame,
) -> Result<(), axum::Error> {
    sink.feed(text(&first)).await?;
    for _ in 1..BATCH {
        match frames.try_recv() {
            Ok(frame) => sink.feed(text(&frame)).await?,
            Err(_) => break,
        }
    }
    sink.flush().await
}

fn text(frame: &Frame) -> Message {
    // Frames are serialised JSON, so always UTF-8; the check is a fast scan, not a copy.
    Message::Text(Utf8Bytes::try_from(frame.bytes().clone()).unwrap_or_default())
}

fn close_message(reason: &CloseReason) -> Message {
    Message::Close(Some(CloseFrame {
        code: reason.code,
        reason: Utf8Bytes::from(reason.reason.clone()),
    }))
}

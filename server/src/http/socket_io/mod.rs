//! The Socket.IO transport of the gateway: Engine.IO v4 / Socket.IO v5 at `/socket.io/` on the
//! API's port (socketioxide), with long-polling, WebSocket and the upgrade between them. A
//! socket drives one gateway [`Session`] exactly as a JSON WebSocket does — the same events,
//! payloads, limits, receipts, sync and revocations — so there is one event table, and this file
//! only translates (docs/realtime.md, "Socket.IO"):
//!
//! - an event `name` with data `d` is the envelope `{event: name, data: d}`; when the client
//!   asked for an acknowledgement, its callback receives what the JSON protocol's `ack` frame
//!   carries: `{ok: true, result}` or `{ok: false, error}`;
//! - every server frame `{event, data}` is emitted as the event `event` with `data`;
//! - a close is the event `close` `{code, reason}` (the JSON protocol's close code), then a
//!   server-side disconnect once the client has left or a second has passed (the JSON socket's
//!   closing handshake); draining sends `reconnect` `{afterMs}` first, as on the JSON socket.
//!
//! A connection is refused (`connect_error`, message `<code>: <reason>`) by the same checks as a
//! WebSocket upgrade. It authenticates with the CONNECT packet's `auth` (`io(url, {auth:
//! {token}})`) or the `authenticate` event. Liveness is Engine.IO's ping/pong, below the
//! protocol, so the session's presence is refreshed on a timer instead of by `ping` events.
//! Cross-instance delivery is ChemChat's own bus, like every other connection's: socketioxide's
//! rooms and adapters are not used.

use super::HttpState;
use super::error::ApiError;
use super::extract::{TENANT_HEADER, client_ip};
use super::realtime::{Admitted, Deadline, Handling, admit, aim, end, expiry, took_back};
use crate::gateway::conn::Conn;
use crate::gateway::protocol::{CLOSE_RATE_LIMITED, CloseReason, Inbound};
use crate::gateway::{Flow, Gateway, Session};
use futures::future::OptionFuture;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, SocketRef, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts};
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::Socket;
use socketioxide::{SendError, SocketIo};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

mod inbox;
mod request;
use inbox::Inbox;
pub use request::detach_from_read_buffer;

/// Engine.IO's heartbeat: the server pings this often, and a client that has not answered
/// within the timeout is gone. The clients' defaults.
const PING_INTERVAL: Duration = Duration::from_secs(25);
const PING_TIMEOUT: Duration = Duration::from_secs(20);
/// Events a socket may have waiting for its session; a client that outruns it is rate limited.
const INBOX: usize = 64;

/// The `/socket.io/` layer: wraps the router and answers every request under that path.
pub fn layer(state: HttpState) -> SocketIoLayer {
    let settings = state.gateway.settings();
    let max_payload = u64::try_from(settings.max_frame_bytes.saturating_mul(2)).unwrap_or(u64::MAX);
    let (layer, io) = SocketIo::builder()
        .ping_interval(PING_INTERVAL)
        .ping_timeout(PING_TIMEOUT)
        .max_payload(max_payload)
        .max_buffer_size(settings.send_queue.max(16))
        // The JSON transport's read buffer: engineioxide's 4 KiB default is held by every idle
        // socket; larger frames still arrive whole (3 KiB less RSS per idle socket,
        // docs/benchmarks.md 2026-12-02).
        .ws_read_buffer_size(super::ws::READ_BUFFER)
        .build_layer();
    let gateway = state.gateway.clone();
    let check = move |socket: SocketRef, TryData(handshake): TryData<Handshake>| {
        let state = state.clone();
        async move { admission(state, socket, handshake.unwrap_or_default()).await }
    };
    let on_connect = move |socket: SocketRef, TryData(handshake): TryData<Handshake>| {
        connected(&gateway, socket, handshake.unwrap_or_default().token);
        std::future::ready(())
    };
    io.ns("/", on_connect.with(check));
    layer
}

/// The CONNECT packet's `auth`.
#[derive(Debug, Default, Deserialize)]
struct Handshake {
    /// A WebSocket or access token.
    token: Option<String>,
    /// The tenant, for clients that cannot set `X-Tenant-ID` (browsers).
    tenant: Option<String>,
}

/// A refusal, as `connect_error`'s message: `<code>: <reason>`.
struct Refused(ApiError);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.0.code.as_str(), self.0.0.message)
    }
}

/// A connection's place, from the admission middleware to the connect handler.
type Place = Arc<Mutex<Option<Admitted>>>;

async fn admission(
    state: HttpState,
    socket: SocketRef,
    handshake: Handshake,
) -> Result<(), Refused> {
    let parts = socket.req_parts();
    let explicit = parts
        .headers
        .get(TENANT_HEADER)
        .map(|v| v.to_str().unwrap_or("").trim().to_owned())
        .or(handshake.tenant)
        .or_else(|| query_tenant(parts.uri.query()));
    let admitted = admit(&state, explicit, &parts.headers, client_ip(parts))
        .await
        .map_err(Refused)?;
    socket
        .extensions
        .insert::<Place>(Arc::new(Mutex::new(Some(admitted))));
    Ok(())
}

/// `?tenant=` of the handshake's URL.
fn query_tenant(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == "tenant")
        .map(|(_, value)| value.into_owned())
}

/// One client event on its way to the session.
struct Incoming {
    event: String,
    data: Value,
    /// The client's acknowledgement callback, when it asked for one.
    ack: Option<AckSender>,
}

/// Whether the client asked for an acknowledgement (a packet with an ack id).
struct AckWanted(bool);

impl<A: Adapter> FromMessageParts<A> for AckWanted {
    type Error = Infallible;
    fn from_message_parts(
        _: &Arc<Socket<A>>,
        _: &mut socketioxide::handler::Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(Self(ack_id.is_some()))
    }
}

/// The socket passed admission: every event goes to its own task, which owns the session.
fn connected(gateway: &Gateway, socket: SocketRef, token: Option<String>) {
    let place = socket.extensions.remove::<Place>();
    let Some(admitted) = place.and_then(|p| p.lock().ok()?.take()) else {
        let _ = socket.disconnect();
        return;
    };
    let inbox = Arc::new(Inbox::new(INBOX));
    let incoming = inbox.clone();
    socket.on_fallback(
        move |Event(event): Event,
              TryData(data): TryData<Value>,
              AckWanted(wanted): AckWanted,
              ack: AckSender| {
            let incoming = Incoming {
                event,
                // No data at all (`emit('ping')`) is `null`, as an envelope without `data`.
                data: data.unwrap_or(Value::Null),
                ack: wanted.then_some(ack),
            };
            // Queued here, in the handler's synchronous part, which socketioxide runs for each
            // packet in order (the future it spawns would not keep the order). A client that
            // outruns its session overflows the inbox, and the socket's task closes it (4029).
            let _ = inbox.push(incoming);
            std::future::ready(())
        },
    );
    let gone = CancellationToken::new();
    let on_gone = gone.clone();
    socket.on_disconnect(move || async move { on_gone.cancel() });
    let gateway_for_task = gateway.clone();
    gateway.tasks().spawn(
        "socket.io",
        run(socket, gateway_for_task, admitted, token, incoming, gone),
    );
}

/// One socket's life: the same loop as a JSON WebSocket's (`ws.rs`), with Socket.IO's framing.
async fn run(
    socket: SocketRef,
    gateway: Gateway,
    admitted: Admitted,
    token: Option<String>,
    incoming: Arc<Inbox<Incoming>>,
    gone: CancellationToken,
) {
    let Admitted { tenant, held } = admitted;
    let mut pending = Some(held.pending);
    let (mut session, conn) = Session::open(&gateway, tenant);
    if let Some(token) = token
        && let Flow::Close(reason) = Box::pin(session.authenticate(&token, None)).await
    {
        conn.close(reason);
    }
    let auth_deadline = Instant::now() + gateway.settings().auth_timeout;
    let refresh = gateway.settings().heartbeat_timeout / 2;
    let mut next_refresh = Instant::now() + refresh;
    let mut expires = expiry(&session);
    if expires.is_some() {
        pending = None;
    }
    let mut acks = Acks::default();
    let mut idle = Some(session);
    let mut handling: Option<Handling> = None;
    // The deadline and the presence refresh as timers kept across turns of the loop
    // (`realtime::aim`).
    let timer = tokio::time::sleep_until(auth_deadline);
    let refresh_timer = tokio::time::sleep_until(next_refresh);
    tokio::pin!(timer, refresh_timer);
    loop {
        let deadline = Deadline::next(expires, auth_deadline, None);
        aim(timer.as_mut(), deadline.at);
        aim(refresh_timer.as_mut(), next_refresh);
        let flow = tokio::select! {
            biased;
            () = gone.cancelled() => break,
            () = conn.notified() => match flush(&socket, &conn, &mut acks) {
                Written::More => Flow::Continue,
                Written::Closed => {
                    // Before the session ends, as the JSON socket's closing handshake: a
                    // draining server waits for its connections, so for this disconnect too.
                    Box::pin(disconnect_after_linger(&socket, &gone)).await;
                    break;
                }
            },
            handled = OptionFuture::from(handling.as_mut()), if handling.is_some() => {
                handling = None;
                took_back(handled, &mut idle, &mut expires, &mut pending)
            }
            () = &mut timer => Flow::Close(deadline.reason()),
            () = &mut refresh_timer, if idle.is_some() => {
                next_refresh = Instant::now() + refresh;
                if let Some(session) = idle.take() {
                    handling = Some(Box::pin(async move {
                        session.keep_alive().await;
                        (session, Flow::Continue)
                    }));
                }
                Flow::Continue
            }
            event = incoming.next(), if handling.is_none() && idle.is_some() => {
                match (event, idle.take()) {
                    (Some(event), Some(mut session)) => {
                        let inbound = acks.inbound(event);
                        handling = Some(Box::pin(async move {
                            let size = inbound.data.to_string().len() + inbound.event.len();
                            let flow = session.on_event(inbound, size).await;
                            (session, flow)
                        }));
                        Flow::Continue
                    }
                    (None, session) => {
                        idle = session;
                        Flow::Close(CloseReason::new(CLOSE_RATE_LIMITED, "rate limit exceeded"))
                    }
                    (Some(_), None) => Flow::Continue,
                }
            }
        };
        if let Flow::Close(reason) = flow {
            conn.close(reason);
        }
    }
    end(idle, handling).await;
    drop((held.permit, pending));
}

/// The acknowledgement callbacks of events being handled, by the ack id given to the session.
#[derive(Default)]
struct Acks {
    next: u64,
    waiting: HashMap<u64, AckSender>,
}

impl Acks {
    /// The envelope of a client event; its callback, if any, waits for its `ack` frame.
    fn inbound(&mut self, event: Incoming) -> Inbound {
        let ack_id = event.ack.map(|ack| {
            self.next += 1;
            self.waiting.insert(self.next, ack);
            json!(self.next)
        });
        Inbound {
            event: event.event,
            data: event.data,
            ack_id,
        }
    }

    /// Answers the callback an `ack` frame is for: `{ok, result}` or `{ok: false, error}`.
    fn answer(&mut self, ack: &AckFrame<'_>) {
        let Some(sender) = ack.ack_id.and_then(|id| self.waiting.remove(&id)) else {
            return;
        };
        let reply = match (ack.ok, ack.result, ack.error) {
            (true, result, _) => json!({ "ok": true, "result": result }),
            (false, _, error) => json!({ "ok": false, "error": error }),
        };
        let _ = sender.send(&reply);
    }
}

/// A server frame, read without copying its data.
#[derive(Deserialize)]
struct FrameParts<'a> {
    event: &'a str,
    #[serde(borrow)]
    data: &'a RawValue,
}

/// The data of an `ack` frame.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AckFrame<'a> {
    ack_id: Option<u64>,
    ok: bool,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

/// What a flush left behind.
enum Written {
    /// The socket goes on.
    More,
    /// It was closed (asked for, or the client stopped reading).
    Closed,
}

/// Emits everything the connection queued, then the close if one was asked for. Emitting never
/// waits: socketioxide queues up to its buffer, and a client whose buffer is full is slow and
/// closed, as the JSON socket closes one whose writes block.
fn flush(socket: &SocketRef, conn: &Conn, acks: &mut Acks) -> Written {
    let outgoing = conn.take();
    for frame in &outgoing.frames {
        let Ok(parts) = serde_json::from_slice::<FrameParts<'_>>(frame.bytes()) else {
            continue;
        };
        let sent = if parts.event == "ack" {
            if let Ok(ack) = serde_json::from_str::<AckFrame<'_>>(parts.data.get()) {
                acks.answer(&ack);
            }
            Ok(())
        } else {
            socket.emit(parts.event, parts.data)
        };
        if let Err(SendError::Socket(_)) = sent {
            let reason = CloseReason::new(
                crate::gateway::protocol::CLOSE_SLOW_CONSUMER,
                "slow consumer: reconnect and sync",
            );
            tell_close(socket, &reason);
            return Written::Closed;
        }
    }
    // Handed to socketioxide's queue: as close to the socket as this transport lets us see.
    crate::gateway::metrics::written(&outgoing.frames);
    if let Some(after_ms) = outgoing.reconnect_after_ms {
        let _ = socket.emit("reconnect", &json!({ "afterMs": after_ms }));
    }
    if let Some(reason) = &outgoing.close {
        tell_close(socket, reason);
        return Written::Closed;
    }
    Written::More
}

/// Tells the client why its connection ends; [`disconnect_after_linger`] ends it.
fn tell_close(socket: &SocketRef, reason: &CloseReason) {
    let _ = socket.emit(
        "close",
        &json!({ "code": reason.code, "reason": reason.reason }),
    );
}

/// Time a client has to leave by itself after `close`, as the JSON socket's closing handshake.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// Disconnects the socket once the client has left or [`CLOSE_LINGER`] has passed. Meanwhile
/// Engine.IO goes on reading what the client still sends (and the inbox drops it): a socket
/// closed on unread data is reset, and a reset connection loses the `close` on its way to a
/// client that was still writing — the flooding client above all.
async fn disconnect_after_linger(socket: &SocketRef, gone: &CancellationToken) {
    if tokio::time::timeout(CLOSE_LINGER, gone.cancelled())
        .await
        .is_err()
    {
        let _ = socket.clone().disconnect();
    }
}

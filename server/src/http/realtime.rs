//! What both real-time transports (the JSON WebSocket at `/api/v1/ws` and Socket.IO at
//! `/socket.io/`) share at the edge: the checks a connection attempt passes before it gets a
//! gateway session, what it holds while it lives, and the deadlines it must meet.

use super::HttpState;
use super::error::ApiError;
use super::extract::subdomain;
use crate::app::{AppError, ErrorCode};
use crate::domain::Tenant;
use crate::gateway::protocol::{CLOSE_HEARTBEAT_TIMEOUT, CLOSE_UNAUTHENTICATED, CloseReason};
use crate::gateway::{Flow, PendingSlot, Session};
use axum::http::{HeaderMap, header};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

/// What a connection holds while it lives: its place on this instance and, until it
/// authenticates, its place among its address's unauthenticated sockets.
#[derive(Debug)]
pub(super) struct Held {
    pub permit: OwnedSemaphorePermit,
    pub pending: PendingSlot,
}

/// A connection attempt that passed: its tenant and what it holds.
#[derive(Debug)]
pub(super) struct Admitted {
    pub tenant: Tenant,
    pub held: Held,
}

/// The checks every real-time connection passes: a known tenant (named explicitly, or by the
/// host's subdomain), an allowed `Origin`, the address's budget of connection attempts, its cap
/// of unauthenticated sockets, and room on this instance.
pub(super) async fn admit(
    state: &HttpState,
    explicit_tenant: Option<String>,
    headers: &HeaderMap,
    ip: IpAddr,
) -> Result<Admitted, ApiError> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let tenant = state
        .app
        .resolve_tenant(explicit_tenant.as_deref(), host.and_then(subdomain))
        .await?;
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if !state.headers.allows_origin(origin, host) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("WebSocket from origin '{origin}' refused: not in CHEMCHAT_CORS_ORIGINS"),
            ));
        }
    }
    state.app.connection_attempt(&tenant, ip).await?;
    let gateway = &state.gateway;
    let pending = gateway.pending_slot(ip).ok_or_else(|| {
        ApiError(
            AppError::new(
                ErrorCode::RateLimited,
                format!(
                    "this address holds {} sockets that have not authenticated",
                    gateway.settings().unauthenticated_per_address
                ),
            )
            .retry_after(std::time::Duration::from_secs(10)),
        )
    })?;
    let permit = gateway.admit().ok_or_else(|| {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            "this instance is draining or full; reconnect to another",
        )
    })?;
    Ok(Admitted {
        tenant,
        held: Held { permit, pending },
    })
}

/// When the connection's token expires (`None` before it authenticated).
pub(super) fn expiry(session: &Session) -> Option<Instant> {
    let expires_at_ms = session.expires_at_ms()?;
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    let left = u64::try_from(i128::from(expires_at_ms) - now_ms).unwrap_or(0);
    Some(Instant::now() + std::time::Duration::from_millis(left))
}

/// Points a connection's kept timer at `at`. A connection keeps one timer per deadline for its
/// whole life and moves it only when the instant moves: a new `sleep_until` on every turn of its
/// loop (every delivery wake-up) registered a timer in tokio's wheel and cleared it again
/// (docs/benchmarks.md, 2026-12-03, 07:50).
pub(super) fn aim(timer: Pin<&mut tokio::time::Sleep>, at: Instant) {
    if timer.deadline() != at {
        timer.reset(at);
    }
}

/// The first deadline a connection can miss, and what missing it means.
pub(super) struct Deadline {
    pub at: Instant,
    why: Missed,
}

enum Missed {
    Authentication,
    Heartbeat,
    TokenExpiry,
}

impl Deadline {
    /// Before authentication, the authentication timeout; after it, the token's expiry. The
    /// heartbeat (`silence`: when the client will have been silent too long) when there is one.
    pub fn next(
        expires: Option<Instant>,
        auth_deadline: Instant,
        silence: Option<Instant>,
    ) -> Self {
        let (at, why) = match expires {
            Some(expires) => (expires, Missed::TokenExpiry),
            None => (auth_deadline, Missed::Authentication),
        };
        match silence {
            Some(silence) if silence < at => Self {
                at: silence,
                why: Missed::Heartbeat,
            },
            _ => Self { at, why },
        }
    }

    /// The close a missed deadline causes.
    pub fn reason(&self) -> CloseReason {
        match self.why {
            Missed::Authentication => {
                CloseReason::new(CLOSE_UNAUTHENTICATED, "authentication timeout")
            }
            Missed::Heartbeat => CloseReason::new(CLOSE_HEARTBEAT_TIMEOUT, "heartbeat timeout"),
            Missed::TokenExpiry => CloseReason::new(
                CLOSE_UNAUTHENTICATED,
                "token expired: authenticate again with a fresh token before it expires",
            ),
        }
    }
}

/// A client frame being handled: the session is lent to it and comes back with what to do
/// next. Meanwhile the connection keeps writing what others send it, and reads its next frame
/// only after (frames are handled in order).
pub(super) type Handling = Pin<Box<dyn Future<Output = (Session, Flow)> + Send>>;

/// A handled frame gave the session back: its token's expiry is noted (once authenticated, the
/// connection no longer counts against its address), it waits idle for the next frame, and the
/// frame's flow goes on to the transport.
pub(super) fn took_back(
    handled: Option<(Session, Flow)>,
    idle: &mut Option<Session>,
    expires: &mut Option<Instant>,
    pending: &mut Option<PendingSlot>,
) -> Flow {
    let Some((session, flow)) = handled else {
        return Flow::Continue;
    };
    *expires = expiry(&session);
    if expires.is_some() {
        *pending = None;
    }
    *idle = Some(session);
    flow
}

/// The connection is over: a frame being handled finishes (a send is not abandoned half-way),
/// then the session closes.
pub(super) async fn end(idle: Option<Session>, handling: Option<Handling>) {
    let session = match (idle, handling) {
        (Some(session), _) => Some(session),
        (None, Some(handling)) => Some(handling.await.0),
        (None, None) => None,
    };
    // Boxed, like the other once-per-connection steps, so their state is not part of the
    // future every idle connection keeps for its whole life.
    if let Some(session) = session {
        Box::pin(session.close()).await;
    }
}

//! One client connection, independent of the transport: authentication, limits, parsing and
//! the connection's life cycle (presence on the way in and out, typing cleared on close). The
//! session holds the handles it uses — its connection in the hub, the fan-out, presence — rather
//! than reaching through the gateway for them.

use super::Gateway;
use super::client_event::ClientEvent;
use super::conn::Conn;
use super::hub;
use super::limits::TokenBucket;
use super::protocol::{
    self, CLOSE_RATE_LIMITED, CLOSE_TOO_BIG, CLOSE_TOO_MANY_CONNECTIONS, CLOSE_UNAUTHENTICATED,
    CloseReason, Frame, Inbound,
};
use crate::app::auth::{Principal, TokenKind};
use crate::app::{AppError, ErrorCode};
use crate::domain::{ConversationId, Tenant, UserId};
use crate::ports::{BusEnvelope, ConnectionLimits, Refusal, Status, UserPresence};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing::Instrument;

/// What the transport does after a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Close with this reason.
    Close(CloseReason),
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub(super) struct Authed {
    pub(super) principal: Principal,
    pub(super) display_name: String,
    /// The token's expiry, Unix milliseconds: the connection closes then unless it
    /// authenticates again.
    pub(super) expires_at_ms: i64,
}

/// One connection's state.
#[derive(Debug)]
pub struct Session {
    pub(super) gw: Gateway,
    pub(super) conn: Arc<Conn>,
    pub(super) tenant: Tenant,
    pub(super) auth: Option<Authed>,
    pub(super) status: Status,
    limiter: TokenBucket,
    /// Typing generation per conversation: a `typing.start` expires unless a newer one came.
    /// Shared with the expiry tasks, allocated at the first `typing.start`.
    pub(super) typing: Option<Arc<Mutex<HashMap<ConversationId, u64>>>>,
}

impl Session {
    /// Registers a connection of `tenant`; the transport writes what the returned [`Conn`]
    /// yields.
    pub fn open(gw: &Gateway, tenant: Tenant) -> (Self, Arc<Conn>) {
        let conn = gw.hub().register(tenant.id.clone());
        let settings = gw.settings();
        let limiter = TokenBucket::new(settings.rate_per_second, settings.rate_burst);
        let session = Self {
            gw: gw.clone(),
            conn: Arc::clone(&conn),
            tenant,
            auth: None,
            status: Status::Online,
            limiter,
            typing: None,
        };
        (session, conn)
    }

    /// Whether the connection has authenticated.
    pub fn authenticated(&self) -> bool {
        self.auth.is_some()
    }

    /// Handles one text frame.
    pub async fn on_text(&mut self, text: &str) -> Flow {
        if let Some(refused) = self.admit_frame(text.len()) {
            return refused;
        }
        match protocol::parse(text) {
            // Boxed: the use cases behind an event are large futures, and an idle connection
            // should not carry their state in its task.
            Ok(inbound) => Box::pin(self.on_inbound(inbound)).await,
            Err(bad) => {
                self.reply_error(bad.ack_id.as_ref(), &bad.error);
                Flow::Continue
            }
        }
    }

    /// Handles one event of a transport that frames events itself (Socket.IO), `size` bytes
    /// long encoded: the same limits and the same handling as a text frame.
    pub async fn on_event(&mut self, inbound: Inbound, size: usize) -> Flow {
        if let Some(refused) = self.admit_frame(size) {
            return refused;
        }
        Box::pin(self.on_inbound(inbound)).await
    }

    /// Keeps the connection's presence and connection records alive, as a `ping` does, for a
    /// transport whose liveness checks happen below the protocol (Engine.IO's heartbeat).
    pub async fn keep_alive(&self) {
        self.refresh_presence().await;
    }

    /// The frame cap and the per-connection rate: `Some(close)` when a frame breaks either.
    fn admit_frame(&mut self, size: usize) -> Option<Flow> {
        if size > self.gw.settings().max_frame_bytes {
            return Some(Flow::Close(CloseReason::new(
                CLOSE_TOO_BIG,
                format!(
                    "frame too large: limit {} bytes",
                    self.gw.settings().max_frame_bytes
                ),
            )));
        }
        if !self.limiter.admit(Instant::now()) {
            return Some(Flow::Close(CloseReason::new(
                CLOSE_RATE_LIMITED,
                format!(
                    "rate limit exceeded: {} frames/s",
                    self.gw.settings().rate_per_second
                ),
            )));
        }
        None
    }

    /// Handles a binary frame: not part of the protocol, answered with an error.
    pub fn on_binary(&mut self) -> Flow {
        if !self.limiter.admit(Instant::now()) {
            return Flow::Close(CloseReason::new(CLOSE_RATE_LIMITED, "rate limit exceeded"));
        }
        self.reply_error(
            None,
            &AppError::new(
                ErrorCode::UnsupportedMediaType,
                "binary frames are not supported; send JSON text frames",
            ),
        );
        Flow::Continue
    }

    async fn on_inbound(&mut self, inbound: Inbound) -> Flow {
        let Inbound {
            event,
            data,
            ack_id,
        } = inbound;
        if self.auth.is_none() && event != "authenticate" {
            self.reply_error(
                ack_id.as_ref(),
                &AppError::unauthenticated("authenticate first: {\"event\":\"authenticate\"}"),
            );
            return Flow::Continue;
        }
        let event = match ClientEvent::parse(&event, data) {
            Ok(event) => event,
            Err(error) => {
                self.reply_error(ack_id.as_ref(), &error);
                return Flow::Continue;
            }
        };
        if let ClientEvent::Authenticate(token) = event {
            return self.authenticate(&token, ack_id.as_ref()).await;
        }
        let name = event.name();
        // One span per event, the root of its trace (not a child of the connection, which
        // lives for hours): the use case, its statements and the fan-out are its children.
        let span = tracing::info_span!(parent: None, "ws.event", otel.name = %format_args!("ws {name}"),
            otel.kind = "server", messaging.operation.name = name, tenant = %self.tenant.id,
            error.type = tracing::field::Empty);
        let outcome = self.dispatch(event).instrument(span.clone()).await;
        if let Err(error) = &outcome {
            span.record("error.type", error.code.as_str());
        }
        match outcome {
            Ok(result) => {
                if let Some(ack_id) = &ack_id {
                    self.send(protocol::ack_ok(ack_id, &result));
                }
            }
            Err(error) => {
                if error.code == ErrorCode::Internal {
                    tracing::error!(error = ?error, "gateway event failed");
                }
                self.reply_error(ack_id.as_ref(), &error);
            }
        }
        Flow::Continue
    }

    /// Authenticates with a WebSocket token (or an access token). A bad token closes the
    /// connection with 4401: a client that cannot authenticate has nothing else to do here.
    /// An authenticated connection may authenticate again, as the same user, with a fresh token
    /// before its token expires; the connection then lives until the new token's expiry.
    pub async fn authenticate(&mut self, token: &str, ack_id: Option<&Value>) -> Flow {
        let app = self.gw.app();
        let authenticated = match app
            .authenticate_until(&self.tenant, TokenKind::WebSocket, token)
            .await
        {
            Ok(authenticated) => Ok(authenticated),
            Err(_) => {
                app.authenticate_until(&self.tenant, TokenKind::Access, token)
                    .await
            }
        };
        let (principal, expires_at_ms) = match authenticated {
            Ok(authenticated) => authenticated,
            Err(error) => {
                return Flow::Close(CloseReason::new(
                    CLOSE_UNAUTHENTICATED,
                    format!("{}: {}", error.code, error.message),
                ));
            }
        };
        if let Some(current) = &self.auth
            && current.principal.user != principal.user
        {
            self.reply_error(
                ack_id,
                &AppError::new(
                    ErrorCode::Forbidden,
                    "this connection is authenticated as another user",
                ),
            );
            return Flow::Continue;
        }
        let display_name = match app.me(&principal).await {
            Ok(profile) => profile.display_name,
            Err(error) => {
                return Flow::Close(CloseReason::new(CLOSE_UNAUTHENTICATED, error.message));
            }
        };
        let first = self.auth.is_none();
        if first && let Err(refused) = self.admit(principal.user).await {
            return Flow::Close(refused);
        }
        self.gw.hub().identify(&self.conn, &principal);
        let result = json!({ "userId": principal.user, "sessionId": principal.session,
                             "expiresAt": crate::ports::chat::rfc3339(expires_at_ms) });
        self.auth = Some(Authed {
            principal,
            display_name,
            expires_at_ms,
        });
        self.send(Frame::new("authenticated", &result));
        if let Some(ack_id) = ack_id {
            self.send(protocol::ack_ok(ack_id, &result));
        }
        if first {
            self.watch_account().await;
            self.refresh_presence().await;
        }
        Flow::Continue
    }

    /// Starts the user's account channel on this instance (the first connection loads where
    /// the user stands; later ones share it). Without it the connection still works: it hears
    /// what it joins, and sync catches the rest.
    async fn watch_account(&self) {
        let Some(user) = self.conn.user() else { return };
        let hub = self.gw.hub();
        match self
            .gw
            .app()
            .unread_positions(&self.tenant, user, hub::MAX_WATCHED)
            .await
        {
            Ok(positions) => hub.watch_account(&self.tenant.id, user, &positions),
            Err(error) => tracing::warn!(error = %error, "account channel: positions not loaded"),
        }
    }

    /// Counts the connection against the user's and the tenant's connection limits (across
    /// instances). A ledger that cannot be reached admits: limits degrade, chat does not.
    async fn admit(&self, user: UserId) -> Result<(), CloseReason> {
        let limits = ConnectionLimits {
            per_user: self.gw.settings().max_connections_per_user,
            per_tenant: self.tenant.quotas.max_connections,
        };
        let ttl = self.gw.settings().heartbeat_timeout;
        let admitted = self
            .gw
            .ledger()
            .admit(&self.tenant.id, user, &self.conn_key(), limits, ttl)
            .await;
        match admitted {
            Ok(Ok(())) => Ok(()),
            Ok(Err(Refusal::User)) => Err(CloseReason::new(
                CLOSE_TOO_MANY_CONNECTIONS,
                format!(
                    "connection limit: this user already holds {} connections",
                    limits.per_user
                ),
            )),
            Ok(Err(Refusal::Tenant)) => Err(CloseReason::new(
                CLOSE_TOO_MANY_CONNECTIONS,
                format!(
                    "quota maxConnections ({}) reached for tenant '{}'",
                    limits.per_tenant.unwrap_or_default(),
                    self.tenant.id
                ),
            )),
            Err(error) => {
                tracing::warn!(%error, "connection ledger unavailable; connection admitted");
                Ok(())
            }
        }
    }

    /// When the token the connection authenticated with expires, Unix milliseconds.
    pub fn expires_at_ms(&self) -> Option<i64> {
        self.auth.as_ref().map(|auth| auth.expires_at_ms)
    }

    /// The caller; only called after authentication.
    pub(super) fn user(&self) -> Result<UserId, AppError> {
        self.auth
            .as_ref()
            .map(|a| a.principal.user)
            .ok_or_else(|| AppError::unauthenticated("authenticate first"))
    }

    /// Asks the transport's writer to close the connection with this reason.
    pub fn request_close(&self, reason: CloseReason) {
        self.conn.close(reason);
    }

    /// Queues a frame to this connection.
    pub(super) fn send(&self, frame: Frame) {
        self.conn.send(frame);
    }

    fn reply_error(&self, ack_id: Option<&Value>, error: &AppError) {
        self.send(match ack_id {
            Some(ack_id) => protocol::ack_err(ack_id, error),
            None => protocol::error_event(error),
        });
    }

    /// Publishes an ephemeral frame (typing, presence, delivery receipts) to a conversation.
    pub(super) fn signal(&self, room: ConversationId, frame: &Frame, skip_self: bool) {
        self.gw.fanout().broadcast(&BusEnvelope {
            tenant: self.tenant.id.clone(),
            conversation: room,
            event_seq: None,
            skip_user: if skip_self { self.user().ok() } else { None },
            revoke_user: None,
            at_ms: now_ms(),
            frame: frame.bytes().clone(),
            trace: None,
        });
    }

    /// Refreshes this connection's presence record; announces a change of the user's status.
    pub(super) async fn refresh_presence(&self) {
        let Ok(user) = self.user() else { return };
        let ttl = self.gw.settings().heartbeat_timeout;
        let presence = self.gw.presence();
        let before = presence
            .get(&self.tenant.id, &[user], now_ms())
            .await
            .ok()
            .and_then(|v| v.first().copied());
        let conn = self.conn_key();
        if let Err(error) = self
            .gw
            .ledger()
            .refresh(&self.tenant.id, user, &conn, ttl)
            .await
        {
            tracing::debug!(%error, "connection ledger not refreshed");
        }
        match presence
            .set(&self.tenant.id, user, &conn, self.status, ttl, now_ms())
            .await
        {
            Ok(after) if before.map(|b| b.status) != Some(after.status) => {
                self.announce(user, after);
            }
            Ok(_) => {}
            Err(error) => tracing::debug!(error = %error, "presence not recorded"),
        }
        self.look(&self.conn.rooms()).await;
    }

    /// Records that this connection looks at `rooms` (it joined them), for the heartbeat's
    /// timeout: the notifier pushes no one who is looking.
    pub(super) async fn look(&self, rooms: &[ConversationId]) {
        let Ok(user) = self.user() else { return };
        let ttl = self.gw.settings().heartbeat_timeout;
        let recorded = self
            .gw
            .app()
            .attention()
            .look(
                &self.tenant.id,
                user,
                &self.conn_key(),
                rooms,
                ttl,
                now_ms(),
            )
            .await;
        if let Err(error) = recorded {
            tracing::debug!(%error, "attention not recorded");
        }
    }

    /// Records that this connection no longer looks at `rooms`.
    pub(super) async fn look_away(&self, rooms: &[ConversationId]) {
        let Ok(user) = self.user() else { return };
        let forgotten = self
            .gw
            .app()
            .attention()
            .look_away(&self.tenant.id, user, &self.conn_key(), rooms)
            .await;
        if let Err(error) = forgotten {
            tracing::debug!(%error, "attention not forgotten; it expires");
        }
    }

    /// Tells the conversations this connection joined about the user's presence.
    pub(super) fn announce(&self, user: UserId, presence: UserPresence) {
        let frame = presence_frame(user, presence);
        for room in self.conn.rooms() {
            self.signal(room, &frame, true);
        }
    }

    pub(super) fn conn_key(&self) -> String {
        format!("{}:{}", self.gw.instance(), self.conn.id())
    }

    /// Ends the connection: typing stops, presence may go offline, the hub forgets it.
    pub async fn close(self) {
        let typing: Vec<ConversationId> = match &self.typing {
            Some(typing) => {
                let mut typing = typing.lock().unwrap_or_else(|e| e.into_inner());
                typing.drain().map(|(room, _)| room).collect()
            }
            None => Vec::new(),
        };
        if let Some(auth) = &self.auth {
            let user = auth.principal.user;
            self.look_away(&self.conn.rooms()).await;
            if let Err(error) = self
                .gw
                .ledger()
                .release(&self.tenant.id, user, &self.conn_key())
                .await
            {
                tracing::debug!(%error, "connection ledger not released; the entry expires");
            }
            for room in typing {
                self.signal(room, &self.typing_frame(room, false), true);
            }
            let removed = self
                .gw
                .presence()
                .remove(&self.tenant.id, user, &self.conn_key(), now_ms())
                .await;
            if let Ok(after) = removed
                && after.status == Status::Offline
            {
                // The user's last connection may have joined nothing (another one had), so
                // everyone who shares a conversation with the user hears it.
                let mut rooms = self.conn.rooms();
                if let Ok(all) = self.gw.app().conversation_ids(&self.tenant, user).await {
                    rooms.extend(all.into_iter().take(MAX_PRESENCE_ROOMS));
                }
                rooms.sort_unstable();
                rooms.dedup();
                let frame = presence_frame(user, after);
                for room in rooms {
                    self.signal(room, &frame, true);
                }
            }
        }
        self.gw.hub().unregister(&self.conn);
    }
}

/// Conversations told that a user went offline, at most: bounds the work of one disconnect (the
/// rest see the status on their next `conversation.join`).
const MAX_PRESENCE_ROOMS: usize = 1_000;

/// `presence.updated`.
pub(super) fn presence_frame(user: UserId, presence: UserPresence) -> Frame {
    Frame::new(
        "presence.updated",
        &json!({ "userId": user, "status": presence.status.as_str(),
                 "lastSeen": crate::ports::chat::rfc3339(presence.last_seen_ms) }),
    )
}

/// Now, Unix milliseconds.
pub(super) fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or_default()
}

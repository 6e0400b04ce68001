//! One client connection, independent of the transport: authentication, limits, parsing and
//! the connection's life cycle (presence on the way in and out, typing cleared on close).

use super::Gateway;
use super::hub::{ConnId, Outbound};
use super::limits::TokenBucket;
use super::protocol::{
    self, CLOSE_RATE_LIMITED, CLOSE_TOO_BIG, CLOSE_UNAUTHENTICATED, CloseReason, Frame, Inbound,
};
use crate::app::auth::{Principal, TokenKind};
use crate::app::{AppError, ErrorCode};
use crate::domain::{ConversationId, Tenant, UserId};
use crate::ports::{BusEnvelope, Status, UserPresence};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
}

/// One connection's state.
#[derive(Debug)]
pub struct Session {
    pub(super) gw: Gateway,
    pub(super) id: ConnId,
    pub(super) tenant: Tenant,
    pub(super) auth: Option<Authed>,
    pub(super) status: Status,
    limiter: TokenBucket,
    /// Typing generation per conversation: a `typing.start` expires unless a newer one came.
    pub(super) typing: Arc<Mutex<HashMap<ConversationId, u64>>>,
}

impl Session {
    /// Registers a connection of `tenant`; the transport writes what `Outbound` yields.
    pub fn open(gw: &Gateway, tenant: Tenant) -> (Self, Outbound) {
        let (id, outbound) = gw.inner.hub.register(tenant.id.clone());
        let settings = gw.settings();
        let limiter = TokenBucket::new(settings.rate_per_second, settings.rate_burst);
        let session = Self {
            gw: gw.clone(),
            id,
            tenant,
            auth: None,
            status: Status::Online,
            limiter,
            typing: Arc::new(Mutex::new(HashMap::new())),
        };
        (session, outbound)
    }

    /// Whether the connection has authenticated.
    pub fn authenticated(&self) -> bool {
        self.auth.is_some()
    }

    /// Handles one text frame.
    pub async fn on_text(&mut self, text: &str) -> Flow {
        if text.len() > self.gw.settings().max_frame_bytes {
            return Flow::Close(CloseReason::new(
                CLOSE_TOO_BIG,
                format!(
                    "frame too large: limit {} bytes",
                    self.gw.settings().max_frame_bytes
                ),
            ));
        }
        if !self.limiter.admit(Instant::now()) {
            return Flow::Close(CloseReason::new(
                CLOSE_RATE_LIMITED,
                format!(
                    "rate limit exceeded: {} frames/s",
                    self.gw.settings().rate_per_second
                ),
            ));
        }
        match protocol::parse(text) {
            Ok(inbound) => self.on_inbound(inbound).await,
            Err(bad) => {
                self.reply_error(bad.ack_id.as_ref(), &bad.error);
                Flow::Continue
            }
        }
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
        if event == "authenticate" {
            let token = data.get("token").and_then(Value::as_str).unwrap_or("");
            return self.authenticate(token, ack_id.as_ref()).await;
        }
        if self.auth.is_none() {
            self.reply_error(
                ack_id.as_ref(),
                &AppError::unauthenticated("authenticate first: {\"event\":\"authenticate\"}"),
            );
            return Flow::Continue;
        }
        match self.dispatch(&event, data).await {
            Ok(result) => {
                if let Some(ack_id) = &ack_id {
                    self.send(protocol::ack_ok(ack_id, &result));
                }
            }
            Err(error) => {
                if error.code == ErrorCode::Internal {
                    tracing::error!(error = ?error, event, "gateway event failed");
                }
                self.reply_error(ack_id.as_ref(), &error);
            }
        }
        Flow::Continue
    }

    /// Authenticates with a WebSocket token (or an access token). A bad token closes the
    /// connection with 4401: a client that cannot authenticate has nothing else to do here.
    pub async fn authenticate(&mut self, token: &str, ack_id: Option<&Value>) -> Flow {
        if self.auth.is_some() {
            self.reply_error(
                ack_id,
                &AppError::new(ErrorCode::InvalidBody, "already authenticated"),
            );
            return Flow::Continue;
        }
        let app = self.gw.app();
        let principal = match app
            .authenticate(&self.tenant, TokenKind::WebSocket, token)
            .await
        {
            Ok(principal) => Ok(principal),
            Err(_) => {
                app.authenticate(&self.tenant, TokenKind::Access, token)
                    .await
            }
        };
        let principal = match principal {
            Ok(principal) => principal,
            Err(error) => {
                return Flow::Close(CloseReason::new(
                    CLOSE_UNAUTHENTICATED,
                    format!("{}: {}", error.code, error.message),
                ));
            }
        };
        let display_name = match app.me(&principal).await {
            Ok(profile) => profile.display_name,
            Err(error) => {
                return Flow::Close(CloseReason::new(CLOSE_UNAUTHENTICATED, error.message));
            }
        };
        self.gw.inner.hub.set_user(self.id, principal.user);
        let result = json!({ "userId": principal.user, "sessionId": principal.session });
        self.auth = Some(Authed {
            principal,
            display_name,
        });
        self.send(Frame::new("authenticated", &result));
        if let Some(ack_id) = ack_id {
            self.send(protocol::ack_ok(ack_id, &result));
        }
        self.refresh_presence().await;
        Flow::Continue
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
        self.gw.inner.hub.close(self.id, reason);
    }

    /// Queues a frame to this connection.
    pub(super) fn send(&self, frame: Frame) {
        self.gw.inner.hub.send(self.id, frame);
    }

    fn reply_error(&self, ack_id: Option<&Value>, error: &AppError) {
        self.send(match ack_id {
            Some(ack_id) => protocol::ack_err(ack_id, error),
            None => protocol::error_event(error),
        });
    }

    /// Publishes an ephemeral frame (typing, presence, delivery receipts) to a conversation.
    /// A bus failure degrades these signals only; it is logged, not returned.
    pub(super) async fn signal(&self, room: ConversationId, frame: Frame, skip_self: bool) {
        let envelope = BusEnvelope {
            tenant: self.tenant.id.clone(),
            conversation: room,
            event_seq: None,
            skip_user: if skip_self { self.user().ok() } else { None },
            revoke_user: None,
            at_ms: now_ms(),
            frame: frame.bytes().clone(),
        };
        if let Err(error) = self.gw.inner.bus.publish(envelope).await {
            tracing::debug!(error = %error, "signal not published across instances");
        }
    }

    /// Refreshes this connection's presence record; announces a change of the user's status.
    pub(super) async fn refresh_presence(&self) {
        let Ok(user) = self.user() else { return };
        let ttl = self.gw.settings().heartbeat_timeout;
        let presence = &self.gw.inner.presence;
        let before = presence
            .get(&self.tenant.id, &[user], now_ms())
            .await
            .ok()
            .and_then(|v| v.first().copied());
        let conn = self.conn_key();
        match presence
            .set(&self.tenant.id, user, &conn, self.status, ttl, now_ms())
            .await
        {
            Ok(after) if before.map(|b| b.status) != Some(after.status) => {
                self.announce(user, after).await;
            }
            Ok(_) => {}
            Err(error) => tracing::debug!(error = %error, "presence not recorded"),
        }
    }

    /// Tells the conversations this connection joined about the user's presence.
    pub(super) async fn announce(&self, user: UserId, presence: UserPresence) {
        let frame = presence_frame(user, presence);
        for room in self.gw.inner.hub.rooms_of(self.id) {
            self.signal(room, frame.clone(), true).await;
        }
    }

    pub(super) fn conn_key(&self) -> String {
        format!("{}:{}", self.gw.inner.instance, self.id)
    }

    /// Ends the connection: typing stops, presence may go offline, the hub forgets it.
    pub async fn close(self) {
        let typing: Vec<ConversationId> = {
            let mut typing = self.typing.lock().unwrap_or_else(|e| e.into_inner());
            typing.drain().map(|(room, _)| room).collect()
        };
        if let Some(auth) = &self.auth {
            let user = auth.principal.user;
            for room in typing {
                self.signal(room, self.typing_frame(room, false), true)
                    .await;
            }
            let removed = self
                .gw
                .inner
                .presence
                .remove(&self.tenant.id, user, &self.conn_key(), now_ms())
                .await;
            if let Ok(after) = removed
                && after.status == Status::Offline
            {
                self.announce(user, after).await;
            }
        }
        self.gw.inner.hub.unregister(self.id);
    }
}

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

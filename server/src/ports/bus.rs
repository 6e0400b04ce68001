//! The `Bus` port: how a committed event or an ephemeral signal (typing, presence, delivery
//! receipts) reaches every server instance that has a member of the conversation connected.
//! In-process by default; Redis pub/sub when `CHEMCHAT_REDIS_URL` is set.
//!
//! **Invariant**: an envelope carries one already-serialised client frame; no instance and no
//! recipient serialises it again.

use crate::domain::{ConversationId, TenantId, UserId};
use async_trait::async_trait;
use bytes::Bytes;
use std::fmt::Debug;
use tokio::sync::broadcast;

/// The bus could not take the envelope (Redis down); ephemeral signals are dropped, stored
/// events remain fetchable with sync.
#[derive(Debug, thiserror::Error)]
#[error("bus unavailable: {0}")]
pub struct BusError(#[source] pub anyhow::Error);

/// One frame for the joined connections of one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEnvelope {
    /// Tenant: part of the channel name, so tenants never share a channel.
    pub tenant: TenantId,
    /// Conversation: the other part of the channel name.
    pub conversation: ConversationId,
    /// The event's position in the conversation's event log; `None` for ephemeral signals.
    /// Recipients use it to drop duplicates (the outbox relay delivers at least once).
    pub event_seq: Option<i64>,
    /// Connections of this user do not receive the frame (their own typing, their own presence).
    pub skip_user: Option<UserId>,
    /// After delivery, connections of this user leave the conversation (they were removed).
    pub revoke_user: Option<UserId>,
    /// When the event was committed (or signalled), Unix milliseconds: for the latency metric.
    pub at_ms: i64,
    /// The client frame, UTF-8 JSON `{"event":…,"data":…}`.
    pub frame: Bytes,
}

/// Cross-instance fan-out.
#[async_trait]
pub trait Bus: Send + Sync + Debug + 'static {
    /// Delivers the envelope to every subscriber of this instance at once and, where there are
    /// other instances, to theirs. Local delivery never depends on the network.
    async fn publish(&self, envelope: BusEnvelope) -> Result<(), BusError>;

    /// Tells the bus whether this instance wants the conversation's envelopes from other
    /// instances (the gateway calls it on the first join and after the last leave, under its
    /// lock, so calls arrive in order; it must not block).
    fn interest(&self, tenant: &TenantId, conversation: ConversationId, wanted: bool);

    /// Every envelope for this instance, from now on.
    fn subscribe(&self) -> broadcast::Receiver<BusEnvelope>;

    /// Whether cross-instance delivery currently works (for health and degradation).
    fn healthy(&self) -> bool;
}

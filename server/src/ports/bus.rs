//! The `Bus` port: how a committed event or an ephemeral signal (typing, presence, delivery
//! receipts) reaches every server instance that has a member of the conversation connected.
//! A single instance has no one to tell (the embedded default); Redis pub/sub when
//! `CHEMCHAT_REDIS_URL` is set.
//!
//! **Invariant**: an envelope carries one already-serialised client frame; no instance and no
//! recipient serialises it again.

use super::Revocation;
use crate::domain::{ConversationId, TenantId, UserId};
use crate::tasks::Tasks;
use crate::telemetry::TraceParent;
use bytes::Bytes;
use std::fmt::Debug;
use std::sync::Arc;

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
    /// The trace of the change, for events of traced work: the receiving instance's delivery
    /// continues it.
    pub trace: Option<TraceParent>,
}

/// What an account envelope does to its users' memberships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// They are members now (created with it, added): their instances start watching it.
    Joined,
    /// They left or were removed: their instances stop watching it.
    Left,
}

/// One frame for every connection of some users, whatever they joined: the account channel's
/// news about their memberships (a conversation created with them, their being added or
/// removed) and about their accounts (a new role, a warning). Everything else an account hears
/// is derived by the instance that watches the conversation for its users (`gateway::hub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEnvelope {
    /// Tenant.
    pub tenant: TenantId,
    /// Whose connections hear it.
    pub users: Vec<UserId>,
    /// The conversation it is about; `None` for news about the account itself.
    pub conversation: Option<ConversationId>,
    /// Joined or left, for membership news.
    pub membership: Option<Membership>,
    /// When it was committed, Unix milliseconds.
    pub at_ms: i64,
    /// The client frame.
    pub frame: Bytes,
}

/// Where a bus hands the envelopes other instances published (the gateway's hub).
pub trait BusInbox: Send + Sync + Debug + 'static {
    /// One envelope from another instance. Must not block.
    fn deliver(&self, envelope: BusEnvelope);

    /// Sessions another instance ended: close the connections that depended on them. Must not
    /// block.
    fn revoked(&self, revocation: &Revocation);

    /// Membership news for some users' connections from another instance. Must not block.
    fn account(&self, envelope: AccountEnvelope);
}

/// Cross-instance fan-out. Local delivery is the hub's own business and never goes through the
/// bus: the bus only carries what other instances need.
pub trait Bus: Send + Sync + Debug + 'static {
    /// Queues the envelope for the other instances and returns at once. The queue is bounded:
    /// when it is full (the bus backend is slow or down) the envelope is dropped and counted;
    /// other instances' clients see the gap in `sequenceNumber` and sync.
    fn publish(&self, envelope: &BusEnvelope);

    /// Tells the bus whether this instance wants the conversation's envelopes from other
    /// instances (the hub calls it on the first join and after the last leave, under the
    /// conversation's shard lock, so calls for one conversation arrive in order; it must not
    /// block).
    fn interest(&self, tenant: &TenantId, conversation: ConversationId, wanted: bool);

    /// Queues membership news for the instances where its users are connected. Like `publish`,
    /// it returns at once and a lost message is caught by sync (and the conversation list).
    fn publish_account(&self, envelope: &AccountEnvelope);

    /// Tells the bus that this instance has connected users of `tenant`, so it wants the
    /// tenant's account news from other instances. Idempotent; must not block.
    fn watch_tenant(&self, tenant: &TenantId);

    /// Tells every other instance that sessions ended. Every instance listens for these,
    /// whatever its connections joined. Like `publish`, it queues and returns at once; a lost
    /// message is caught by the gateway's periodic session check.
    fn revoke(&self, revocation: &Revocation);

    /// Starts the bus's background work (publishing, subscribing), owned by `tasks`, handing
    /// other instances' envelopes to `inbox`.
    fn start(&self, inbox: Arc<dyn BusInbox>, tasks: &Tasks);

    /// Whether cross-instance delivery currently works (for health and degradation).
    fn healthy(&self) -> bool;
}

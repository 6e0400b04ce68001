//! Fan-out: committed events and ephemeral signals become envelopes (serialised once), delivered
//! to this instance's connections through the hub and to other instances through the bus.
//!
//! **Invariant**: a committed event reaches the fan-out only through the store's commit
//! listener, after its transaction committed, so a frame is never seen before its change is
//! stored — whichever path (REST or WebSocket) made the change. Neither path waits for the
//! outbox relay or the broker.

use super::hub::Hub;
use super::protocol::Frame;
use crate::domain::{TenantId, UserId};
use crate::ports::chat::{EventPayload, StoredEvent, rfc3339};
use crate::ports::{
    AccountEnvelope, AccountNotice, Bus, BusEnvelope, CommitListener, Membership, Revocation,
    Revocations,
};
use serde_json::json;
use std::sync::Arc;

/// This instance's hub and the bus to the others.
#[derive(Debug, Clone)]
pub struct Fanout {
    hub: Arc<Hub>,
    bus: Arc<dyn Bus>,
}

impl Fanout {
    /// A fan-out over a hub with `shards` shards and per-connection queues of `queue` frames.
    pub fn new(bus: Arc<dyn Bus>, queue: usize, shards: usize) -> Self {
        Self {
            hub: Arc::new(Hub::new(Arc::clone(&bus), queue, shards)),
            bus,
        }
    }

    /// The hub of this instance.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The bus to other instances.
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    fn deliver(&self, envelope: &BusEnvelope, alone: bool) -> usize {
        if alone {
            self.hub.deliver_alone(envelope)
        } else {
            self.hub.deliver(envelope)
        }
    }

    /// Delivers here and publishes to the other instances.
    pub fn broadcast(&self, envelope: &BusEnvelope) {
        self.hub.deliver(envelope);
        self.bus.publish(envelope);
    }
}

impl CommitListener for Fanout {
    fn committed(&self, events: &[StoredEvent]) {
        let alone = events.len() == 1;
        // A batch of sends: each conversation's events go to each socket as one run. (Events
        // that carry a trace take the path below, one by one, each in its own span.)
        if !alone && events.iter().all(|e| e.trace.is_none()) {
            let envelopes: Vec<BusEnvelope> = events.iter().map(envelope_of).collect();
            self.hub.deliver_batch(&envelopes);
            for (event, envelope) in events.iter().zip(&envelopes) {
                self.bus.publish(envelope);
                // Account news reach connections that have not joined the conversation, so
                // they cannot overtake its frames on any socket.
                if let Some(news) = account_envelope_of(event) {
                    self.hub.deliver_account(&news);
                    self.bus.publish_account(&news);
                }
            }
            return;
        }
        for event in events {
            let envelope = envelope_of(event);
            if envelope.trace.is_some() {
                let span = tracing::info_span!(
                    "fanout",
                    otel.kind = "producer",
                    event = event.kind().as_str(),
                    connections = tracing::field::Empty
                );
                let _entered = span.enter();
                span.record("connections", self.deliver(&envelope, alone));
                self.bus.publish(&envelope);
            } else {
                self.deliver(&envelope, alone);
                self.bus.publish(&envelope);
            }
            if let Some(news) = account_envelope_of(event) {
                self.hub.deliver_account(&news);
                self.bus.publish_account(&news);
            }
        }
    }
}

/// The account channel's envelope of an event that changes someone's memberships: a
/// conversation created with its members, a member added (or given another role), removed.
pub fn account_envelope_of(event: &StoredEvent) -> Option<AccountEnvelope> {
    let (users, membership) = match &event.payload {
        EventPayload::ConversationCreated(view) => (
            view.members
                .iter()
                .filter_map(|m| UserId::parse(&m.user_id))
                .collect(),
            Membership::Joined,
        ),
        EventPayload::MemberAdded(added) => (vec![added.user_id], Membership::Joined),
        EventPayload::MemberRemoved(removed) => (vec![removed.user_id], Membership::Left),
        _ => return None,
    };
    Some(AccountEnvelope {
        tenant: event.tenant.clone(),
        users,
        conversation: Some(event.conversation_id),
        membership: Some(membership),
        at_ms: event.created_at_ms,
        frame: Frame::event(event).bytes().clone(),
    })
}

impl Revocations for Fanout {
    fn sessions_ended(&self, revocation: &Revocation) {
        let closed = self.hub.revoke(revocation);
        tracing::debug!(tenant = %revocation.tenant, user = %revocation.user, closed,
            "sessions ended; their connections closed here and told to other instances");
        self.bus.revoke(revocation);
    }

    fn account_changed(&self, tenant: &TenantId, user: UserId, notice: &AccountNotice) {
        let frame = match notice {
            AccountNotice::RoleChanged { role } => Frame::new(
                "account.updated",
                &json!({ "userId": user, "role": role.as_str() }),
            ),
            AccountNotice::Warned { reason, at_ms } => Frame::new(
                "account.warned",
                &json!({ "userId": user, "reason": reason, "at": rfc3339(*at_ms) }),
            ),
        };
        let news = AccountEnvelope {
            tenant: tenant.clone(),
            users: vec![user],
            conversation: None,
            membership: None,
            at_ms: time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
            frame: frame.bytes().clone(),
        };
        self.hub.deliver_account(&news);
        self.bus.publish_account(&news);
    }
}

/// The bus envelope of a committed event.
pub fn envelope_of(event: &StoredEvent) -> BusEnvelope {
    let revoke_user = match &event.payload {
        EventPayload::MemberRemoved(removed) => Some(removed.user_id),
        _ => None,
    };
    BusEnvelope {
        tenant: event.tenant.clone(),
        conversation: event.conversation_id,
        event_seq: Some(event.event_seq),
        skip_user: None,
        revoke_user,
        at_ms: event.created_at_ms,
        frame: Frame::event(event).bytes().clone(),
        trace: event.trace.clone(),
    }
}

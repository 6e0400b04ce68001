//! Fan-out: committed events from the event log become bus envelopes (serialised once), and bus
//! envelopes become frames in the send queues of the connections that joined.
//!
//! **Invariant**: only the outbox relay feeds the event log, and it ships committed rows, so a
//! frame is never seen before its change is committed — whichever path (REST or WebSocket) made
//! the change.

use super::hub::Hub;
use super::metrics;
use super::protocol::{CLOSE_TRY_AGAIN, CloseReason, Frame};
use crate::domain::UserId;
use crate::ports::chat::StoredEvent;
use crate::ports::{Bus, BusEnvelope, Delivery, EventStream};
use std::sync::Arc;
use tokio::sync::broadcast;

/// The bus envelope of a committed event.
pub fn envelope_of(event: &StoredEvent) -> BusEnvelope {
    let revoke_user = (event.kind == "member.removed")
        .then(|| event.payload.get("userId").and_then(|v| v.as_str()))
        .flatten()
        .and_then(UserId::parse);
    BusEnvelope {
        tenant: event.tenant.clone(),
        conversation: event.conversation_id,
        event_seq: Some(event.event_seq),
        skip_user: None,
        revoke_user,
        at_ms: event.created_at_ms,
        frame: Frame::new(&event.kind, &event.payload).bytes().clone(),
    }
}

/// Publishes every event this process's outbox relay ships. Runs until the log closes.
pub async fn pump(mut events: EventStream, bus: Arc<dyn Bus>) {
    while let Some(delivery) = events.next().await {
        match delivery {
            Delivery::Event(event) => {
                if let Err(error) = bus.publish(envelope_of(&event)).await {
                    // Local delivery already happened inside publish; other instances' clients
                    // see the gap in sequenceNumber and sync.
                    tracing::warn!(error = %error, "cross-instance publish failed");
                }
            }
            Delivery::Lagged(missed) => {
                ::metrics::counter!(metrics::LAGGED).increment(1);
                tracing::error!(
                    missed,
                    "fan-out pump fell behind the event log; clients will sync the gap"
                );
            }
        }
    }
}

/// Delivers bus envelopes to this instance's connections. Runs until the bus closes.
pub async fn deliver(mut envelopes: broadcast::Receiver<BusEnvelope>, hub: Arc<Hub>) {
    loop {
        match envelopes.recv().await {
            Ok(envelope) => {
                let queued = hub.deliver(&envelope);
                if queued > 0 {
                    ::metrics::counter!(metrics::DELIVERED).increment(queued as u64);
                    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
                    let latency_ms = (now - i128::from(envelope.at_ms)).max(0);
                    ::metrics::histogram!(metrics::LATENCY).record(latency_ms as f64 / 1000.0);
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                // Frames were lost for every local connection; each must resynchronise.
                ::metrics::counter!(metrics::LAGGED).increment(1);
                tracing::error!(missed, "hub fell behind the bus; closing connections");
                hub.close_all(&CloseReason::new(
                    CLOSE_TRY_AGAIN,
                    "server fell behind; reconnect and sync",
                ));
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

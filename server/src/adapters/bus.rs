//! The in-process bus: one broadcast channel, for a single instance (the embedded default).

use crate::domain::{ConversationId, TenantId};
use crate::ports::{Bus, BusEnvelope, BusError};
use async_trait::async_trait;
use tokio::sync::broadcast;

/// Envelopes the gateway's hub may fall behind by before it is told it lagged.
pub const LOCAL_CAPACITY: usize = 16_384;

/// Delivers every envelope to this process's subscribers.
#[derive(Debug, Clone)]
pub struct LocalBus {
    tx: broadcast::Sender<BusEnvelope>,
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalBus {
    /// An empty bus.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(LOCAL_CAPACITY);
        Self { tx }
    }

    /// Hands an envelope to local subscribers (also used by the Redis bus for its own instance).
    pub fn deliver(&self, envelope: BusEnvelope) {
        // No subscriber (no gateway running) is not an error.
        let _ = self.tx.send(envelope);
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, envelope: BusEnvelope) -> Result<(), BusError> {
        self.deliver(envelope);
        Ok(())
    }

    fn interest(&self, _: &TenantId, _: ConversationId, _: bool) {}

    fn subscribe(&self) -> broadcast::Receiver<BusEnvelope> {
        self.tx.subscribe()
    }

    fn healthy(&self) -> bool {
        true
    }
}

//! The bus of a single instance (the embedded default): there is no other instance to reach, so
//! publishing is a no-op and nothing arrives. Local delivery happens in the gateway's hub.

use crate::domain::{ConversationId, TenantId};
use crate::ports::{AccountEnvelope, Bus, BusEnvelope, BusInbox, Revocation};
use crate::tasks::Tasks;
use std::sync::Arc;

/// No cross-instance fan-out.
#[derive(Debug, Clone, Default)]
pub struct LocalBus;

impl LocalBus {
    /// The bus of a server that runs alone.
    pub fn new() -> Self {
        Self
    }
}

impl Bus for LocalBus {
    fn publish(&self, _: &BusEnvelope) {}

    fn interest(&self, _: &TenantId, _: ConversationId, _: bool) {}

    fn revoke(&self, _: &Revocation) {}

    fn publish_account(&self, _: &AccountEnvelope) {}

    fn watch_tenant(&self, _: &TenantId) {}

    fn start(&self, _: Arc<dyn BusInbox>, _: &Tasks) {}

    fn healthy(&self) -> bool {
        true
    }
}

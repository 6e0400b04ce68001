//! Audit entries for security-relevant events.

use crate::app::App;
use crate::domain::{AuditId, UserId};
use crate::ports::AuditEntry;
use std::net::IpAddr;

impl App {
    /// An audit entry stamped now.
    pub(super) fn audit_entry(
        &self,
        action: &str,
        user: Option<UserId>,
        ip: Option<IpAddr>,
        detail: serde_json::Value,
    ) -> AuditEntry {
        AuditEntry {
            id: AuditId::generate(),
            at_ms: self.clock.now_ms(),
            user_id: user,
            action: action.to_owned(),
            ip: ip.map(|ip| ip.to_string()),
            detail,
        }
    }
}

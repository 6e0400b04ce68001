//! Audit entries: who did what, to what, from which client.

use crate::app::App;
use crate::domain::{AuditId, ClientInfo, UserId};
use crate::ports::AuditEntry;

impl App {
    /// An audit entry stamped now, about no particular target.
    pub(crate) fn audit_entry(
        &self,
        action: &str,
        user: Option<UserId>,
        client: Option<&ClientInfo>,
        detail: serde_json::Value,
    ) -> AuditEntry {
        AuditEntry {
            id: AuditId::generate(),
            at_ms: self.clock.now_ms(),
            user_id: user,
            action: action.to_owned(),
            target: None,
            ip: client.map(|c| c.ip.to_string()),
            user_agent: client.and_then(|c| c.user_agent.clone()),
            detail,
        }
    }

    /// An audit entry stamped now of `actor` doing `action` to `target` (`user:<id>`, …).
    pub(crate) fn audit_action(
        &self,
        action: &str,
        actor: Option<UserId>,
        target: String,
        client: Option<&ClientInfo>,
        detail: serde_json::Value,
    ) -> AuditEntry {
        AuditEntry {
            target: Some(target),
            ..self.audit_entry(action, actor, client, detail)
        }
    }
}

//! Revocation, as a port: how the use cases tell live connections that the session they
//! authenticated with has ended (or that their account changed), on this instance and on every
//! other.
//!
//! **Invariant**: a use case that ends sessions (logout, refresh-token reuse, an MFA change,
//! a password change, a suspension, a ban, an MFA reset) reports it here right after its
//! transaction committed; every connection that authenticated with one of those sessions is
//! closed with 4401, wherever it is connected.

use crate::domain::{DeviceId, SessionId, TenantId, TenantRole, UserId};
use std::fmt::Debug;

/// Which of a user's sessions ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionScope {
    /// One session (a refresh-token family that was replayed).
    Session(SessionId),
    /// Every session bound to one device (logout on this device).
    Device(DeviceId),
    /// Every session of the user (logout everywhere; the account ended).
    All,
    /// Every session but the caller's own (after an MFA change).
    AllExcept(SessionId),
}

impl SessionScope {
    /// Whether a connection of `session` on `device` depended on an ended session.
    pub fn covers(&self, session: SessionId, device: &DeviceId) -> bool {
        match self {
            SessionScope::Session(ended) => *ended == session,
            SessionScope::Device(ended) => ended == device,
            SessionScope::All => true,
            SessionScope::AllExcept(kept) => *kept != session,
        }
    }
}

/// Sessions of one user that ended, and why (the reason goes into the close frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The user's tenant.
    pub tenant: TenantId,
    /// Whose sessions.
    pub user: UserId,
    /// Which of them.
    pub scope: SessionScope,
    /// Why, for the client: `logout`, `token reused`, `mfa changed`, ….
    pub reason: String,
}

/// A change of an account its live connections learn at once (on every device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountNotice {
    /// The tenant role changed (`account.updated`).
    RoleChanged {
        /// The role now.
        role: TenantRole,
    },
    /// A moderator warned the account (`account.warned`).
    Warned {
        /// The warning.
        reason: String,
        /// When, Unix milliseconds.
        at_ms: i64,
    },
}

/// Told of ended sessions and account changes. Must not block: it runs inside the use case.
pub trait Revocations: Send + Sync + Debug + 'static {
    /// Closes the connections that depended on the ended sessions, here and on other instances.
    fn sessions_ended(&self, revocation: &Revocation);

    /// Tells every live connection of the user, here and on other instances.
    fn account_changed(&self, tenant: &TenantId, user: UserId, notice: &AccountNotice);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_cover_the_sessions_they_name() {
        let (mine, other) = (SessionId::generate(), SessionId::generate());
        let phone = DeviceId::parse("phone").expect("device");
        let laptop = DeviceId::parse("laptop").expect("device");
        assert!(SessionScope::Session(mine).covers(mine, &phone));
        assert!(!SessionScope::Session(mine).covers(other, &phone));
        assert!(SessionScope::Device(phone.clone()).covers(other, &phone));
        assert!(!SessionScope::Device(phone.clone()).covers(other, &laptop));
        assert!(SessionScope::All.covers(mine, &laptop));
        assert!(!SessionScope::AllExcept(mine).covers(mine, &phone));
        assert!(SessionScope::AllExcept(mine).covers(other, &phone));
    }
}

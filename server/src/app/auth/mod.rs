//! Authentication: registration, login, token rotation, logout, MFA.

mod grants;
mod keys;
mod login;
mod mfa;
mod passwords;
mod register;
mod sessions;
mod tokens;
mod unsubscribe;

pub use grants::{Grant, GrantKind};
pub use keys::SigningKeys;
pub use login::{Login, LoginAttempt};
pub use mfa::{MfaRequest, MfaSetup, totp_for};
pub use passwords::Passwords;
pub use register::Registration;
pub use sessions::TokenPair;
pub use tokens::{Claims, Principal, TokenError, TokenIssuer, TokenKind};

use crate::ports::StoredUser;

/// A user as the API shows them to themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Id.
    pub id: crate::domain::UserId,
    /// Username.
    pub username: String,
    /// Email.
    pub email: String,
    /// Display name.
    pub display_name: String,
    /// Whether login requires a TOTP code.
    pub mfa_enabled: bool,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Tenant role.
    pub role: crate::domain::TenantRole,
    /// Avatar image.
    pub avatar: Option<crate::domain::MediaId>,
    /// Status text; empty when none.
    pub status_text: String,
    /// The email address was proven by a link mailed to it.
    pub email_verified: bool,
}

impl From<&StoredUser> for Profile {
    fn from(user: &StoredUser) -> Self {
        Self {
            id: user.id,
            username: user.username.clone(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            mfa_enabled: user.mfa_secret.is_some(),
            created_at_ms: user.created_at_ms,
            role: user.role,
            avatar: user.avatar,
            status_text: user.status_text.clone(),
            email_verified: user.email_verified,
        }
    }
}

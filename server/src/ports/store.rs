//! The `Store` port: everything the use cases persist.
//!
//! **Invariant**: every method that touches tenant data takes the tenant as a required argument,
//! and each method is one transaction, so a use case never leaves a partial write behind.

use super::SessionScope;
use crate::domain::{
    AccountStatus, AuditId, DeviceId, MediaId, SessionId, Tenant, TenantId, TenantRole, UserId,
};
use async_trait::async_trait;
use std::fmt::Debug;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or timed out; the request may be retried.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] anyhow::Error),
    /// A stored value does not parse; a bug or a manual edit.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Other(#[source] anyhow::Error),
}

impl StoreError {
    /// A copy for a second caller that shares this failure (every send of a failed batch): the
    /// kind is kept, so a retryable failure stays retryable; the cause is kept as its message.
    pub fn copied(&self) -> Self {
        match self {
            Self::Unavailable(cause) => Self::Unavailable(anyhow::anyhow!("{cause:#}")),
            Self::Corrupt(message) => Self::Corrupt(message.clone()),
            Self::Other(cause) => Self::Other(anyhow::anyhow!("{cause:#}")),
        }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A user as stored, including the secrets only the auth use cases read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    /// Id.
    pub id: UserId,
    /// Lower-cased username.
    pub username: String,
    /// Lower-cased email.
    pub email: String,
    /// Name shown to others.
    pub display_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Base32 TOTP secret when MFA is enabled.
    pub mfa_secret: Option<String>,
    /// The last TOTP step accepted, so a code cannot be replayed inside its window.
    pub mfa_last_step: i64,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Tenant role.
    pub role: TenantRole,
    /// Whether the account may be used (as stored: a suspension may have run out).
    pub status: AccountStatus,
    /// Avatar image.
    pub avatar: Option<MediaId>,
    /// Status text; empty when none.
    pub status_text: String,
    /// The account was deleted: the row only keeps the id for the messages that name it.
    pub deleted: bool,
    /// The email address was proven by a link mailed to it.
    pub email_verified: bool,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Id.
    pub id: UserId,
    /// Lower-cased username.
    pub username: String,
    /// Lower-cased email.
    pub email: String,
    /// Name shown to others.
    pub display_name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Tenant role.
    pub role: TenantRole,
    /// Made owner instead when the tenant has no user yet (the embedded default's bootstrap).
    pub owner_if_first: bool,
    /// The SHA-256 of the invitation code it registers with: spent in the same transaction.
    pub invite: Option<String>,
}

/// Outcome of creating a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCreation {
    /// The user was stored.
    Created,
    /// Another user of the tenant has this username.
    UsernameTaken,
    /// Another user of the tenant has this email.
    EmailTaken,
    /// The tenant's user quota is reached.
    QuotaExceeded,
    /// The invitation is unknown, expired, revoked or used up.
    InvalidInvite,
}

/// An MFA change: the secret (or `None` to turn MFA off), the TOTP step just accepted, and the
/// one session that stays signed in.
#[derive(Debug, Clone, Copy)]
pub struct MfaChange<'a> {
    /// The new base32 secret; `None` disables MFA.
    pub secret: Option<&'a str>,
    /// The step of the code that proved it.
    pub step: i64,
    /// The caller's session; every other session of the user is revoked.
    pub keep: SessionId,
    /// Now, Unix milliseconds.
    pub now_ms: i64,
}

/// A new login session: one refresh-token family bound to one device.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The family id, carried in every token of the session.
    pub id: SessionId,
    /// Whose session.
    pub user_id: UserId,
    /// The device the refresh tokens are bound to.
    pub device_id: DeviceId,
    /// The id (`jti`) of the one refresh token currently valid.
    pub token_id: String,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// When the session ends unless refreshed, Unix milliseconds.
    pub expires_at_ms: i64,
}

/// A refresh-token swap: the token presented, the one replacing it, and the new expiry.
#[derive(Debug, Clone, Copy)]
pub struct TokenSwap<'a> {
    /// The id (`jti`) of the refresh token presented.
    pub presented: &'a str,
    /// The id of the refresh token that replaces it.
    pub next: &'a str,
    /// Now, Unix milliseconds.
    pub now_ms: i64,
    /// The session's new expiry, Unix milliseconds.
    pub expires_at_ms: i64,
}

/// Outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current; the session now expects the next one.
    Rotated,
    /// The token was already rotated: someone replayed it, so the whole session was revoked.
    Reused,
    /// Unknown, expired or revoked session.
    Invalid,
}

/// An audit-log entry: who did what security-relevant thing, from where.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Id.
    pub id: AuditId,
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Who acted (or whose account it concerns, for logins), when known.
    pub user_id: Option<UserId>,
    /// What happened, e.g. `login.succeeded`, `user.suspended`.
    pub action: String,
    /// What it was done to, e.g. `user:<id>`, `message:<id>`.
    pub target: Option<String>,
    /// The client address, when known.
    pub ip: Option<String>,
    /// The client's `User-Agent`, when known.
    pub user_agent: Option<String>,
    /// Extra facts as JSON (never secrets).
    pub detail: serde_json::Value,
}

/// Persistence for the use cases. Implemented once over SQL for SQLite and PostgreSQL. The chat
/// methods live in [`super::ChatStore`].
#[async_trait]
pub trait Store:
    super::ChatStore
    + super::MediaStore
    + super::PeopleStore
    + super::ModerationStore
    + super::NotificationStore
    + super::RetentionStore
    + Send
    + Sync
    + Debug
    + 'static
{
    /// `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;

    /// Checks the database answers (readiness).
    async fn ping(&self) -> StoreResult<()>;

    /// Closes the connections (at shutdown, after every task that uses the store has ended).
    async fn close(&self);

    /// Creates the tenant if missing, else replaces its name, tier and quotas with these.
    async fn upsert_tenant(&self, tenant: &Tenant) -> StoreResult<()>;

    /// Creates the tenant if missing and returns the stored one (existing settings win).
    async fn ensure_tenant(&self, tenant: &Tenant) -> StoreResult<Tenant>;

    /// A tenant by id.
    async fn tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>>;

    /// Stores a user unless the username or email is taken or the user quota is reached.
    async fn create_user(
        &self,
        tenant: &TenantId,
        user: &NewUser,
        max_users: Option<u64>,
    ) -> StoreResult<UserCreation>;

    /// A user by id.
    async fn user(&self, tenant: &TenantId, id: UserId) -> StoreResult<Option<StoredUser>>;

    /// A user by lower-cased username or email.
    async fn user_by_login(
        &self,
        tenant: &TenantId,
        login: &str,
    ) -> StoreResult<Option<StoredUser>>;

    /// Sets (or clears, with `None`) the TOTP secret, records the accepted step, ends every
    /// session of the user but `keep` (an MFA change signs out every other device), and writes
    /// the audit entry, in one transaction.
    async fn set_mfa_secret(
        &self,
        tenant: &TenantId,
        user: UserId,
        change: MfaChange<'_>,
        audit: &AuditEntry,
    ) -> StoreResult<()>;

    /// Accepts TOTP step `step` for the user only if it is later than every step accepted
    /// before; `false` means the code was already used (a replay).
    async fn consume_totp_step(
        &self,
        tenant: &TenantId,
        user: UserId,
        step: i64,
    ) -> StoreResult<bool>;

    /// Records the device, opens the session and writes the audit entry, in one transaction.
    async fn start_session(
        &self,
        tenant: &TenantId,
        session: &NewSession,
        audit: &AuditEntry,
    ) -> StoreResult<()>;

    /// Swaps the session's current refresh token for the next one and extends the session.
    /// Presenting a token that is no longer current revokes the whole session and writes
    /// `on_reuse` to the audit log, in the same transaction.
    async fn rotate_session(
        &self,
        tenant: &TenantId,
        session: SessionId,
        swap: TokenSwap<'_>,
        on_reuse: &AuditEntry,
    ) -> StoreResult<Rotation>;

    /// Whether the session exists, is not revoked and has not expired.
    async fn session_active(
        &self,
        tenant: &TenantId,
        session: SessionId,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// Of `sessions`, those that exist, are not revoked and have not expired.
    async fn live_sessions(
        &self,
        tenant: &TenantId,
        sessions: &[SessionId],
        now_ms: i64,
    ) -> StoreResult<Vec<SessionId>>;

    /// Revokes the user's sessions in `scope`, writes the audit entry, and returns how many
    /// sessions were revoked.
    async fn end_sessions(
        &self,
        tenant: &TenantId,
        user: UserId,
        scope: &SessionScope,
        now_ms: i64,
        audit: &AuditEntry,
    ) -> StoreResult<u64>;

    /// Appends an audit entry.
    async fn append_audit(&self, tenant: &TenantId, entry: &AuditEntry) -> StoreResult<()>;

    /// The newest audit entries of the tenant, newest first.
    async fn audit_entries(&self, tenant: &TenantId, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let query = super::AuditQuery {
            limit,
            ..Default::default()
        };
        self.audit_page(tenant, &query).await
    }
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    #[test]
    fn a_copied_error_keeps_its_kind_and_message() {
        let unavailable = StoreError::Unavailable(anyhow::anyhow!("pool timed out"));
        let copy = unavailable.copied();
        assert!(matches!(copy, StoreError::Unavailable(_)), "{copy:?}");
        assert_eq!(copy.to_string(), unavailable.to_string());

        let other = StoreError::Other(anyhow::anyhow!("constraint").context("inserting"));
        let copy = other.copied();
        assert!(matches!(copy, StoreError::Other(_)), "{copy:?}");
        assert_eq!(copy.to_string(), "database error: inserting: constraint");

        let corrupt = StoreError::Corrupt("bad id".into());
        assert!(matches!(corrupt.copied(), StoreError::Corrupt(m) if m == "bad id"));
    }
}

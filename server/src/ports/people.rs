//! The people part of the store: profiles, the directory, tenant roles, account status and
//! the audit trail's reading side.
//!
//! **Invariant**: like every store method, each takes the tenant and is one transaction; a
//! change that ends sessions revokes them and writes its audit entry in that transaction.

use super::chat::Message;
use super::{AuditEntry, MediaItem, StoreResult};
use crate::domain::content_policy::PolicyRules;
use crate::domain::{
    AccountStatus, DeletedMessages, InviteId, MediaId, MessageId, RegistrationMode, SessionId,
    TenantId, TenantRole, TokenPurpose, UserId,
};
use async_trait::async_trait;

/// A user as others in the tenant see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUser {
    /// Id.
    pub id: UserId,
    /// Lower-cased username.
    pub username: String,
    /// Name shown to others.
    pub display_name: String,
    /// The avatar image, a media item everyone in the tenant may read.
    pub avatar: Option<MediaId>,
    /// What they say about themselves; empty when nothing.
    pub status_text: String,
    /// Their tenant role.
    pub role: TenantRole,
    /// Whether the account may be used (as stored: a suspension may have run out).
    pub status: AccountStatus,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// The account was deleted: only the id and "Deleted user" are left.
    pub deleted: bool,
}

/// A change of one's own profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    /// A new display name.
    pub display_name: Option<String>,
    /// A new avatar (`Some(None)` removes it).
    pub avatar: Option<Option<MediaId>>,
    /// A new status text (empty clears it).
    pub status_text: Option<String>,
    /// Now, Unix milliseconds.
    pub now_ms: i64,
}

/// Outcome of a profile change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileUpdate {
    /// Stored; the profile as it now is.
    Updated(PublicUser),
    /// The avatar is not a ready image this user uploaded.
    AvatarRefused,
    /// No such user.
    NotFound,
}

/// Which users a listing returns, in username order.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// A lower-cased prefix of the username or of the display name.
    pub prefix: Option<String>,
    /// Only this tenant role.
    pub role: Option<TenantRole>,
    /// Only this status kind (`active`, `suspended`, `banned`), as in force at `now_ms`.
    pub status: Option<&'static str>,
    /// Leave out accounts that cannot be used at `now_ms` (suspended, banned).
    pub usable_only: bool,
    /// Start after this username (the previous page's last).
    pub after: Option<String>,
    /// At most this many.
    pub limit: u32,
    /// Now, Unix milliseconds (suspensions end by themselves).
    pub now_ms: i64,
}

/// Outcome of a change to someone's role or status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    /// Done.
    Changed,
    /// It would leave the tenant without an owner.
    LastOwner,
    /// No such user.
    NotFound,
}

/// Which audit entries a listing returns, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only this actor.
    pub actor: Option<UserId>,
    /// Only this action, or actions starting with it when it ends in `.` (`login.`).
    pub action: Option<String>,
    /// Only this target (`user:<id>`, `message:<id>`, …).
    pub target: Option<String>,
    /// From this time on, Unix milliseconds.
    pub from_ms: Option<i64>,
    /// Before this time, Unix milliseconds.
    pub to_ms: Option<i64>,
    /// Strictly older than this entry (time, id): the previous page's last.
    pub before: Option<(i64, String)>,
    /// At most this many.
    pub limit: u32,
}

/// What a tenant uses now, from its own rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TenantUsage {
    /// Accounts.
    pub users: u64,
    /// Conversations.
    pub conversations: u64,
    /// Messages sent on the given day.
    pub messages_today: u64,
    /// Bytes of stored media.
    pub storage_bytes: u64,
}

/// How an account ends: what replaces it in the audit trail and what becomes of its messages.
#[derive(Debug, Clone)]
pub struct AccountErasure {
    /// A fresh id that stands for the user in the audit trail from now on: entries keep what
    /// happened and when, not who (nor from which address and client).
    pub pseudonym: UserId,
    /// Whether the user's messages are erased (queued for the eraser) or kept.
    pub messages: DeletedMessages,
    /// The deletion's own entry, written after the trail is pseudonymised.
    pub audit: AuditEntry,
}

/// How far the erasure of one deleted user's messages has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErasureProgress {
    /// Messages turned into tombstones by this batch.
    pub erased: u32,
    /// Nothing is left: the work item is gone and the user's media are left to the sweeper.
    pub done: bool,
}

/// Settings of a tenant about accounts and what reaches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRules {
    /// What becomes of a deleted user's messages.
    pub deleted_messages: DeletedMessages,
    /// Who may register.
    pub registration: RegistrationMode,
    /// Whether push notifications show the sender and the text (else only "New message" and
    /// the conversation: privacy mode).
    pub push_previews: bool,
}

impl Default for AccountRules {
    fn default() -> Self {
        Self {
            deleted_messages: DeletedMessages::default(),
            registration: RegistrationMode::default(),
            push_previews: true,
        }
    }
}

/// A change of the rules about accounts: the rules given are replaced, the others stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountRulesChange {
    /// What becomes of a deleted user's messages.
    pub deleted_messages: Option<DeletedMessages>,
    /// Who may register.
    pub registration: Option<RegistrationMode>,
    /// Whether push notifications show the sender and the text.
    pub push_previews: Option<bool>,
}

/// A change of a tenant's settings: the parts given are replaced, the others stay.
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    /// A new content policy.
    pub content: Option<PolicyRules>,
    /// New rules about accounts.
    pub accounts: Option<AccountRulesChange>,
    /// New retention rules.
    pub retention: Option<super::RetentionChange>,
}

/// An invitation to register, as its administrators see it (never its code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// Id.
    pub id: InviteId,
    /// Who made it.
    pub created_by: UserId,
    /// When, Unix milliseconds.
    pub created_at_ms: i64,
    /// Good until then, Unix milliseconds.
    pub expires_at_ms: i64,
    /// Registrations it admits; `None`: any number until it expires.
    pub max_uses: Option<u32>,
    /// Registrations it admitted.
    pub uses: u32,
    /// When it was revoked.
    pub revoked_at_ms: Option<i64>,
    /// What it is for, in its maker's words.
    pub note: String,
}

/// An invitation to keep: its code only as a hash.
#[derive(Debug, Clone)]
pub struct NewInvite {
    /// The invitation.
    pub invite: Invite,
    /// The SHA-256 of its code, hex.
    pub code_hash: String,
}

/// A single-use token to keep, by its hash.
#[derive(Debug, Clone)]
pub struct NewAccountToken {
    /// The token's SHA-256, hex.
    pub hash: String,
    /// Whose.
    pub user: UserId,
    /// What for.
    pub purpose: TokenPurpose,
    /// The address it was sent to: it only works while that is still the account's.
    pub email: String,
    /// Now, Unix milliseconds.
    pub at_ms: i64,
    /// When it stops working, Unix milliseconds.
    pub expires_at_ms: i64,
}

/// Persistence of people. Part of [`super::Store`].
#[async_trait]
pub trait PeopleStore: Send + Sync {
    /// One page of the tenant's users.
    async fn users_page(
        &self,
        tenant: &TenantId,
        query: &UserQuery,
    ) -> StoreResult<Vec<PublicUser>>;

    /// The users of the tenant among `ids`, in no particular order; unknown ids are left out.
    async fn users_by_ids(&self, tenant: &TenantId, ids: &[UserId])
    -> StoreResult<Vec<PublicUser>>;

    /// Changes one's own profile. An avatar must be a ready image the user uploaded; it stays
    /// readable by the tenant and is kept from the media sweeper while it is an avatar, and the
    /// one it replaces becomes unreferenced unless a message carries it.
    async fn update_profile(
        &self,
        tenant: &TenantId,
        user: UserId,
        change: &ProfileChange,
    ) -> StoreResult<ProfileUpdate>;

    /// Replaces the password hash, ends every session of the user but `keep` (all of them when
    /// `None`) at the audit entry's time, and writes the entry; `false` when there is no such
    /// user.
    async fn change_password(
        &self,
        tenant: &TenantId,
        user: UserId,
        password_hash: &str,
        keep: Option<SessionId>,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;

    /// Sets the user's tenant role, unless that leaves the tenant without an owner.
    async fn set_tenant_role(
        &self,
        tenant: &TenantId,
        user: UserId,
        role: TenantRole,
        audit: &AuditEntry,
    ) -> StoreResult<AccountChange>;

    /// Sets the account's status; any status but active ends every session of the user at the
    /// audit entry's time.
    async fn set_account_status(
        &self,
        tenant: &TenantId,
        user: UserId,
        status: AccountStatus,
        audit: &AuditEntry,
    ) -> StoreResult<AccountChange>;

    /// Turns MFA off for the user (an admin's reset) and ends every session of the user.
    async fn reset_mfa(
        &self,
        tenant: &TenantId,
        user: UserId,
        audit: &AuditEntry,
    ) -> StoreResult<AccountChange>;

    /// What the tenant uses: accounts, conversations, messages on `day` (days since the Unix
    /// epoch, UTC) and stored bytes, read in one transaction.
    async fn tenant_usage(&self, tenant: &TenantId, day: i64) -> StoreResult<TenantUsage>;

    /// The tenant's content policy as its administrators wrote it; `None` when never set.
    async fn content_rules(&self, tenant: &TenantId) -> StoreResult<Option<PolicyRules>>;

    /// Replaces the parts of the tenant's settings that `change` gives and writes the audit
    /// entry.
    async fn change_settings(
        &self,
        tenant: &TenantId,
        change: &SettingsChange,
        audit: &AuditEntry,
    ) -> StoreResult<()>;

    /// Deletes an account, in one transaction: leaves every conversation (a group it was the
    /// last owner of passes to its longest-standing admin, else member), ends every session,
    /// empties the profile (the row stays, named "Deleted user", so kept messages resolve),
    /// hands the media nothing carries to the sweeper, pseudonymises the audit trail and writes
    /// the deletion's entry, and queues the messages for the eraser when they are erased.
    /// Refused when the user is the tenant's last active owner.
    async fn delete_account(
        &self,
        tenant: &TenantId,
        user: UserId,
        erasure: &AccountErasure,
    ) -> StoreResult<AccountChange>;

    /// The next deleted user whose messages await erasure, of any tenant, oldest first.
    async fn next_erasure(&self) -> StoreResult<Option<(TenantId, UserId)>>;

    /// Turns up to `limit` of a deleted user's messages into tombstones in one transaction (the
    /// same as deleting them one by one: events, search, attachments); when none are left, ends
    /// the work item and hands the user's media to the sweeper.
    async fn erase_messages(
        &self,
        tenant: &TenantId,
        user: UserId,
        limit: u32,
        at_ms: i64,
    ) -> StoreResult<ErasureProgress>;

    /// Messages the user sent (tombstones left out), oldest first, after `after` (the previous
    /// page's last: time and id).
    async fn messages_sent_by(
        &self,
        tenant: &TenantId,
        user: UserId,
        after: Option<(i64, MessageId)>,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;

    /// Media the user uploaded, oldest first, after `after` (the previous page's last).
    async fn media_uploaded_by(
        &self,
        tenant: &TenantId,
        user: UserId,
        after: Option<(i64, MediaId)>,
        limit: u32,
    ) -> StoreResult<Vec<MediaItem>>;

    /// Keeps a single-use token; the user's earlier unused tokens of the same purpose stop
    /// working.
    async fn issue_account_token(
        &self,
        tenant: &TenantId,
        token: &NewAccountToken,
    ) -> StoreResult<()>;

    /// Spends a password-reset token (unused, unexpired, still for the account's address) and,
    /// in the same transaction, sets the new password hash, marks the address proven, ends
    /// every session of the account and writes `audit` as the account's; returns the account,
    /// `None` when the token does not work.
    async fn reset_password(
        &self,
        tenant: &TenantId,
        token_hash: &str,
        password_hash: &str,
        audit: &AuditEntry,
    ) -> StoreResult<Option<UserId>>;

    /// Spends an address-proof token and marks the address proven, writing `audit` as the
    /// account's; `None` when the token does not work.
    async fn verify_email(
        &self,
        tenant: &TenantId,
        token_hash: &str,
        audit: &AuditEntry,
    ) -> StoreResult<Option<UserId>>;

    /// The tenant's settings about accounts (defaults when never set).
    async fn account_rules(&self, tenant: &TenantId) -> StoreResult<AccountRules>;

    /// Keeps a new invitation and writes its audit entry.
    async fn create_invite(
        &self,
        tenant: &TenantId,
        invite: &NewInvite,
        audit: &AuditEntry,
    ) -> StoreResult<()>;

    /// The tenant's invitations, newest first, strictly older than `before` (time, id).
    async fn invites_page(
        &self,
        tenant: &TenantId,
        before: Option<(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<Invite>>;

    /// Revokes an invitation and writes the audit entry; `None` when there is no such
    /// invitation (a revoked one is answered as it is).
    async fn revoke_invite(
        &self,
        tenant: &TenantId,
        id: InviteId,
        audit: &AuditEntry,
    ) -> StoreResult<Option<Invite>>;

    /// One page of the tenant's audit trail.
    async fn audit_page(
        &self,
        tenant: &TenantId,
        query: &AuditQuery,
    ) -> StoreResult<Vec<AuditEntry>>;
}

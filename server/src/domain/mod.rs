//! Parsed domain values. Every value that crosses the edge is parsed into one of these types
//! once, so the use cases never see an unchecked string.

mod account_token;
pub mod content_policy;
mod conversation;
mod floor;
mod ids;
mod invite;
mod limits;
pub mod media;
mod message;
mod notify;
mod people;
mod push_endpoint;
mod retention;
mod tenant;
mod text;
mod user;

pub use account_token::{MailToken, TokenPurpose};
pub use conversation::{
    ConversationKind, ConversationName, MembershipDenied, Role, UNREAD_COUNT_CAP,
    may_delete_message, may_grant, may_remove,
};
pub use floor::{Floor, FloorRefusal, MAX_SLOW_MODE_SECONDS, Speaker, may_manage, may_mute};
pub use ids::{
    AuditId, ConversationId, EventId, InviteId, MediaId, MessageId, PushSubscriptionId, ReportId,
    SessionId, UserId,
};
pub use invite::{
    DEFAULT_INVITE_LIFETIME_MS, MAX_INVITE_LIFETIME_MS, MAX_INVITE_USES, RegistrationMode,
    invite_expiry, invite_uses,
};
pub use limits::{Action, BudgetKey, Rate, RateTable, Scope, Subject, address_key, limit_key};
pub use message::{ClientMessageId, Emoji, MessageContent};
pub use notify::{
    NotifyLevel, NotifyPreferences, QuietHours, Recipient, Silence, mentioned_usernames, mentions,
    push_verdict,
};
pub use people::{
    AccountStatus, ClientInfo, DELETED_USER_NAME, DeletedMessages, NamePrefix, Reason, StatusText,
    TenantRole, name_key,
};
pub use push_endpoint::{PushTarget, endpoint_reachable, is_public_address};
pub use retention::{
    MAX_RETENTION_SECONDS, Retention, RetentionClock, TenantRetention, retention_seconds,
};
pub use tenant::{Quotas, Tenant, TenantId, Tier};
pub use text::ValidationError;
pub use user::{DeviceId, DisplayName, Email, LoginName, Password, Username};

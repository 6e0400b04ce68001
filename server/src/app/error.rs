//! The one error type of the use-case layer and the catalogue of stable error codes.
//!
//! Clients switch on `code`, so a code, once published, never changes meaning. The HTTP edge maps
//! each code to a status in exactly one place (`http::error`).

use crate::domain::ValidationError;
use crate::ports::StoreError;
use std::fmt;
use std::time::Duration;

/// Every error code the API can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request body is not valid JSON or does not have the expected shape.
    InvalidBody,
    /// A field failed validation; the message names the field.
    ValidationFailed,
    /// A query-string parameter is malformed.
    InvalidQuery,
    /// A path parameter is malformed.
    InvalidPath,
    /// The body or a field is over its size limit.
    PayloadTooLarge,
    /// The request's content type is not supported.
    UnsupportedMediaType,
    /// No credentials, or credentials that do not verify.
    Unauthenticated,
    /// The access token has expired; refresh it.
    TokenExpired,
    /// Username/email and password do not match.
    InvalidCredentials,
    /// The account has MFA enabled and the login carried no `mfaToken`.
    MfaRequired,
    /// The TOTP code is wrong, expired or already used.
    InvalidMfaToken,
    /// The refresh token is unknown, expired or revoked.
    InvalidRefreshToken,
    /// A refresh token that was already rotated was presented again; the session is revoked.
    RefreshTokenReused,
    /// Authenticated but not allowed.
    Forbidden,
    /// The account is suspended until the time the message gives.
    AccountSuspended,
    /// The account is banned.
    AccountBanned,
    /// No such route.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// Unknown tenant, or a tenant this server is not pinned to.
    TenantNotFound,
    /// Unknown user.
    UserNotFound,
    /// The username is taken in this tenant.
    UsernameTaken,
    /// The email address is taken in this tenant.
    EmailTaken,
    /// MFA is already enabled for this account.
    MfaAlreadyEnabled,
    /// MFA is not enabled for this account.
    MfaNotEnabled,
    /// No such conversation, or the caller is not a member (the two are indistinguishable).
    ConversationNotFound,
    /// No such message, or the caller is not a member of its conversation.
    MessageNotFound,
    /// The edit named an `expectedVersion` that is no longer current.
    StaleVersion,
    /// The message is deleted and cannot change.
    MessageDeleted,
    /// The last owner of a group cannot leave or step down.
    LastOwner,
    /// Member ids that are no users of the tenant.
    InvalidMembers,
    /// No such media item, or the caller may not read it (the two are indistinguishable).
    MediaNotFound,
    /// The media item is still being processed (or awaits its upload); retry later.
    MediaNotReady,
    /// Attachments that are unknown, someone else's, or not stored; the message names them.
    InvalidAttachments,
    /// The text is not allowed by the tenant's content policy.
    ContentBlocked,
    /// No such open report.
    ReportNotFound,
    /// The avatar is not a ready image the caller uploaded.
    InvalidAvatar,
    /// A token from a mail that is unknown, used, expired, or no longer for the account's
    /// address.
    InvalidToken,
    /// The server sends no mail (no SMTP server is configured), so this cannot be done.
    MailNotConfigured,
    /// A direct upload's stored object does not match what was announced (missing, wrong size).
    UploadMismatch,
    /// The requested byte range lies outside the file.
    RangeNotSatisfiable,
    /// The caller already has the most distinct reactions one person may put on a message.
    ReactionLimit,
    /// The tenant admits new accounts by invitation only, and the registration carried none.
    InviteRequired,
    /// The invitation code is unknown, expired, revoked or used up.
    InvalidInvite,
    /// The caller is muted in this conversation until the time the message gives.
    Muted,
    /// Only the conversation's owners and admins post here.
    ReadOnlyConversation,
    /// Slow mode: the caller posts here again after `Retry-After`.
    SlowMode,
    /// Too many requests; retry after `Retry-After`.
    RateLimited,
    /// A tenant quota is exhausted; the message names the quota.
    QuotaExceeded,
    /// A dependency (database, cache…) is down; retry later.
    ServiceUnavailable,
    /// The server is at capacity for this kind of work (password hashing); retry after
    /// `Retry-After`.
    Busy,
    /// Something went wrong on our side; details are in the server log under the request id.
    Internal,
}

impl ErrorCode {
    /// The stable wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::InvalidPath => "invalid_path",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::TokenExpired => "token_expired",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::MfaRequired => "mfa_required",
            ErrorCode::InvalidMfaToken => "invalid_mfa_token",
            ErrorCode::InvalidRefreshToken => "invalid_refresh_token",
            ErrorCode::RefreshTokenReused => "refresh_token_reused",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::AccountSuspended => "account_suspended",
            ErrorCode::AccountBanned => "account_banned",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::TenantNotFound => "tenant_not_found",
            ErrorCode::UserNotFound => "user_not_found",
            ErrorCode::UsernameTaken => "username_taken",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::MfaAlreadyEnabled => "mfa_already_enabled",
            ErrorCode::MfaNotEnabled => "mfa_not_enabled",
            ErrorCode::ConversationNotFound => "conversation_not_found",
            ErrorCode::MessageNotFound => "message_not_found",
            ErrorCode::StaleVersion => "stale_version",
            ErrorCode::MessageDeleted => "message_deleted",
            ErrorCode::LastOwner => "last_owner",
            ErrorCode::InvalidMembers => "invalid_members",
            ErrorCode::MediaNotFound => "media_not_found",
            ErrorCode::MediaNotReady => "media_not_ready",
            ErrorCode::InvalidAttachments => "invalid_attachments",
            ErrorCode::ContentBlocked => "content_blocked",
            ErrorCode::ReportNotFound => "report_not_found",
            ErrorCode::InvalidAvatar => "invalid_avatar",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::MailNotConfigured => "mail_not_configured",
            ErrorCode::UploadMismatch => "upload_mismatch",
            ErrorCode::RangeNotSatisfiable => "range_not_satisfiable",
            ErrorCode::ReactionLimit => "reaction_limit",
            ErrorCode::InviteRequired => "invite_required",
            ErrorCode::InvalidInvite => "invalid_invite",
            ErrorCode::Muted => "muted",
            ErrorCode::ReadOnlyConversation => "read_only_conversation",
            ErrorCode::SlowMode => "slow_mode",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A use case failed. `message` is safe to show to the client; `source` is for the log only.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    /// Stable machine code.
    pub code: ErrorCode,
    /// Human-readable explanation for the client.
    pub message: String,
    /// The offending input field, for validation errors.
    pub field: Option<&'static str>,
    /// When the client may retry (rate limits, quotas, outages).
    pub retry_after: Option<Duration>,
    /// The underlying failure, logged but never sent.
    #[source]
    pub source: Option<anyhow::Error>,
}

impl AppError {
    /// An error with a code and a client-facing message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            source: None,
        }
    }

    /// Adds the time after which a retry may succeed.
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// An internal failure: the client sees a generic message, the log sees `source`.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(ErrorCode::Internal, "internal error")
        }
    }

    /// The login did not verify (never says which part was wrong).
    pub fn invalid_credentials() -> Self {
        Self::new(
            ErrorCode::InvalidCredentials,
            "invalid username, email or password",
        )
    }

    /// The bearer token is missing or does not verify.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    /// The tenant does not exist or is not served here.
    pub fn tenant_not_found(tenant: &str) -> Self {
        Self::new(
            ErrorCode::TenantNotFound,
            format!("tenant '{tenant}' does not exist"),
        )
    }
}

impl From<ValidationError> for AppError {
    fn from(err: ValidationError) -> Self {
        let code = if err.too_large {
            ErrorCode::PayloadTooLarge
        } else {
            ErrorCode::ValidationFailed
        };
        Self {
            field: Some(err.field),
            ..Self::new(code, err.to_string())
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(source) => Self {
                source: Some(source),
                ..Self::new(
                    ErrorCode::ServiceUnavailable,
                    "the database is unavailable; retry",
                )
                .retry_after(Duration::from_secs(1))
            },
            other => Self::internal(other),
        }
    }
}

/// Result of a use case.
pub type AppResult<T> = Result<T, AppError>;

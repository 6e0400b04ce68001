//! The HTTP face of [`AppError`]: one status per code, one JSON shape, the request id in every
//! error body, and 500s logged but never detailed to the client.

use crate::app::{AppError, ErrorCode};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

tokio::task_local! {
    /// The id of the request being handled, for error bodies and logs.
    pub static REQUEST_ID: String;
}

/// The request id of the current request, if inside one.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The status of every error code: the single mapping between the catalogue and HTTP.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        InvalidBody | ValidationFailed | InvalidQuery | InvalidPath | InvalidToken
        | InvalidInvite => StatusCode::BAD_REQUEST,
        MailNotConfigured => StatusCode::NOT_IMPLEMENTED,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Unauthenticated | TokenExpired | InvalidCredentials | MfaRequired | InvalidMfaToken
        | InvalidRefreshToken | RefreshTokenReused => StatusCode::UNAUTHORIZED,
        Forbidden | AccountSuspended | AccountBanned | Muted | ReadOnlyConversation
        | InviteRequired => StatusCode::FORBIDDEN,
        NotFound | TenantNotFound | UserNotFound => StatusCode::NOT_FOUND,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        UsernameTaken | EmailTaken | MfaAlreadyEnabled | MfaNotEnabled => StatusCode::CONFLICT,
        ConversationNotFound | MessageNotFound | MediaNotFound | ReportNotFound => {
            StatusCode::NOT_FOUND
        }
        MediaNotReady | UploadMismatch => StatusCode::CONFLICT,
        RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
        StaleVersion | MessageDeleted | LastOwner | ReactionLimit => StatusCode::CONFLICT,
        InvalidMembers | InvalidAttachments | InvalidAvatar | ContentBlocked => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        RateLimited | QuotaExceeded | SlowMode => StatusCode::TOO_MANY_REQUESTS,
        ServiceUnavailable | Busy => StatusCode::SERVICE_UNAVAILABLE,
        Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl ApiError {
    /// Shorthand for an error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(AppError::new(code, message))
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        Self(err)
    }
}

impl From<crate::domain::ValidationError> for ApiError {
    fn from(err: crate::domain::ValidationError) -> Self {
        Self(err.into())
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Detail<'a> {
    code: &'a str,
    message: &'a str,
    request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        let status = status_of(err.code);
        let request_id = current_request_id();
        if status.is_server_error() {
            tracing::error!(request_id = request_id.as_deref().unwrap_or("-"), code = %err.code,
                error = ?err.source, "request failed");
        }
        let body = Body {
            error: Detail {
                code: err.code.as_str(),
                message: &err.message,
                request_id,
                field: err.field,
            },
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(after) = err.retry_after {
            headers.insert(
                header::RETRY_AFTER,
                // Rounded up: a client that waits what it is told must not be refused again.
                HeaderValue::from(
                    u64::try_from(after.as_millis().div_ceil(1000))
                        .unwrap_or(u64::MAX)
                        .max(1),
                ),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

//! Request-scoped context: the request id in a task-local and a tracing span, and the answer to
//! a panic.

use super::error::{ApiError, REQUEST_ID};
use crate::app::{AppError, ErrorCode};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::any::Any;
use std::time::Duration;
use tracing::Instrument;

/// Runs the request inside its id's scope and span, so error bodies and every log line of the
/// request carry the id.
pub async fn request_context(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(),
        path = %request.uri().path());
    REQUEST_ID
        .scope(id, next.run(request).instrument(span))
        .await
}

/// Answers 503 when a request takes longer than `limit`; the use case is dropped (its
/// transaction rolls back).
pub async fn time_limit(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError(
            AppError::new(
                ErrorCode::ServiceUnavailable,
                format!("the request took longer than {} s; retry", limit.as_secs()),
            )
            .retry_after(Duration::from_secs(1)),
        )
        .into_response(),
    }
}

/// A handler panicked: log it and answer with the standard 500 body, never the panic text.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned());
    tracing::error!(panic = %message, "handler panicked");
    ApiError::new(ErrorCode::Internal, "internal error").into_response()
}

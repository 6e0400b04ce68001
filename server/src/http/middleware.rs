//! Request-scoped context: the request id in a task-local and a tracing span, and the answer to
//! a panic.

use super::error::{ApiError, REQUEST_ID};
use crate::app::{AppError, ErrorCode};
use crate::telemetry::TraceParent;
use axum::extract::{MatchedPath, Request};
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
    let path = request.uri().path();
    // The route template, not the path: span names must not grow with ids.
    let route = match request.extensions().get::<MatchedPath>() {
        Some(matched) => matched.as_str(),
        None if path.starts_with("/socket.io/") => "/socket.io/",
        None => "unmatched",
    };
    let span = tracing::info_span!("request", otel.name = %format_args!("{} {route}", request.method()),
        otel.kind = "server", request_id = %id, method = %request.method(), path = %path,
        http.route = route, http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty);
    // A caller that traces (a web client, a gateway, another service) continues its trace here.
    if let Some(parent) = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse)
    {
        parent.adopt(&span);
    }
    let response = REQUEST_ID
        .scope(id, next.run(request).instrument(span.clone()))
        .await;
    span.record("http.response.status_code", response.status().as_u16());
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
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

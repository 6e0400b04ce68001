//! The HTTP edge: routing, extraction, error mapping, request ids, metrics.
//!
//! **Invariant**: handlers are thin: parse the request into domain values, call one use case,
//! map the result. No business rule lives here.

pub mod docs;
pub mod error;
pub mod extract;
mod metrics;
mod middleware;
mod routes;
mod ws;

pub use metrics::install_recorder;

use crate::app::{App, ErrorCode};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use error::ApiError;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// The use cases.
    pub app: App,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// False while starting and while draining, so load balancers stop sending traffic.
    pub ready: Arc<AtomicBool>,
    /// The WebSocket gateway.
    pub gateway: crate::gateway::Gateway,
}

/// The whole HTTP API.
pub fn router(state: HttpState, max_body_bytes: usize) -> Router {
    Router::new()
        .merge(routes::health::routes())
        .merge(docs::routes())
        .nest("/api/v1", routes::api().merge(ws::routes()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn(middleware::request_context))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not accept that method",
    )
}

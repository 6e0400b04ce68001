//! The HTTP edge: routing, extraction, error mapping, request ids, metrics.
//!
//! **Invariant**: handlers are thin: parse the request into domain values, call one use case,
//! map the result. No business rule lives here.

pub mod client_ip;
pub mod docs;
pub mod error;
pub mod extract;
pub mod headers;
pub mod listener;
mod metrics;
mod middleware;
mod realtime;
mod routes;
mod socket_io;
mod web;
mod ws;
mod ws_handshake;
mod ws_wire;
mod ws_write;

pub use metrics::install_recorder;

use crate::app::{App, ErrorCode};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use error::ApiError;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
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
    /// Whose forwarding headers name the client.
    pub proxies: Arc<client_ip::TrustedProxies>,
    /// CORS origins and the security headers' settings.
    pub headers: Arc<headers::HeaderSettings>,
    /// The configured dependencies `/health` checks, besides the database.
    pub probes: Arc<[Arc<dyn crate::ports::Probe>]>,
}

/// How the public router is put together.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Longest a REST request may take.
    pub request_timeout: Duration,
    /// Whether health and metrics are served here (no admin listener).
    pub operations_on_main: bool,
}

/// Health and metrics alone, for the admin listener.
pub fn admin_router(state: HttpState) -> Router {
    routes::health::routes()
        .layer(axum::middleware::from_fn(middleware::request_context))
        .with_state(state)
}

/// The whole HTTP API.
pub fn router(state: HttpState, edge: &Edge) -> Router {
    let proxies = Arc::clone(&state.proxies);
    let header_settings = Arc::clone(&state.headers);
    let timeout = edge.request_timeout;
    let api = routes::api().layer(axum::middleware::from_fn(move |request, next| {
        middleware::time_limit(timeout, request, next)
    }));
    let mut routes = Router::new()
        .merge(docs::routes())
        .merge(web::routes())
        .nest(
            "/api/v1",
            api.merge(ws::routes()).merge(routes::media::routes()),
        );
    if edge.operations_on_main {
        routes = routes.merge(routes::health::routes());
    }
    let routes = routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Inside the edge's layers: Socket.IO requests get the request id, the client address
        // and the security headers like every other; outside the REST time limit, as polls
        // and sockets are long-lived.
        .layer(socket_io::layer(state.clone()))
        .layer(tower::util::MapRequestLayer::new(
            socket_io::detach_from_read_buffer,
        ));
    headers::apply(routes, &header_settings)
        .layer(DefaultBodyLimit::max(edge.max_body_bytes))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::middleware::from_fn(move |request, next| {
            client_ip::resolve(Arc::clone(&proxies), request, next)
        }))
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

//! The operator's own port: `/health/live`, `/health/ready` and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

/// State behind the endpoints.
#[derive(Clone, Debug)]
pub struct Health {
    /// True once this replica runs its controllers (or waits as a healthy follower).
    pub ready: Arc<AtomicBool>,
    /// Renders the Prometheus text format; `None` serves an empty page.
    pub metrics: Option<PrometheusHandle>,
}

/// The router, separate from the listener so tests can drive it.
pub fn router(health: Health) -> Router {
    Router::new()
        .route(chemchat_crds::contract::PATH_LIVE, get(|| async { "ok" }))
        .route(
            chemchat_crds::contract::PATH_READY,
            get(|State(h): State<Health>| async move {
                if h.ready.load(Ordering::Relaxed) {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "starting")
                }
            }),
        )
        .route(
            chemchat_crds::contract::PATH_METRICS,
            get(|State(h): State<Health>| async move {
                h.metrics.map(|m| m.render()).unwrap_or_default()
            }),
        )
        .with_state(health)
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    health: Health,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(health))
        .with_graceful_shutdown(shutdown)
        .await
}

//! The operator's own port: `/health/live` (the controller loop's heartbeat is recent),
//! `/health/ready` and `/metrics`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;

use crate::heartbeat::Heartbeat;

/// State behind the endpoints.
#[derive(Clone, Debug)]
pub struct Health {
    /// True once this replica runs its controllers (or waits as a healthy follower).
    pub ready: Arc<AtomicBool>,
    /// The controller loop's heartbeat; `/health/live` fails when it is stale. `None`: always
    /// live.
    pub heartbeat: Option<Arc<Heartbeat>>,
    /// Renders the Prometheus text format; `None` serves an empty page.
    pub metrics: Option<PrometheusHandle>,
}

/// The router, separate from the listener so tests can drive it.
pub fn router(health: Health) -> Router {
    Router::new()
        .route(
            chemchat_crds::contract::PATH_LIVE,
            get(|State(h): State<Health>| async move {
                match h.heartbeat {
                    Some(beat) if !beat.is_fresh() => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "controller loop stalled: nothing reconciled for {}s",
                            beat.age().as_secs()
                        ),
                    ),
                    _ => (StatusCode::OK, "ok".to_owned()),
                }
            }),
        )
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

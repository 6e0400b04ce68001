//! Health probes and metrics, outside `/api/v1`.

use crate::http::HttpState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chemchat_crds::contract::{PATH_LIVE, PATH_METRICS, PATH_READY};
use serde_json::json;
use std::sync::atomic::Ordering;

/// `/health`, `/health/live`, `/health/ready`, `/metrics`.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/health", get(health))
        .route(PATH_LIVE, get(live))
        .route(PATH_READY, get(ready))
        .route(PATH_METRICS, get(metrics))
}

/// Liveness plus a summary of each dependency.
async fn health(State(state): State<HttpState>) -> impl IntoResponse {
    let store = state.app.store();
    let database = match store.ping().await {
        Ok(()) => json!({ "status": "up", "engine": store.engine() }),
        Err(e) => {
            // The cause is for the log: a probe's body is readable by whoever reaches it.
            tracing::warn!(error = %e, "health: database down");
            json!({ "status": "down", "engine": store.engine() })
        }
    };
    let up = database["status"] == "up";
    // The event log and the bus can be down while chat works (messages are stored and delivered
    // on this instance): they make the server degraded, not unavailable.
    let relay = state.app.relay_status();
    let event_log = json!({
        "status": if relay.failing() { "down" } else { "up" },
        "outboxBacklog": relay.backlog(),
    });
    let bus = json!({ "status": if state.gateway.bus_healthy() { "up" } else { "down" } });
    let degraded = !up || relay.failing() || !state.gateway.bus_healthy();
    let body = json!({
        "status": if degraded { "degraded" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "dependencies": { "database": database, "eventLog": event_log, "bus": bus },
    });
    (
        if up {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}

/// The process is alive; never checks dependencies (a database outage must not restart pods).
async fn live() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready for traffic: started, not draining, and the database answers.
async fn ready(State(state): State<HttpState>) -> impl IntoResponse {
    if !state.ready.load(Ordering::Acquire) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "draining" })),
        );
    }
    match state.app.store().ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready" }))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database down");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "down" })),
            )
        }
    }
}

async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

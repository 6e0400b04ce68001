//! Health probes and metrics, outside `/api/v1`.

use crate::http::HttpState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use chemchat_crds::contract::{PATH_LIVE, PATH_METRICS, PATH_READY};
use futures::future::join_all;
use serde_json::{Map, Value, json};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// `/health`, `/health/live`, `/health/ready`, `/metrics`.
pub fn routes() -> Router<HttpState> {
    Router::new()
        .route("/health", get(health))
        .route(PATH_LIVE, get(live))
        .route(PATH_READY, get(ready))
        .route(PATH_METRICS, get(metrics))
}

/// Longest one dependency's check may take before it is reported down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness plus each configured dependency: its status and how long its check took. Only the
/// database makes the answer 503; anything else down makes the instance degraded — reported,
/// never hidden.
async fn health(State(state): State<HttpState>) -> impl IntoResponse {
    let store = state.app.store();
    let database = timed("database", async { store.ping().await.map_err(Into::into) });
    let others = join_all(
        state
            .probes
            .iter()
            .map(|probe| timed(probe.name(), probe.check())),
    );
    let (database, others) = tokio::join!(database, others);
    let up = database.1["status"] == "up";
    let mut dependencies = Map::new();
    let (name, mut report) = database;
    report["engine"] = json!(store.engine());
    dependencies.insert(name.to_owned(), report);
    let mut degraded = !up;
    for (name, report) in others {
        degraded |= report["status"] != "up";
        dependencies.insert(name.to_owned(), report);
    }
    // The event log and the bus can be down while chat works (messages are stored and delivered
    // on this instance): they make the server degraded, not unavailable.
    let relay = state.app.relay_status();
    dependencies.insert(
        "eventLog".to_owned(),
        json!({
            "status": if relay.failing() { "down" } else { "up" },
            "outboxBacklog": relay.backlog(),
        }),
    );
    dependencies.insert(
        "bus".to_owned(),
        json!({ "status": if state.gateway.bus_healthy() { "up" } else { "down" } }),
    );
    degraded |= relay.failing() || !state.gateway.bus_healthy();
    let body = json!({
        "status": if degraded { "degraded" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "dependencies": dependencies,
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

/// Runs one check under [`PROBE_TIMEOUT`]: `{status, latencyMs}`. The cause of a failure goes to
/// the log, not into the answer.
async fn timed(
    name: &'static str,
    check: impl Future<Output = anyhow::Result<()>>,
) -> (&'static str, Value) {
    let started = Instant::now();
    let outcome = tokio::time::timeout(PROBE_TIMEOUT, check).await;
    let latency_ms = (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    let status = match outcome {
        Ok(Ok(())) => "up",
        Ok(Err(error)) => {
            tracing::warn!(
                dependency = name,
                error = format!("{error:#}"),
                "health: down"
            );
            "down"
        }
        Err(_) => {
            tracing::warn!(dependency = name, timeout = ?PROBE_TIMEOUT, "health: no answer");
            "down"
        }
    };
    (name, json!({ "status": status, "latencyMs": latency_ms }))
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

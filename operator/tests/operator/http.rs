//! The operator's own health and metrics endpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use std::time::Duration;

use chemchat_operator::heartbeat::{Heartbeat, STALE_AFTER};
use chemchat_operator::http::{Health, router};
use tower::ServiceExt;

async fn get(health: &Health, path: &str) -> (StatusCode, String) {
    let response = router(health.clone())
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn liveness_readiness_and_metrics() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let health = Health {
        ready: Arc::new(AtomicBool::new(false)),
        heartbeat: None,
        metrics: Some(handle),
    };
    assert_eq!(get(&health, "/health/live").await.0, StatusCode::OK);
    assert_eq!(
        get(&health, "/health/ready").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    health.ready.store(true, Ordering::Relaxed);
    assert_eq!(get(&health, "/health/ready").await.0, StatusCode::OK);
    metrics::with_local_recorder(&recorder, || {
        chemchat_operator::metrics::reconciled(
            "ChemChatTenant",
            std::time::Duration::from_millis(5),
        );
        chemchat_operator::metrics::failed("ChemChatTenant", "kube_api");
        chemchat_operator::metrics::tenants(3);
        chemchat_operator::metrics::api_calls("ChemChatTenant", 18);
    });
    let (status, body) = get(&health, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    for needle in [
        "chemchat_operator_reconciles_total{kind=\"ChemChatTenant\"} 1",
        "chemchat_operator_reconcile_failures_total{kind=\"ChemChatTenant\",reason=\"kube_api\"} 1",
        "chemchat_operator_tenants_managed 3",
        "chemchat_operator_reconcile_duration_seconds",
        "chemchat_operator_api_calls_per_reconcile",
    ] {
        assert!(body.contains(needle), "metrics lack `{needle}`:\n{body}");
    }
}

#[tokio::test]
async fn liveness_follows_the_controller_loops_heartbeat() {
    let heartbeat = Arc::new(Heartbeat::default());
    let health = Health {
        ready: Arc::new(AtomicBool::new(true)),
        heartbeat: Some(heartbeat.clone()),
        metrics: None,
    };
    assert_eq!(get(&health, "/health/live").await.0, StatusCode::OK);
    // Nothing reconciled for longer than two resync periods: the loop is stuck.
    heartbeat.backdate(STALE_AFTER + Duration::from_secs(1));
    let (status, body) = get(&health, "/health/live").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("controller loop stalled"), "{body}");
    heartbeat.beat();
    assert_eq!(get(&health, "/health/live").await.0, StatusCode::OK);
}

//! Prometheus metrics for HTTP: requests by route and status, and a latency histogram.

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const REQUESTS: &str = "chemchat_http_requests_total";
const DURATION: &str = "chemchat_http_request_duration_seconds";

/// Durations in seconds exported as histograms with the request buckets.
const SECONDS: [&str; 3] = [
    crate::app::chat::search::METRIC_QUERY_SECONDS,
    crate::adapters::sql::METRIC_SEND_WAIT_SECONDS,
    crate::adapters::sql::METRIC_SEND_BATCH_SECONDS,
];

/// Installs the process-wide metrics recorder once and returns its handle (later calls, as in
/// tests that start several servers in one process, share it).
pub fn install_recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), &buckets)
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Full(crate::gateway::metrics::LATENCY.to_owned()),
                        &crate::gateway::metrics::LATENCY_BUCKETS,
                    )
                })
                .and_then(|builder| {
                    builder.set_buckets_for_metric(
                        Matcher::Full(crate::gateway::metrics::MESSAGE_LATENCY.to_owned()),
                        &crate::gateway::metrics::MESSAGE_LATENCY_BUCKETS,
                    )
                })
                .and_then(|builder| {
                    SECONDS.iter().try_fold(builder, |builder, name| {
                        builder.set_buckets_for_metric(Matcher::Full((*name).to_owned()), &buckets)
                    })
                })
                .and_then(|builder| builder.install_recorder())
                .unwrap_or_else(|e| {
                    // Another recorder is installed (an embedding program); render our own.
                    tracing::warn!(error = %e, "metrics recorder already installed");
                    PrometheusBuilder::new().build_recorder().handle()
                });
            let upkeep = handle.clone();
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
            handle
        })
        .clone()
}

/// Records one request.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // A fixed set of labels: an invented method must not create a series of its own.
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("method", method.to_owned()),
        ("route", route),
        ("status", status),
    ];
    metrics::counter!(REQUESTS, &labels).increment(1);
    metrics::histogram!(DURATION, &labels[..2]).record(started.elapsed().as_secs_f64());
    response
}

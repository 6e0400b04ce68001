//! Prometheus metrics of the operator, recorded through the `metrics` facade and served by
//! [`crate::http`].

use std::time::Duration;

/// Counts reconciles of `kind`.
pub const RECONCILES: &str = "chemchat_operator_reconciles_total";
/// Counts failed reconciles by `kind` and `reason` (the error's metric label).
pub const FAILURES: &str = "chemchat_operator_reconcile_failures_total";
/// Reconcile duration histogram by `kind`.
pub const DURATION: &str = "chemchat_operator_reconcile_duration_seconds";
/// API requests per reconcile histogram by `kind` (Events excluded).
pub const API_CALLS: &str = "chemchat_operator_api_calls_per_reconcile";
/// Tenants that exist in the cluster.
pub const TENANTS: &str = "chemchat_operator_tenants_managed";

/// Records one finished reconcile.
pub fn reconciled(kind: &'static str, elapsed: Duration) {
    metrics::counter!(RECONCILES, "kind" => kind).increment(1);
    metrics::histogram!(DURATION, "kind" => kind).record(elapsed.as_secs_f64());
}

/// Records how many API requests one reconcile of `kind` made.
pub fn api_calls(kind: &'static str, calls: u64) {
    metrics::histogram!(API_CALLS, "kind" => kind).record(calls as f64);
}

/// Records one failed reconcile.
pub fn failed(kind: &'static str, reason: &'static str) {
    metrics::counter!(FAILURES, "kind" => kind, "reason" => reason).increment(1);
}

/// Sets the number of tenants.
pub fn tenants(count: usize) {
    metrics::gauge!(TENANTS).set(count as f64);
}

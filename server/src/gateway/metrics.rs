//! The gateway's Prometheus metrics.

/// Live WebSocket connections (the operator's autoscaling signal).
pub const CONNECTIONS: &str = chemchat_crds::contract::METRIC_WEBSOCKET_CONNECTIONS;
/// The same count under the original system's name.
pub const ACTIVE_CONNECTIONS: &str = "chat_active_connections";
/// From commit to written on the recipient's socket, in seconds (the original system's name).
pub const MESSAGE_LATENCY: &str = "chat_message_latency_seconds";
/// Histogram buckets of [`MESSAGE_LATENCY`]: the delivery SLO (p95 ≤ 250 ms) sits inside them.
pub const MESSAGE_LATENCY_BUCKETS: [f64; 10] =
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0];

/// Publishes the live connection count under both names.
pub fn set_connections(count: usize) {
    ::metrics::gauge!(CONNECTIONS).set(count as f64);
    ::metrics::gauge!(ACTIVE_CONNECTIONS).set(count as f64);
}

/// Frames queued to connections by fan-out (one per recipient).
pub const DELIVERED: &str = "chemchat_websocket_messages_delivered_total";
/// From commit to queued on the recipient's connection, in seconds.
pub const LATENCY: &str = "chemchat_websocket_delivery_latency_seconds";
/// Connections closed because their send queue was full.
pub const SLOW_CONSUMERS: &str = "chemchat_websocket_slow_consumer_disconnects_total";
/// Times the hub or the fan-out pump fell behind its input and closed or skipped.
pub const LAGGED: &str = "chemchat_websocket_fanout_lagged_total";

/// Histogram buckets of [`LATENCY`]: fan-out is expected in milliseconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Records, for each frame of a committed change just written to a socket, the time from the
/// commit to now.
pub fn written<'a>(frames: impl IntoIterator<Item = &'a super::protocol::Frame>) {
    // Looked up once per flush, not once per frame: a flush may carry hundreds.
    let latency = ::metrics::histogram!(MESSAGE_LATENCY);
    let mut now_ms = None;
    for frame in frames {
        let committed = frame.committed_at_ms();
        if committed <= 0 {
            continue;
        }
        let now = *now_ms.get_or_insert_with(|| {
            i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
                .unwrap_or(i64::MAX)
        });
        latency.record((now - committed).max(0) as f64 / 1000.0);
    }
}

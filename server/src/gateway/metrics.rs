//! The gateway's Prometheus metrics.

/// Live WebSocket connections (the operator's autoscaling signal).
pub const CONNECTIONS: &str = chemchat_crds::contract::METRIC_WEBSOCKET_CONNECTIONS;
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

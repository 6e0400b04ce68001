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

/// Live WebSocket connections of each tenant on this instance.
pub const TENANT_CONNECTIONS: &str = "chemchat_tenant_connections";
/// Tenants named by their own label at most; connections of any further tenant are counted
/// under [`OTHER_TENANTS`], so a shared deployment of many tenants keeps a bounded label set.
pub const MAX_LABELLED_TENANTS: usize = 100;
/// The `tenant` label of connections beyond [`MAX_LABELLED_TENANTS`].
pub const OTHER_TENANTS: &str = "_other";

/// Live connections per tenant, published as [`TENANT_CONNECTIONS`].
#[derive(Debug, Default)]
pub struct TenantConnections {
    /// Each tenant with connections here: how many, and whether it has a label of its own
    /// (decided when its first connection opened, kept until its last closed).
    tenants: std::collections::HashMap<String, (usize, bool)>,
    labelled: usize,
    other: usize,
}

impl TenantConnections {
    /// One more connection of `tenant`.
    pub fn opened(&mut self, tenant: &str) {
        let room = self.labelled < MAX_LABELLED_TENANTS;
        let (count, own) = self.tenants.entry(tenant.to_owned()).or_insert((0, false));
        if *count == 0 && room {
            *own = true;
            self.labelled += 1;
        }
        *count += 1;
        if *own {
            publish(tenant, *count);
        } else {
            self.other += 1;
            publish(OTHER_TENANTS, self.other);
        }
    }

    /// One connection of `tenant` fewer.
    pub fn closed(&mut self, tenant: &str) {
        let Some((count, own)) = self.tenants.get_mut(tenant) else {
            return;
        };
        *count = count.saturating_sub(1);
        let (left, own) = (*count, *own);
        if own {
            publish(tenant, left);
        } else {
            self.other = self.other.saturating_sub(1);
            publish(OTHER_TENANTS, self.other);
        }
        if left == 0 {
            self.tenants.remove(tenant);
            if own {
                self.labelled -= 1;
            }
        }
    }
}

fn publish(label: &str, count: usize) {
    ::metrics::gauge!(TENANT_CONNECTIONS, "tenant" => label.to_owned()).set(count as f64);
}

/// Frames queued to connections by fan-out (one per recipient).
pub const DELIVERED: &str = "chemchat_websocket_messages_delivered_total";
/// From commit to queued on the recipient's connection, in seconds.
pub const LATENCY: &str = "chemchat_websocket_delivery_latency_seconds";
/// Connections closed because their send queue was full.
pub const SLOW_CONSUMERS: &str = "chemchat_websocket_slow_consumer_disconnects_total";
/// Times the hub or the fan-out pump fell behind its input and closed or skipped.
pub const LAGGED: &str = "chemchat_websocket_fanout_lagged_total";

/// Events that reached the hub ahead of an earlier one of their conversation and were held
/// until the gap filled (counter).
pub const HELD: &str = "chemchat_hub_events_held_total";
/// Gaps the hub stopped waiting for after `GAP_WAIT`, delivering what it held; the clients
/// fetch the missing events with sync (counter).
pub const GAPS_SKIPPED: &str = "chemchat_hub_gaps_skipped_total";

/// Histogram buckets of [`LATENCY`]: fan-out is expected in milliseconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Records, for each frame of a committed change just written to a socket, the time from the
/// commit to now.
pub fn written<'a>(frames: impl IntoIterator<Item = &'a super::protocol::Frame>) {
    // Looked up once per process, not once per flush: every connection flushes for every
    // message of its rooms, and a look-up hashes the name under the registry's lock. (The
    // recorder is installed before the first connection can exist.)
    static HISTOGRAM: std::sync::OnceLock<::metrics::Histogram> = std::sync::OnceLock::new();
    let latency = HISTOGRAM.get_or_init(|| ::metrics::histogram!(MESSAGE_LATENCY));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_beyond_the_labelled_ones_share_a_label_and_keep_it_until_they_leave() {
        let mut gauge = TenantConnections::default();
        for n in 0..MAX_LABELLED_TENANTS {
            gauge.opened(&format!("t{n}"));
        }
        gauge.opened("late");
        gauge.opened("late");
        assert_eq!(gauge.other, 2);
        // A labelled tenant leaves: the late one stays counted where it started.
        gauge.closed("t0");
        assert_eq!(gauge.labelled, MAX_LABELLED_TENANTS - 1);
        gauge.closed("late");
        assert_eq!(gauge.other, 1);
        gauge.closed("late");
        assert_eq!(gauge.other, 0);
        assert!(!gauge.tenants.contains_key("late"));
        // Now there is room for a label of its own.
        gauge.opened("late");
        assert_eq!((gauge.labelled, gauge.other), (MAX_LABELLED_TENANTS, 0));
    }
}

//! The results of a run: a human table and JSON, with the server's memory and what a message
//! costs in CPU, from /proc.

use super::cpu::CpuPerMessage;
use super::stats::{Percentiles, Split};
use serde::Serialize;
use std::collections::BTreeMap;

/// One measured rate step.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepReport {
    /// Offered rate, messages per second over all connections.
    pub target_rate: f64,
    /// `message.send` frames written in the measured window.
    pub sent: u64,
    /// Achieved send rate.
    pub sent_per_sec: f64,
    /// Successful acks.
    pub acks: u64,
    /// Failed acks.
    pub nacks: u64,
    /// Sends skipped because a connection's writer was backed up.
    pub skipped: u64,
    /// Deliveries the rooms should have received.
    pub expected_deliveries: u64,
    /// `message.created` frames received.
    pub deliveries: u64,
    /// Deliveries per second of the measured window.
    pub deliveries_per_sec: f64,
    /// Send-to-deliver latency.
    pub latency: Option<Percentiles>,
    /// For one message in eight, its latency cut where the generator wrote it and at the
    /// timestamp the server gave it when it took the send: the generator's delay; the network
    /// in and the server's intake; the store, the fan-out and the network out.
    pub split: Option<Split>,
    /// CPU per message sent over the measured window (Linux).
    pub cpu: Option<CpuPerMessage>,
}

impl StepReport {
    /// Whether the step met the latency target without losing anything.
    pub fn meets(&self, p95_target_ms: f64) -> bool {
        self.latency.is_some_and(|l| l.p95_ms <= p95_target_ms)
            && self.nacks == 0
            && self.deliveries >= self.expected_deliveries
            && self.sent > 0
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// What was measured (free text from `--label`).
    pub label: String,
    /// Connections opened.
    pub connections: usize,
    /// Members per room.
    pub room_size: usize,
    /// Seconds spent registering users and creating rooms.
    pub setup_secs: f64,
    /// Seconds spent opening, authenticating and joining.
    pub connect_secs: f64,
    /// Connections that failed to open.
    pub connect_errors: u64,
    /// Closes by the server, by code.
    pub closes: BTreeMap<u16, u64>,
    /// `error` events and unparsable frames.
    pub protocol_errors: u64,
    /// Server RSS (KiB) before connecting, with every connection open and idle, and at the end.
    pub rss_kib: Option<[u64; 3]>,
    /// (connected − before) / connections, in KiB.
    pub rss_per_connection_kib: Option<f64>,
    /// The measured steps.
    pub steps: Vec<StepReport>,
    /// The p95 target the "best" rate had to meet.
    pub p95_target_ms: f64,
    /// The highest offered rate that met the target, if any.
    pub best_rate: Option<f64>,
}

/// The `VmRSS` of a process in KiB, from /proc (Linux only; `None` elsewhere or once gone).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn ms(value: Option<Percentiles>, pick: fn(&Percentiles) -> f64) -> String {
    value.map_or_else(|| "-".to_owned(), |p| format!("{:.1}", pick(&p)))
}

impl Report {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "== {} ==\nconnections {} (room size {}), setup {:.1} s, connect {:.1} s, connect errors {}, closes {:?}, protocol errors {}\n",
            self.label,
            self.connections,
            self.room_size,
            self.setup_secs,
            self.connect_secs,
            self.connect_errors,
            self.closes,
            self.protocol_errors
        );
        if let (Some([before, connected, end]), Some(per)) =
            (self.rss_kib, self.rss_per_connection_kib)
        {
            out += &format!(
                "server RSS: before {:.1} MiB, connected {:.1} MiB, end {:.1} MiB; {per:.1} KiB per connection\n",
                before as f64 / 1024.0,
                connected as f64 / 1024.0,
                end as f64 / 1024.0
            );
        }
        if self.steps.is_empty() {
            return out;
        }
        out += &format!(
            "{:>8} {:>8} {:>8} {:>7} {:>6} {:>9} {:>11} {:>11} {:>7} {:>7} {:>7} {:>8}\n",
            "target/s",
            "sent",
            "sent/s",
            "acks",
            "errors",
            "skipped",
            "deliveries",
            "deliv/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "max ms"
        );
        for s in &self.steps {
            out += &format!(
                "{:>8.0} {:>8} {:>8.0} {:>7} {:>6} {:>9} {:>11} {:>11.0} {:>7} {:>7} {:>7} {:>8}\n",
                s.target_rate,
                s.sent,
                s.sent_per_sec,
                s.acks,
                s.nacks,
                s.skipped,
                format!("{}/{}", s.deliveries, s.expected_deliveries),
                s.deliveries_per_sec,
                ms(s.latency, |p| p.p50_ms),
                ms(s.latency, |p| p.p95_ms),
                ms(s.latency, |p| p.p99_ms),
                ms(s.latency, |p| p.max_ms),
            );
        }
        let splits: Vec<_> = self
            .steps
            .iter()
            .filter_map(|s| s.split.map(|split| (s.target_rate, split)))
            .collect();
        if !splits.is_empty() {
            out += "latency cut where the generator wrote the send and at the server's timestamp \
                    (1 message in 8; ms, the timestamp's own resolution):\n";
            out += &format!(
                "{:>8} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
                "target/s",
                "gen p50",
                "gen p95",
                "intake p50",
                "intake p95",
                "after p50",
                "after p95"
            );
            for (rate, split) in splits {
                let Split {
                    generator,
                    intake,
                    after,
                } = split;
                out += &format!(
                    "{rate:>8.0} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}\n",
                    generator.p50_ms,
                    generator.p95_ms,
                    intake.p50_ms,
                    intake.p95_ms,
                    after.p50_ms,
                    after.p95_ms
                );
            }
        }
        out += &self.cpu_table();
        out += &match self.best_rate {
            Some(rate) => format!(
                "highest rate with p95 <= {} ms and nothing lost: {rate:.0} msg/s\n",
                self.p95_target_ms
            ),
            None => format!("no rate met p95 <= {} ms\n", self.p95_target_ms),
        };
        out
    }

    /// CPU per message of each step, when /proc gave any.
    fn cpu_table(&self) -> String {
        let costs: Vec<_> = self
            .steps
            .iter()
            .filter_map(|s| s.cpu.map(|cpu| (s.target_rate, cpu)))
            .collect();
        if costs.is_empty() {
            return String::new();
        }
        let ms = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
        let mut out = "CPU per message sent over the window (ms; the machine's is every core's \
                       busy time, the one that compares servers):\n"
            .to_owned();
        out += &format!(
            "{:>8} {:>10} {:>10} {:>10}\n",
            "target/s", "server", "generator", "machine"
        );
        for (rate, cpu) in costs {
            out += &format!(
                "{rate:>8.0} {:>10} {:>10} {:>10}\n",
                ms(cpu.server_ms),
                ms(cpu.generator_ms),
                ms(cpu.machine_ms)
            );
        }
        out
    }
}

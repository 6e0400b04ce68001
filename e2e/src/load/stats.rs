//! Counters and latencies, shared by every connection task.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What happened during one rate step.
#[derive(Debug, Default)]
pub struct StepStats {
    /// `message.send` frames written.
    pub sent: AtomicU64,
    /// Successful acks.
    pub acks: AtomicU64,
    /// Failed acks (`ok: false`).
    pub nacks: AtomicU64,
    /// Sends the scheduler could not hand to a connection (its writer was backed up or gone).
    pub skipped: AtomicU64,
    /// `message.created` frames the senders' rooms should receive (sends × room members).
    pub expected: AtomicU64,
    /// `message.created` frames received.
    pub deliveries: AtomicU64,
    /// Send-to-deliver latencies in microseconds. Kept whole (a few MB at most) so percentiles
    /// are exact; the lock is uncontended most of the time with two worker threads.
    latencies: Mutex<Vec<u32>>,
    /// For a sample of deliveries, the latency cut where the generator wrote the send and at the
    /// server's timestamp ([`Cut`]), microseconds, clamped at zero.
    split: Mutex<[Vec<u32>; 3]>,
}

/// One sampled delivery's latency in three parts, microseconds.
#[derive(Debug, Clone, Copy)]
pub struct Cut {
    /// From the intended send time to the writer's write: the generator's own delay.
    pub generator: i64,
    /// From the write to the server's timestamp: the network in and the server's intake.
    pub intake: i64,
    /// From the server's timestamp to the delivery: the store, the fan-out, the network out and
    /// the generator's read.
    pub after: i64,
}

/// Percentiles of each part of the sampled [`Cut`]s.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Split {
    /// The generator's delay.
    pub generator: Percentiles,
    /// The network in and the server's intake.
    pub intake: Percentiles,
    /// After the server's timestamp.
    pub after: Percentiles,
}

impl StepStats {
    /// Records one delivery.
    pub fn delivered(&self, latency_micros: u64) {
        self.deliveries.fetch_add(1, Ordering::Relaxed);
        let value = u32::try_from(latency_micros).unwrap_or(u32::MAX);
        if let Ok(mut all) = self.latencies.lock() {
            all.push(value);
        }
    }

    /// The latency percentiles so far.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let mut all = self.latencies.lock().ok()?.clone();
        Percentiles::of(&mut all)
    }

    /// Records one sampled delivery's latency, cut.
    pub fn split(&self, cut: Cut) {
        // The server's timestamp is cut to the millisecond, so `intake` can read up to −1 ms.
        let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
        if let Ok(mut split) = self.split.lock() {
            for (part, value) in split.iter_mut().zip([cut.generator, cut.intake, cut.after]) {
                part.push(clamp(value));
            }
        }
    }

    /// Percentiles of the sampled cuts' parts.
    pub fn split_percentiles(&self) -> Option<Split> {
        let [mut generator, mut intake, mut after] = self.split.lock().ok()?.clone();
        Some(Split {
            generator: Percentiles::of(&mut generator)?,
            intake: Percentiles::of(&mut intake)?,
            after: Percentiles::of(&mut after)?,
        })
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl Percentiles {
    /// Percentiles of microsecond samples (sorted in place); `None` without samples.
    pub fn of(samples: &mut [u32]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let rank = ((samples.len() as f64) * q).ceil() as usize;
            f64::from(samples[rank.clamp(1, samples.len()) - 1]) / 1000.0
        };
        Some(Self {
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        })
    }
}

/// Everything the connection tasks report.
#[derive(Debug)]
pub struct Stats {
    /// One entry per rate step.
    pub steps: Vec<StepStats>,
    /// Connections that failed to open, authenticate or join.
    pub connect_errors: AtomicU64,
    /// Connections closed by the server during the run, by close code (1006: dropped).
    closes: Mutex<BTreeMap<u16, u64>>,
    /// Frames that were not JSON envelopes, or `error` events.
    pub protocol_errors: AtomicU64,
    /// Set when the generator closes its connections, so those closes are not counted.
    pub stopping: AtomicBool,
}

impl Stats {
    /// Empty statistics for `steps` rate steps.
    pub fn new(steps: usize) -> Self {
        Self {
            steps: (0..steps).map(|_| StepStats::default()).collect(),
            connect_errors: AtomicU64::new(0),
            closes: Mutex::new(BTreeMap::new()),
            protocol_errors: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        }
    }

    /// Records a close by the server (or a dropped connection).
    pub fn closed(&self, code: u16) {
        if self.stopping.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut closes) = self.closes.lock() {
            *closes.entry(code).or_default() += 1;
        }
    }

    /// Closes so far, by code.
    pub fn closes(&self) -> BTreeMap<u16, u64> {
        self.closes.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut samples: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        let p = Percentiles::of(&mut samples).expect("samples");
        assert_eq!(p.p50_ms, 50.0);
        assert_eq!(p.p95_ms, 95.0);
        assert_eq!(p.p99_ms, 99.0);
        assert_eq!(p.max_ms, 100.0);
        assert!(Percentiles::of(&mut []).is_none());
    }

    #[test]
    fn a_cut_keeps_its_parts_apart_and_clamps_them_at_zero() {
        let step = StepStats::default();
        assert!(step.split_percentiles().is_none());
        step.split(Cut {
            generator: 2_000,
            intake: -400,
            after: 7_000,
        });
        step.split(Cut {
            generator: 4_000,
            intake: 1_000,
            after: 9_000,
        });
        let split = step.split_percentiles().expect("two cuts");
        assert_eq!(split.generator.p50_ms, 2.0);
        assert_eq!(split.generator.max_ms, 4.0);
        assert_eq!(split.intake.p50_ms, 0.0);
        assert_eq!(split.intake.max_ms, 1.0);
        assert_eq!(split.after.p50_ms, 7.0);
        assert_eq!(split.after.max_ms, 9.0);
    }
}

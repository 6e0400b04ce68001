//! A run: set up, connect, hold idle (memory), then the rate ladder with an open-loop scheduler.

use super::conns::{self, Command, Conn};
use super::cpu::CpuSample;
use super::frames;
use super::gate::Gate;
use super::report::{Report, StepReport, rss_kib};
use super::setup::{Members, Plan};
use super::stats::Stats;
use anyhow::Context as _;
use futures::stream::{self, StreamExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// HTTP base URL of the server (`http://127.0.0.1:8080`).
    pub url: String,
    /// Skip REST: synthetic conversation ids and tokens (the reference server).
    pub reference: bool,
    /// The wire: ChemChat's JSON WebSocket or Socket.IO.
    pub protocol: conns::Protocol,
    /// Connections.
    pub connections: usize,
    /// Members per room.
    pub room_size: usize,
    /// Who the members are: the same users in every room, or users of their own.
    pub members: Members,
    /// Offered rates, ascending, messages per second in total.
    pub rates: Vec<f64>,
    /// Measured seconds per rate.
    pub duration: Duration,
    /// Unmeasured seconds before each rate's window.
    pub warmup: Duration,
    /// Pause after each window for the last deliveries.
    pub drain: Duration,
    /// Seconds to hold every connection idle before sending (the memory sample is taken then).
    pub idle: Duration,
    /// Bytes of content per message.
    pub content_bytes: usize,
    /// Username prefix of the benchmark users.
    pub user_prefix: String,
    /// REST requests in flight during setup.
    pub setup_concurrency: usize,
    /// WebSocket handshakes in flight.
    pub connect_concurrency: usize,
    /// The server process, for RSS.
    pub server_pid: Option<u32>,
    /// The p95 a rate must meet.
    pub p95_target_ms: f64,
    /// The ladder stops once a step's p95 exceeds this (the server is saturated; higher rates
    /// would only pile up queues and close connections).
    pub give_up_p95_ms: f64,
    /// Report label.
    pub label: String,
    /// Write the plan (tokens, conversation ids) here after setup and stop, so a later run can
    /// connect to a restarted server whose heap holds no registration garbage.
    pub save_plan: Option<PathBuf>,
    /// Use this saved plan instead of setting up.
    pub plan: Option<PathBuf>,
    /// Run each rung only when this gate says so (`gate.rs`), for ladders interleaved with
    /// other servers'.
    pub gate: Option<Gate>,
}

/// Runs the benchmark and returns its report; `None` when it only saved the plan.
pub async fn run(options: RunOptions) -> anyhow::Result<Option<Report>> {
    frames::origin();
    let started = Instant::now();
    let plan = if let Some(path) = &options.plan {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?
    } else if options.reference {
        Plan::synthetic(options.connections, options.room_size)
    } else {
        Plan::over_rest(
            &options.url,
            &options.user_prefix,
            options.connections,
            options.room_size,
            options.members,
            options.setup_concurrency,
        )
        .await?
    };
    let setup_secs = started.elapsed().as_secs_f64();
    eprintln!(
        "loadgen: {}: setup done in {setup_secs:.1} s",
        options.label
    );
    if let Some(path) = &options.save_plan {
        std::fs::write(path, serde_json::to_string(&plan)?)
            .with_context(|| format!("{}", path.display()))?;
        return Ok(None);
    }

    // Two phases per rate: warm-up (2i, not reported) and the measured window (2i + 1).
    let stats = Arc::new(Stats::new(options.rates.len() * 2));
    let rss_before = options.server_pid.and_then(rss_kib);
    let ws_base = options.url.replacen("http", "ws", 1);
    let connect_started = Instant::now();
    let opened: Vec<Option<Conn>> = stream::iter(0..options.connections)
        .map(|c| {
            let (conversation, token) = plan.slot(c);
            let room = c / options.room_size;
            let members = (options.connections - room * options.room_size).min(options.room_size);
            let (stats, ws_base) = (stats.clone(), &ws_base);
            let (conversation, token) = (conversation.to_owned(), token.to_owned());
            async move {
                match conns::open(
                    ws_base,
                    options.protocol,
                    &token,
                    conversation,
                    members as u64,
                    options.content_bytes,
                    stats.clone(),
                )
                .await
                {
                    Ok(conn) => Some(conn),
                    Err(e) => {
                        if stats.connect_errors.fetch_add(1, Ordering::Relaxed) < 3 {
                            eprintln!("loadgen: connection {c}: {e:#}");
                        }
                        None
                    }
                }
            }
        })
        .buffered(options.connect_concurrency.max(1))
        .collect()
        .await;
    let connect_secs = connect_started.elapsed().as_secs_f64();
    eprintln!(
        "loadgen: {} connections in {connect_secs:.1} s ({} failed)",
        options.connections,
        stats.connect_errors.load(Ordering::Relaxed)
    );
    // Idle, so the server's per-connection allocations settle before the memory sample.
    tokio::time::sleep(options.idle.max(Duration::from_secs(1))).await;
    let rss_connected = options.server_pid.and_then(rss_kib);
    if let Some(gate) = &options.gate {
        gate.ready().context("the gate's folder")?;
    }

    // Interleave rooms so consecutive sends go to different rooms, as independent users would.
    let rooms = options.connections.div_ceil(options.room_size);
    let order: Vec<&Conn> = (0..options.room_size)
        .flat_map(|m| (0..rooms).map(move |r| r * options.room_size + m))
        .filter_map(|c| opened.get(c).and_then(Option::as_ref))
        .collect();
    let mut steps = Vec::new();
    let mut next = 0usize;
    for (i, &rate) in options.rates.iter().enumerate() {
        if order.is_empty() {
            break;
        }
        if let Some(gate) = &options.gate
            && !gate.wait_turn(i).await
        {
            break;
        }
        eprintln!("loadgen: {}: {rate} msg/s", options.label);
        drive(&stats, &order, &mut next, 2 * i, rate, options.warmup).await;
        let window_start = CpuSample::take(options.server_pid);
        drive(&stats, &order, &mut next, 2 * i + 1, rate, options.duration).await;
        let window_end = CpuSample::take(options.server_pid);
        tokio::time::sleep(options.drain).await;
        let window = (window_start, window_end);
        let step = step_report(&stats, 2 * i + 1, rate, options.duration, window);
        let saturated = step
            .latency
            .is_none_or(|l| l.p95_ms > options.give_up_p95_ms);
        steps.push(step);
        if saturated || !stats.closes().is_empty() {
            break;
        }
        if let Some(gate) = &options.gate {
            gate.done(i).context("the gate's folder")?;
        }
    }
    let rss_end = options.server_pid.and_then(rss_kib);
    stats.stopping.store(true, Ordering::Relaxed);
    for conn in opened.iter().flatten() {
        let _ = conn.tx.try_send(Command::Close);
    }
    let rss = match (rss_before, rss_connected, rss_end) {
        (Some(a), Some(b), Some(c)) => Some([a, b, c]),
        _ => None,
    };
    let open_count = opened.iter().flatten().count();
    let best_rate = steps
        .iter()
        .filter(|s| s.meets(options.p95_target_ms))
        .map(|s| s.target_rate)
        .reduce(f64::max);
    Ok(Some(Report {
        label: options.label,
        connections: open_count,
        room_size: options.room_size,
        setup_secs,
        connect_secs,
        connect_errors: stats.connect_errors.load(Ordering::Relaxed),
        closes: stats.closes(),
        protocol_errors: stats.protocol_errors.load(Ordering::Relaxed),
        rss_kib: rss,
        rss_per_connection_kib: rss
            .filter(|_| open_count > 0)
            .map(|[before, connected, _]| (connected as f64 - before as f64) / open_count as f64),
        steps,
        p95_target_ms: options.p95_target_ms,
        best_rate,
    }))
}

/// Offers `rate` messages per second for `length`, open loop: every millisecond it hands out
/// the sends that are due by then, whether or not earlier ones were answered, so a slow server
/// shows up as latency (and skipped sends), not as a lower offered rate.
async fn drive(
    stats: &Stats,
    order: &[&Conn],
    next: &mut usize,
    step: usize,
    rate: f64,
    length: Duration,
) {
    let start = Instant::now();
    let start_micros = frames::now_micros();
    let mut handed = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while start.elapsed() < length {
        tick.tick().await;
        let elapsed = start.elapsed().min(length).as_secs_f64();
        // Send k is due at k / rate: by `elapsed`, sends 0..=floor(elapsed × rate) are due
        // (without the + 1 each send would leave one interval after the time it carries).
        let due = (elapsed * rate) as u64 + 1;
        while handed < due {
            // The intended send time, so time spent queued in the generator counts as latency.
            let sent_micros = start_micros + (handed as f64 * 1e6 / rate) as u64;
            let conn = order[*next % order.len()];
            *next += 1;
            handed += 1;
            let command = Command::Send {
                step,
                sent_micros,
                n: *next as u64,
            };
            if conn.tx.try_send(command).is_ok() {
                stats.steps[step]
                    .expected
                    .fetch_add(conn.room_members, Ordering::Relaxed);
            } else {
                stats.steps[step].skipped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The report of a measured window of `length`, whose CPU samples are `window`.
fn step_report(
    stats: &Stats,
    step: usize,
    rate: f64,
    length: Duration,
    window: (CpuSample, CpuSample),
) -> StepReport {
    let s = &stats.steps[step];
    let secs = length.as_secs_f64();
    let sent = s.sent.load(Ordering::Relaxed);
    let deliveries = s.deliveries.load(Ordering::Relaxed);
    StepReport {
        target_rate: rate,
        sent,
        sent_per_sec: sent as f64 / secs,
        acks: s.acks.load(Ordering::Relaxed),
        nacks: s.nacks.load(Ordering::Relaxed),
        skipped: s.skipped.load(Ordering::Relaxed),
        expected_deliveries: s.expected.load(Ordering::Relaxed),
        deliveries,
        deliveries_per_sec: deliveries as f64 / secs,
        latency: s.percentiles(),
        split: s.split_percentiles(),
        cpu: window.0.per_message(&window.1, sent),
    }
}

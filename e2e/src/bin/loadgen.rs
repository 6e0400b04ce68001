//! The WebSocket load generator of `make bench`: N connections in rooms of K members, an offered
//! message rate (or a ladder of them), send-to-deliver latency, and the server's RSS.

use chemchat_e2e::load::conns::Protocol;
use chemchat_e2e::load::gate::Gate;
use chemchat_e2e::load::run::{RunOptions, run};
use chemchat_e2e::load::setup::Members;
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// Drives ChemChat's WebSocket gateway (or the reference fan-out server with `--reference`) and
/// prints messages sent, acks, deliveries, latency percentiles, errors and server memory.
#[derive(Debug, Parser)]
struct Args {
    /// HTTP base URL of the server; the WebSocket URL is derived from it.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The target is the reference server: no REST setup, synthetic conversation ids.
    #[arg(long)]
    reference: bool,
    /// Speak Socket.IO (`/socket.io/`, WebSocket transport) instead of the JSON protocol.
    #[arg(long, conflicts_with = "reference")]
    socketio: bool,
    /// WebSocket connections.
    #[arg(long, short = 'n', default_value_t = 1000)]
    connections: usize,
    /// Members (connections) per conversation.
    #[arg(long, short = 'k', default_value_t = 100)]
    room_size: usize,
    /// Who the members of the rooms are (each value's meaning below).
    #[arg(long, value_enum, default_value_t = Members::Shared)]
    members: Members,
    /// Offered send rates in messages per second over all connections, run in order as a
    /// ladder (comma-separated); `0` for an idle run (memory only).
    #[arg(long, value_delimiter = ',', default_value = "100")]
    rates: Vec<f64>,
    /// Measured seconds per rate.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Unmeasured warm-up seconds before each rate.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds to wait after each rate for its last deliveries.
    #[arg(long, default_value_t = 1.0)]
    drain: f64,
    /// Seconds to hold all connections idle before sending; the memory sample is taken then.
    #[arg(long, default_value_t = 2.0)]
    idle: f64,
    /// Bytes of content per message.
    #[arg(long, default_value_t = 100)]
    content_bytes: usize,
    /// Username prefix of the benchmark users (registered once, reused by later runs).
    #[arg(long, default_value = "bench")]
    user_prefix: String,
    /// REST requests in flight while registering users and creating rooms.
    #[arg(long, default_value_t = 8)]
    setup_concurrency: usize,
    /// WebSocket handshakes in flight.
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// The server's process id, to sample its RSS from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The p95 latency a rate must meet to count.
    #[arg(long, default_value_t = 25.0)]
    p95_target_ms: f64,
    /// Stop the ladder once a rate's p95 exceeds this.
    #[arg(long, default_value_t = 250.0)]
    give_up_p95_ms: f64,
    /// Label of the report.
    #[arg(long, default_value = "loadgen")]
    label: String,
    /// Print the report as JSON (one line) after the table.
    #[arg(long)]
    json: bool,
    /// Only set up (users, conversations), write the plan to this file and exit.
    #[arg(long)]
    save_plan: Option<PathBuf>,
    /// Connect with a plan written by `--save-plan` instead of setting up.
    #[arg(long, conflicts_with = "save_plan")]
    plan: Option<PathBuf>,
    /// Run each rate only when the file `go-<i>` appears in this folder, writing `ready` once
    /// connected and `done-<i>` after each rate (`stop` ends the ladder): how `make bench`
    /// interleaves the ladders of several servers.
    #[arg(long)]
    gate: Option<PathBuf>,
}

fn secs(value: f64) -> Duration {
    Duration::from_secs_f64(value.max(0.0))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.room_size > 0, "--room-size must be at least 1");
    let report = run(RunOptions {
        url: args.url.trim_end_matches('/').to_owned(),
        reference: args.reference,
        protocol: if args.socketio {
            Protocol::SocketIo
        } else {
            Protocol::Json
        },
        connections: args.connections,
        room_size: args.room_size,
        members: args.members,
        rates: args.rates.into_iter().filter(|r| *r > 0.0).collect(),
        duration: secs(args.duration),
        warmup: secs(args.warmup),
        drain: secs(args.drain),
        idle: secs(args.idle),
        content_bytes: args.content_bytes,
        user_prefix: args.user_prefix,
        setup_concurrency: args.setup_concurrency,
        connect_concurrency: args.connect_concurrency,
        server_pid: args.server_pid,
        p95_target_ms: args.p95_target_ms,
        give_up_p95_ms: args.give_up_p95_ms,
        label: args.label,
        save_plan: args.save_plan,
        plan: args.plan,
        gate: args.gate.map(Gate::new),
    })
    .await?;
    let Some(report) = report else {
        return Ok(());
    };
    print!("{}", report.table());
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

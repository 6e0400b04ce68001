//! What a message costs in CPU: the server's, the generator's own and the whole machine's busy
//! time over a rate's measured window, from /proc (Linux; nothing elsewhere), divided by the
//! messages sent in it. Latency says when a server saturates; this says why: with the same
//! generator, a server that costs more per message fills the cores at a lower rate. On
//! loopback the kernel's TCP work lands in whichever process's context is free, so the
//! machine's figure is the one that compares servers.

use serde::Serialize;
use std::time::Instant;

/// Units of /proc's CPU times: `USER_HZ`, 100 a second on Linux whatever the kernel's own tick.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time used so far, in ticks, by the server and by this process; and the machine's cores
/// and the ticks they have spent doing nothing, at a moment.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    server: Option<u64>,
    generator: Option<u64>,
    machine: Option<Unused>,
    at: Instant,
}

/// The machine's online cores and their idle, I/O-wait and stolen ticks so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Unused {
    cores: u32,
    ticks: u64,
}

/// Milliseconds of CPU per message sent.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuPerMessage {
    /// The server process (every thread, including ones that ended).
    pub server_ms: Option<f64>,
    /// The generator itself.
    pub generator_ms: Option<f64>,
    /// Every core's busy time — the window's length times the cores, less their idle, I/O-wait
    /// and stolen time: both processes, the kernel's network work and whatever else runs, such
    /// as a database.
    pub machine_ms: Option<f64>,
}

impl CpuSample {
    /// Now, for the server `server_pid` (when known).
    pub fn take(server_pid: Option<u32>) -> Self {
        let process = |pid: &str| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| process_ticks(&stat))
        };
        Self {
            server: server_pid.and_then(|pid| process(&pid.to_string())),
            generator: process("self"),
            machine: std::fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|stat| unused_ticks(&stat)),
            at: Instant::now(),
        }
    }

    /// What `messages` cost from this sample to `later`; `None` when nothing was sent.
    pub fn per_message(&self, later: &Self, messages: u64) -> Option<CpuPerMessage> {
        if messages == 0 {
            return None;
        }
        let ms_each = |seconds: f64| seconds * 1000.0 / messages as f64;
        let per = |from: Option<u64>, to: Option<u64>| {
            let ticks = to?.checked_sub(from?)?;
            Some(ms_each(ticks as f64 / TICKS_PER_SECOND))
        };
        // The cores' busy time is what the window did not leave unused. Summing /proc/stat's
        // busy ticks instead reads low on a virtual machine: they are counted at timer ticks,
        // which a busy guest loses, while idle time is clocked (it read below the two
        // processes' own CPU time in some windows).
        let machine = match (self.machine, later.machine) {
            (Some(from), Some(to)) if from.cores == to.cores => {
                let unused = to.ticks.checked_sub(from.ticks)? as f64 / TICKS_PER_SECOND;
                let length = later.at.duration_since(self.at).as_secs_f64();
                let busy = (length * f64::from(to.cores) - unused).max(0.0);
                Some(ms_each(busy))
            }
            _ => None,
        };
        Some(CpuPerMessage {
            server_ms: per(self.server, later.server),
            generator_ms: per(self.generator, later.generator),
            machine_ms: machine,
        })
    }
}

/// User plus system ticks of a process from its `/proc/<pid>/stat` line. The command name in
/// parentheses may hold spaces, so the fields are counted after its closing parenthesis.
fn process_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// The online cores (`cpuN` lines) and the idle, I/O-wait and stolen ticks of all of them
/// (`cpu` line: user nice system idle iowait irq softirq steal …) from `/proc/stat`.
fn unused_ticks(stat: &str) -> Option<Unused> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let field = |i: usize| ticks.get(i).copied();
    let cores = stat
        .lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count();
    Some(Unused {
        cores: u32::try_from(cores).ok().filter(|&n| n > 0)?,
        ticks: field(3)? + field(4)? + field(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_line_is_read_past_a_name_with_spaces_and_parentheses() {
        let stat = "4242 (chemchat (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    1234 567 0 0 20 0 9 0 100 1000 200";
        assert_eq!(process_ticks(stat), Some(1234 + 567));
        assert_eq!(process_ticks("4242 (short) S 1"), None);
    }

    #[test]
    fn the_machine_leaves_out_idle_wait_and_steal_and_counts_its_cores() {
        let stat = "cpu  100 5 40 9000 70 3 7 11 0 0\ncpu0 50 2 20 4500 35 1 3 5 0 0\n\
                    cpu1 50 3 20 4500 35 2 4 6 0 0\nintr 12345\nctxt 678\n";
        assert_eq!(
            unused_ticks(stat),
            Some(Unused {
                cores: 2,
                ticks: 9000 + 70 + 11
            })
        );
        assert_eq!(unused_ticks("cpu0 1 2 3\n"), None);
    }

    #[test]
    fn a_window_is_divided_by_its_messages() {
        let start = Instant::now();
        let before = CpuSample {
            server: Some(1000),
            generator: Some(50),
            machine: Some(Unused {
                cores: 2,
                ticks: 5000,
            }),
            at: start,
        };
        let after = CpuSample {
            server: Some(1600),
            generator: Some(80),
            // Of 2 cores × 5 s, 4 s unused: 6 s busy.
            machine: Some(Unused {
                cores: 2,
                ticks: 5400,
            }),
            at: start + std::time::Duration::from_secs(5),
        };
        let cost = before
            .per_message(&after, 3000)
            .expect("messages were sent");
        let near = |got: Option<f64>, want: f64| got.is_some_and(|ms| (ms - want).abs() < 1e-9);
        // 600 ticks = 6 s of CPU over 3 000 messages: 2 ms each.
        assert!(near(cost.server_ms, 2.0), "{cost:?}");
        assert!(near(cost.generator_ms, 0.1), "{cost:?}");
        assert!(near(cost.machine_ms, 2.0), "{cost:?}");
        assert!(before.per_message(&after, 0).is_none());
        let unknown = CpuSample {
            machine: None,
            ..before
        };
        assert_eq!(
            unknown.per_message(&after, 3000).and_then(|c| c.machine_ms),
            None
        );
    }
}

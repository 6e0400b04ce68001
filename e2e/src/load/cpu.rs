//! What a message costs in CPU: the server's, the generator's own and the whole machine's busy
//! time over a rate's measured window, from /proc (Linux; nothing elsewhere), divided by the
//! messages sent in it. Latency says when a server saturates; this says why: with the same
//! generator, a server that costs more per message fills the cores at a lower rate. On
//! loopback the kernel's TCP work lands in whichever process's context is free, so the
//! machine's figure is the one that compares servers.

use serde::Serialize;

/// Units of /proc's CPU times: `USER_HZ`, 100 a second on Linux whatever the kernel's own tick.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time used so far, in ticks: by the server, by this process, by the whole machine.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    server: Option<u64>,
    generator: Option<u64>,
    machine: Option<u64>,
}

/// Milliseconds of CPU per message sent.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuPerMessage {
    /// The server process (every thread, including ones that ended).
    pub server_ms: Option<f64>,
    /// The generator itself.
    pub generator_ms: Option<f64>,
    /// Every core's busy time (user, system, interrupts; not idle, I/O wait or steal): both
    /// processes, the kernel's network work and whatever else runs, such as a database.
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
                .and_then(|stat| machine_busy_ticks(&stat)),
        }
    }

    /// What `messages` cost from this sample to `later`; `None` when nothing was sent.
    pub fn per_message(&self, later: &Self, messages: u64) -> Option<CpuPerMessage> {
        if messages == 0 {
            return None;
        }
        let per = |from: Option<u64>, to: Option<u64>| {
            let ticks = to?.checked_sub(from?)?;
            Some(ticks as f64 / TICKS_PER_SECOND * 1000.0 / messages as f64)
        };
        Some(CpuPerMessage {
            server_ms: per(self.server, later.server),
            generator_ms: per(self.generator, later.generator),
            machine_ms: per(self.machine, later.machine),
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

/// Busy ticks of all cores from `/proc/stat`'s `cpu` line: user, nice, system, irq and softirq
/// (guest time is inside user); idle, I/O wait and time stolen by the hypervisor are not.
fn machine_busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let field = |i: usize| ticks.get(i).copied();
    Some(field(0)? + field(1)? + field(2)? + field(5)? + field(6)?)
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
    fn the_machine_counts_work_and_not_idle_wait_or_steal() {
        let stat = "cpu  100 5 40 9000 70 3 7 11 0 0\ncpu0 50 2 20 4500 35 1 3 5 0 0\n";
        assert_eq!(machine_busy_ticks(stat), Some(100 + 5 + 40 + 3 + 7));
        assert_eq!(machine_busy_ticks("cpu0 1 2 3\n"), None);
    }

    #[test]
    fn a_window_is_divided_by_its_messages() {
        let before = CpuSample {
            server: Some(1000),
            generator: Some(50),
            machine: None,
        };
        let after = CpuSample {
            server: Some(1600),
            generator: Some(80),
            machine: Some(7),
        };
        let cost = before
            .per_message(&after, 3000)
            .expect("messages were sent");
        // 600 ticks = 6 s of CPU over 3 000 messages: 2 ms each.
        let near = |got: Option<f64>, want: f64| got.is_some_and(|ms| (ms - want).abs() < 1e-9);
        assert!(near(cost.server_ms, 2.0), "{cost:?}");
        assert!(near(cost.generator_ms, 0.1), "{cost:?}");
        assert_eq!(cost.machine_ms, None, "no first sample of the machine");
        assert!(before.per_message(&after, 0).is_none());
    }
}

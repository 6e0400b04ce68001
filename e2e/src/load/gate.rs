//! Rung by rung on a signal: what lets `scripts/bench.sh` interleave the ladders of several
//! servers. Each generator connects, says it is ready, and runs each rung of its ladder only
//! when told, so the benchmark runs one rate on every server in turn before the next rate. A
//! machine whose speed drifts over a run (a shared host's neighbours, the disk's writeback)
//! then weighs on every server's rung of a rate alike, where ladders run one after the other
//! put the whole drift on whichever server ran last.
//!
//! The signals are files in one folder: the generator writes `ready` once connected and
//! `done-<i>` after rung `i`; the driver writes `go-<i>` to start rung `i`, or `stop` to end the
//! ladder there.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a waiting generator looks for its signal: small beside a rung's seconds.
const POLL: Duration = Duration::from_millis(10);

/// The folder where a generator and its driver signal each other.
#[derive(Debug, Clone)]
pub struct Gate {
    folder: PathBuf,
}

impl Gate {
    pub fn new(folder: impl Into<PathBuf>) -> Self {
        Self {
            folder: folder.into(),
        }
    }

    /// Connected and idle: the driver may start the first rung. A folder that already holds an
    /// earlier ladder's signals is refused: its `stop` would end this ladder before its first
    /// rung, silently (how `make bench`'s core-scaling run once reported nothing).
    pub fn ready(&self) -> std::io::Result<()> {
        if let Some(name) = std::fs::read_dir(&self.folder)?
            .filter_map(Result::ok)
            .map(|entry| entry.file_name())
            .next()
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!(
                    "{} already holds {name:?}: each ladder needs a gate folder of its own",
                    self.folder.display()
                ),
            ));
        }
        self.signal("ready")
    }

    /// Waits for the driver's word on rung `step`: `true` to run it, `false` to stop the ladder.
    pub async fn wait_turn(&self, step: usize) -> bool {
        let go = self.folder.join(format!("go-{step}"));
        let stop = self.folder.join("stop");
        loop {
            if exists(&stop) {
                return false;
            }
            if exists(&go) {
                return true;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Rung `step` is measured and drained: the driver may start another server's.
    pub fn done(&self, step: usize) -> std::io::Result<()> {
        self.signal(&format!("done-{step}"))
    }

    fn signal(&self, name: &str) -> std::io::Result<()> {
        std::fs::write(self.folder.join(name), b"")
    }
}

fn exists(path: &Path) -> bool {
    path.try_exists().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rung_runs_on_its_go_and_the_ladder_ends_on_stop() {
        let dir = tempfile::tempdir().unwrap();
        let gate = Gate::new(dir.path());
        gate.ready().unwrap();
        assert!(dir.path().join("ready").exists());

        std::fs::write(dir.path().join("go-0"), b"").unwrap();
        assert!(gate.wait_turn(0).await);
        gate.done(0).unwrap();
        assert!(dir.path().join("done-0").exists());

        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.wait_turn(1).await }
        });
        std::fs::write(dir.path().join("stop"), b"").unwrap();
        assert!(!waiting.await.unwrap(), "stopped rather than run");
    }

    #[test]
    fn a_folder_holding_an_earlier_ladders_signals_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Gate::new(dir.path()).ready().unwrap();
        std::fs::write(dir.path().join("stop"), b"").unwrap();

        let error = Gate::new(dir.path()).ready().unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
    }
}

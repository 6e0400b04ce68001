//! The `Probe` port: one configured dependency that `/health` checks and times. Only what is
//! configured gets a probe, so the report lists exactly what this instance depends on.

use async_trait::async_trait;
use std::fmt::Debug;

/// A dependency's check.
#[async_trait]
pub trait Probe: Send + Sync + Debug + 'static {
    /// The dependency's name in `/health` (`redis`, `kafka`, `search`, …).
    fn name(&self) -> &'static str;

    /// One cheap round trip. The error is for the log: a probe's answer is readable by whoever
    /// reaches `/health`.
    async fn check(&self) -> anyhow::Result<()>;
}

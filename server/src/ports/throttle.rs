//! Login throttling, as a port: in-process now, shared across instances once Redis is configured.

use std::fmt::Debug;
use std::net::IpAddr;
use std::time::Duration;

/// A login attempt was refused; retry after the given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// How long until an attempt would be allowed.
    pub retry_after: Duration,
}

/// Limits login attempts per client address and per account.
pub trait LoginThrottle: Send + Sync + Debug + 'static {
    /// Records an attempt from `ip` for `account` (a lower-cased login name, scoped by tenant),
    /// refusing it when either budget is spent.
    fn attempt(&self, ip: IpAddr, account: &str) -> Result<(), Throttled>;
}

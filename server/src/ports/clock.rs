//! Time, as a port so token expiry and TOTP windows can be tested without sleeping.

use std::fmt::Debug;
use time::OffsetDateTime;

/// The source of the current time.
pub trait Clock: Send + Sync + Debug + 'static {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;

    /// Now, as Unix milliseconds (the storage representation).
    fn now_ms(&self) -> i64 {
        let nanos = self.now().unix_timestamp_nanos() / 1_000_000;
        i64::try_from(nanos).unwrap_or(i64::MAX)
    }
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

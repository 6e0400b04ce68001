//! In-process login throttling with `governor`'s keyed GCRA limiters.

use crate::ports::{LoginThrottle, Throttled};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Per-IP and per-account attempt budgets, refilled continuously over a minute.
#[derive(Debug)]
pub struct InProcessThrottle {
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
    per_account: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl InProcessThrottle {
    /// Allows `per_ip` attempts a minute from one address and `per_account` for one account.
    pub fn new(per_ip: NonZeroU32, per_account: NonZeroU32) -> Self {
        Self {
            per_ip: RateLimiter::keyed(Quota::per_minute(per_ip)),
            per_account: RateLimiter::keyed(Quota::per_minute(per_account)),
            clock: DefaultClock::default(),
        }
    }

    /// Forgets keys whose budget is full again, so memory stays bounded.
    pub fn prune(&self) {
        self.per_ip.retain_recent();
        self.per_account.retain_recent();
    }
}

impl LoginThrottle for InProcessThrottle {
    fn attempt(&self, ip: IpAddr, account: &str) -> Result<(), Throttled> {
        let now = self.clock.now();
        let refused = |not_until: governor::NotUntil<_>| Throttled {
            retry_after: not_until.wait_time_from(now),
        };
        self.per_ip.check_key(&ip).map_err(refused)?;
        self.per_account
            .check_key(&account.to_owned())
            .map_err(refused)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: u32) -> NonZeroU32 {
        NonZeroU32::new(v).expect("non-zero")
    }

    #[test]
    fn account_budget_is_shared_across_addresses() {
        let throttle = InProcessThrottle::new(n(100), n(2));
        let (a, b) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(throttle.attempt(a, "t/alice").is_ok());
        assert!(throttle.attempt(b, "t/alice").is_ok());
        let refused = throttle
            .attempt(a, "t/alice")
            .expect_err("third attempt refused");
        assert!(refused.retry_after.as_secs() <= 60);
        assert!(throttle.attempt(a, "t/bob").is_ok());
    }

    #[test]
    fn address_budget_covers_every_account() {
        let throttle = InProcessThrottle::new(n(2), n(100));
        let ip = "10.0.0.9".parse().unwrap();
        assert!(throttle.attempt(ip, "t/a").is_ok());
        assert!(throttle.attempt(ip, "t/b").is_ok());
        assert!(throttle.attempt(ip, "t/c").is_err());
    }
}

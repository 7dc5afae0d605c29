//! Failed-login throttling, per account and per client address.
//!
//! Failures are counted in memory (a TTL cache: a window starts at the first failure and
//! lasts `auth.login_lockout_secs`). Once either count reaches its limit, every login for
//! that account or from that address is answered 429 with `Retry-After` **before** the
//! password is checked, so a correct password during a lockout reveals nothing.
//! The counts are per process: behind several nodes an attacker gets the limit per node,
//! which still turns an online guessing attack from millions of tries into a handful.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use moka::sync::Cache;

/// Login throttle state. Cheap to clone.
#[derive(Clone)]
pub struct LoginThrottle {
    failures: Cache<String, Arc<AtomicU32>>,
    max_per_account: u32,
    max_per_ip: u32,
    window: Duration,
}

impl LoginThrottle {
    pub fn new(max_per_account: u32, max_per_ip: u32, window: Duration) -> Self {
        Self {
            failures: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(window)
                .build(),
            max_per_account,
            max_per_ip,
            window,
        }
    }

    fn count(&self, key: &str) -> u32 {
        self.failures
            .get(key)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// `Some(retry_after_secs)` when logins for this account or address are locked now.
    pub fn locked(&self, email: &str, ip: &str) -> Option<u64> {
        let locked = self.count(&format!("a:{email}")) >= self.max_per_account
            || self.count(&format!("i:{ip}")) >= self.max_per_ip;
        locked.then(|| self.window.as_secs().max(1))
    }

    /// Counts a failed login.
    pub fn record_failure(&self, email: &str, ip: &str) {
        for key in [format!("a:{email}"), format!("i:{ip}")] {
            self.failures
                .get_with(key, || Arc::new(AtomicU32::new(0)))
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Forgets the account's failures after a successful login.
    pub fn record_success(&self, email: &str) {
        self.failures.invalidate(&format!("a:{email}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_per_account_and_per_address() {
        let t = LoginThrottle::new(3, 5, Duration::from_secs(60));
        for _ in 0..2 {
            t.record_failure("a@x", "1.1.1.1");
        }
        assert_eq!(t.locked("a@x", "1.1.1.1"), None);
        t.record_failure("a@x", "1.1.1.1");
        assert_eq!(t.locked("a@x", "9.9.9.9"), Some(60));
        // Another account from the same address: locked once the address reaches 5.
        assert_eq!(t.locked("b@x", "1.1.1.1"), None);
        t.record_failure("b@x", "1.1.1.1");
        t.record_failure("b@x", "1.1.1.1");
        assert_eq!(t.locked("c@x", "1.1.1.1"), Some(60));
    }
}

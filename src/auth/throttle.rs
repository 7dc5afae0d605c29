//! Password-guessing throttle, per account and per client address.
//!
//! Every check of a password — a login, and the `current_password` of a password change or
//! of a token creation — first takes a slot with [`LoginThrottle::begin`]: one atomic step
//! that counts the attempt in both windows, or refuses it (429 with `Retry-After`) when
//! either is full. So at most `auth.login_max_failures` passwords are verified per account
//! per window, however many requests arrive at once, and a correct password during a
//! lockout reveals nothing. A failed attempt keeps its slot; a successful one gives its
//! address slot back and clears the account's window ([`Attempt::succeeded`]).
//!
//! A window starts at an account's (or address's) first attempt and lasts
//! `auth.login_lockout_secs`. The counts are per process: behind several nodes an attacker
//! gets the limit per node, which still turns an online guessing attack from millions of
//! tries into a handful.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use moka::sync::Cache;

/// Attempts counted in one window.
struct Window {
    started: Instant,
    attempts: AtomicU32,
}

impl Window {
    /// Counts one attempt unless `max` are counted already.
    fn take(&self, max: u32) -> bool {
        self.attempts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives one attempt back.
    fn give_back(&self) {
        let _ = self
            .attempts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
    }
}

/// Login throttle state. Cheap to clone.
#[derive(Clone)]
pub struct LoginThrottle {
    windows: Cache<String, Arc<Window>>,
    max_per_account: u32,
    max_per_ip: u32,
    window: Duration,
}

/// A password check that holds its slots; say how it went with [`Attempt::succeeded`]. An
/// attempt dropped without that (a wrong password, or a request that failed on the way)
/// stays counted.
#[must_use = "a successful check must call succeeded()"]
pub struct Attempt {
    throttle: LoginThrottle,
    account_key: String,
    address: Arc<Window>,
}

impl Attempt {
    /// The password was right: the address's slot is given back and the account's failures
    /// are forgotten.
    pub fn succeeded(self) {
        self.address.give_back();
        self.throttle.windows.invalidate(&self.account_key);
    }
}

impl LoginThrottle {
    pub fn new(max_per_account: u32, max_per_ip: u32, window: Duration) -> Self {
        Self {
            windows: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(window)
                .build(),
            max_per_account,
            max_per_ip,
            window,
        }
    }

    fn window_of(&self, key: &str) -> Arc<Window> {
        self.windows.get_with_by_ref(key, || {
            Arc::new(Window {
                started: Instant::now(),
                attempts: AtomicU32::new(0),
            })
        })
    }

    /// Seconds until `window` ends (at least 1).
    fn retry_after(&self, window: &Window) -> u64 {
        let left = self.window.saturating_sub(window.started.elapsed());
        left.as_secs_f64().ceil().max(1.0) as u64
    }

    /// Counts a password check for the account `email` from address `ip`, or refuses it with
    /// the seconds to wait when either has used up its window.
    pub fn begin(&self, email: &str, ip: &str) -> Result<Attempt, u64> {
        let account_key = format!("a:{email}");
        let account = self.window_of(&account_key);
        if !account.take(self.max_per_account) {
            return Err(self.retry_after(&account));
        }
        let address = self.window_of(&format!("i:{ip}"));
        if !address.take(self.max_per_ip) {
            account.give_back();
            return Err(self.retry_after(&address));
        }
        Ok(Attempt {
            throttle: self.clone(),
            account_key,
            address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_per_account_and_per_address() {
        let t = LoginThrottle::new(3, 5, Duration::from_secs(60));
        for _ in 0..3 {
            drop(t.begin("a@x", "1.1.1.1").unwrap());
        }
        assert_eq!(t.begin("a@x", "9.9.9.9").err(), Some(60));
        // Another account from the same address: locked once the address reaches 5.
        drop(t.begin("b@x", "1.1.1.1").unwrap());
        drop(t.begin("b@x", "1.1.1.1").unwrap());
        assert_eq!(t.begin("c@x", "1.1.1.1").err(), Some(60));
        // A refusal by the address does not use up the account's window.
        drop(t.begin("c@x", "2.2.2.2").unwrap());
    }

    #[test]
    fn success_frees_the_account_and_its_address_slot() {
        let t = LoginThrottle::new(2, 3, Duration::from_secs(60));
        drop(t.begin("a@x", "1.1.1.1").unwrap());
        t.begin("a@x", "1.1.1.1").unwrap().succeeded();
        // The account starts over; the address has one failure counted.
        drop(t.begin("a@x", "1.1.1.1").unwrap());
        drop(t.begin("a@x", "1.1.1.1").unwrap());
        assert!(t.begin("a@x", "1.1.1.1").is_err());
        assert!(
            t.begin("b@x", "1.1.1.1").is_err(),
            "3 failures from 1.1.1.1"
        );
    }

    #[test]
    fn concurrent_attempts_never_pass_the_limit() {
        let t = LoginThrottle::new(5, 1000, Duration::from_secs(60));
        let granted = AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..50 {
                        if let Ok(attempt) = t.begin("a@x", "1.1.1.1") {
                            granted.fetch_add(1, Ordering::SeqCst);
                            drop(attempt);
                        }
                    }
                });
            }
        });
        assert_eq!(granted.load(Ordering::SeqCst), 5);
    }
}

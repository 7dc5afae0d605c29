//! Per-project rate limiting: a token bucket refilled at `per_sec`, holding at most `burst`.

use std::time::{Duration, Instant};

/// A token bucket.
#[derive(Debug)]
pub struct TokenBucket {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_sec: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            per_sec: f64::from(per_sec.max(1)),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes `n` tokens (a request larger than the burst takes the whole bucket), or says how
    /// long until that many are there.
    pub fn try_take(&mut self, n: u32, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        self.last = now;
        let want = f64::from(n).min(self.burst);
        if self.tokens >= want {
            self.tokens -= want;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((want - self.tokens) / self.per_sec))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_over_time_and_caps_at_the_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 20, t0);
        assert!(b.try_take(20, t0).is_ok());
        let wait = b.try_take(5, t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        assert!(b.try_take(5, t0 + Duration::from_millis(500)).is_ok());
        // Long idle: back to the burst, not more.
        assert!(b.try_take(20, t0 + Duration::from_secs(100)).is_ok());
        assert!(b.try_take(1, t0 + Duration::from_secs(100)).is_err());
        // Bigger than the burst: takes a full bucket.
        assert!(b.try_take(1000, t0 + Duration::from_secs(200)).is_ok());
    }
}

//! Per-project rate limiting: a token bucket refilled at `per_sec`, holding at most `burst`.
//! Every event of a request is charged; a request of more events than the burst could never
//! be admitted, so it is refused as such rather than told to wait.

use std::time::{Duration, Instant};

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refused {
    /// Not enough tokens now: this long until there are.
    Wait(Duration),
    /// The request holds more events than the bucket can ever hold.
    OverBurst { burst: u32 },
}

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

    /// Takes `n` tokens, or says how long until that many are there, or that there never
    /// will be (`n` is over the burst; nothing is taken then).
    pub fn try_take(&mut self, n: u32, now: Instant) -> Result<(), Refused> {
        let want = f64::from(n);
        if want > self.burst {
            return Err(Refused::OverBurst {
                burst: self.burst as u32,
            });
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
        self.last = now;
        if self.tokens >= want {
            self.tokens -= want;
            Ok(())
        } else {
            Err(Refused::Wait(Duration::from_secs_f64(
                (want - self.tokens) / self.per_sec,
            )))
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
        let Err(Refused::Wait(wait)) = b.try_take(5, t0) else {
            panic!("must wait");
        };
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        assert!(b.try_take(5, t0 + Duration::from_millis(500)).is_ok());
        // Long idle: back to the burst, not more.
        assert!(b.try_take(20, t0 + Duration::from_secs(100)).is_ok());
        assert!(b.try_take(1, t0 + Duration::from_secs(100)).is_err());
    }

    #[test]
    fn every_event_is_charged_and_over_the_burst_is_never_admitted() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 20, t0);
        assert_eq!(
            b.try_take(21, t0 + Duration::from_secs(100)),
            Err(Refused::OverBurst { burst: 20 })
        );
        // Refusing over the burst took nothing; 15 then 6 of 20 is one too many.
        assert!(b.try_take(15, t0).is_ok());
        assert!(matches!(b.try_take(6, t0), Err(Refused::Wait(_))));
        assert!(b.try_take(5, t0).is_ok());
    }
}

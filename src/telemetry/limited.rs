//! Repeated log lines, rate-limited: during an outage the same failure happens for every
//! request, every flush attempt and every connection attempt, and one line per second per
//! kind is all an operator can read. [`log_limited!`](crate::log_limited) writes the first
//! occurrence of a line at once, then at most one per [`EVERY`] for the same call site (and
//! discriminator), and that line carries `suppressed = N`: how many were left out since the
//! previous one. What is counted elsewhere (dropped events, the `/metrics` counters) stays
//! exact; only the log is thinned.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The shortest time between two lines of one kind.
pub const EVERY: Duration = Duration::from_secs(10);

/// A line's kind: its call site (`module:line`) and a discriminator (e.g. an error code).
pub type Kind = (&'static str, &'static str);

/// When each kind of line was last written, and how many were suppressed since.
#[derive(Debug, Default)]
pub struct Limiter {
    slots: Mutex<HashMap<Kind, Slot>>,
}

#[derive(Debug)]
struct Slot {
    last: Instant,
    suppressed: u64,
}

impl Limiter {
    /// Whether a line of `kind` may be written at `now`: `Some(n)` with the number of lines
    /// suppressed since the last one written, or `None` to suppress this one.
    pub fn admit(&self, kind: Kind, now: Instant, every: Duration) -> Option<u64> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        match slots.get_mut(&kind) {
            Some(slot) if now.saturating_duration_since(slot.last) < every => {
                slot.suppressed += 1;
                None
            }
            Some(slot) => {
                let suppressed = std::mem::take(&mut slot.suppressed);
                slot.last = now;
                Some(suppressed)
            }
            None => {
                slots.insert(
                    kind,
                    Slot {
                        last: now,
                        suppressed: 0,
                    },
                );
                Some(0)
            }
        }
    }
}

/// The process's limiter (kinds are call sites, so it stays small).
pub fn admit(kind: Kind) -> Option<u64> {
    static LIMITER: OnceLock<Limiter> = OnceLock::new();
    LIMITER
        .get_or_init(Limiter::default)
        .admit(kind, Instant::now(), EVERY)
}

/// `tracing::<level>!`, at most once per [`EVERY`] per call site (and per `by` value, a
/// `&'static str`), with `suppressed = N` on a line that follows suppressed ones:
///
/// ```ignore
/// log_limited!(warn, error = %e, "database connection failed");
/// log_limited!(error, by = code.as_str(); error = %e, "request failed");
/// ```
#[macro_export]
macro_rules! log_limited {
    ($level:ident, by = $by:expr; $($rest:tt)+) => {{
        let kind = (concat!(module_path!(), ":", line!()), $by);
        match $crate::telemetry::limited::admit(kind) {
            Some(0) => ::tracing::$level!($($rest)+),
            Some(suppressed) => ::tracing::$level!(suppressed, $($rest)+),
            None => {}
        }
    }};
    ($level:ident, $($rest:tt)+) => {
        $crate::log_limited!($level, by = ""; $($rest)+)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_suppressed_and_counted() {
        let limiter = Limiter::default();
        let t0 = Instant::now();
        let every = Duration::from_secs(10);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let (a, b) = (("site", "a"), ("site", "b"));
        // (kind, time, expected)
        let cases = [
            (a, at(0), Some(0)),
            (a, at(100), None),
            (b, at(100), Some(0)),
            (a, at(9_999), None),
            (a, at(10_000), Some(2)),
            (a, at(10_001), None),
            (a, at(25_000), Some(1)),
            (a, at(40_000), Some(0)),
        ];
        for (i, (kind, now, expected)) in cases.into_iter().enumerate() {
            assert_eq!(limiter.admit(kind, now, every), expected, "case {i}");
        }
    }
}

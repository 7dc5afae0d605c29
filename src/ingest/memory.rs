//! The node's memory cap on buffered events (`writer.max_buffered_bytes`): one byte count
//! for every project's buffer together, and the policy that brings it back under the cap.
//!
//! - Every push adds its events' [`PendingEvent::footprint`] to the count with one atomic
//!   add (and every take, eviction or deletion subtracts them): no shared lock on the hot
//!   path.
//! - A push that leaves the count over the cap takes the slow path, [`enforce`]: under the
//!   node's one eviction lock, the largest buffer (by bytes) drops its oldest events until
//!   it is no larger than the next largest or the node is under the cap, and so on. Each
//!   event dropped is counted as `dropped_memory_cap` in its project.
//! - Batches in flight are not counted: each project has at most one, of at most
//!   `writer.batch_size` events, and it cannot be dropped without losing its place.
//!
//! See docs/architecture.md, “Memory”.
//!
//! [`PendingEvent::footprint`]: crate::domain::PendingEvent::footprint

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::ProjectShared;

/// The node's buffered bytes and their cap. Shared by every [`ProjectShared`] of a registry.
#[derive(Debug)]
pub struct MemoryCap {
    used: AtomicU64,
    max: u64,
    /// Held while the cap is enforced, so one thread at a time picks what to drop.
    evicting: Mutex<()>,
}

impl MemoryCap {
    pub fn new(max: u64) -> Self {
        Self {
            used: AtomicU64::new(0),
            max,
            evicting: Mutex::new(()),
        }
    }

    /// No cap (a buffer on its own, in unit tests).
    pub fn unlimited() -> Arc<Self> {
        Arc::new(Self::new(u64::MAX))
    }

    /// Bytes buffered now, every project together.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// `writer.max_buffered_bytes`.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Whether the buffers hold more than the cap.
    pub fn is_over(&self) -> bool {
        self.used() > self.max
    }

    pub(super) fn add(&self, bytes: u64) {
        self.used.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(super) fn sub(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Brings the buffers of `projects` (every project sharing `cap`) back under the cap: the
/// largest buffer drops its oldest events first (see the module documentation). Returns how
/// many events were dropped.
pub fn enforce(cap: &MemoryCap, projects: &[Arc<ProjectShared>]) -> u64 {
    let _one_at_a_time = cap.evicting.lock().unwrap_or_else(|p| p.into_inner());
    let mut dropped = 0;
    while cap.is_over() {
        // The largest buffer, and the size of the next largest.
        let mut largest: Option<(&Arc<ProjectShared>, u64)> = None;
        let mut runner_up = 0;
        for p in projects {
            let bytes = p.buffered_bytes();
            match largest {
                Some((_, top)) if bytes <= top => runner_up = runner_up.max(bytes),
                _ => {
                    runner_up = largest.map_or(0, |(_, top)| top);
                    largest = Some((p, bytes));
                }
            }
        }
        let Some((p, bytes)) = largest.filter(|(_, bytes)| *bytes > 0) else {
            break; // only batches in flight, which are not counted, or a race: nothing to drop
        };
        let over = cap.used().saturating_sub(cap.max);
        // Down to the runner-up's size at most, so the next largest is considered next.
        let (n, _) = p.shed(over, bytes.saturating_sub(runner_up));
        dropped += n;
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{PendingEvent, ProjectId};

    /// `n` events whose messages make them `size` bytes or so each.
    fn events(n: usize, size: usize, tag: &str) -> Vec<PendingEvent> {
        (0..n)
            .map(|i| {
                let message = format!("{tag} {i:02} {}", "x".repeat(size));
                let body = serde_json::json!({
                    "message": message, "level": "error", "timestamp": "2026-11-29T12:00:00Z"
                });
                let event = crate::domain::parse_event(body.to_string().as_bytes()).unwrap();
                PendingEvent::new(event, chrono::Utc::now())
            })
            .collect()
    }

    fn bytes(events: &[PendingEvent]) -> u64 {
        events.iter().map(|e| e.footprint() as u64).sum()
    }

    fn project(cap: &Arc<MemoryCap>) -> Arc<ProjectShared> {
        Arc::new(ProjectShared::new(ProjectId::new(), 10_000, None).with_memory(cap.clone()))
    }

    fn messages(p: &ProjectShared) -> Vec<String> {
        let buffer = p.buffer.lock().unwrap();
        buffer
            .events
            .iter()
            .map(|e| e.message().to_owned())
            .collect()
    }

    #[test]
    fn the_largest_buffer_drops_its_oldest_events_first_counted() {
        // Three projects: big (10 × 2 KB), medium (10 × 1 KB), small (10 × 200 B).
        let (big_events, medium_events, small_events) = (
            events(10, 2000, "big"),
            events(10, 1000, "medium"),
            events(10, 200, "small"),
        );
        let one_big = big_events[0].footprint() as u64;
        let total = bytes(&big_events) + bytes(&medium_events) + bytes(&small_events);
        // Over by a little more than three big events: the big buffer alone pays, oldest first.
        let cap = Arc::new(MemoryCap::new(total - 3 * one_big - 10));
        let (big, medium, small) = (project(&cap), project(&cap), project(&cap));
        big.push(big_events).unwrap().unwrap();
        medium.push(medium_events).unwrap().unwrap();
        small.push(small_events).unwrap().unwrap();
        assert_eq!(cap.used(), total);
        let all = [small.clone(), big.clone(), medium.clone()];
        assert_eq!(enforce(&cap, &all), 4);
        assert!(cap.used() <= cap.max());
        let kept: Vec<String> = (4..10).map(|i| format!("big {i:02} ")).collect();
        let got = messages(&big);
        assert_eq!(got.len(), kept.len());
        for (g, k) in got.iter().zip(&kept) {
            assert!(g.starts_with(k.as_str()), "{g:?} kept, expected {k:?}");
        }
        let counted: Vec<(u64, u64, u64)> = all
            .iter()
            .map(|p| {
                let s = p.snapshot();
                assert!(s.is_accounted(), "{s:?}");
                (s.accepted, s.dropped_memory_cap, s.buffered)
            })
            .collect();
        assert_eq!(counted, [(10, 0, 10), (10, 4, 6), (10, 0, 10)]);
        // The bytes of each buffer and of the node still add up.
        let sum: u64 = all.iter().map(|p| p.buffered_bytes()).sum();
        assert_eq!(sum, cap.used());

        // Under the cap: nothing more is dropped.
        assert_eq!(enforce(&cap, &all), 0);
    }

    #[test]
    fn buffers_of_equal_size_take_turns_and_flights_are_not_counted() {
        let (ea, eb) = (events(20, 500, "a"), events(20, 500, "b"));
        let per_event = ea[0].footprint() as u64;
        assert!(
            ea.iter()
                .chain(&eb)
                .all(|e| e.footprint() as u64 == per_event)
        );
        // Room for half of everything: both buffers, taking turns, end with 10 each.
        let cap = Arc::new(MemoryCap::new(20 * per_event));
        let (a, b) = (project(&cap), project(&cap));
        a.push(ea).unwrap().unwrap();
        b.push(eb).unwrap().unwrap();
        let both = [a.clone(), b.clone()];
        assert_eq!(enforce(&cap, &both), 20);
        assert_eq!((a.buffered(), b.buffered()), (10, 10));
        for (p, tag) in [(&a, "a"), (&b, "b")] {
            assert!(
                messages(p)[0].starts_with(&format!("{tag} 10 ")),
                "{:?}",
                messages(p)
            );
            assert_eq!(p.snapshot().dropped_memory_cap, 10);
        }
        assert_eq!(cap.used(), 20 * per_event);

        // Taken into flight, the events are no longer the buffers' bytes; deleting a
        // project gives its buffer's bytes back too.
        assert_eq!(a.take(4).len(), 4);
        assert_eq!(cap.used(), 16 * per_event);
        assert_eq!(b.retire(), 10);
        assert_eq!(cap.used(), 6 * per_event);
        assert_eq!((a.buffered_bytes(), b.buffered_bytes()), (6 * per_event, 0));
        assert_eq!(enforce(&cap, &both), 0);
    }
}

//! Ingestion behind the HTTP edge: per-project buffers, `StorageWriter` actors that flush
//! them in batches, the registry that finds (or starts, or replaces) a project's writer, and
//! the per-project counters that make every accepted event accountable. The whole path, and
//! who owns what: docs/architecture.md, “The path of an event” and “Actors and ownership”.

pub mod batch;
pub mod buffer;
pub mod decode;
pub mod facts;
pub mod group;
pub mod memory;
pub mod rate;
pub mod registry;
mod spill;
pub mod spool;
pub mod writer;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::domain::{PendingEvent, ProjectId};
use buffer::DropOldest;
use memory::MemoryCap;
use spool::Spilled;

pub use facts::FactsBus;
pub use registry::WriterRegistry;

/// Per-project counters, shared by the HTTP edge, the writer and `/metrics`. They live
/// outside the actor so a crashed writer loses none of them, and outside [`ProjectShared`]
/// (the registry keeps them per project) so a writer stopped idle and started again goes on
/// counting where it stopped.
///
/// Invariant: `accepted = stored + dropped_buffer_full + dropped_memory_cap +
/// dropped_flush_failed + dropped_invalid + dropped_project_deleted + dropped_spool_full +
/// buffered + in_flight + spilled` (buffered and spilled are the lengths of the buffer and of
/// the spilled queue, in_flight the batch being written); see docs/architecture.md,
/// “Accounting”.
#[derive(Debug, Default)]
pub struct Counters {
    pub accepted: AtomicU64,
    pub stored: AtomicU64,
    pub dropped_buffer_full: AtomicU64,
    /// Dropped (oldest first, from the largest buffers) to keep the node's buffers under
    /// `writer.max_buffered_bytes`.
    pub dropped_memory_cap: AtomicU64,
    pub dropped_flush_failed: AtomicU64,
    /// Accepted events the database refused on their own (isolated from their batch).
    pub dropped_invalid: AtomicU64,
    /// Accepted events still buffered (or in flight) when the project was deleted.
    pub dropped_project_deleted: AtomicU64,
    /// Spilled events (held only in the durable spool) whose segment was deleted at
    /// `writer.spool_max_bytes`.
    pub dropped_spool_full: AtomicU64,
    pub rejected: AtomicU64,
    pub in_flight: AtomicU64,
    /// Times the project's writer was restarted after a crash.
    pub writer_restarts: AtomicU64,
    /// Events refused with 429 by the project's rate limit (never accepted).
    pub rate_limited: AtomicU64,
}

impl Counters {
    /// A copy of the counters, with `buffer_len` events in the buffer (the batch in flight
    /// is added) and `spilled` in the spilled queue. Consistent only when taken under the
    /// buffer lock, or when idle.
    pub fn snapshot(&self, buffer_len: u64, spilled: u64) -> CounterSnapshot {
        CounterSnapshot {
            accepted: self.accepted.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
            dropped_buffer_full: self.dropped_buffer_full.load(Ordering::Relaxed),
            dropped_memory_cap: self.dropped_memory_cap.load(Ordering::Relaxed),
            dropped_flush_failed: self.dropped_flush_failed.load(Ordering::Relaxed),
            dropped_invalid: self.dropped_invalid.load(Ordering::Relaxed),
            dropped_project_deleted: self.dropped_project_deleted.load(Ordering::Relaxed),
            dropped_spool_full: self.dropped_spool_full.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            buffered: buffer_len + self.in_flight.load(Ordering::Relaxed),
            spilled,
            writer_restarts: self.writer_restarts.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
        }
    }
}

/// A point-in-time copy of a project's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CounterSnapshot {
    pub accepted: u64,
    pub stored: u64,
    pub dropped_buffer_full: u64,
    pub dropped_memory_cap: u64,
    pub dropped_flush_failed: u64,
    pub dropped_invalid: u64,
    pub dropped_project_deleted: u64,
    pub dropped_spool_full: u64,
    pub rejected: u64,
    pub buffered: u64,
    /// Accepted events held only in the durable spool (spilled), waiting to be read back.
    pub spilled: u64,
    pub writer_restarts: u64,
    pub rate_limited: u64,
}

impl CounterSnapshot {
    /// Accepted events dropped, for every reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_buffer_full
            + self.dropped_memory_cap
            + self.dropped_flush_failed
            + self.dropped_invalid
            + self.dropped_project_deleted
            + self.dropped_spool_full
    }

    /// The accounting invariant: every accepted event is stored, dropped (counted by
    /// reason), still buffered, or spilled (docs/architecture.md, “Accounting”).
    pub fn is_accounted(&self) -> bool {
        self.accepted == self.stored + self.dropped() + self.buffered + self.spilled
    }
}

/// A project's events in memory, and its spilled ones: held only in the durable spool,
/// oldest first, all older than the buffered ones (what a full buffer or the memory cap
/// pushed out, and what a failed batch gave back). One lock for both, so an event moves
/// between them, and its counters, in one critical section.
#[derive(Debug)]
pub struct Held {
    pub events: DropOldest<PendingEvent>,
    pub spilled: VecDeque<Spilled>,
}

impl Held {
    fn new(capacity: usize) -> Self {
        Self {
            events: DropOldest::new(capacity),
            spilled: VecDeque::new(),
        }
    }
}

/// A batch taken into flight: spilled events (read back from the spool by the flush) when
/// any are waiting, being the oldest, else buffered ones.
#[derive(Debug)]
pub enum Taken {
    Events(Vec<PendingEvent>),
    Spilled(Vec<Spilled>),
}

impl Taken {
    pub fn len(&self) -> usize {
        match self {
            Taken::Events(e) => e.len(),
            Taken::Spilled(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a project's writer shares with the rest of the process: its buffer (so the HTTP edge
/// appends without a message round trip, and a writer crash loses no buffered event), its
/// counters, and the flags that keep one flush in flight at a time.
#[derive(Debug)]
pub struct ProjectShared {
    pub project_id: ProjectId,
    pub buffer: Mutex<Held>,
    pub counters: Arc<Counters>,
    /// A flush (a spawned task) is running.
    pub flushing: AtomicBool,
    /// A wake-up for a full batch is already on its way to the writer.
    pub wake_pending: AtomicBool,
    /// Told whenever the writer takes a batch out of the buffer: what answers wait for while
    /// the project has a backlog (`writer.answer_later_ms`).
    pub taken: tokio::sync::Notify,
    /// The project's rate limit, when one is configured.
    pub rate: Option<Mutex<rate::TokenBucket>>,
    /// The project was deleted: nothing more is accepted. Set and read under the buffer
    /// lock, so an event is either counted before the deletion (and dropped by it) or
    /// refused.
    deleted: AtomicBool,
    /// The project's writer stopped idle and this entry left the registry: nothing more is
    /// buffered here (a push hands its events back, for a fresh entry). Set under the buffer
    /// lock, only when nothing is buffered or in flight.
    stopped: AtomicBool,
    /// The node's durable spool, told of every event accounted for (stored or dropped).
    spool: Option<spool::Spool>,
    /// Bytes of the buffered events ([`PendingEvent::footprint`]); changed under the buffer
    /// lock, read without it (to find the largest buffers).
    bytes: AtomicU64,
    /// The node's count of buffered bytes, which `bytes` is part of.
    memory: Arc<MemoryCap>,
}

/// What a push did: the events waiting for the writer after it (buffered and spilled, as
/// [`ProjectShared::waiting`]), or the events handed back because the entry's writer stopped
/// idle (see [`ProjectShared::stop_if_idle`]).
pub type Pushed = Result<usize, Vec<PendingEvent>>;

/// The project was deleted; its events are not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the project was deleted")]
pub struct ProjectDeleted;

impl ProjectShared {
    pub fn new(project_id: ProjectId, capacity: usize, rate: Option<(u32, u32)>) -> Self {
        Self {
            rate: rate.map(|(per_sec, burst)| {
                Mutex::new(rate::TokenBucket::new(
                    per_sec,
                    burst,
                    std::time::Instant::now(),
                ))
            }),
            project_id,
            buffer: Mutex::new(Held::new(capacity)),
            counters: Arc::default(),
            flushing: AtomicBool::new(false),
            wake_pending: AtomicBool::new(false),
            taken: tokio::sync::Notify::new(),
            deleted: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            spool: None,
            bytes: AtomicU64::new(0),
            memory: MemoryCap::unlimited(),
        }
    }

    /// The same, counting its buffered bytes in the node's `memory` (see [`memory`]).
    pub fn with_memory(mut self, memory: Arc<MemoryCap>) -> Self {
        self.memory = memory;
        self
    }

    /// Bytes of the events in the buffer now (not those in flight).
    pub fn buffered_bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// `bytes` left the buffer (taken, evicted, dropped); called under the buffer lock.
    fn forget_bytes(&self, bytes: u64) {
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        self.memory.sub(bytes);
    }

    /// The same, with the node's spool: events it accounts for are released from it.
    pub fn with_spool(mut self, spool: Option<spool::Spool>) -> Self {
        self.spool = spool;
        self
    }

    /// The same, counting into the project's existing counters (a writer started again).
    pub fn with_counters(mut self, counters: Arc<Counters>) -> Self {
        self.counters = counters;
        self
    }

    /// These events are accounted for (stored or dropped): the spool may forget them.
    pub fn release(&self, events: &[PendingEvent]) {
        if let Some(spool) = &self.spool {
            spool.release(events.iter().map(|e| e.id));
        }
    }

    /// The node's durable spool, if any.
    pub fn spool(&self) -> Option<&spool::Spool> {
        self.spool.as_ref()
    }

    /// Appends accepted events (drop-oldest), counting them and their bytes; returns the
    /// buffer length, or the events untouched (`Ok(Err(events))`, not counted) when this
    /// entry's writer stopped idle. A deleted project accepts nothing. The node may be over
    /// its memory cap afterwards: the registry then calls [`memory::enforce`].
    pub fn push(&self, events: Vec<PendingEvent>) -> Result<Pushed, ProjectDeleted> {
        let n = events.len() as u64;
        let added: u64 = events.iter().map(|e| e.footprint() as u64).sum();
        let mut held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        if self.deleted.load(Ordering::Relaxed) {
            return Err(ProjectDeleted);
        }
        if self.stopped.load(Ordering::Relaxed) {
            return Ok(Err(events));
        }
        let mut evicted = Vec::new();
        for event in events {
            evicted.extend(held.events.push_evicting(event));
        }
        let evicted_bytes = evicted.iter().map(|e| e.footprint() as u64).sum();
        let dropped = self.spill_out(&mut held, evicted);
        // Counted under the lock, so a reader that also takes the lock sees both or neither.
        self.counters.accepted.fetch_add(n, Ordering::Relaxed);
        self.counters
            .dropped_buffer_full
            .fetch_add(dropped.len() as u64, Ordering::Relaxed);
        self.bytes.fetch_add(added, Ordering::Relaxed);
        self.memory.add(added);
        self.forget_bytes(evicted_bytes);
        let waiting = held.events.len() + held.spilled.len();
        drop(held);
        self.release(&dropped);
        Ok(Ok(waiting))
    }

    /// Marks this entry stopped if nothing is buffered or in flight and the project is not
    /// deleted (checked under the buffer lock, so a concurrent push either lands before and
    /// keeps it running, or finds it stopped and goes to a fresh entry); frees the buffer.
    pub fn stop_if_idle(&self) -> bool {
        let mut held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        if self.deleted.load(Ordering::Relaxed)
            || self.stopped.load(Ordering::Relaxed)
            || !held.events.is_empty()
            || !held.spilled.is_empty()
            || self.counters.in_flight.load(Ordering::Relaxed) > 0
        {
            return false;
        }
        self.stopped.store(true, Ordering::Relaxed);
        *held = Held::new(held.events.capacity());
        true
    }

    /// Whether this entry's writer stopped idle.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Takes the oldest buffered events out of memory for the node's memory cap: at least
    /// one (if any is buffered), and more until `want` bytes are freed or freeing another
    /// would go past `limit` bytes. With the spool they are spilled; those it does not hold
    /// are dropped, counted as `dropped_memory_cap`. Returns how many events were dropped,
    /// and the bytes freed.
    pub fn shed(&self, want: u64, limit: u64) -> (u64, u64) {
        let mut held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        let (mut gone, mut freed) = (Vec::new(), 0u64);
        while freed < want {
            let Some(next) = held.events.oldest().map(|e| e.footprint() as u64) else {
                break;
            };
            if !gone.is_empty() && freed + next > limit {
                break;
            }
            gone.extend(held.events.pop_oldest());
            freed += next;
        }
        let dropped = self.spill_out(&mut held, gone);
        self.counters
            .dropped_memory_cap
            .fetch_add(dropped.len() as u64, Ordering::Relaxed);
        self.forget_bytes(freed);
        drop(held);
        self.release(&dropped);
        (dropped.len() as u64, freed)
    }

    /// Marks the project deleted and drops what it buffers, counted as
    /// `dropped_project_deleted` (a batch in flight is counted so when it finishes); returns
    /// how many events were dropped now.
    pub fn retire(&self) -> u64 {
        let mut held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        self.deleted.store(true, Ordering::Relaxed);
        let gone = held.events.take_all();
        let spilled = std::mem::take(&mut held.spilled);
        let dropped = (gone.len() + spilled.len()) as u64;
        self.forget_bytes(self.bytes.load(Ordering::Relaxed));
        // A new, empty buffer: the memory of the old one goes back now.
        *held = Held::new(held.events.capacity());
        self.counters
            .dropped_project_deleted
            .fetch_add(dropped, Ordering::Relaxed);
        drop(held);
        self.release(&gone);
        if let Some(spool) = &self.spool {
            spool.release(spilled.iter().map(|s| s.id));
        }
        dropped
    }

    /// Whether the project was deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Relaxed)
    }

    /// Admits `n` events under the project's rate limit, or says how long to wait (and counts
    /// them as rate limited) or that `n` is over the burst (not counted: a 413, like any
    /// request too large).
    pub fn admit(&self, n: usize) -> Result<(), rate::Refused> {
        let Some(rate) = &self.rate else {
            return Ok(());
        };
        let n32 = u32::try_from(n).unwrap_or(u32::MAX);
        let result = rate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .try_take(n32, std::time::Instant::now());
        if let Err(rate::Refused::Wait(_)) = result {
            self.counters
                .rate_limited
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        result
    }

    /// Takes up to `max` of the oldest events into flight: spilled ones while any are
    /// waiting (they are the oldest), else buffered ones.
    pub fn take(&self, max: usize) -> Taken {
        let mut held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        if held.spilled.is_empty() {
            return Taken::Events(self.take_locked(&mut held, max));
        }
        let n = max.min(held.spilled.len());
        let batch: Vec<Spilled> = held.spilled.drain(..n).collect();
        self.counters
            .in_flight
            .fetch_add(n as u64, Ordering::Relaxed);
        self.taken.notify_waiters();
        Taken::Spilled(batch)
    }

    /// Takes up to `max` of the oldest buffered events into flight (not spilled ones).
    pub fn take_buffered(&self, max: usize) -> Vec<PendingEvent> {
        let mut held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        self.take_locked(&mut held, max)
    }

    fn take_locked(&self, held: &mut Held, max: usize) -> Vec<PendingEvent> {
        let batch = held.events.take(max);
        self.forget_bytes(batch.iter().map(|e| e.footprint() as u64).sum());
        self.counters
            .in_flight
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        self.taken.notify_waiters();
        batch
    }

    /// Accounts for a finished batch of `stored + failed + invalid` events taken by
    /// [`Self::take`] (failed events of a project deleted meanwhile count as
    /// `dropped_project_deleted`).
    pub fn finish(&self, stored: usize, failed: usize, invalid: usize) {
        // Under the buffer lock, so a snapshot never sees a batch both in flight and stored.
        let _held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        let c = &self.counters;
        c.stored.fetch_add(stored as u64, Ordering::Relaxed);
        let dropped = if self.deleted.load(Ordering::Relaxed) {
            &c.dropped_project_deleted
        } else {
            &c.dropped_flush_failed
        };
        dropped.fetch_add(failed as u64, Ordering::Relaxed);
        c.dropped_invalid
            .fetch_add(invalid as u64, Ordering::Relaxed);
        c.in_flight
            .fetch_sub((stored + failed + invalid) as u64, Ordering::Relaxed);
    }

    /// Events buffered now.
    pub fn buffered(&self) -> usize {
        self.buffer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .events
            .len()
    }

    /// Events waiting for the writer: buffered and spilled.
    pub fn waiting(&self) -> usize {
        let held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        held.events.len() + held.spilled.len()
    }

    /// A consistent copy of the counters (buffered includes the batch in flight).
    pub fn snapshot(&self) -> CounterSnapshot {
        let held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        self.counters
            .snapshot(held.events.len() as u64, held.spilled.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: usize) -> Vec<PendingEvent> {
        let body = br#"{"message":"m","level":"error","timestamp":"2026-11-29T12:00:00Z"}"#;
        (0..n)
            .map(|_| {
                let event = crate::domain::parse_event(body).unwrap();
                PendingEvent::new(event, chrono::Utc::now())
            })
            .collect()
    }

    #[test]
    fn a_deleted_project_drops_its_buffer_and_flight_and_accepts_nothing() {
        let shared = ProjectShared::new(ProjectId::new(), 10, None);
        shared.push(events(5)).unwrap().unwrap();
        let flight = shared.take(2);
        assert_eq!(shared.retire(), 3);
        assert!(shared.snapshot().is_accounted());
        assert!(matches!(shared.push(events(1)), Err(ProjectDeleted)));
        // The batch in flight fails (its project is gone): counted as deleted, not failed.
        shared.finish(0, flight.len(), 0);
        let s = shared.snapshot();
        assert_eq!(
            (
                s.accepted,
                s.dropped_project_deleted,
                s.dropped_flush_failed,
                s.buffered
            ),
            (5, 5, 0, 0)
        );
        assert!(s.is_accounted());
    }

    #[test]
    fn an_entry_stops_only_when_idle_and_then_hands_events_back() {
        let shared = ProjectShared::new(ProjectId::new(), 10, None);
        shared.push(events(2)).unwrap().unwrap();
        assert!(!shared.stop_if_idle(), "something is buffered");
        let flight = shared.take(2);
        assert!(!shared.stop_if_idle(), "a batch is in flight");
        shared.finish(flight.len(), 0, 0);
        assert!(shared.stop_if_idle());
        assert!(shared.is_stopped());
        // A push that lost the race is handed back whole and not counted here.
        let back = shared.push(events(3)).unwrap().unwrap_err();
        assert_eq!(back.len(), 3);
        let s = shared.snapshot();
        assert_eq!((s.accepted, s.stored, s.buffered), (2, 2, 0));
        // A deleted project's entry never stops idle (it keeps refusing events).
        let deleted = ProjectShared::new(ProjectId::new(), 10, None);
        deleted.retire();
        assert!(!deleted.stop_if_idle());
    }
}

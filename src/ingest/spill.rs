//! Spilling, with the durable spool on: the events a full buffer or the node's memory cap
//! pushes out stay only in the spool, queued per project as [`Spilled`] entries under the
//! buffer's lock, and go back into flight from there (see [`ProjectShared::take`]); a batch
//! that could not be written goes back to the front of the queue; a segment deleted at
//! `writer.spool_max_bytes` takes its spilled events with it (`dropped_spool_full`).
//! docs/architecture.md, “Durable spool”.

use std::sync::atomic::Ordering;

use super::spool::Spilled;
use super::{Held, ProjectDeleted, ProjectShared};
use crate::domain::{EventId, PendingEvent};

impl ProjectShared {
    /// Events pushed out of the buffer to make room — by a newer one when the buffer is
    /// full, or by the node's memory cap — under the buffer lock: those the spool holds are
    /// **spilled** (kept only there, at the back of the spilled queue, read back later); the
    /// others (no spool, or their segment deleted at `spool_max_bytes`) are handed back, for
    /// the caller to count as dropped and release.
    pub(super) fn spill_out(
        &self,
        held: &mut Held,
        victims: Vec<PendingEvent>,
    ) -> Vec<PendingEvent> {
        let Some(spool) = &self.spool else {
            return victims;
        };
        if victims.is_empty() {
            return victims;
        }
        let locs = spool.spill(victims.iter().map(|e| e.id));
        let mut dropped = Vec::new();
        for (event, at) in victims.into_iter().zip(locs) {
            match at {
                Some(at) => held.spilled.push_back(Spilled { id: event.id, at }),
                None => dropped.push(event),
            }
        }
        dropped
    }

    /// Events of a batch in flight that could not be written (a transient failure after
    /// every retry) go back to the spool as spilled, at the front of the queue (they are the
    /// oldest): answers, for each, whether it did (the spool holds it, and the project was
    /// not deleted). The others are still in flight, for the caller to count.
    pub fn respill(&self, ids: &[EventId]) -> Vec<bool> {
        let Some(spool) = &self.spool else {
            return vec![false; ids.len()];
        };
        let mut held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        if self.deleted.load(Ordering::Relaxed) {
            return vec![false; ids.len()]; // dropped with the project
        }
        let locs = spool.spill(ids.iter().copied());
        let back: Vec<Spilled> = ids
            .iter()
            .zip(&locs)
            .filter_map(|(id, at)| {
                Some(Spilled {
                    id: *id,
                    at: (*at)?,
                })
            })
            .collect();
        self.counters
            .in_flight
            .fetch_sub(back.len() as u64, Ordering::Relaxed);
        for s in back.into_iter().rev() {
            held.spilled.push_front(s);
        }
        locs.iter().map(Option::is_some).collect()
    }

    /// Spills every buffered event the spool holds (shutdown with the database
    /// unreachable: they stay in the spool for the next start); the others stay buffered.
    /// Returns how many were spilled.
    pub fn spill_buffered(&self) -> usize {
        let mut held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        let all = held.events.take_all();
        let before = held.spilled.len();
        let bytes: u64 = all.iter().map(|e| e.footprint() as u64).sum();
        let kept = self.spill_out(&mut held, all);
        let kept_bytes: u64 = kept.iter().map(|e| e.footprint() as u64).sum();
        for e in kept {
            held.events.push(e);
        }
        self.forget_bytes(bytes - kept_bytes);
        held.spilled.len() - before
    }

    /// `n` spilled events of the batch in flight could not be read back (their segment was
    /// deleted at `spool_max_bytes` meanwhile): dropped, `dropped_spool_full`.
    pub fn lost(&self, n: usize) {
        let _held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        let c = &self.counters;
        c.dropped_spool_full.fetch_add(n as u64, Ordering::Relaxed);
        c.in_flight.fetch_sub(n as u64, Ordering::Relaxed);
    }

    /// The spool deleted segments `seqs` at `spool_max_bytes`: the spilled events they held
    /// are gone, counted `dropped_spool_full`. Returns how many.
    pub fn drop_lost(&self, seqs: &[u64]) -> usize {
        let mut held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        let before = held.spilled.len();
        held.spilled.retain(|s| !seqs.contains(&s.at.seq));
        let gone = before - held.spilled.len();
        self.counters
            .dropped_spool_full
            .fetch_add(gone as u64, Ordering::Relaxed);
        gone
    }

    /// Takes in events a previous run spooled (replay), as spilled events, counted accepted;
    /// `Ok(Err(spilled))` (not counted) when this entry's writer stopped idle.
    pub fn adopt(&self, spilled: Vec<Spilled>) -> Result<Result<(), Vec<Spilled>>, ProjectDeleted> {
        let mut held = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
        if self.deleted.load(Ordering::Relaxed) {
            if let Some(spool) = &self.spool {
                spool.release(spilled.iter().map(|s| s.id));
            }
            return Err(ProjectDeleted);
        }
        if self.stopped.load(Ordering::Relaxed) {
            return Ok(Err(spilled));
        }
        self.counters
            .accepted
            .fetch_add(spilled.len() as u64, Ordering::Relaxed);
        held.spilled.extend(spilled);
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Settings, SpoolFsync};
    use crate::domain::ProjectId;
    use crate::ingest::{Taken, spool};

    fn events(n: usize) -> Vec<PendingEvent> {
        let body = br#"{"message":"m","level":"error","timestamp":"2026-11-29T12:00:00Z"}"#;
        (0..n)
            .map(|_| {
                PendingEvent::new(
                    crate::domain::parse_event(body).unwrap(),
                    chrono::Utc::now(),
                )
            })
            .collect()
    }

    /// With the spool, a full buffer spills its oldest events (counted spilled, not
    /// dropped); the flight takes the spilled ones first; a batch that failed goes back to
    /// the front of the queue; a segment deleted at the cap drops the spilled events it held,
    /// counted `spool_full`. The accounting holds at every step. Without the spool, the
    /// same push drops, as before.
    #[actix_rt::test]
    async fn a_full_buffer_spills_and_the_flight_takes_the_spilled_first() {
        let dir = std::env::temp_dir().join(format!("mesher-spill-unit-{}", uuid::Uuid::now_v7()));
        let mut settings = Settings::load_from(std::path::Path::new("/nonexistent"), "none", false)
            .expect("defaults")
            .writer;
        settings.spool_fsync = SpoolFsync::Always;
        let (spool, _) = spool::Spool::open(&dir, &settings).unwrap();
        let p = ProjectId::new();
        let shared = ProjectShared::new(p, 4, None).with_spool(Some(spool.clone()));
        let all = events(10);
        let ids: Vec<EventId> = all.iter().map(|e| e.id).collect();
        spool.append(p, &all).await.unwrap();
        shared.push(all).unwrap().unwrap();
        let s = shared.snapshot();
        assert_eq!(
            (s.accepted, s.buffered, s.spilled, s.dropped()),
            (10, 4, 6, 0)
        );
        assert!(s.is_accounted());

        let Taken::Spilled(first) = shared.take(4) else {
            panic!("the spilled events go first");
        };
        assert_eq!(first.iter().map(|s| s.id).collect::<Vec<_>>(), ids[..4]);
        let read: Vec<EventId> = spool
            .read(&first)
            .into_iter()
            .map(|e| e.unwrap().id)
            .collect();
        assert_eq!(read, ids[..4]);
        let s = shared.snapshot();
        assert_eq!((s.buffered, s.spilled), (8, 2), "4 buffered, 4 in flight");
        assert!(s.is_accounted());

        assert_eq!(shared.respill(&ids[..4]), vec![true; 4]);
        let s = shared.snapshot();
        assert_eq!((s.buffered, s.spilled), (4, 6));
        assert!(s.is_accounted());
        let Taken::Spilled(again) = shared.take(1) else {
            panic!("spilled");
        };
        assert_eq!(again[0].id, ids[0], "back at the front");
        assert_eq!(shared.respill(&ids[..1]), vec![true]);

        assert_eq!(shared.drop_lost(&[first[0].at.seq]), 6);
        let s = shared.snapshot();
        assert_eq!((s.dropped_spool_full, s.spilled, s.buffered), (6, 0, 4));
        assert!(s.is_accounted());
        spool.close();
        let _ = std::fs::remove_dir_all(&dir);

        let plain = ProjectShared::new(ProjectId::new(), 4, None);
        plain.push(events(6)).unwrap().unwrap();
        let s = plain.snapshot();
        assert_eq!((s.dropped_buffer_full, s.spilled, s.buffered), (2, 0, 4));
        assert!(s.is_accounted());
    }
}

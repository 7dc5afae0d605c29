//! Project → writer. Writers start on a project's first event, each under an actix
//! `Supervisor`, spread over a few dedicated arbiters (never the HTTP workers' threads).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::domain::ProjectId;
use actix::prelude::*;
use dashmap::DashMap;

use super::writer::{Crash, Drain, StorageWriter, Wake};
use super::{CounterSnapshot, ProjectShared};
use crate::config::WriterSettings;
use crate::db::DbPool;
use crate::domain::PendingEvent;

/// A running writer and what it shares.
#[derive(Clone)]
struct Handle {
    addr: Addr<StorageWriter>,
    shared: Arc<ProjectShared>,
}

struct Inner {
    writers: DashMap<ProjectId, Handle>,
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: AtomicUsize,
    pool: DbPool,
    settings: WriterSettings,
}

/// Finds, starts and replaces per-project storage writers. Cheap to clone.
#[derive(Clone)]
pub struct WriterRegistry {
    inner: Arc<Inner>,
}

impl WriterRegistry {
    /// A registry whose writers run on `arbiters` dedicated threads. Call inside a System.
    pub fn new(pool: DbPool, settings: WriterSettings, arbiters: usize) -> Self {
        let arbiters = (0..arbiters.max(1))
            .map(|_| Arbiter::new().handle())
            .collect();
        Self {
            inner: Arc::new(Inner {
                writers: DashMap::new(),
                arbiters,
                next_arbiter: AtomicUsize::new(0),
                pool,
                settings,
            }),
        }
    }

    fn start(&self, shared: Arc<ProjectShared>) -> Addr<StorageWriter> {
        let i = self.inner.next_arbiter.fetch_add(1, Ordering::Relaxed);
        let arbiter = &self.inner.arbiters[i % self.inner.arbiters.len()];
        let (pool, settings) = (self.inner.pool.clone(), self.inner.settings.clone());
        Supervisor::start_in_arbiter(arbiter, move |_| StorageWriter::new(shared, pool, settings))
    }

    fn handle(&self, project_id: ProjectId) -> Handle {
        if let Some(h) = self.inner.writers.get(&project_id) {
            return h.clone();
        }
        self.inner
            .writers
            .entry(project_id)
            .or_insert_with(|| {
                let s = &self.inner.settings;
                let rate = (s.rate_limit_per_sec > 0)
                    .then_some((s.rate_limit_per_sec, s.rate_limit_burst));
                let shared = Arc::new(ProjectShared::new(project_id, s.buffer_capacity, rate));
                Handle {
                    addr: self.start(shared.clone()),
                    shared,
                }
            })
            .clone()
    }

    /// Puts accepted events in the project's buffer and wakes its writer when a batch is full.
    pub fn push(&self, project_id: ProjectId, events: Vec<PendingEvent>) {
        let handle = self.handle(project_id);
        let len = handle.shared.push(events);
        if len >= self.inner.settings.batch_size
            && !handle.shared.wake_pending.swap(true, Ordering::AcqRel)
        {
            self.wake(project_id, &handle);
        }
    }

    fn wake(&self, project_id: ProjectId, handle: &Handle) {
        match handle.addr.try_send(Wake) {
            Ok(()) => {}
            Err(SendError::Full(_)) => {
                // The writer has plenty to do already; its timer and FlushDone keep it going.
                handle.shared.wake_pending.store(false, Ordering::Release);
            }
            Err(SendError::Closed(_)) => {
                // The actor is gone for good (it should have been restarted): replace it,
                // keeping the buffer and counters.
                tracing::error!(%project_id, "storage writer mailbox closed; starting a new writer");
                handle
                    .shared
                    .counters
                    .writer_restarts
                    .fetch_add(1, Ordering::Relaxed);
                let addr = self.start(handle.shared.clone());
                handle.shared.wake_pending.store(false, Ordering::Release);
                let _ = addr.try_send(Wake);
                self.inner.writers.insert(
                    project_id,
                    Handle {
                        addr,
                        shared: handle.shared.clone(),
                    },
                );
            }
        }
    }

    /// Admits `n` events of the project under its rate limit, or says why not.
    pub fn admit(&self, project_id: ProjectId, n: usize) -> Result<(), super::rate::Refused> {
        if self.inner.settings.rate_limit_per_sec == 0 {
            return Ok(()); // no limit configured: no lookup on the hot path
        }
        self.handle(project_id).shared.admit(n)
    }

    /// Counts an event of the project that was refused as invalid.
    pub fn count_rejected(&self, project_id: ProjectId, n: u64) {
        self.handle(project_id)
            .shared
            .counters
            .rejected
            .fetch_add(n, Ordering::Relaxed);
    }

    /// The project's counters (zero when it has received nothing since start).
    pub fn snapshot(&self, project_id: ProjectId) -> CounterSnapshot {
        self.inner
            .writers
            .get(&project_id)
            .map(|h| h.shared.snapshot())
            .unwrap_or_default()
    }

    /// Every known project's counters.
    pub fn snapshots(&self) -> Vec<(ProjectId, CounterSnapshot)> {
        self.inner
            .writers
            .iter()
            .map(|h| (*h.key(), h.shared.snapshot()))
            .collect()
    }

    /// Asks the project's writer to panic (honoured only with `writer.allow_crash`).
    pub fn crash(&self, project_id: ProjectId) {
        let _ = self.handle(project_id).addr.try_send(Crash);
    }

    /// Flushes every buffer and waits until all is stored or accounted for, then stops the
    /// writers' arbiters. For graceful shutdown, after the HTTP server has stopped.
    pub async fn drain(&self) {
        let handles: Vec<Handle> = self.inner.writers.iter().map(|h| h.clone()).collect();
        let drains = handles.iter().map(|h| h.addr.send(Drain));
        for (handle, result) in handles
            .iter()
            .zip(futures_util::future::join_all(drains).await)
        {
            if let Err(e) = result {
                tracing::error!(project_id = %handle.shared.project_id, error = %e, "writer unavailable at shutdown");
            }
        }
        for arbiter in &self.inner.arbiters {
            arbiter.stop();
        }
    }
}

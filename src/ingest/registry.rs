//! Project → writer. Writers start on a project's first event, each under an actix
//! `Supervisor`, spread over a few dedicated arbiters (never the HTTP workers' threads). A
//! deleted project's writer is stopped and its buffer dropped and counted ([`forget`]); its
//! entry stays, with its final counters and no writer, so a late event cannot start one.
//!
//! A writer whose project received nothing for `writer.idle_stop_secs`, with nothing buffered
//! or in flight, stops and its entry (buffer, rate bucket, actor) leaves the map; the next
//! event starts a fresh one. The project's counters outlive it in `totals` (a few atomics per
//! project ever seen on this node), so `/metrics` never goes backwards.
//!
//! [`forget`]: WriterRegistry::forget

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::domain::ProjectId;
use actix::prelude::*;
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use super::facts::FactsBus;
use super::group::{GroupCounters, GroupWriter};
use super::memory::{self, MemoryCap};
use super::spool::{Spool, SpoolError};
use super::writer::{Alive, Crash, Drain, IdleStop, Retire, StorageWriter, Wake};
use super::{CounterSnapshot, Counters, ProjectDeleted, ProjectShared};
use crate::config::WriterSettings;
use crate::db::DbPool;
use crate::db::copy::CopyPool;
use crate::domain::PendingEvent;

/// A project's writer and what it shares; no writer once the project is deleted (dropping
/// the last address is what keeps the `Supervisor` from restarting it).
#[derive(Clone)]
struct Handle {
    addr: Option<Addr<StorageWriter>>,
    shared: Arc<ProjectShared>,
}

struct Inner {
    writers: DashMap<ProjectId, Handle>,
    /// Every project's counters, kept when its writer stops idle (never removed).
    totals: DashMap<ProjectId, Arc<Counters>>,
    /// `StorageWriter` actors alive now.
    alive: Arc<AtomicUsize>,
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: AtomicUsize,
    pool: DbPool,
    /// Where writers `COPY` the events rows (`writer.copy_events`), when set.
    copy: Option<CopyPool>,
    /// Where writers hand their small batches (`writer.group_below`), with `copy`.
    group: Option<GroupWriter>,
    settings: WriterSettings,
    spool: Option<Spool>,
    /// Where writers hand the facts of each committed batch.
    facts: FactsBus,
    /// Every buffer's bytes together, and `writer.max_buffered_bytes`.
    memory: Arc<MemoryCap>,
    /// `Wake` messages sent to writers (each one a wake-up of the writer's thread).
    wakes: AtomicU64,
}

/// Why accepted events could not be taken in.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error(transparent)]
    Deleted(#[from] ProjectDeleted),
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// Finds, starts and replaces per-project storage writers. Cheap to clone.
#[derive(Clone)]
pub struct WriterRegistry {
    inner: Arc<Inner>,
}

impl WriterRegistry {
    /// A registry whose writers run on `arbiters` dedicated threads. Call inside a System.
    pub fn new(pool: DbPool, settings: WriterSettings, arbiters: usize) -> Self {
        Self::with_spool(pool, settings, arbiters, None, FactsBus::new())
    }

    /// The same, with the node's durable spool (see [`Self::accept`]) and the bus the
    /// writers publish each committed batch's facts to.
    pub fn with_spool(
        pool: DbPool,
        settings: WriterSettings,
        arbiters: usize,
        spool: Option<Spool>,
        facts: FactsBus,
    ) -> Self {
        let arbiters = (0..arbiters.max(1))
            .map(|_| Arbiter::new().handle())
            .collect();
        let registry = Self {
            inner: Arc::new(Inner {
                writers: DashMap::new(),
                totals: DashMap::new(),
                alive: Arc::default(),
                arbiters,
                next_arbiter: AtomicUsize::new(0),
                pool,
                copy: None,
                group: None,
                memory: Arc::new(MemoryCap::new(settings.max_buffered_bytes)),
                settings,
                spool,
                facts,
                wakes: AtomicU64::new(0),
            }),
        };
        if let Some(spool) = &registry.inner.spool {
            // Segments deleted at spool_max_bytes: their spilled events are lost.
            let inner = Arc::downgrade(&registry.inner);
            spool.on_lost(move |seqs| {
                if let Some(inner) = inner.upgrade() {
                    inner.drop_lost(seqs);
                }
            });
        }
        registry
    }

    /// Takes in what a previous run left in the spool: each project's events come back as
    /// spilled events (counted accepted), which its writer reads back a batch at a time, so
    /// a big spool costs its index, not its events, in memory. A project deleted on this
    /// node meanwhile (not possible at start) has them released.
    pub fn adopt(&self, replay: super::spool::Replay) {
        for (project_id, mut spilled) in replay {
            loop {
                let handle = self.handle(project_id);
                match handle.shared.adopt(spilled) {
                    Ok(Ok(())) => break,
                    Ok(Err(back)) => spilled = back,
                    Err(ProjectDeleted) => break,
                }
            }
        }
    }

    /// The same, its writers sending the events rows by `COPY` through `copy`, and their
    /// batches of fewer than `writer.group_below` events through a group writer on the first
    /// writers' arbiter (call before the registry is cloned or used).
    pub fn with_copy(mut self, copy: Option<CopyPool>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.group = copy
                .as_ref()
                .filter(|_| inner.settings.group_below > 0)
                .map(|copy| GroupWriter::start(&inner.arbiters[0], copy.clone(), &inner.settings));
            inner.copy = copy;
        }
        self
    }

    /// `Wake` messages sent to writers since the start (`mesher_writer_wakes_total`).
    pub fn wakes(&self) -> u64 {
        self.inner.wakes.load(Ordering::Relaxed)
    }

    /// How the group writer's transactions went (none without one).
    pub fn group_counters(&self) -> Option<&GroupCounters> {
        self.inner.group.as_ref().map(GroupWriter::counters)
    }

    fn start(&self, shared: Arc<ProjectShared>) -> Addr<StorageWriter> {
        let i = self.inner.next_arbiter.fetch_add(1, Ordering::Relaxed);
        let arbiter = &self.inner.arbiters[i % self.inner.arbiters.len()];
        let (pool, settings) = (self.inner.pool.clone(), self.inner.settings.clone());
        let (facts, copy) = (self.inner.facts.clone(), self.inner.copy.clone());
        let group = self.inner.group.clone();
        let alive = Alive::new(&self.inner.alive);
        let idle = (settings.idle_stop_secs > 0).then(|| {
            let (inner, shared) = (Arc::downgrade(&self.inner), shared.clone());
            let reap = move || {
                inner
                    .upgrade()
                    .is_some_and(|inner| inner.reap_idle(&shared))
            };
            IdleStop::new(Duration::from_secs(settings.idle_stop_secs), Box::new(reap))
        });
        Supervisor::start_in_arbiter(arbiter, move |_| {
            StorageWriter::new(shared, pool, settings, facts)
                .with_copy(copy, group)
                .with_lifecycle(alive, idle)
        })
    }

    /// `StorageWriter` actors alive now (started and not yet ended).
    pub fn live_writers(&self) -> usize {
        self.inner.alive.load(Ordering::Relaxed)
    }

    fn handle(&self, project_id: ProjectId) -> Handle {
        if let Some(h) = self.inner.writers.get(&project_id) {
            return h.clone();
        }
        self.inner
            .writers
            .entry(project_id)
            .or_insert_with(|| {
                let shared = self.new_shared(project_id);
                Handle {
                    addr: Some(self.start(shared.clone())),
                    shared,
                }
            })
            .clone()
    }

    /// A fresh entry's shared part, counting into the project's counters (called under the
    /// entry's lock, so `totals` is locked after `writers`, never the other way round).
    fn new_shared(&self, project_id: ProjectId) -> Arc<ProjectShared> {
        let s = &self.inner.settings;
        let rate = (s.rate_limit_per_sec > 0).then_some((s.rate_limit_per_sec, s.rate_limit_burst));
        let counters = self.inner.totals.entry(project_id).or_default().clone();
        Arc::new(
            ProjectShared::new(project_id, s.buffer_capacity, rate)
                .with_counters(counters)
                .with_spool(self.inner.spool.clone())
                .with_memory(self.inner.memory.clone()),
        )
    }

    /// The bus the writers publish committed batches' facts to.
    pub fn facts(&self) -> &FactsBus {
        &self.inner.facts
    }

    /// The node's durable spool, when `writer.spool_dir` is set.
    pub fn spool(&self) -> Option<&Spool> {
        self.inner.spool.as_ref()
    }

    /// Takes in events accepted by the HTTP edge: with a spool, they are first appended to it
    /// and synced (so the caller's 202 means "on disk"), then buffered ([`Self::push`]).
    pub async fn accept(
        &self,
        project_id: ProjectId,
        events: Vec<PendingEvent>,
    ) -> Result<(), AcceptError> {
        let (shared, waiting) = match &self.inner.spool {
            None => self.push(project_id, events)?,
            Some(spool) => {
                if self.handle(project_id).shared.is_deleted() {
                    return Err(ProjectDeleted.into());
                }
                spool.append(project_id, &events).await?;
                let ids: Vec<_> = events.iter().map(|e| e.id).collect();
                self.push(project_id, events)
                    .inspect_err(|_| spool.release(ids))?
            }
        };
        self.answer_later(&shared, waiting).await;
        Ok(())
    }

    /// While the project's backlog is over half its buffer, the answer waits (at most
    /// `writer.answer_later_ms`) until the writer takes its next batch. The events are
    /// buffered already; what waits is the client: one that sends as fast as answers come
    /// then sends about as fast as the database stores, instead of having the node parse
    /// events only to drop them as the oldest of a full buffer (docs/architecture.md,
    /// "Answering later under a backlog").
    /// `waiting` is what the push left waiting (no second look at the buffer per request).
    async fn answer_later(&self, shared: &ProjectShared, waiting: usize) {
        let settings = &self.inner.settings;
        let backlog = settings.buffer_capacity / 2;
        if settings.answer_later_ms == 0 || waiting <= backlog {
            return;
        }
        let mut taken = std::pin::pin!(shared.taken.notified());
        taken.as_mut().enable();
        if shared.waiting() <= backlog {
            return; // a batch was taken meanwhile
        }
        let wait = Duration::from_millis(settings.answer_later_ms);
        let _ = actix_rt::time::timeout(wait, taken).await;
    }

    /// Puts accepted events in the project's buffer and wakes its writer when a batch is full;
    /// refuses them when the project was deleted. Answers the project's shared state and how
    /// many of its events wait for the writer.
    pub fn push(
        &self,
        project_id: ProjectId,
        events: Vec<PendingEvent>,
    ) -> Result<(Arc<ProjectShared>, usize), ProjectDeleted> {
        let mut events = events;
        let (handle, waiting) = loop {
            let handle = self.handle(project_id);
            match handle.shared.push(events)? {
                Ok(waiting) => break (handle, waiting),
                // Its writer stopped idle just now and the entry is gone: start a fresh one.
                Err(back) => events = back,
            }
        };
        if self.inner.memory.is_over() {
            self.enforce_memory_cap();
        }
        // No wake-up while a flush is in flight: it looks at the buffer again when it is done
        // (`FlushDone`, sent after `flushing` is cleared, so it sees this push). Under a
        // backlog the buffer is over a batch all the time, and waking the writer on every
        // push cost a message and a cross-thread wake-up per request.
        if waiting >= self.inner.settings.batch_size
            && !handle.shared.flushing.load(Ordering::Acquire)
            && !handle.shared.wake_pending.swap(true, Ordering::AcqRel)
        {
            self.wake(project_id, &handle);
        }
        Ok((handle.shared, waiting))
    }

    /// The slow path of a push that took the node over `writer.max_buffered_bytes`: the
    /// largest buffers drop their oldest events until it is under (see [`memory`]).
    fn enforce_memory_cap(&self) {
        let projects: Vec<Arc<ProjectShared>> = self
            .inner
            .writers
            .iter()
            .map(|h| h.shared.clone())
            .collect();
        let dropped = memory::enforce(&self.inner.memory, &projects);
        if dropped > 0 {
            crate::log_limited!(
                warn,
                events = dropped,
                buffered_bytes = self.inner.memory.used(),
                max_buffered_bytes = self.inner.memory.max(),
                "buffers over writer.max_buffered_bytes; the oldest events of the largest dropped"
            );
        }
    }

    /// Bytes of every project's buffered events together (see [`memory`]).
    pub fn buffered_bytes(&self) -> u64 {
        self.inner.memory.used()
    }

    /// `writer.max_buffered_bytes`.
    pub fn max_buffered_bytes(&self) -> u64 {
        self.inner.memory.max()
    }

    /// The project was deleted: stops its writer, drops what it buffers (counted as
    /// `dropped_project_deleted`, as is a batch in flight when it finishes) and refuses its
    /// events from now on. Its counters stay readable. Returns how many events were dropped.
    pub fn forget(&self, project_id: ProjectId) -> u64 {
        let mut handle = self
            .inner
            .writers
            .entry(project_id)
            .or_insert_with(|| Handle {
                addr: None,
                shared: self.new_shared(project_id),
            });
        let dropped = handle.shared.retire();
        if let Some(addr) = handle.addr.take() {
            // The writer stops; with this last address gone its supervisor lets it go.
            let _ = addr.try_send(Retire);
        }
        dropped
    }

    fn wake(&self, project_id: ProjectId, handle: &Handle) {
        let Some(addr) = &handle.addr else {
            return;
        };
        match addr.try_send(Wake) {
            Ok(()) => {
                self.inner.wakes.fetch_add(1, Ordering::Relaxed);
            }
            Err(SendError::Full(_)) => {
                // The writer has plenty to do already; its timer and FlushDone keep it going.
                handle.shared.wake_pending.store(false, Ordering::Release);
            }
            Err(SendError::Closed(_)) => {
                // The actor is gone for good (it should have been restarted): replace it,
                // keeping the buffer and counters; unless the project was deleted meanwhile
                // (checked under the entry's lock, which `forget` takes too).
                let Some(mut entry) = self.inner.writers.get_mut(&project_id) else {
                    return;
                };
                if entry.shared.is_deleted() {
                    return;
                }
                match &entry.addr {
                    None => return,
                    // Another request replaced it already.
                    Some(current) if current.connected() => {
                        let _ = current.try_send(Wake);
                        return;
                    }
                    Some(_) => {}
                }
                tracing::error!(%project_id, "storage writer mailbox closed; starting a new writer");
                entry
                    .shared
                    .counters
                    .writer_restarts
                    .fetch_add(1, Ordering::Relaxed);
                let addr = self.start(entry.shared.clone());
                entry.shared.wake_pending.store(false, Ordering::Release);
                let _ = addr.try_send(Wake);
                entry.addr = Some(addr);
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
        if let Some(h) = self.inner.writers.get(&project_id) {
            return h.shared.snapshot();
        }
        let counters = self.inner.totals.get(&project_id).map(|c| c.clone());
        counters.map(|c| c.snapshot(0, 0)).unwrap_or_default()
    }

    /// Every known project's counters, whether its writer runs or stopped idle.
    pub fn snapshots(&self) -> Vec<(ProjectId, CounterSnapshot)> {
        let ids: Vec<ProjectId> = self.inner.totals.iter().map(|c| *c.key()).collect();
        ids.into_iter().map(|id| (id, self.snapshot(id))).collect()
    }

    /// Asks the project's writer to panic (honoured only with `writer.allow_crash`).
    pub fn crash(&self, project_id: ProjectId) {
        if let Some(addr) = &self.handle(project_id).addr {
            let _ = addr.try_send(Crash);
        }
    }

    /// Flushes every buffer and waits until all is stored or accounted for, then stops the
    /// writers' arbiters. For graceful shutdown, after the HTTP server has stopped.
    pub async fn drain(&self) {
        let handles: Vec<(Arc<ProjectShared>, Addr<StorageWriter>)> = self
            .inner
            .writers
            .iter()
            .filter_map(|h| Some((h.shared.clone(), h.addr.clone()?)))
            .collect();
        let drains = handles.iter().map(|(_, addr)| addr.send(Drain));
        for ((shared, _), result) in handles
            .iter()
            .zip(futures_util::future::join_all(drains).await)
        {
            if let Err(e) = result {
                tracing::error!(project_id = %shared.project_id, error = %e, "writer unavailable at shutdown");
            }
        }
        for arbiter in &self.inner.arbiters {
            arbiter.stop();
        }
        if let Some(spool) = &self.inner.spool {
            spool.close();
            tracing::info!(outstanding = spool.outstanding(), "spool closed");
        }
    }
}

impl Inner {
    /// The spool deleted segments `seqs` at `writer.spool_max_bytes`: every project drops
    /// the spilled events they held, counted `dropped_spool_full`.
    fn drop_lost(&self, seqs: &[u64]) {
        let projects: Vec<Arc<ProjectShared>> =
            self.writers.iter().map(|h| h.shared.clone()).collect();
        let lost: usize = projects.iter().map(|p| p.drop_lost(seqs)).sum();
        if lost > 0 {
            crate::log_limited!(
                warn,
                events = lost,
                "spool at writer.spool_max_bytes: its oldest segments deleted, with spilled events only they held (dropped, spool_full)"
            );
        }
    }

    /// Takes an idle writer's entry out of the map, if it is still `shared`'s and nothing is
    /// buffered or in flight (re-checked under the entry's lock, then the buffer's; a push
    /// racing with it either lands first and keeps the writer, or is handed back and starts
    /// a fresh entry). Dropping the entry drops the registry's address of the writer, so its
    /// supervisor does not restart it. Called by the writer from its timer.
    fn reap_idle(&self, shared: &Arc<ProjectShared>) -> bool {
        let Entry::Occupied(entry) = self.writers.entry(shared.project_id) else {
            return false;
        };
        if !Arc::ptr_eq(&entry.get().shared, shared) || !shared.stop_if_idle() {
            return false;
        }
        entry.remove();
        true
    }
}

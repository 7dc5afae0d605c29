//! `StorageWriter`: one actor per project that flushes the project's buffer to PostgreSQL.
//!
//! The buffer itself lives in [`ProjectShared`]: the HTTP edge appends to it directly (a
//! short per-project lock, no mailbox round trip, so "202" means "in the buffer"), and a
//! writer crash loses no buffered event. The actor owns the flush policy: a batch when the
//! buffer reaches `batch_size` (the edge sends [`Wake`]) or when the timer fires, one batch in
//! flight at a time, retries with exponential backoff and jitter, then drop-and-count.
//!
//! The flush runs as a task of its own, not inside the actor's context: the mailbox keeps
//! being served while the database is slow (waiting on it inside the actor would stall the
//! mailbox for a whole flush), and a restarted actor does not cancel a batch halfway (see
//! docs/architecture.md, “In the writer” and “Supervision and restarts”). The task does its own accounting
//! (stored or dropped) and clears the in-flight flag, whatever happens to the actor.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::FutureExt;
use rand::Rng;

use super::facts::FactsBus;
use super::group::GroupWriter;
use super::spool::Spilled;
use super::{ProjectShared, Taken};
use crate::config::WriterSettings;
use crate::db::copy::CopyPool;
use crate::db::failure::Failure;
use crate::db::{self, DbError, DbPool};
use crate::domain::{BatchFacts, EventId, PendingEvent};

/// The writer of one project.
pub struct StorageWriter {
    shared: Arc<ProjectShared>,
    pool: Pools,
    settings: WriterSettings,
    /// Where the facts of each committed batch go (never waited on).
    facts: FactsBus,
    /// The flush timer; cancelled when the project is deleted, after which the actor ends
    /// as soon as its last address is dropped.
    timer: Option<SpawnHandle>,
    /// Stop when idle (`writer.idle_stop_secs`), set by the registry.
    idle: Option<IdleStop>,
    /// Counted in the registry's live writers while this actor exists.
    _alive: Option<Alive>,
}

/// Counts live writers: one per `StorageWriter`, given back when the actor is dropped (after
/// its supervisor let it go), so the count shows whether stopped writers really went.
pub struct Alive(Arc<AtomicUsize>);

impl Alive {
    pub fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How a writer stops when its project has been idle: after `after` with no event accepted,
/// on a timer tick, it asks `reap` to take its entry out of the registry (which re-checks,
/// under the entry's and the buffer's locks, that nothing is buffered or in flight); when
/// that succeeds the registry holds no address of it any more, and the writer ends.
pub struct IdleStop {
    after: Duration,
    reap: Box<dyn Fn() -> bool + Send>,
    /// `accepted` when last seen, and since when it has not moved.
    seen: u64,
    since: Instant,
}

impl IdleStop {
    pub fn new(after: Duration, reap: Box<dyn Fn() -> bool + Send>) -> Self {
        Self {
            after,
            reap,
            seen: 0,
            since: Instant::now(),
        }
    }
}

/// The connections a writer uses: diesel's pool, the pool it `COPY`s the events rows
/// through when `writer.copy_events` is on (`db/copy.rs`), and the node's group writer its
/// small batches go to (`writer.group_below`, `ingest/group.rs`).
#[derive(Clone)]
pub struct Pools {
    pub pool: DbPool,
    pub copy: Option<CopyPool>,
    pub group: Option<GroupWriter>,
}

impl StorageWriter {
    pub fn new(
        shared: Arc<ProjectShared>,
        pool: DbPool,
        settings: WriterSettings,
        facts: FactsBus,
    ) -> Self {
        Self {
            shared,
            pool: Pools {
                pool,
                copy: None,
                group: None,
            },
            settings,
            facts,
            timer: None,
            idle: None,
            _alive: None,
        }
    }

    /// The same, sending the events rows by `COPY` through `copy` (when given), its small
    /// batches through `group` (when given).
    pub fn with_copy(mut self, copy: Option<CopyPool>, group: Option<GroupWriter>) -> Self {
        self.pool.copy = copy;
        self.pool.group = group;
        self
    }

    /// The same, counted in `alive` and stopping when idle as `idle` says.
    pub fn with_lifecycle(mut self, alive: Alive, idle: Option<IdleStop>) -> Self {
        self._alive = Some(alive);
        self.idle = idle.map(|mut idle| {
            idle.seen = self.shared.counters.accepted.load(Ordering::Relaxed);
            idle
        });
        self
    }

    /// On a timer tick: true when the project has received nothing for `idle.after` and the
    /// registry took this writer's entry out (nothing buffered or in flight).
    fn stopped_idle(&mut self) -> bool {
        let Some(idle) = &mut self.idle else {
            return false;
        };
        let accepted = self.shared.counters.accepted.load(Ordering::Relaxed);
        if accepted != idle.seen {
            (idle.seen, idle.since) = (accepted, Instant::now());
            return false;
        }
        idle.since.elapsed() >= idle.after && (idle.reap)()
    }

    /// Stops the flush timer: with nothing left to run and no address (the registry dropped
    /// it), the actor ends and its supervisor does not restart it.
    fn retire(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
    }

    /// Starts a flush task if none is running and anything is buffered. With `full_only`,
    /// only when a whole batch is waiting (the timer flushes partial batches). The batch
    /// takes everything buffered up to [`WriterSettings::batch_cap`]: it grows with the
    /// backlog, while a quiet project's batches stay small and prompt.
    fn maybe_flush(&self, ctx: &mut Context<Self>, full_only: bool) {
        let shared = &self.shared;
        if full_only && shared.waiting() < self.settings.batch_size {
            return;
        }
        if shared.flushing.swap(true, Ordering::AcqRel) {
            return; // one batch at a time; FlushDone will look again
        }
        let batch = shared.take(self.settings.batch_cap());
        if batch.is_empty() {
            shared.flushing.store(false, Ordering::Release);
            return;
        }
        let task = flush(
            shared.clone(),
            self.pool.clone(),
            self.settings.clone(),
            self.facts.clone(),
            batch,
        );
        // A weak address: a flush in flight must not keep a retired writer's mailbox
        // connected (its supervisor would restart it).
        let me = ctx.address().downgrade();
        actix::spawn(async move {
            let _ = task.await;
            // The actor may be restarting or gone; the batch is accounted for either way.
            if let Some(me) = me.upgrade() {
                let _ = me.try_send(FlushDone);
            }
        });
    }

    /// Flushes until the buffer, the spilled events and the flight are empty (shutdown). A
    /// batch that goes back to the spool (the database unreachable) ends that: what is
    /// buffered and in the spool is spilled, left for the next start to replay, and only
    /// what the spool does not hold is still written (or dropped after its retries).
    fn drain(&self) -> impl Future<Output = ()> + 'static {
        let (shared, pool, settings, facts) = (
            self.shared.clone(),
            self.pool.clone(),
            self.settings.clone(),
            self.facts.clone(),
        );
        async move {
            let mut gave_up = false;
            loop {
                // Wait for a running flush task to finish, then take the flight ourselves.
                if shared.flushing.swap(true, Ordering::AcqRel) {
                    actix_rt::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                let batch = if gave_up {
                    Taken::Events(shared.take_buffered(settings.batch_cap()))
                } else {
                    shared.take(settings.batch_cap())
                };
                if batch.is_empty() {
                    shared.flushing.store(false, Ordering::Release);
                    return;
                }
                let returned = flush(
                    shared.clone(),
                    pool.clone(),
                    settings.clone(),
                    facts.clone(),
                    batch,
                )
                .await;
                if returned > 0 && !gave_up {
                    gave_up = true;
                    let spilled = shared.spill_buffered();
                    tracing::warn!(project_id = %shared.project_id, spilled,
                        "the database is unreachable at shutdown; the project's events stay in the spool for the next start");
                }
            }
        }
    }
}

/// Writes one batch and accounts for every event of it; always clears `flushing`. Spilled
/// events are read back from the spool first (those whose record is gone are dropped,
/// `dropped_spool_full`) and checked against the database (one found stored, its commit
/// having happened before a crash or its answer lost, is counted stored and not written
/// again). With the spool on, what still fails after the retries for a transient reason
/// goes back to the spool, spilled, instead of being dropped. Returns how many did.
async fn flush(
    shared: Arc<ProjectShared>,
    pool: Pools,
    settings: WriterSettings,
    facts: FactsBus,
    taken: Taken,
) -> usize {
    let returned = match taken {
        Taken::Events(batch) => write(&shared, &pool, &settings, &facts, batch).await,
        Taken::Spilled(spilled) => {
            let batch = read_back(&shared, spilled).await;
            match already_stored(&pool.pool, &settings, &shared, &batch).await {
                Ok(found) => {
                    let (done, rest): (Vec<PendingEvent>, Vec<PendingEvent>) = batch
                        .into_iter()
                        .partition(|e| found.contains(&e.id.uuid()));
                    if !done.is_empty() {
                        if let Some(spool) = shared.spool() {
                            spool.note_already_stored(done.len() as u64);
                        }
                        shared.finish(done.len(), 0, 0);
                        shared.release(&done);
                    }
                    write(&shared, &pool, &settings, &facts, rest).await
                }
                Err(e) => {
                    let ids: Vec<EventId> = batch.iter().map(|e| e.id).collect();
                    let unwritten = Unwritten {
                        ids,
                        error: e.to_string(),
                        respill: !shared.is_deleted(),
                    };
                    give_back(&shared, &batch, 0, 0, Some(unwritten))
                }
            }
        }
    };
    shared.flushing.store(false, Ordering::Release);
    returned
}

/// Reads spilled events back from the spool (off the async threads); those that cannot be
/// read (their segment deleted at `spool_max_bytes` since they were taken) are dropped,
/// counted `dropped_spool_full`.
async fn read_back(shared: &ProjectShared, spilled: Vec<Spilled>) -> Vec<PendingEvent> {
    let n = spilled.len();
    let read = match shared.spool() {
        Some(spool) => {
            let spool = spool.clone();
            tokio::task::spawn_blocking(move || spool.read(&spilled))
                .await
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let events: Vec<PendingEvent> = read.into_iter().flatten().collect();
    if events.len() < n {
        crate::log_limited!(warn, project_id = %shared.project_id, events = n - events.len(),
            "spilled events could not be read back (their spool segment was deleted at writer.spool_max_bytes); dropped");
        shared.lost(n - events.len());
    }
    events
}

/// The ids of `batch` already in the database, with the usual retries.
async fn already_stored(
    pool: &DbPool,
    settings: &WriterSettings,
    shared: &ProjectShared,
    batch: &[PendingEvent],
) -> Result<HashSet<uuid::Uuid>, DbError> {
    let (Some(from), Some(to)) = (
        batch.iter().map(|e| e.received_at).min(),
        batch.iter().map(|e| e.received_at).max(),
    ) else {
        return Ok(HashSet::new());
    };
    let ids: Vec<uuid::Uuid> = batch.iter().map(|e| e.id.uuid()).collect();
    let mut attempt = 0;
    loop {
        let found = async {
            let mut conn = diesel_conn(pool, settings).await?;
            db::events::existing_ids(&mut conn, shared.project_id, &ids, from, to).await
        }
        .await;
        match found {
            Ok(found) => return Ok(found.into_iter().collect()),
            Err(e) if retryable(&e, attempt, settings, shared) => {
                attempt += 1;
                actix_rt::time::sleep(backoff(settings, attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether a failed attempt is tried again.
fn retryable(e: &DbError, attempt: u32, settings: &WriterSettings, shared: &ProjectShared) -> bool {
    attempt < settings.max_retries
        && !shared.is_deleted()
        && matches!(e.failure(), Failure::Transient | Failure::Other)
}

/// Writes `batch` (events in memory, taken into flight) and accounts for each; returns how
/// many went back to the spool.
async fn write(
    shared: &Arc<ProjectShared>,
    pool: &Pools,
    settings: &WriterSettings,
    facts: &FactsBus,
    batch: Vec<PendingEvent>,
) -> usize {
    if batch.is_empty() {
        return 0;
    }
    let n = batch.len();
    let batch = Arc::new(batch);
    // A small batch goes with other projects' (`ingest::group`); if that fails, alone.
    if let Some(group) = pool.group.as_ref().filter(|_| n < settings.group_below)
        && let Some(committed) = group.write(shared.project_id, batch.clone()).await
    {
        facts.publish(committed);
        return give_back(shared, &batch, n, 0, None);
    }
    let project_id = shared.project_id;
    let mut tally = Tally::default();
    let outcome = AssertUnwindSafe(store(pool, settings, shared, facts, &batch, &mut tally))
        .catch_unwind()
        .await;
    if outcome.is_err() {
        tracing::error!(%project_id, events = n, "flush panicked; the rest of the batch dropped");
        tally.unwritten = None;
    }
    if let Some(error) = &tally.invalid_error {
        tracing::error!(%project_id, events = tally.invalid.len(), ids = ?tally.invalid, %error,
            "the database refused these events; dropped as invalid, the rest of the batch stored");
    }
    give_back(
        shared,
        &batch,
        tally.stored,
        tally.invalid.len(),
        tally.unwritten,
    )
}

/// Accounts for a finished batch: `stored` and `invalid` of it, and the `unwritten` ones —
/// back to the spool when the failure allows it and the spool holds them, else dropped as
/// failed (so is whatever a panic left unaccounted for). Releases from the spool every event
/// accounted for. Returns how many went back to the spool.
fn give_back(
    shared: &ProjectShared,
    batch: &[PendingEvent],
    stored: usize,
    invalid: usize,
    unwritten: Option<Unwritten>,
) -> usize {
    let project_id = shared.project_id;
    let mut returned = HashSet::new();
    if let Some(u) = &unwritten {
        if u.respill {
            let back = shared.respill(&u.ids);
            returned = u
                .ids
                .iter()
                .zip(back)
                .filter(|(_, b)| *b)
                .map(|(id, _)| *id)
                .collect();
        }
        let dropped = u.ids.len() - returned.len();
        if !returned.is_empty() {
            crate::log_limited!(warn, %project_id, events = returned.len(), dropped, error = %u.error,
                "flush failed after retries; the events went back to the spool");
        } else if !u.respill {
            tracing::info!(%project_id, events = dropped, error = %u.error, "project deleted; its batch in flight is dropped");
        } else {
            crate::log_limited!(error, %project_id, events = dropped, error = %u.error, "flush failed after retries; dropped");
        }
    }
    let failed = batch.len() - stored - invalid - returned.len();
    shared.finish(stored, failed, invalid);
    if let Some(spool) = shared.spool() {
        spool.release(
            batch
                .iter()
                .map(|e| e.id)
                .filter(|id| !returned.contains(id)),
        );
    }
    returned.len()
}

/// What became of a batch's events so far.
#[derive(Debug, Default)]
struct Tally {
    stored: usize,
    /// Events the database refused on their own (found by bisection).
    invalid: Vec<EventId>,
    /// The error that refused the first of them.
    invalid_error: Option<String>,
    /// The events not written when a failure ended the batch.
    unwritten: Option<Unwritten>,
}

/// Events of a batch left unwritten by a failure.
#[derive(Debug)]
struct Unwritten {
    /// Oldest first.
    ids: Vec<EventId>,
    error: String,
    /// A transient failure (not the project gone): they may go back to the spool.
    respill: bool,
}

/// Stores `batch`, isolating the rows the database refuses: a data error splits the part
/// that caused it in halves, each written on its own, down to the single offending events,
/// so one bad event costs about 2·log2(batch) statements and nothing else. Transient errors
/// are retried (with backoff) on the part they hit; a part that still fails, and all
/// parts after it, are left unwritten (`tally.unwritten`: the caller spills or drops them).
///
/// Each part that commits hands its facts to `facts` right after the commit (a `try_send`
/// per consumer: it never waits, and a consumer's trouble costs no event).
async fn store(
    pool: &Pools,
    settings: &WriterSettings,
    shared: &ProjectShared,
    facts: &FactsBus,
    batch: &[PendingEvent],
    tally: &mut Tally,
) {
    let mut parts = vec![batch];
    while let Some(part) = parts.pop() {
        let e = match write_with_retries(pool, settings, shared, part).await {
            Ok(committed) => {
                tally.stored += part.len();
                facts.publish(committed);
                continue;
            }
            Err(e) => e,
        };
        match e.failure() {
            Failure::Data if part.len() > 1 => {
                let (first, second) = part.split_at(part.len() / 2);
                parts.push(second);
                parts.push(first);
            }
            Failure::Data => {
                tally.invalid.push(part[0].id);
                tally.invalid_error.get_or_insert_with(|| e.to_string());
            }
            failure => {
                let ids = std::iter::once(part)
                    .chain(parts.iter().rev().copied())
                    .flat_map(|p| p.iter().map(|e| e.id))
                    .collect();
                tally.unwritten = Some(Unwritten {
                    ids,
                    error: e.to_string(),
                    respill: failure != Failure::ProjectGone && !shared.is_deleted(),
                });
                return;
            }
        }
    }
}

/// Backoff before retry `attempt` (1-based): base·2^(attempt-1), capped, with "equal jitter"
/// (half fixed, half random) so writers that failed together do not retry together.
pub fn backoff(settings: &WriterSettings, attempt: u32) -> Duration {
    let exp = settings
        .retry_base_ms
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(32));
    let capped = exp.min(settings.retry_max_ms);
    let half = capped / 2;
    let jitter = if half == 0 {
        0
    } else {
        rand::rng().random_range(0..=half)
    };
    Duration::from_millis(capped - half + jitter)
}

async fn write_with_retries(
    pool: &Pools,
    settings: &WriterSettings,
    shared: &ProjectShared,
    batch: &[PendingEvent],
) -> Result<BatchFacts, DbError> {
    let mut attempt = 0;
    loop {
        match write_once(pool, settings, shared, batch).await {
            Ok(facts) => return Ok(facts),
            // A deleted project's batch is not retried (`flush` counts it as such).
            Err(e) if retryable(&e, attempt, settings, shared) => {
                attempt += 1;
                let wait = backoff(settings, attempt);
                crate::log_limited!(warn, project_id = %shared.project_id, attempt, ?wait, error = %e, "flush failed; retrying");
                actix_rt::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One attempt; a batch that finds a day without its partition creates it and goes again
/// (that is not a failure, so it does not use up a retry).
async fn write_once(
    pools: &Pools,
    settings: &WriterSettings,
    shared: &ProjectShared,
    batch: &[PendingEvent],
) -> Result<BatchFacts, DbError> {
    match write_batch(pools, settings, shared, batch).await {
        Err(e) if db::events::is_missing_partition(&e) => {
            let mut conn = diesel_conn(&pools.pool, settings).await?;
            for day in db::events::batch_days(batch) {
                db::partitions::ensure_range(&mut conn, day, day).await?;
            }
            drop(conn);
            tracing::info!(project_id = %shared.project_id, "created a missing partition");
            write_batch(pools, settings, shared, batch).await
        }
        other => other,
    }
}

/// Writes the batch by `COPY` (`writer.copy_events`) or by `INSERT`.
async fn write_batch(
    pools: &Pools,
    settings: &WriterSettings,
    shared: &ProjectShared,
    batch: &[PendingEvent],
) -> Result<BatchFacts, DbError> {
    match &pools.copy {
        Some(copy) => {
            let mut client = db::copy::get_queued(copy, settings.acquire_timeout).await?;
            db::copy::write_batch(&mut client, shared.project_id, batch).await
        }
        None => {
            let mut conn = diesel_conn(&pools.pool, settings).await?;
            db::events::write_batch(&mut conn, shared.project_id, batch).await
        }
    }
}

/// A pooled connection, waiting at most `acquire_timeout` for the database when one is set
/// (behind other writers' flushes, as long as it takes: [`db::get_queued`]).
async fn diesel_conn<'a>(
    pool: &'a DbPool,
    settings: &WriterSettings,
) -> Result<db::DbConn<'a>, DbError> {
    Ok(match settings.acquire_timeout {
        Some(wait) => db::get_queued(pool, wait).await?,
        None => pool.get().await?,
    })
}

impl Actor for StorageWriter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Wake-ups are deduplicated (one pending at a time), so the mailbox stays tiny.
        ctx.set_mailbox_capacity(64);
        let every = Duration::from_millis(self.settings.flush_interval_ms);
        self.timer = Some(ctx.run_interval(every, |act, ctx| {
            if act.shared.is_deleted() || act.shared.is_stopped() {
                act.retire(ctx); // in case `Retire` could not be delivered; or restarted
            } else {
                act.maybe_flush(ctx, false);
                if act.stopped_idle() {
                    tracing::debug!(project_id = %act.shared.project_id, "storage writer stopped idle");
                    act.retire(ctx);
                }
            }
        }));
        tracing::debug!(project_id = %self.shared.project_id, "storage writer started");
    }
}

impl Supervised for StorageWriter {
    fn restarting(&mut self, _: &mut Self::Context) {
        if self.shared.is_deleted() || self.shared.is_stopped() {
            return; // ends again at once (see `Retire`); not a crash
        }
        tracing::warn!(project_id = %self.shared.project_id, "storage writer restarting");
        self.shared
            .counters
            .writer_restarts
            .fetch_add(1, Ordering::Relaxed);
        // A wake-up sent to the old incarnation may be lost: let the next one through.
        self.shared.wake_pending.store(false, Ordering::Release);
    }
}

/// A full batch is waiting (sent by the HTTP edge, at most one pending).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wake;

impl Handler<Wake> for StorageWriter {
    type Result = ();

    fn handle(&mut self, _: Wake, ctx: &mut Self::Context) {
        self.shared.wake_pending.store(false, Ordering::Release);
        guarded(ctx, |ctx| self.maybe_flush(ctx, true));
    }
}

/// A flush task finished: start the next batch at once if one is waiting.
#[derive(Message)]
#[rtype(result = "()")]
struct FlushDone;

impl Handler<FlushDone> for StorageWriter {
    type Result = ();

    fn handle(&mut self, _: FlushDone, ctx: &mut Self::Context) {
        guarded(ctx, |ctx| self.maybe_flush(ctx, true));
    }
}

/// Flush everything buffered and answer when it is stored or accounted for (shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

impl Handler<Drain> for StorageWriter {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Drain, _: &mut Self::Context) -> Self::Result {
        Box::pin(self.drain())
    }
}

/// The project was deleted: stop for good. The writer cancels its timer and so ends once the
/// registry has dropped its address (an actor that calls `ctx.stop()` while an address is
/// still alive would be restarted by its supervisor). The buffer was already dropped and
/// counted.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Retire;

impl Handler<Retire> for StorageWriter {
    type Result = ();

    fn handle(&mut self, _: Retire, ctx: &mut Self::Context) {
        tracing::debug!(project_id = %self.shared.project_id, "storage writer retired");
        self.retire(ctx);
    }
}

/// Make the writer panic inside a handler, to prove supervision. Honoured only when
/// `writer.allow_crash` is set (off by default; the tests turn it on).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Crash;

impl Handler<Crash> for StorageWriter {
    type Result = ();

    fn handle(&mut self, _: Crash, ctx: &mut Self::Context) {
        let allowed = self.settings.allow_crash;
        guarded(ctx, |_| {
            if allowed {
                panic!("writer crash requested (writer.allow_crash)");
            }
        });
    }
}

/// Runs a handler body, turning a panic into `ctx.stop()`: actix does not restart an actor
/// that panicked (it is just gone), but its `Supervisor` restarts one that stops.
fn guarded(ctx: &mut Context<StorageWriter>, body: impl FnOnce(&mut Context<StorageWriter>)) {
    if std::panic::catch_unwind(AssertUnwindSafe(|| body(ctx))).is_err() {
        tracing::error!("storage writer panicked; stopping it for its supervisor to restart");
        ctx.stop();
    }
}

//! Small batches of many projects written in one transaction.
//!
//! A project's writer flushes once a second (`writer.flush_interval_ms`) whatever its rate,
//! so a thousand quiet projects would cost PostgreSQL a thousand small transactions a second
//! — each with its own commit, upsert and `COPY` — while one busy project's thousand events
//! cost one. A batch of fewer than `writer.group_below` events is therefore handed to the
//! node's [`GroupWriter`] instead, which stores the batches waiting for it together
//! ([`db::copy::write_batches`]: one upsert, one `COPY`, one commit).
//!
//! Group commit without a timer: at most [`FLIGHTS`] group transactions run at once, and a
//! group takes every batch that arrived while those were busy (up to [`MAX_BATCHES`]). A
//! quiet node writes each batch at once, alone; a node with many projects writes bigger
//! groups, as many as the database keeps up with.
//!
//! Nothing here decides what becomes of an event. A group that fails, for any reason, hands
//! every batch back unwritten and each writer stores its own batch alone, as it would have
//! without the group: with its retries, its bisection of bad rows, its spool. A project whose
//! row is locked holds a group back for at most [`LOCK_TIMEOUT`]; after that its batch waits
//! on its own, and the other projects' next groups go on without it (a project has one batch
//! in flight at a time). So does a full queue or a stopped group writer: the batch goes alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::ArbiterHandle;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::config::WriterSettings;
use crate::db::copy::{self, CopyPool};
use crate::db::events::ProjectBatch;
use crate::domain::{BatchFacts, PendingEvent, ProjectId};

/// Group transactions in flight at once.
pub const FLIGHTS: usize = 2;
/// The most batches one group takes.
pub const MAX_BATCHES: usize = 256;
/// How long a group waits for a lock (a project's issue row held by someone else) before it
/// gives up and leaves its batches to their writers.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(1);
/// Batches waiting for a group; a batch that finds the queue full is written alone.
const QUEUE: usize = 4 * MAX_BATCHES;

/// One project's batch waiting for a group, and where its facts go once committed.
struct Job {
    project_id: ProjectId,
    events: Arc<Vec<PendingEvent>>,
    done: oneshot::Sender<BatchFacts>,
}

/// How the groups went, for `/metrics` and the tests.
#[derive(Debug, Default)]
pub struct GroupCounters {
    /// Group transactions committed.
    pub commits: AtomicU64,
    /// Batches stored by them.
    pub batches: AtomicU64,
    /// Batches handed back to their writers (their group failed, or the queue was full).
    pub handed_back: AtomicU64,
}

/// The node's writer of grouped batches. Cheap to clone.
#[derive(Clone)]
pub struct GroupWriter {
    queue: mpsc::Sender<Job>,
    counters: Arc<GroupCounters>,
}

impl GroupWriter {
    /// Starts the group writer on `arbiter` (a writers' thread), writing through `copy`.
    pub fn start(arbiter: &ArbiterHandle, copy: CopyPool, settings: &WriterSettings) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let counters = Arc::new(GroupCounters::default());
        let wait = settings.acquire_timeout;
        arbiter.spawn(run(jobs, copy, wait, counters.clone()));
        Self { queue, counters }
    }

    /// Stores `events` of `project_id` with other projects' batches. `None`: not stored (the
    /// group failed, or could not take it) — the caller writes it alone.
    pub async fn write(
        &self,
        project_id: ProjectId,
        events: Arc<Vec<PendingEvent>>,
    ) -> Option<BatchFacts> {
        let (done, committed) = oneshot::channel();
        let job = Job {
            project_id,
            events,
            done,
        };
        if self.queue.try_send(job).is_err() {
            self.counters.handed_back.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        committed.await.ok()
    }

    pub fn counters(&self) -> &GroupCounters {
        &self.counters
    }
}

/// Takes the waiting batches as groups, at most [`FLIGHTS`] in flight; ends when every
/// writer is gone.
async fn run(
    mut queue: mpsc::Receiver<Job>,
    copy: CopyPool,
    wait: Option<Duration>,
    counters: Arc<GroupCounters>,
) {
    let flights = Arc::new(Semaphore::new(FLIGHTS));
    loop {
        let Ok(flight) = flights.clone().acquire_owned().await else {
            return;
        };
        let mut jobs = Vec::new();
        if queue.recv_many(&mut jobs, MAX_BATCHES).await == 0 {
            return;
        }
        let (copy, counters) = (copy.clone(), counters.clone());
        actix_rt::spawn(async move {
            write(&copy, wait, jobs, &counters).await;
            drop(flight);
        });
    }
}

/// Writes one group; answers each job's facts, or drops every job's answer (the writers then
/// write their batches alone).
async fn write(copy: &CopyPool, wait: Option<Duration>, jobs: Vec<Job>, c: &GroupCounters) {
    let batches: Vec<ProjectBatch<'_>> = jobs
        .iter()
        .map(|j| ProjectBatch {
            project_id: j.project_id,
            events: &j.events,
        })
        .collect();
    let written = async {
        let mut client = copy::get_queued(copy, wait).await?;
        copy::write_batches(&mut client, &batches, Some(LOCK_TIMEOUT)).await
    }
    .await;
    match written {
        Ok(facts) => {
            c.commits.fetch_add(1, Ordering::Relaxed);
            c.batches.fetch_add(jobs.len() as u64, Ordering::Relaxed);
            for (job, facts) in jobs.into_iter().zip(facts) {
                let _ = job.done.send(facts);
            }
        }
        Err(error) => {
            c.handed_back
                .fetch_add(jobs.len() as u64, Ordering::Relaxed);
            crate::log_limited!(info, batches = jobs.len(), %error,
                "a group of small batches failed; each writer stores its own alone");
        }
    }
}

//! This process's run record (`node_runs`) and what it is for: telling the operator about a
//! crash. Without the durable spool a `kill -9` loses what was buffered, and the restarted
//! counters start from zero, so without this nothing would say so.
//!
//! A small supervised actor beats every `node.heartbeat_ms`: it writes the run's heartbeat
//! and its ingestion totals (skipping the beat while the database is unreachable), then
//! claims the runs of any node that did not stop cleanly and went silent, and logs one WARN
//! for each (claimed with `FOR UPDATE SKIP LOCKED`, so it is said once, whichever node says
//! it). A graceful shutdown marks the run stopped after the writers drained ([`Stop`]).
//! See docs/architecture.md, "Crash reports".

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::config::{NodeSettings, STALE_BEATS};
use crate::db::failure::Failure;
use crate::db::node_runs::{self, RunInfo, RunTotals, UncleanRun};
use crate::db::{self, DbError, DbPool};
use crate::domain::RunId;
use crate::ingest::WriterRegistry;

/// Old runs are pruned on the first beat and every this many beats after it.
const PRUNE_EVERY: u64 = 3600;

/// What a beat needs; shared by the actor and its beat tasks.
struct Beat {
    run: RunInfo,
    pool: DbPool,
    registry: WriterRegistry,
    settings: NodeSettings,
    acquire_timeout: Duration,
    /// Since when every beat has reached the database (none after a failed one).
    up_since: Mutex<Option<Instant>>,
    beats: AtomicU64,
    /// `run_interval` fires in bursts after a stall: one beat at a time.
    in_flight: AtomicBool,
}

/// The heartbeat of this process's run.
pub struct NodeRun {
    beat: Arc<Beat>,
    timer: Option<SpawnHandle>,
}

impl NodeRun {
    /// The run of this process (a fresh id), with the node's spool directory if any.
    pub fn new(
        pool: DbPool,
        registry: WriterRegistry,
        settings: NodeSettings,
        acquire_timeout: Duration,
    ) -> Self {
        let run = RunInfo {
            id: RunId::new(),
            hostname: hostname::get()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| "unknown".into()),
            pid: std::process::id() as i32,
            spool_dir: registry.spool().map(|s| s.dir().display().to_string()),
            heartbeat_ms: settings.heartbeat_ms as i32,
        };
        Self {
            beat: Arc::new(Beat {
                run,
                pool,
                registry,
                settings,
                acquire_timeout,
                up_since: Mutex::new(None),
                beats: AtomicU64::new(0),
                in_flight: AtomicBool::new(false),
            }),
            timer: None,
        }
    }

    /// This run's id.
    pub fn id(&self) -> RunId {
        self.beat.run.id
    }

    fn tick(&self) {
        if self.beat.in_flight.swap(true, Ordering::AcqRel) {
            return;
        }
        let beat = self.beat.clone();
        actix::spawn(async move {
            if let Err(e) = beat_once(&beat).await {
                if e.failure() == Failure::Transient {
                    // The pool logs the outage itself; a skipped beat is not news.
                    tracing::debug!(error = %e, "heartbeat skipped");
                } else {
                    crate::log_limited!(warn, error = %e, "heartbeat failed; the run's record is not kept up to date");
                }
                *beat.up_since.lock().unwrap_or_else(|p| p.into_inner()) = None;
            }
            beat.in_flight.store(false, Ordering::Release);
        });
    }
}

/// The node's totals over every project it has seen since it started.
pub fn totals(registry: &WriterRegistry) -> RunTotals {
    registry
        .snapshots()
        .into_iter()
        .fold(RunTotals::default(), |t, (_, s)| RunTotals {
            accepted: t.accepted + s.accepted as i64,
            stored: t.stored + s.stored as i64,
            dropped: t.dropped + s.dropped() as i64,
            // Spilled events are as pending as buffered ones (and in the spool too).
            buffered: t.buffered + (s.buffered + s.spilled) as i64,
        })
}

/// One beat: the heartbeat and totals, then the silent runs (reported), now and then the
/// pruning of old runs.
async fn beat_once(beat: &Beat) -> Result<(), DbError> {
    let totals = totals(&beat.registry);
    let mut conn = db::get_within(&beat.pool, beat.acquire_timeout).await?;
    node_runs::beat(&mut conn, &beat.run, totals).await?;
    let up_for = beat
        .up_since
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(Instant::now)
        .elapsed();
    let unclean = node_runs::claim_unclean(
        &mut conn,
        beat.run.id,
        STALE_BEATS as i32,
        up_for.as_millis() as i64,
    )
    .await?;
    for run in &unclean {
        report(run, &beat.run);
    }
    if beat
        .beats
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(PRUNE_EVERY)
    {
        let days = beat.settings.run_retention_days as i32;
        let pruned = node_runs::prune(&mut conn, days).await?;
        if pruned > 0 {
            tracing::info!(pruned, days, "old node runs pruned");
        }
    }
    Ok(())
}

/// The one log line for a run that ended without a clean shutdown.
fn report(run: &UncleanRun, me: &RunInfo) {
    let what = match &run.spool_dir {
        None => format!(
            "{} accepted events were still buffered at its last heartbeat and are lost (so \
             are any it accepted after that) — enable writer.spool_dir to keep them across a \
             crash",
            run.buffered
        ),
        Some(dir) if run.hostname == me.hostname && me.spool_dir.as_ref() == Some(dir) => {
            format!(
                "the {} events it still buffered are in its spool ({dir}), which this node \
                 replays",
                run.buffered
            )
        }
        Some(dir) => format!(
            "the {} events it still buffered are in its spool ({dir} on {}) and are stored \
             when mesher serve starts there again with that writer.spool_dir",
            run.buffered, run.hostname
        ),
    };
    tracing::warn!(
        run_id = %run.id,
        host = %run.hostname,
        pid = run.pid,
        started_at = %run.started_at,
        last_heartbeat = %run.heartbeat_at,
        accepted = run.accepted,
        stored = run.stored,
        dropped = run.dropped,
        buffered = run.buffered,
        spool_dir = run.spool_dir.as_deref(),
        "run {} of host {} (pid {}) ended without a clean shutdown at about {}; {what}",
        run.id,
        run.hostname,
        run.pid,
        run.heartbeat_at.format("%Y-%m-%d %H:%M:%S UTC"),
    );
}

impl Actor for NodeRun {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.tick();
        let every = Duration::from_millis(self.beat.settings.heartbeat_ms);
        self.timer = Some(ctx.run_interval(every, |act, _| act.tick()));
    }
}

impl Supervised for NodeRun {
    fn restarting(&mut self, _: &mut Self::Context) {
        tracing::warn!("node heartbeat restarting");
        self.beat.in_flight.store(false, Ordering::Release);
    }
}

/// Graceful shutdown, once the writers have drained: stop beating and mark the run stopped
/// with its final totals. Answers whether the mark was written.
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Stop;

impl Handler<Stop> for NodeRun {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, _: Stop, ctx: &mut Self::Context) -> Self::Result {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        let beat = self.beat.clone();
        Box::pin(async move {
            let totals = totals(&beat.registry);
            let stopped = async {
                let mut conn = db::get_within(&beat.pool, Duration::from_secs(2)).await?;
                node_runs::stop(&mut conn, beat.run.id, totals).await?;
                Ok::<_, DbError>(())
            };
            match stopped.await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(run_id = %beat.run.id, error = %e,
                        "could not mark this run stopped; other nodes will report it as ended without a clean shutdown");
                    false
                }
            }
        })
    }
}

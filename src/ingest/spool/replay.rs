//! Replay at start: the events a previous run spooled and did not account for go back to
//! their projects' writers, keeping their ids and receive times. An event already stored
//! (its batch committed, but the process died before the spool learnt it) is skipped, and
//! released, without being written again — so no issue's `times_seen` counts it twice.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use super::{Record, Spool};
use crate::db::{self, DbError, DbPool};
use crate::domain::{PendingEvent, ProjectId};
use crate::ingest::WriterRegistry;

/// Replays `records` (from [`Spool::open`]) into `registry`, a chunk of `chunk` events at a
/// time, waiting for room in a project's buffer (`capacity`) and under the node's memory cap
/// rather than overflowing them.
/// Runs until everything is handed over; retries the database while it is unreachable.
pub async fn replay(
    registry: WriterRegistry,
    pool: DbPool,
    spool: Spool,
    records: Vec<Record>,
    chunk: usize,
    capacity: usize,
) {
    if records.is_empty() {
        return;
    }
    let total = records.len();
    tracing::info!(events = total, "replaying the spool");
    let mut by_project: BTreeMap<ProjectId, Vec<PendingEvent>> = BTreeMap::new();
    for r in records {
        by_project.entry(r.project_id).or_default().push(r.event);
    }
    let (mut replayed, mut skipped) = (0usize, 0usize);
    for (project_id, mut events) in by_project {
        while !events.is_empty() {
            let rest = events.split_off(chunk.min(events.len()));
            let batch = std::mem::replace(&mut events, rest);
            let stored = loop {
                match already_stored(&pool, project_id, &batch).await {
                    Ok(stored) => break stored,
                    Err(e) => {
                        tracing::warn!(%project_id, error = %e, "spool replay waits for the database");
                        actix_rt::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            };
            let (done, fresh): (Vec<PendingEvent>, Vec<PendingEvent>) = batch
                .into_iter()
                .partition(|e| stored.contains(&e.id.uuid()));
            skipped += done.len();
            spool.release(done.iter().map(|e| e.id));
            // Room in the project's buffer, and in the node's memory cap (unless nothing at
            // all is buffered: a chunk is then let in even if it alone is over the cap).
            let bytes: u64 = fresh.iter().map(|e| e.footprint() as u64).sum();
            while registry.snapshot(project_id).buffered as usize + fresh.len() > capacity
                || (registry.buffered_bytes() > 0
                    && registry.buffered_bytes() + bytes > registry.max_buffered_bytes())
            {
                actix_rt::time::sleep(Duration::from_millis(20)).await;
            }
            let ids: Vec<_> = fresh.iter().map(|e| e.id).collect();
            match registry.push(project_id, fresh) {
                Ok(()) => replayed += ids.len(),
                Err(_deleted) => spool.release(ids),
            }
        }
    }
    tracing::info!(
        events = total,
        replayed,
        already_stored = skipped,
        "spool replayed"
    );
}

async fn already_stored(
    pool: &DbPool,
    project_id: ProjectId,
    batch: &[PendingEvent],
) -> Result<HashSet<uuid::Uuid>, DbError> {
    let ids: Vec<uuid::Uuid> = batch.iter().map(|e| e.id.uuid()).collect();
    let from = batch
        .iter()
        .map(|e| e.received_at)
        .min()
        .expect("not empty");
    let to = batch
        .iter()
        .map(|e| e.received_at)
        .max()
        .expect("not empty");
    let mut conn = pool.get().await?;
    let found = db::events::existing_ids(&mut conn, project_id, &ids, from, to).await?;
    Ok(found.into_iter().collect())
}

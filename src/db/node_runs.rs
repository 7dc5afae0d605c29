//! `node_runs`: one row per run of `mesher serve`, refreshed by its heartbeat, so a run that
//! ended without a clean shutdown is noticed (and reported once) by a node that is still up
//! or starts later. The policy (how often, what is logged) is `jobs::node_run`'s.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::schema::node_runs;
use crate::domain::RunId;

/// A run as it registers itself.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub id: RunId,
    pub hostname: String,
    pub pid: i32,
    pub spool_dir: Option<String>,
    /// The run's heartbeat interval: others call it gone after a few of them.
    pub heartbeat_ms: i32,
}

/// A run's ingestion totals over all projects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunTotals {
    pub accepted: i64,
    pub stored: i64,
    pub dropped: i64,
    pub buffered: i64,
}

/// A run that ended without a clean shutdown, as claimed for reporting.
#[derive(Debug, Clone, QueryableByName)]
pub struct UncleanRun {
    #[diesel(sql_type = SqlUuid)]
    pub id: RunId,
    #[diesel(sql_type = Text)]
    pub hostname: String,
    #[diesel(sql_type = Int4)]
    pub pid: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub spool_dir: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub started_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub heartbeat_at: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    pub accepted: i64,
    #[diesel(sql_type = BigInt)]
    pub stored: i64,
    #[diesel(sql_type = BigInt)]
    pub dropped: i64,
    #[diesel(sql_type = BigInt)]
    pub buffered: i64,
}

/// Records a heartbeat of the run with its totals (inserting the row on the first one).
/// A run already marked stopped is left as it is. Returns whether a row was written.
pub async fn beat(
    conn: &mut AsyncPgConnection,
    run: &RunInfo,
    totals: RunTotals,
) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "INSERT INTO node_runs (id, hostname, pid, spool_dir, heartbeat_ms, accepted, stored, \
         dropped, buffered) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), accepted = EXCLUDED.accepted, \
         stored = EXCLUDED.stored, dropped = EXCLUDED.dropped, buffered = EXCLUDED.buffered \
         WHERE node_runs.stopped_at IS NULL",
    )
    .bind::<SqlUuid, _>(run.id)
    .bind::<Text, _>(&run.hostname)
    .bind::<Int4, _>(run.pid)
    .bind::<Nullable<Text>, _>(run.spool_dir.as_deref())
    .bind::<Int4, _>(run.heartbeat_ms)
    .bind::<BigInt, _>(totals.accepted)
    .bind::<BigInt, _>(totals.stored)
    .bind::<BigInt, _>(totals.dropped)
    .bind::<BigInt, _>(totals.buffered)
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// Marks the run stopped cleanly, with its final totals.
pub async fn stop(conn: &mut AsyncPgConnection, id: RunId, totals: RunTotals) -> QueryResult<()> {
    diesel::update(node_runs::table.find(id))
        .set((
            node_runs::stopped_at.eq(diesel::dsl::now),
            node_runs::heartbeat_at.eq(diesel::dsl::now),
            node_runs::accepted.eq(totals.accepted),
            node_runs::stored.eq(totals.stored),
            node_runs::dropped.eq(totals.dropped),
            node_runs::buffered.eq(totals.buffered),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Claims, for reporting, the runs other than `me` that did not stop cleanly, were not
/// reported yet, and whose heartbeat is older than `stale_beats` of their own intervals —
/// only those whose staleness the caller could have seen end: it has reached the database
/// without a gap for `up_for_ms`, at least as long as that staleness, so a run that is alive
/// but skipped beats during an outage has had its chance to beat again. Each run is claimed
/// by one caller only, even with several nodes at it (`FOR UPDATE SKIP LOCKED`).
pub async fn claim_unclean(
    conn: &mut AsyncPgConnection,
    me: RunId,
    stale_beats: i32,
    up_for_ms: i64,
) -> QueryResult<Vec<UncleanRun>> {
    diesel::sql_query(
        "UPDATE node_runs SET reported_at = now() WHERE id IN ( \
           SELECT id FROM node_runs \
           WHERE stopped_at IS NULL AND reported_at IS NULL AND id <> $1 \
             AND heartbeat_at < now() - make_interval(secs => $2 * heartbeat_ms / 1000.0) \
             AND $3 >= $2::bigint * heartbeat_ms \
           ORDER BY heartbeat_at FOR UPDATE SKIP LOCKED) \
         RETURNING id, hostname, pid, spool_dir, started_at, heartbeat_at, accepted, stored, \
           dropped, buffered",
    )
    .bind::<SqlUuid, _>(me)
    .bind::<Int4, _>(stale_beats)
    .bind::<BigInt, _>(up_for_ms)
    .load(conn)
    .await
}

/// Deletes the runs whose last heartbeat is older than `days` (a live run's is fresh);
/// returns how many.
pub async fn prune(conn: &mut AsyncPgConnection, days: i32) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM node_runs WHERE heartbeat_at < now() - make_interval(days => $1)",
    )
    .bind::<Int4, _>(days)
    .execute(conn)
    .await
}

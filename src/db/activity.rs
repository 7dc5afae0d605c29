//! Aggregates the web UI draws: events per time bucket (sparklines and the issue chart),
//! unresolved issues per project, an issue's most common tag values, and the neighbours of
//! an event within its issue. Each is one statement over the indexes the lists use
//! (`events_{project,issue}_received_idx`, bounded by `received_at` so only the day
//! partitions in range are read).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::event_queries::EventSummary;
use super::schema::events;
use crate::domain::{EventId, IssueId, ProjectId};

/// Whose events are counted.
#[derive(Debug, Clone, Copy)]
pub enum Per {
    Project,
    Issue,
}

impl Per {
    fn column(self) -> &'static str {
        match self {
            Self::Project => "project_id",
            Self::Issue => "issue_id",
        }
    }
}

/// Equal time buckets: `count` of `secs` seconds each, the last one ending at `end`.
#[derive(Debug, Clone, Copy)]
pub struct Buckets {
    pub end: DateTime<Utc>,
    pub secs: i64,
    pub count: usize,
}

impl Buckets {
    /// Start of the first bucket.
    pub fn start(&self) -> DateTime<Utc> {
        self.end - chrono::Duration::seconds(self.secs * self.count as i64)
    }

    /// Start of bucket `i`.
    pub fn at(&self, i: usize) -> DateTime<Utc> {
        self.start() + chrono::Duration::seconds(self.secs * i as i64)
    }
}

#[derive(QueryableByName)]
struct BucketRow {
    #[diesel(sql_type = SqlUuid)]
    owner: Uuid,
    #[diesel(sql_type = Integer)]
    bucket: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Events of each of `ids` (projects or issues, as `per` says) per bucket, oldest bucket
/// first; an id without events has all zeros.
pub async fn counts(
    conn: &mut AsyncPgConnection,
    per: Per,
    ids: &[Uuid],
    b: Buckets,
) -> QueryResult<HashMap<Uuid, Vec<i64>>> {
    let col = per.column();
    let rows: Vec<BucketRow> = diesel::sql_query(format!(
        "SELECT {col} AS owner, \
                floor(extract(epoch FROM received_at - $2) / $4)::int AS bucket, \
                count(*)::bigint AS n \
         FROM events WHERE {col} = ANY($1) AND received_at >= $2 AND received_at < $3 \
         GROUP BY 1, 2"
    ))
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Timestamptz, _>(b.start())
    .bind::<Timestamptz, _>(b.end)
    .bind::<BigInt, _>(b.secs)
    .load(conn)
    .await?;
    let mut out: HashMap<Uuid, Vec<i64>> = ids.iter().map(|id| (*id, vec![0; b.count])).collect();
    for r in rows {
        if let Some(slot) = out
            .get_mut(&r.owner)
            .and_then(|v| v.get_mut(r.bucket as usize))
        {
            *slot = r.n;
        }
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct OwnerCount {
    #[diesel(sql_type = SqlUuid)]
    owner: Uuid,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Unresolved issues of each project (absent: none).
pub async fn unresolved_per_project(
    conn: &mut AsyncPgConnection,
    projects: &[ProjectId],
) -> QueryResult<HashMap<Uuid, i64>> {
    let ids: Vec<Uuid> = projects.iter().map(|p| p.uuid()).collect();
    let rows: Vec<OwnerCount> = diesel::sql_query(
        "SELECT project_id AS owner, count(*)::bigint AS n FROM issues \
         WHERE project_id = ANY($1) AND status = 'unresolved' GROUP BY 1",
    )
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.owner, r.n)).collect())
}

/// How many of an issue's latest events a tag summary reads.
pub const TAG_SAMPLE: i64 = 1000;

/// The values of one tag across an issue, most common first.
#[derive(Debug, Clone, PartialEq)]
pub struct TagSummary {
    pub key: String,
    /// (value, events carrying it), at most five.
    pub top: Vec<(String, i64)>,
    /// Events of the sample carrying the tag at all.
    pub total: i64,
}

#[derive(QueryableByName)]
struct TagRow {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    value: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Each tag of the issue's latest [`TAG_SAMPLE`] events with its five most common values,
/// by key; and the number of events read.
pub async fn tag_summary(
    conn: &mut AsyncPgConnection,
    issue: IssueId,
) -> QueryResult<(Vec<TagSummary>, i64)> {
    let rows: Vec<TagRow> = diesel::sql_query(
        "WITH recent AS (SELECT tags FROM events WHERE issue_id = $1 \
                         ORDER BY received_at DESC LIMIT $2) \
         SELECT t.key AS key, t.value AS value, count(*)::bigint AS n \
         FROM recent, jsonb_each_text(recent.tags) AS t \
         GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2",
    )
    .bind::<SqlUuid, _>(issue.uuid())
    .bind::<BigInt, _>(TAG_SAMPLE)
    .load(conn)
    .await?;
    let sampled: i64 = events::table
        .filter(events::issue_id.eq(issue))
        .select(events::id)
        .order(events::received_at.desc())
        .limit(TAG_SAMPLE)
        .load::<EventId>(conn)
        .await?
        .len() as i64;
    let mut out: Vec<TagSummary> = Vec::new();
    for r in rows {
        match out.last_mut() {
            Some(last) if last.key == r.key => {
                last.total += r.n;
                if last.top.len() < 5 {
                    last.top.push((r.value, r.n));
                }
            }
            _ => out.push(TagSummary {
                key: r.key,
                top: vec![(r.value, r.n)],
                total: r.n,
            }),
        }
    }
    Ok((out, sampled))
}

/// The issue's event just newer than `(received_at, id)`, if any.
pub async fn newer_event(
    conn: &mut AsyncPgConnection,
    issue: IssueId,
    at: (DateTime<Utc>, EventId),
) -> QueryResult<Option<EventSummary>> {
    events::table
        .filter(events::issue_id.eq(issue))
        .filter(events::received_at.ge(at.0))
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("(events.received_at, events.id) > (")
                .bind::<Timestamptz, _>(at.0)
                .sql(", ")
                .bind::<SqlUuid, _>(at.1.uuid())
                .sql(")"),
        )
        .order((events::received_at.asc(), events::id.asc()))
        .select(EventSummary::as_select())
        .first(conn)
        .await
        .optional()
}

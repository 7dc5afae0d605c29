//! Writing a batch of events: one transaction, two set-based statements.
//!
//! 1. The batch is aggregated by fingerprint in memory, then one `INSERT … SELECT FROM
//!    unnest(…) ON CONFLICT (project_id, fingerprint_hash) DO UPDATE` upserts every issue it
//!    touches (times_seen added, first/last seen widened, level raised to the maximum) and
//!    returns each one's id, whether it was created (`xmax = 0`) and its state — including
//!    its status, which the upsert leaves alone, so what comes back is the status the batch
//!    found (read from the locked, latest row version, exact under concurrency).
//!    Issues found resolved are then reopened by one `UPDATE` of exactly those rows (a
//!    regression); they are already locked by this transaction, so it adds no lock and no
//!    lock-order risk, and it runs only when something regressed.
//! 2. The batch's distinct (environment or release, issue) pairs go to `issue_values`
//!    (`ON CONFLICT DO NOTHING`; skipped when no event names either), which the issue
//!    list's filters read instead of the events.
//! 3. One `INSERT … SELECT FROM unnest(…)` inserts every event: one array per column, so
//!    twenty bind parameters and one plan whatever the batch size.
//!
//! The committed batch is described by [`BatchFacts`]: which issues were created or
//! regressed, their new state, and the events each one got.
//!
//! The issue statements take the project per row, not per statement, so one transaction can
//! hold several projects' batches ([`ProjectBatch`]; `db::copy::write_batches`, used by the
//! group writer): rows are upserted in (project, fingerprint) order and every issue is keyed
//! by its project, so the same fingerprint in two projects stays two issues.
//!
//! The `jsonb` values are the JSON text a [`PendingEvent`] carries since the edge, bound as
//! they are ([`JsonText`]): no `serde_json::Value` is built on the write path.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::DbError;
use super::issues::IssueValueKey;
use super::types::JsonText;
use crate::domain::facts::{SHORT_MESSAGE_CHARS, short};
use crate::domain::pending::Field;
use crate::domain::{
    BatchFacts, EventFact, EventId, IssueFact, IssueId, IssueStatus, Level, PendingEvent, ProjectId,
};

/// One issue's share of a batch.
pub(super) struct IssueAgg<'a> {
    /// The fingerprint's components, as JSON text.
    components: &'a str,
    title: &'a str,
    culprit: Option<&'a str>,
    level: Level,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    count: i64,
}

/// The events of one project, written in a transaction that may hold other projects' too.
#[derive(Clone, Copy)]
pub struct ProjectBatch<'a> {
    pub project_id: ProjectId,
    pub events: &'a [PendingEvent],
}

/// The events of every batch of `batches`, each with its project.
fn each_event<'a>(
    batches: &[ProjectBatch<'a>],
) -> impl Iterator<Item = (ProjectId, &'a PendingEvent)> {
    batches
        .iter()
        .flat_map(|b| b.events.iter().map(move |e| (b.project_id, e)))
}

/// Each issue's share of `batches`, by project and fingerprint (the order the upsert locks
/// them in).
fn aggregate<'a>(batches: &[ProjectBatch<'a>]) -> BTreeMap<(ProjectId, &'a str), IssueAgg<'a>> {
    let mut issues: BTreeMap<(ProjectId, &str), IssueAgg<'_>> = BTreeMap::new();
    for (project_id, e) in each_event(batches) {
        issues
            .entry((project_id, e.fingerprint_hash()))
            .and_modify(|agg| {
                agg.level = agg.level.max(e.level);
                agg.first_seen = agg.first_seen.min(e.received_at);
                agg.last_seen = agg.last_seen.max(e.received_at);
                agg.count += 1;
            })
            .or_insert_with(|| IssueAgg {
                components: e.fingerprint_json(),
                title: e.title(),
                culprit: e.culprit(),
                level: e.level,
                first_seen: e.received_at,
                last_seen: e.received_at,
                count: 1,
            });
    }
    issues
}

#[derive(diesel::QueryableByName)]
pub(super) struct UpsertedIssue {
    #[diesel(sql_type = SqlUuid)]
    pub id: IssueId,
    #[diesel(sql_type = SqlUuid)]
    pub project_id: ProjectId,
    #[diesel(sql_type = Text)]
    pub fingerprint_hash: String,
    #[diesel(sql_type = Bool)]
    pub created: bool,
    /// The status the batch found (the upsert does not change it).
    #[diesel(sql_type = Text)]
    pub status: IssueStatus,
    #[diesel(sql_type = BigInt)]
    pub times_seen: i64,
    #[diesel(sql_type = Text)]
    pub level: Level,
    #[diesel(sql_type = Timestamptz)]
    pub last_seen: DateTime<Utc>,
}

pub(super) const UPSERT_ISSUES: &str = "\
INSERT INTO issues (id, project_id, fingerprint_hash, fingerprint, title, culprit, level,
                    first_seen, last_seen, times_seen)
SELECT u.id, u.project_id, u.hash, u.fp, u.title, u.culprit, u.level, u.first_seen,
       u.last_seen, u.n
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::text[], $6::text[],
            $7::text[], $8::timestamptz[], $9::timestamptz[], $10::bigint[])
     AS u(project_id, id, hash, fp, title, culprit, level, first_seen, last_seen, n)
ORDER BY u.project_id, u.hash
ON CONFLICT (project_id, fingerprint_hash) DO UPDATE SET
    first_seen = LEAST(issues.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(issues.last_seen, EXCLUDED.last_seen),
    times_seen = issues.times_seen + EXCLUDED.times_seen,
    level = CASE
        WHEN array_position(ARRAY['debug','info','warning','error','fatal'], EXCLUDED.level)
           > array_position(ARRAY['debug','info','warning','error','fatal'], issues.level)
        THEN EXCLUDED.level ELSE issues.level END,
    updated_at = now()
RETURNING id, project_id, fingerprint_hash, (xmax = 0) AS created, status, times_seen, level, last_seen";

/// Reopens the issues the upsert found resolved (rows this transaction already locks).
pub(super) const REOPEN_ISSUES: &str = "\
UPDATE issues SET status = 'unresolved', updated_at = now()
WHERE id = ANY($1) AND status = 'resolved'
RETURNING id";

#[derive(diesel::QueryableByName)]
pub(super) struct ReopenedIssue {
    #[diesel(sql_type = SqlUuid)]
    pub id: IssueId,
}

/// Records the environments and releases the batch's issues saw; a pair already known costs
/// one probe of the primary key and writes nothing.
pub(super) const INSERT_ISSUE_VALUES: &str = "\
INSERT INTO issue_values (project_id, key, value, issue_id, first_seen)
SELECT u.project_id, u.key, u.value, u.issue_id, u.first_seen
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::timestamptz[])
     AS u(project_id, key, value, issue_id, first_seen)
ON CONFLICT DO NOTHING";

/// The distinct (project, key, value, issue) tuples of a write, one array per column of
/// [`INSERT_ISSUE_VALUES`], sorted, with the earliest receive time of each.
pub(super) struct IssueValues<'a> {
    pub projects: Vec<ProjectId>,
    pub keys: Vec<&'static str>,
    pub values: Vec<&'a str>,
    pub issues: Vec<IssueId>,
    pub firsts: Vec<DateTime<Utc>>,
}

impl<'a> IssueValues<'a> {
    /// `issue_ids` holds the issue of each event of `batches`, in order.
    pub fn of(batches: &[ProjectBatch<'a>], issue_ids: &[IssueId]) -> Self {
        type Tuple<'a> = (ProjectId, &'static str, &'a str, IssueId);
        let mut seen: BTreeMap<Tuple<'a>, DateTime<Utc>> = BTreeMap::new();
        for ((project_id, e), &issue) in each_event(batches).zip(issue_ids) {
            for key in IssueValueKey::ALL {
                if let Some(value) = e.get(key.field()) {
                    seen.entry((project_id, key.as_str(), value, issue))
                        .and_modify(|t| *t = (*t).min(e.received_at))
                        .or_insert(e.received_at);
                }
            }
        }
        let n = seen.len();
        let mut v = IssueValues {
            projects: Vec::with_capacity(n),
            keys: Vec::with_capacity(n),
            values: Vec::with_capacity(n),
            issues: Vec::with_capacity(n),
            firsts: Vec::with_capacity(n),
        };
        for ((project_id, key, value, issue), first) in seen {
            v.projects.push(project_id);
            v.keys.push(key);
            v.values.push(value);
            v.issues.push(issue);
            v.firsts.push(first);
        }
        v
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

const INSERT_EVENTS: &str = "\
INSERT INTO events (id, received_at, project_id, issue_id, event_id, \"timestamp\", level, message,
                    platform, release, environment, server_name, transaction, logger,
                    tags, exception, breadcrumbs, user_data, contexts, extra)
SELECT u.id, u.received_at, $1, u.issue_id, u.event_id, u.ts, u.level, u.message,
       u.platform, u.release, u.environment, u.server_name, u.transaction, u.logger,
       u.tags, u.exception, u.breadcrumbs, u.user_data, u.contexts, u.extra
FROM unnest($2::uuid[], $3::timestamptz[], $4::uuid[], $5::uuid[], $6::timestamptz[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
            $13::text[], $14::text[], $15::jsonb[], $16::jsonb[], $17::jsonb[], $18::jsonb[],
            $19::jsonb[], $20::jsonb[])
     AS u(id, received_at, issue_id, event_id, ts, level, message, platform, release,
          environment, server_name, transaction, logger, tags, exception, breadcrumbs,
          user_data, contexts, extra)";

/// The issues a write touches, one array per column of [`UPSERT_ISSUES`], in (project,
/// fingerprint) order.
pub(super) struct IssueColumns<'a> {
    pub projects: Vec<ProjectId>,
    pub ids: Vec<IssueId>,
    pub hashes: Vec<&'a str>,
    pub fps: Vec<JsonText<'a>>,
    pub titles: Vec<&'a str>,
    pub culprits: Vec<Option<&'a str>>,
    pub levels: Vec<&'static str>,
    pub firsts: Vec<DateTime<Utc>>,
    pub lasts: Vec<DateTime<Utc>>,
    pub counts: Vec<i64>,
}

impl<'a> IssueColumns<'a> {
    pub fn of(batches: &[ProjectBatch<'a>]) -> Self {
        let issues = aggregate(batches);
        let n = issues.len();
        let mut c = IssueColumns {
            projects: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            hashes: Vec::with_capacity(n),
            fps: Vec::with_capacity(n),
            titles: Vec::with_capacity(n),
            culprits: Vec::with_capacity(n),
            levels: Vec::with_capacity(n),
            firsts: Vec::with_capacity(n),
            lasts: Vec::with_capacity(n),
            counts: Vec::with_capacity(n),
        };
        for ((project_id, hash), agg) in issues {
            c.projects.push(project_id);
            c.ids.push(IssueId::new());
            c.hashes.push(hash);
            c.fps.push(JsonText(agg.components));
            c.titles.push(agg.title);
            c.culprits.push(agg.culprit);
            c.levels.push(agg.level.as_str());
            c.firsts.push(agg.first_seen);
            c.lasts.push(agg.last_seen);
            c.counts.push(agg.count);
        }
        c
    }
}

/// The issue of each event of `batches`, in order, from what the upsert returned.
pub(super) fn issue_ids(
    batches: &[ProjectBatch<'_>],
    upserted: &[UpsertedIssue],
) -> Result<Vec<IssueId>, diesel::result::Error> {
    let issue_of: HashMap<(ProjectId, &str), IssueId> = upserted
        .iter()
        .map(|u| ((u.project_id, u.fingerprint_hash.as_str()), u.id))
        .collect();
    each_event(batches)
        .map(|(project_id, e)| issue_of.get(&(project_id, e.fingerprint_hash())).copied())
        .collect::<Option<_>>()
        .ok_or(diesel::result::Error::NotFound)
}

/// Stores `batch` (all of `project_id`) in one transaction: issues upserted, events inserted.
/// Returns what the committed batch did ([`BatchFacts`]).
pub async fn write_batch(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    batch: &[PendingEvent],
) -> Result<BatchFacts, DbError> {
    if batch.is_empty() {
        return Ok(BatchFacts {
            project_id,
            issues: Vec::new(),
        });
    }
    let batches = [ProjectBatch {
        project_id,
        events: batch,
    }];
    let issues = IssueColumns::of(&batches);
    let m = batch.len();
    let mut cols = EventColumns::with_capacity(m);
    for e in batch {
        cols.push(e);
    }

    let mut committed = None;
    conn.transaction(async |conn| {
        let upserted: Vec<UpsertedIssue> = diesel::sql_query(UPSERT_ISSUES)
            .bind::<Array<SqlUuid>, _>(&issues.projects)
            .bind::<Array<SqlUuid>, _>(&issues.ids)
            .bind::<Array<Text>, _>(&issues.hashes)
            .bind::<Array<Jsonb>, _>(&issues.fps)
            .bind::<Array<Text>, _>(&issues.titles)
            .bind::<Array<Nullable<Text>>, _>(&issues.culprits)
            .bind::<Array<Text>, _>(&issues.levels)
            .bind::<Array<Timestamptz>, _>(&issues.firsts)
            .bind::<Array<Timestamptz>, _>(&issues.lasts)
            .bind::<Array<BigInt>, _>(&issues.counts)
            .load(conn)
            .await?;
        let reopened = reopen_resolved(conn, &upserted).await?;
        let issue_ids = issue_ids(&batches, &upserted)?;
        committed = Some((upserted, reopened));
        let values = IssueValues::of(&batches, &issue_ids);
        if !values.is_empty() {
            diesel::sql_query(INSERT_ISSUE_VALUES)
                .bind::<Array<SqlUuid>, _>(&values.projects)
                .bind::<Array<Text>, _>(&values.keys)
                .bind::<Array<Text>, _>(&values.values)
                .bind::<Array<SqlUuid>, _>(&values.issues)
                .bind::<Array<Timestamptz>, _>(&values.firsts)
                .execute(conn)
                .await?;
        }
        diesel::sql_query(INSERT_EVENTS)
            .bind::<SqlUuid, _>(project_id)
            .bind::<Array<SqlUuid>, _>(&cols.id)
            .bind::<Array<Timestamptz>, _>(&cols.received_at)
            .bind::<Array<SqlUuid>, _>(&issue_ids)
            .bind::<Array<Nullable<SqlUuid>>, _>(&cols.event_id)
            .bind::<Array<Timestamptz>, _>(&cols.timestamp)
            .bind::<Array<Text>, _>(&cols.level)
            .bind::<Array<Text>, _>(&cols.message)
            .bind::<Array<Nullable<Text>>, _>(&cols.platform)
            .bind::<Array<Nullable<Text>>, _>(&cols.release)
            .bind::<Array<Nullable<Text>>, _>(&cols.environment)
            .bind::<Array<Nullable<Text>>, _>(&cols.server_name)
            .bind::<Array<Nullable<Text>>, _>(&cols.transaction)
            .bind::<Array<Nullable<Text>>, _>(&cols.logger)
            .bind::<Array<Jsonb>, _>(&cols.tags)
            .bind::<Array<Nullable<Jsonb>>, _>(&cols.exception)
            .bind::<Array<Nullable<Jsonb>>, _>(&cols.breadcrumbs)
            .bind::<Array<Nullable<Jsonb>>, _>(&cols.user_data)
            .bind::<Array<Nullable<Jsonb>>, _>(&cols.contexts)
            .bind::<Array<Jsonb>, _>(&cols.extra)
            .execute(conn)
            .await
            .map_err(DbError::from)
    })
    .await?;
    let (upserted, reopened) = committed.ok_or(diesel::result::Error::NotFound)?;
    let mut facts = facts(&batches, upserted, &reopened);
    Ok(facts.pop().ok_or(diesel::result::Error::NotFound)?)
}

/// Reopens the issues the upsert found resolved (a regression): one `UPDATE` of rows this
/// transaction already locks, and none at all when nothing regressed.
async fn reopen_resolved(
    conn: &mut AsyncPgConnection,
    upserted: &[UpsertedIssue],
) -> Result<Vec<ReopenedIssue>, DbError> {
    let resolved: Vec<IssueId> = upserted
        .iter()
        .filter(|u| u.status == IssueStatus::Resolved)
        .map(|u| u.id)
        .collect();
    if resolved.is_empty() {
        return Ok(Vec::new());
    }
    Ok(diesel::sql_query(REOPEN_ISSUES)
        .bind::<Array<SqlUuid>, _>(&resolved)
        .load(conn)
        .await?)
}

/// The facts of a committed write, one [`BatchFacts`] per batch of `batches`, in order.
pub(super) fn facts(
    batches: &[ProjectBatch<'_>],
    upserted: Vec<UpsertedIssue>,
    reopened: &[ReopenedIssue],
) -> Vec<BatchFacts> {
    let mut by_project: HashMap<ProjectId, Vec<UpsertedIssue>> = HashMap::new();
    for u in upserted {
        by_project.entry(u.project_id).or_default().push(u);
    }
    batches
        .iter()
        .map(|b| {
            let upserted = by_project.remove(&b.project_id).unwrap_or_default();
            project_facts(b.project_id, b.events, upserted, reopened)
        })
        .collect()
}

/// The facts of one project's batch: each upserted issue with its new state and its events.
fn project_facts(
    project_id: ProjectId,
    batch: &[PendingEvent],
    upserted: Vec<UpsertedIssue>,
    reopened: &[ReopenedIssue],
) -> BatchFacts {
    let mut events: HashMap<&str, Vec<EventFact>> = HashMap::with_capacity(upserted.len());
    for e in batch {
        events
            .entry(e.fingerprint_hash())
            .or_default()
            .push(EventFact {
                id: e.id,
                received_at: e.received_at,
                level: e.level,
                environment: e.get(Field::Environment).map(str::to_owned),
                message: short(e.message(), SHORT_MESSAGE_CHARS).to_owned(),
            });
    }
    let issues = upserted
        .into_iter()
        .map(|u| {
            let regressed = reopened.iter().any(|r| r.id == u.id);
            IssueFact {
                issue_id: u.id,
                created: u.created,
                regressed,
                times_seen: u.times_seen,
                status: if regressed {
                    IssueStatus::Unresolved
                } else {
                    u.status
                },
                level: u.level,
                last_seen: u.last_seen,
                events: events
                    .remove(u.fingerprint_hash.as_str())
                    .unwrap_or_default(),
            }
        })
        .collect();
    BatchFacts { project_id, issues }
}

/// The batch as one array per `events` column.
#[derive(Default)]
struct EventColumns<'a> {
    id: Vec<EventId>,
    received_at: Vec<DateTime<Utc>>,
    event_id: Vec<Option<Uuid>>,
    timestamp: Vec<DateTime<Utc>>,
    level: Vec<&'static str>,
    message: Vec<&'a str>,
    platform: Vec<Option<&'a str>>,
    release: Vec<Option<&'a str>>,
    environment: Vec<Option<&'a str>>,
    server_name: Vec<Option<&'a str>>,
    transaction: Vec<Option<&'a str>>,
    logger: Vec<Option<&'a str>>,
    tags: Vec<JsonText<'a>>,
    exception: Vec<Option<JsonText<'a>>>,
    breadcrumbs: Vec<Option<JsonText<'a>>>,
    user_data: Vec<Option<JsonText<'a>>>,
    contexts: Vec<Option<JsonText<'a>>>,
    extra: Vec<JsonText<'a>>,
}

impl<'a> EventColumns<'a> {
    fn with_capacity(n: usize) -> Self {
        let mut c = Self::default();
        c.id.reserve(n);
        c.received_at.reserve(n);
        c.event_id.reserve(n);
        c.timestamp.reserve(n);
        c.level.reserve(n);
        c.message.reserve(n);
        c.tags.reserve(n);
        c.extra.reserve(n);
        c
    }

    fn push(&mut self, p: &'a PendingEvent) {
        let json = move |f: Field| p.get(f).map(JsonText);
        self.id.push(p.id);
        self.received_at.push(p.received_at);
        self.event_id.push(p.event_id);
        self.timestamp.push(p.timestamp);
        self.level.push(p.level.as_str());
        self.message.push(p.message());
        self.platform.push(p.get(Field::Platform));
        self.release.push(p.get(Field::Release));
        self.environment.push(p.get(Field::Environment));
        self.server_name.push(p.get(Field::ServerName));
        self.transaction.push(p.get(Field::Transaction));
        self.logger.push(p.get(Field::Logger));
        self.tags.push(json(Field::Tags).unwrap_or(JsonText("{}")));
        self.exception.push(json(Field::Exception));
        self.breadcrumbs.push(json(Field::Breadcrumbs));
        self.user_data.push(json(Field::User));
        self.contexts.push(json(Field::Contexts));
        self.extra
            .push(json(Field::Extra).unwrap_or(JsonText("{}")));
    }
}

#[derive(diesel::QueryableByName)]
struct ExistingId {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// Which of `ids` (events of `project_id` received between `from` and `to`, so only those
/// partitions are read) are stored already: the spool's replay skips them.
pub async fn existing_ids(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    ids: &[Uuid],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Uuid>, DbError> {
    let rows: Vec<ExistingId> = diesel::sql_query(
        "SELECT id FROM events WHERE project_id = $1 AND id = ANY($2) \
         AND received_at BETWEEN $3 AND $4",
    )
    .bind::<SqlUuid, _>(project_id)
    .bind::<Array<SqlUuid>, _>(ids)
    .bind::<Timestamptz, _>(from)
    .bind::<Timestamptz, _>(to)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// True when the error is PostgreSQL's "no partition of relation … found for row".
pub fn is_missing_partition(error: &DbError) -> bool {
    matches!(error, DbError::Query(diesel::result::Error::DatabaseError(_, info))
        if info.message().contains("no partition of relation"))
}

/// The UTC days the batch's events fall in (by receive time), for creating partitions.
pub fn batch_days(batch: &[PendingEvent]) -> Vec<chrono::NaiveDate> {
    let mut days: Vec<_> = batch.iter().map(|e| e.received_at.date_naive()).collect();
    days.sort();
    days.dedup();
    days
}

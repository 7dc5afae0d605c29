//! Alert notifications as rows (`alert_deliveries`), the throttle that lets one node fire a
//! rule for an issue once per quiet period (`alert_throttle`), and the few reads the
//! evaluator and the delivery worker need (recent events of an issue, a project's members).
//!
//! A delivery worker claims due rows with `FOR UPDATE SKIP LOCKED`, so the workers of several
//! nodes share the rows without sending one twice; a claimed row is `sending` with its next
//! attempt pushed past a lease, so a worker that dies mid-send leaves it due again later.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int8, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use super::schema::{alert_deliveries, issues, memberships, organizations, projects, users};
use crate::domain::alerts::DeliveryStatus;
use crate::domain::{DeliveryId, EventId, IssueId, ProjectId, RuleId};

/// A row of `alert_deliveries`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alert_deliveries)]
pub struct Delivery {
    pub id: DeliveryId,
    pub rule_id: RuleId,
    pub issue_id: Option<IssueId>,
    pub event_id: Option<EventId>,
    pub payload: Value,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub status: DeliveryStatus,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Insert form of a new, pending [`Delivery`] (due at once).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = alert_deliveries)]
pub struct NewDelivery {
    pub id: DeliveryId,
    pub rule_id: RuleId,
    pub issue_id: Option<IssueId>,
    pub event_id: Option<EventId>,
    pub payload: Value,
    pub next_attempt_at: DateTime<Utc>,
    pub status: DeliveryStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// `Delivered`, `Pending` (to retry at `next_attempt_at`) or `Failed`.
    pub status: DeliveryStatus,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

/// Inserts notifications.
pub async fn insert(conn: &mut AsyncPgConnection, rows: &[NewDelivery]) -> QueryResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    diesel::insert_into(alert_deliveries::table)
        .values(rows)
        .execute(conn)
        .await
}

/// Claims up to `limit` due rows (pending, or sending past their lease), oldest due first,
/// skipping rows another worker holds: each becomes `sending`, its attempt counted, due again
/// at `lease_until` unless its attempt ends first.
pub async fn claim_due(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    let unfinished = [DeliveryStatus::Pending, DeliveryStatus::Sending];
    conn.transaction(async |conn| {
        let ids: Vec<DeliveryId> = alert_deliveries::table
            .filter(alert_deliveries::status.eq_any(unfinished))
            .filter(alert_deliveries::next_attempt_at.le(now))
            .order(alert_deliveries::next_attempt_at.asc())
            .limit(limit)
            .select(alert_deliveries::id)
            .for_update()
            .skip_locked()
            .load(conn)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(alert_deliveries::table.filter(alert_deliveries::id.eq_any(&ids)))
            .set((
                alert_deliveries::status.eq(DeliveryStatus::Sending),
                alert_deliveries::attempts.eq(alert_deliveries::attempts + 1),
                alert_deliveries::next_attempt_at.eq(lease_until),
                alert_deliveries::updated_at.eq(now),
            ))
            .returning(Delivery::as_returning())
            .get_results(conn)
            .await
    })
    .await
}

/// Records how the attempt on a claimed row ended.
pub async fn finish(
    conn: &mut AsyncPgConnection,
    id: DeliveryId,
    outcome: &AttemptOutcome,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(alert_deliveries::table.find(id))
        .set((
            alert_deliveries::status.eq(outcome.status),
            alert_deliveries::next_attempt_at.eq(outcome.next_attempt_at),
            alert_deliveries::last_status.eq(outcome.last_status),
            alert_deliveries::last_error.eq(outcome.last_error.as_deref()),
            alert_deliveries::updated_at.eq(now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Up to `limit` notifications of the rule, newest first, before the delivery `before`.
pub async fn list_for_rule(
    conn: &mut AsyncPgConnection,
    rule_id: RuleId,
    before: Option<DeliveryId>,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    let mut query = alert_deliveries::table
        .filter(alert_deliveries::rule_id.eq(rule_id))
        .order(alert_deliveries::id.desc())
        .limit(limit)
        .select(Delivery::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(alert_deliveries::id.lt(before));
    }
    query.load(conn).await
}

#[derive(QueryableByName)]
struct Won {
    #[diesel(sql_type = SqlUuid)]
    #[allow(dead_code)]
    rule_id: uuid::Uuid,
}

/// Whether this caller may fire `rule` for `issue` now: true for exactly one caller per quiet
/// period, whichever node it runs on — the row is created, or moved forward only when it is
/// at least `quiet_secs` old, in one statement that concurrent callers serialize on.
pub async fn claim_throttle(
    conn: &mut AsyncPgConnection,
    rule_id: RuleId,
    issue_id: IssueId,
    now: DateTime<Utc>,
    quiet_secs: i64,
) -> QueryResult<bool> {
    let won: Vec<Won> = diesel::sql_query(
        "INSERT INTO alert_throttle (rule_id, issue_id, fired_at) VALUES ($1, $2, $3) \
         ON CONFLICT (rule_id, issue_id) DO UPDATE SET fired_at = EXCLUDED.fired_at \
         WHERE alert_throttle.fired_at <= EXCLUDED.fired_at - make_interval(secs => $4) \
         RETURNING rule_id",
    )
    .bind::<SqlUuid, _>(rule_id.uuid())
    .bind::<SqlUuid, _>(issue_id.uuid())
    .bind::<Timestamptz, _>(now)
    .bind::<Int8, _>(quiet_secs)
    .load(conn)
    .await?;
    Ok(!won.is_empty())
}

/// Whether `rule` fired for `issue` less than `quiet_secs` before `now` (a read: the
/// evaluator skips the work of a candidate that could not win [`claim_throttle`]).
pub async fn is_quiet(
    conn: &mut AsyncPgConnection,
    rule_id: RuleId,
    issue_id: IssueId,
    now: DateTime<Utc>,
    quiet_secs: i64,
) -> QueryResult<bool> {
    use super::schema::alert_throttle;
    let since = now - chrono::Duration::seconds(quiet_secs);
    diesel::select(diesel::dsl::exists(
        alert_throttle::table
            .filter(alert_throttle::rule_id.eq(rule_id))
            .filter(alert_throttle::issue_id.eq(issue_id))
            .filter(alert_throttle::fired_at.gt(since)),
    ))
    .get_result(conn)
    .await
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Events of the issue received since `since`, counted up to `cap` (enough to compare with
/// a threshold without counting a storm whole).
pub async fn recent_events(
    conn: &mut AsyncPgConnection,
    issue_id: IssueId,
    since: DateTime<Utc>,
    cap: i64,
) -> QueryResult<i64> {
    let row: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM (SELECT 1 FROM events \
         WHERE issue_id = $1 AND received_at >= $2 LIMIT $3) recent",
    )
    .bind::<SqlUuid, _>(issue_id.uuid())
    .bind::<Timestamptz, _>(since)
    .bind::<Int8, _>(cap)
    .get_result(conn)
    .await?;
    Ok(row.n)
}

/// What a notification says about its project: the org's slug, the project's slug and name.
#[derive(Debug, Clone, Queryable)]
pub struct ProjectContext {
    pub id: ProjectId,
    pub org_slug: String,
    pub slug: String,
    pub name: String,
}

/// The project's context, if it still exists.
pub async fn project_context(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
) -> QueryResult<Option<ProjectContext>> {
    projects::table
        .inner_join(organizations::table)
        .filter(projects::id.eq(project_id))
        .select((
            projects::id,
            organizations::slug,
            projects::slug,
            projects::name,
        ))
        .first(conn)
        .await
        .optional()
}

/// The issues among `ids` (any order).
pub async fn issues_by_id(
    conn: &mut AsyncPgConnection,
    ids: &[IssueId],
) -> QueryResult<Vec<super::issues::Issue>> {
    issues::table
        .filter(issues::id.eq_any(ids))
        .select(super::issues::Issue::as_select())
        .load(conn)
        .await
}

/// The e-mail addresses of every member of the project's organization.
pub async fn member_emails(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
) -> QueryResult<Vec<String>> {
    projects::table
        .inner_join(memberships::table.on(memberships::org_id.eq(projects::org_id)))
        .inner_join(users::table.on(users::id.eq(memberships::user_id)))
        .filter(projects::id.eq(project_id))
        .order(users::email.asc())
        .select(users::email)
        .load(conn)
        .await
}

/// The rule with this id, whatever its project (a delivery worker's view).
pub async fn rule_by_id(
    conn: &mut AsyncPgConnection,
    rule_id: RuleId,
) -> QueryResult<Option<super::alerts::AlertRule>> {
    use super::schema::alert_rules;
    alert_rules::table
        .find(rule_id)
        .select(super::alerts::AlertRule::as_select())
        .first(conn)
        .await
        .optional()
}

//! Reading events back: the (project's or issue's) event list and one event by id.
//!
//! The lists are keyset-paginated on `(received_at, id)`, both descending: the order of
//! `events_project_received_idx` and `events_issue_received_idx`. Every bound on
//! `received_at` (the `since`/`until` filters, the cursor) is also written as a plain
//! comparison of the partition key, so PostgreSQL skips the day partitions outside it, and
//! each remaining partition is a range scan of its index that stops after `limit` rows.

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::issues::contains_pattern;
use super::schema::events;
use crate::domain::{EventId, IssueId, Level, ProjectId};

/// An event as the lists show it: the scalars and the tags, not the interfaces.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = events)]
pub struct EventSummary {
    /// Mesher's id (UUIDv7, assigned at receive time).
    pub id: EventId,
    /// The client's own id, when it sent one.
    pub event_id: Option<Uuid>,
    pub issue_id: IssueId,
    pub received_at: DateTime<Utc>,
    /// The event's own time, as the client reported it.
    pub timestamp: DateTime<Utc>,
    pub level: Level,
    pub message: String,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub platform: Option<String>,
    #[schema(value_type = Object)]
    pub tags: serde_json::Value,
}

/// A whole row of `events`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: EventId,
    pub received_at: DateTime<Utc>,
    pub project_id: ProjectId,
    pub issue_id: IssueId,
    pub event_id: Option<Uuid>,
    pub timestamp: DateTime<Utc>,
    pub level: Level,
    pub message: String,
    pub platform: Option<String>,
    pub release: Option<String>,
    pub environment: Option<String>,
    pub server_name: Option<String>,
    pub transaction: Option<String>,
    pub logger: Option<String>,
    pub tags: serde_json::Value,
    pub exception: Option<serde_json::Value>,
    pub breadcrumbs: Option<serde_json::Value>,
    pub user_data: Option<serde_json::Value>,
    pub contexts: Option<serde_json::Value>,
    pub extra: serde_json::Value,
}

/// Whose events a list shows.
#[derive(Debug, Clone, Copy)]
pub enum EventScope {
    Project(ProjectId),
    Issue(IssueId),
}

/// Filters of the event lists; `None` (or no tags) means "any". All must hold.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub level: Option<Level>,
    /// Received at or after.
    pub since: Option<DateTime<Utc>>,
    /// Received before.
    pub until: Option<DateTime<Utc>>,
    pub environment: Option<String>,
    pub release: Option<String>,
    /// Tags the event must all carry, as (key, value).
    pub tags: Vec<(String, String)>,
    /// Case-insensitive substring of the message.
    pub q: Option<String>,
}

/// One page (at most `limit` rows) of events, newest first, strictly after `after`
/// (the `(received_at, id)` of the previous page's last row).
pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: EventScope,
    filter: &EventFilter,
    after: Option<(DateTime<Utc>, EventId)>,
    limit: i64,
) -> QueryResult<Vec<EventSummary>> {
    let mut query = events::table.select(EventSummary::as_select()).into_boxed();
    query = match scope {
        EventScope::Project(id) => query.filter(events::project_id.eq(id)),
        EventScope::Issue(id) => query.filter(events::issue_id.eq(id)),
    };
    if let Some(since) = filter.since {
        query = query.filter(events::received_at.ge(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(events::received_at.lt(until));
    }
    if let Some((received_at, id)) = after {
        // The plain bound prunes partitions newer than the cursor; the row comparison is
        // the index condition that starts the scan right after the cursor's row.
        query = query.filter(events::received_at.le(received_at)).filter(
            sql::<Bool>("(events.received_at, events.id) < (")
                .bind::<Timestamptz, _>(received_at)
                .sql(", ")
                .bind::<SqlUuid, _>(id.uuid())
                .sql(")"),
        );
    }
    if let Some(level) = filter.level {
        query = query.filter(events::level.eq(level));
    }
    if let Some(environment) = &filter.environment {
        query = query.filter(events::environment.eq(environment.clone()));
    }
    if let Some(release) = &filter.release {
        query = query.filter(events::release.eq(release.clone()));
    }
    for (key, value) in &filter.tags {
        // One containment per tag (`tags @> '{"k":"v"}'`), served by the GIN index.
        let mut wanted = serde_json::Map::new();
        wanted.insert(key.clone(), serde_json::Value::String(value.clone()));
        query = query.filter(events::tags.contains(serde_json::Value::Object(wanted)));
    }
    if let Some(q) = &filter.q {
        query = query.filter(events::message.ilike(contains_pattern(q)));
    }
    query
        .order((events::received_at.desc(), events::id.desc()))
        .limit(limit)
        .load(conn)
        .await
}

/// How far from the time in its UUIDv7 an event's `received_at` is looked for: the id is
/// made at receive time, so this only has to absorb clock differences between servers.
const ID_TIME_SLACK: Duration = Duration::days(1);

/// The time a UUIDv7 carries (unix milliseconds); `None` for any other id.
pub fn v7_time(id: EventId) -> Option<DateTime<Utc>> {
    let id = id.uuid();
    if id.get_version_num() != 7 {
        return None;
    }
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
}

/// The project's event with Mesher id `id`, if any. The id's own time bounds
/// `received_at`, so only the partitions around it are searched.
pub async fn find(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    id: EventId,
) -> QueryResult<Option<EventRow>> {
    let Some(t) = v7_time(id) else {
        return Ok(None);
    };
    events::table
        .filter(events::id.eq(id))
        .filter(events::received_at.between(t - ID_TIME_SLACK, t + ID_TIME_SLACK))
        .filter(events::project_id.eq(project_id))
        .select(EventRow::as_select())
        .first(conn)
        .await
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v7_id_tells_its_time_and_others_do_not() {
        let t: DateTime<Utc> = "2026-03-04T05:06:07.089Z".parse().unwrap();
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            t.timestamp() as u64,
            t.timestamp_subsec_nanos(),
        );
        assert_eq!(v7_time(EventId(Uuid::new_v7(ts))), Some(t));
        let v4: Uuid = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse().unwrap();
        assert_eq!(v7_time(EventId(v4)), None);
        assert_eq!(v7_time(EventId(Uuid::nil())), None);
    }
}

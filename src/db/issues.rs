//! Reading and triaging issues (the writer upserts them, see [`super::events`]).
//!
//! The list is keyset-paginated on `(sort key, id)`, both descending, which is exactly the
//! order of `issues_project_{last_seen,first_seen,times_seen}_idx`: a page is a range scan
//! of the index from the cursor on, however deep the page.

use super::schema::{issue_values, issues};
pub use crate::domain::IssueStatus;
use crate::domain::pending::Field;
use crate::domain::{IssueId, Level, ProjectId};
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// A row of `issues`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = issues)]
pub struct Issue {
    pub id: IssueId,
    pub project_id: ProjectId,
    /// SHA-256 hex of the fingerprint components.
    pub fingerprint_hash: String,
    /// The readable fingerprint components the issue groups by.
    pub fingerprint: serde_json::Value,
    pub title: String,
    pub culprit: Option<String>,
    /// The most severe level seen.
    pub level: Level,
    pub status: IssueStatus,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub times_seen: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The order of the issue list (always descending, ties broken by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IssueSort {
    #[default]
    LastSeen,
    FirstSeen,
    TimesSeen,
}

impl IssueSort {
    /// The sort named `s`, if any.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "last_seen" => Some(Self::LastSeen),
            "first_seen" => Some(Self::FirstSeen),
            "times_seen" => Some(Self::TimesSeen),
            _ => None,
        }
    }

    /// The name as in `?sort=` (also the column).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LastSeen => "last_seen",
            Self::FirstSeen => "first_seen",
            Self::TimesSeen => "times_seen",
        }
    }
}

/// Where the previous page of the issue list ended: the last row's sort key and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SortKey {
    Time(DateTime<Utc>),
    Count(i64),
}

impl SortKey {
    /// The sort key of `issue` under `sort`.
    pub fn of(issue: &Issue, sort: IssueSort) -> Self {
        match sort {
            IssueSort::LastSeen => Self::Time(issue.last_seen),
            IssueSort::FirstSeen => Self::Time(issue.first_seen),
            IssueSort::TimesSeen => Self::Count(issue.times_seen),
        }
    }

    /// True when this key has the type `sort` orders by.
    pub fn fits(&self, sort: IssueSort) -> bool {
        matches!(
            (self, sort),
            (Self::Time(_), IssueSort::LastSeen | IssueSort::FirstSeen)
                | (Self::Count(_), IssueSort::TimesSeen)
        )
    }
}

/// Filters of the issue list; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct IssueFilter {
    pub status: Option<IssueStatus>,
    pub level: Option<Level>,
    /// Case-insensitive substring of the title or the culprit.
    pub q: Option<String>,
    /// Issues with at least one event of this environment.
    pub environment: Option<String>,
    /// Issues with at least one event of this release.
    pub release: Option<String>,
}

/// `s` as an ILIKE pattern matching it anywhere, its own `%`, `_` and `\` taken literally.
pub fn contains_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// One page (at most `limit` rows) of the project's issues in `sort` order, after `after`.
pub async fn list(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    filter: &IssueFilter,
    sort: IssueSort,
    after: Option<(SortKey, IssueId)>,
    limit: i64,
) -> QueryResult<Vec<Issue>> {
    let mut query = issues::table
        .filter(issues::project_id.eq(project_id))
        .select(Issue::as_select())
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(issues::status.eq(status));
    }
    if let Some(level) = filter.level {
        query = query.filter(issues::level.eq(level));
    }
    if let Some(q) = &filter.q {
        let pattern = contains_pattern(q);
        query = query.filter(
            issues::title
                .ilike(pattern.clone())
                .or(issues::culprit.ilike(pattern)),
        );
    }
    // An issue has no environment or release of its own: its events do, and the writer
    // records each pair in `issue_values`, whose primary key leads with these columns.
    for (key, value) in [
        (IssueValueKey::Environment, &filter.environment),
        (IssueValueKey::Release, &filter.release),
    ] {
        if let Some(value) = value {
            query = query.filter(
                issues::id.eq_any(
                    issue_values::table
                        .filter(issue_values::project_id.eq(project_id))
                        .filter(issue_values::key.eq(key.as_str()))
                        .filter(issue_values::value.eq(value.clone()))
                        .select(issue_values::issue_id),
                ),
            );
        }
    }
    if let Some((key, id)) = after {
        // A row comparison is an index condition of the (project_id, key DESC, id DESC)
        // index; the column name comes from the enum, never from input.
        let head = sql::<Bool>(&format!("({}, issues.id) < (", sort.as_str()));
        query = match key {
            SortKey::Time(t) => query.filter(
                head.bind::<Timestamptz, _>(t)
                    .sql(", ")
                    .bind::<SqlUuid, _>(id.uuid())
                    .sql(")"),
            ),
            SortKey::Count(n) => query.filter(
                head.bind::<BigInt, _>(n)
                    .sql(", ")
                    .bind::<SqlUuid, _>(id.uuid())
                    .sql(")"),
            ),
        };
    }
    query = match sort {
        IssueSort::LastSeen => query.order((issues::last_seen.desc(), issues::id.desc())),
        IssueSort::FirstSeen => query.order((issues::first_seen.desc(), issues::id.desc())),
        IssueSort::TimesSeen => query.order((issues::times_seen.desc(), issues::id.desc())),
    };
    query.limit(limit).load(conn).await
}

/// The project's issue with this id, if any.
pub async fn find(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    issue_id: IssueId,
) -> QueryResult<Option<Issue>> {
    issues::table
        .filter(issues::id.eq(issue_id))
        .filter(issues::project_id.eq(project_id))
        .select(Issue::as_select())
        .first(conn)
        .await
        .optional()
}

/// The project's issues among `ids` (any order; unknown ids are left out).
pub async fn find_many(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    ids: &[IssueId],
) -> QueryResult<Vec<Issue>> {
    issues::table
        .filter(issues::project_id.eq(project_id))
        .filter(issues::id.eq_any(ids))
        .select(Issue::as_select())
        .load(conn)
        .await
}

/// Sets the status of the project's issue `issue_id`; `None` when there is no such issue.
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    issue_id: IssueId,
    status: IssueStatus,
) -> QueryResult<Option<Issue>> {
    diesel::update(
        issues::table
            .filter(issues::id.eq(issue_id))
            .filter(issues::project_id.eq(project_id)),
    )
    .set((
        issues::status.eq(status),
        issues::updated_at.eq(diesel::dsl::now),
    ))
    .returning(Issue::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Sets the status of those of `ids` that are the project's issues (others are ignored);
/// answers how many changed.
pub async fn set_status_many(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    ids: &[IssueId],
    status: IssueStatus,
) -> QueryResult<usize> {
    diesel::update(
        issues::table
            .filter(issues::id.eq_any(ids))
            .filter(issues::project_id.eq(project_id)),
    )
    .set((
        issues::status.eq(status),
        issues::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(contains_pattern("plain"), "%plain%");
    }

    #[test]
    fn sort_keys_round_trip_and_know_their_sort() {
        let t = SortKey::Time("2026-01-02T03:04:05.123456Z".parse().unwrap());
        let n = SortKey::Count(42);
        for k in [t, n] {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<SortKey>(&json).unwrap(), k);
        }
        assert!(t.fits(IssueSort::FirstSeen) && !t.fits(IssueSort::TimesSeen));
        assert!(n.fits(IssueSort::TimesSeen) && !n.fits(IssueSort::LastSeen));
    }
}

/// Which facet of its events an issue remembers (`issue_values.key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueValueKey {
    Environment,
    Release,
}

impl IssueValueKey {
    pub const ALL: [Self; 2] = [Self::Environment, Self::Release];

    /// The event field whose values it records.
    pub fn field(self) -> Field {
        match self {
            Self::Environment => Field::Environment,
            Self::Release => Field::Release,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Environment => "environment",
            Self::Release => "release",
        }
    }
}

/// The `key` values the project's issues have seen, most recently first seen first (at most
/// `limit`): the suggestions of the issue list's filters.
pub async fn known_values(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    key: IssueValueKey,
    limit: i64,
) -> QueryResult<Vec<String>> {
    issue_values::table
        .filter(issue_values::project_id.eq(project_id))
        .filter(issue_values::key.eq(key.as_str()))
        .group_by(issue_values::value)
        .select(issue_values::value)
        .order(diesel::dsl::max(issue_values::first_seen).desc())
        .limit(limit)
        .load(conn)
        .await
}

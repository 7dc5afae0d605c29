//! Reading events: a project's event list (filtered, newest first, keyset-paginated) and
//! one whole event. Members of the organization only; anyone else gets 404.
//!
//! Filters (all optional, all must hold; an empty value is the same as none):
//! `level` (one of the five levels), `since` (received at or after, RFC 3339), `until`
//! (received before, RFC 3339), `environment`, `release` (exact), `tag=key:value`
//! (repeatable; the first `:` separates key and value), `q` (case-insensitive substring of
//! the message). A bad value is a 400 naming its parameter.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::db::event_queries::{self, EventFilter, EventRow, EventScope, EventSummary};
use crate::domain::{EventId, IssueId, Level, ProjectId, Role};
use crate::error::ApiError;
use crate::http::access::project_for;
use crate::http::pagination::{Page, PageParams, cursor_time};
use crate::http::validate::{parse_level, parse_q, parse_tag, parse_time};

/// Query of the event lists, as sent (`tag` may be repeated).
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListParams {
    /// `fatal`, `error`, `warning`, `info` or `debug`.
    pub level: Option<String>,
    /// Events received at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Events received before this time (RFC 3339).
    pub until: Option<String>,
    /// Exact environment.
    pub environment: Option<String>,
    /// Exact release.
    pub release: Option<String>,
    /// `key:value`; repeat the parameter to require several tags.
    #[param(value_type = Option<Vec<String>>)]
    pub tag: Vec<String>,
    /// Case-insensitive substring of the message.
    pub q: Option<String>,
    /// Rows per page, 1..=1000 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One whole event, with its interfaces as Sentry shows them.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventDetail {
    /// Mesher's id (UUIDv7).
    pub id: EventId,
    /// The client's own id, when it sent one.
    pub event_id: Option<Uuid>,
    pub project_id: ProjectId,
    pub issue_id: IssueId,
    pub received_at: DateTime<Utc>,
    pub timestamp: DateTime<Utc>,
    pub level: Level,
    pub message: String,
    pub platform: Option<String>,
    pub release: Option<String>,
    pub environment: Option<String>,
    pub server_name: Option<String>,
    pub transaction: Option<String>,
    pub logger: Option<String>,
    #[schema(value_type = Object)]
    pub tags: Value,
    /// `{"values":[...]}`, innermost exception first, the raised one last.
    #[schema(value_type = Option<Object>)]
    pub exception: Option<Value>,
    /// `{"values":[...]}`, oldest first.
    #[schema(value_type = Option<Object>)]
    pub breadcrumbs: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub user: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub contexts: Option<Value>,
    #[schema(value_type = Object)]
    pub extra: Value,
}

impl From<EventRow> for EventDetail {
    fn from(e: EventRow) -> Self {
        let values = |v: Option<Value>| v.map(|v| json!({ "values": v }));
        Self {
            id: e.id,
            event_id: e.event_id,
            project_id: e.project_id,
            issue_id: e.issue_id,
            received_at: e.received_at,
            timestamp: e.timestamp,
            level: e.level,
            message: e.message,
            platform: e.platform,
            release: e.release,
            environment: e.environment,
            server_name: e.server_name,
            transaction: e.transaction,
            logger: e.logger,
            tags: e.tags,
            exception: values(e.exception),
            breadcrumbs: values(e.breadcrumbs),
            user: e.user_data,
            contexts: e.contexts,
            extra: e.extra,
        }
    }
}

impl EventListParams {
    /// Collects the query's pairs; unknown parameters are ignored, a repeated one other
    /// than `tag` keeps its last value.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut p = Self::default();
        for (key, value) in pairs {
            let slot = match key.as_str() {
                "level" => &mut p.level,
                "since" => &mut p.since,
                "until" => &mut p.until,
                "environment" => &mut p.environment,
                "release" => &mut p.release,
                "q" => &mut p.q,
                "limit" => &mut p.limit,
                "cursor" => &mut p.cursor,
                "tag" => {
                    p.tag.push(value);
                    continue;
                }
                _ => continue,
            };
            *slot = Some(value);
        }
        p
    }

    /// Validates the parameters into a filter and the page wanted.
    pub fn parse(self) -> Result<(EventFilter, PageParams), ApiError> {
        let given = |v: Option<String>| v.filter(|v| !v.is_empty());
        let level = given(self.level)
            .map(|l| parse_level("level", &l))
            .transpose()?;
        let since = given(self.since)
            .map(|t| parse_time("since", &t))
            .transpose()?;
        let until = given(self.until)
            .map(|t| parse_time("until", &t))
            .transpose()?;
        // `until` before `since` is an empty range: an empty page, like any other range
        // without events.
        let tags = self
            .tag
            .iter()
            .filter(|t| !t.is_empty())
            .map(|t| parse_tag(t))
            .collect::<Result<_, _>>()?;
        let filter = EventFilter {
            level,
            since,
            until,
            // Stored values have NUL replaced by U+FFFD (PostgreSQL cannot hold it).
            environment: given(self.environment).map(|v| v.replace('\0', "\u{FFFD}")),
            release: given(self.release).map(|v| v.replace('\0', "\u{FFFD}")),
            tags,
            q: parse_q(self.q)?,
        };
        Ok((filter, PageParams::from_raw(self.limit, self.cursor)?))
    }
}

/// Answers one page of `scope`'s events for the raw query `pairs`.
pub(crate) async fn event_page(
    conn: &mut diesel_async::AsyncPgConnection,
    scope: EventScope,
    pairs: Vec<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (filter, page) = EventListParams::from_pairs(pairs).parse()?;
    let limit = page.limit()?;
    let after = page
        .cursor::<(DateTime<Utc>, EventId)>()?
        .map(|(t, id)| Ok::<_, ApiError>((cursor_time(t)?, id)))
        .transpose()?;
    let rows = event_queries::list(conn, scope, &filter, after, limit + 1).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |e| (e.received_at, e.id))))
}

/// A project's events, newest first.
#[utoipa::path(tag = "events",
    params(("org" = String, Path, description = "organization slug"),
           ("project" = String, Path, description = "project slug"),
           EventListParams),
    responses((status = 200, body = Page<EventSummary>), (status = 400), (status = 401), (status = 404)))]
#[get("/api/v1/orgs/{org}/projects/{project}/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, String)>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let (org, project) = path.into_inner();
    let (mut conn, project) = project_for(&state, &current, &org, &project, Role::Member).await?;
    event_page(
        &mut conn,
        EventScope::Project(project.id),
        query.into_inner(),
    )
    .await
}

/// One event of the project, by Mesher's id, with all its interfaces.
#[utoipa::path(tag = "events",
    params(("org" = String, Path, description = "organization slug"),
           ("project" = String, Path, description = "project slug"),
           ("event_id" = Uuid, Path, description = "Mesher's event id (not the client's)")),
    responses((status = 200, body = EventDetail), (status = 401), (status = 404)))]
#[get("/api/v1/orgs/{org}/projects/{project}/events/{event_id}")]
pub async fn get_event(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, String, EventId)>,
) -> Result<HttpResponse, ApiError> {
    let (org, project, id) = path.into_inner();
    let (mut conn, project) = project_for(&state, &current, &org, &project, Role::Member).await?;
    let event = event_queries::find(&mut conn, project.id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such event"))?;
    Ok(HttpResponse::Ok().json(EventDetail::from(event)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<(EventFilter, PageParams), ApiError> {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(query).unwrap();
        EventListParams::from_pairs(pairs.into_inner()).parse()
    }

    fn field_of(query: &str) -> Option<String> {
        parse(query).unwrap_err().field
    }

    #[test]
    fn filters_parse() {
        let (f, page) = parse(
            "level=WARN&since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00%2B01:00\
             &environment=prod&release=&tag=region:eu:west&tag=a:b&q=50%25&limit=7",
        )
        .unwrap();
        assert_eq!(f.level, Some(Level::Warning));
        assert_eq!(f.since.unwrap().to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert_eq!(f.until.unwrap().to_rfc3339(), "2026-01-01T23:00:00+00:00");
        assert_eq!(f.environment.as_deref(), Some("prod"));
        assert_eq!(f.release, None);
        assert_eq!(
            f.tags,
            vec![
                ("region".into(), "eu:west".into()),
                ("a".into(), "b".into())
            ]
        );
        assert_eq!(f.q.as_deref(), Some("50%"));
        assert_eq!(page.limit().unwrap(), 7);
        // A `+` sent unencoded arrives as a space.
        let (f, _) = parse("since=2026-01-01T00:00:00+01:00").unwrap();
        assert_eq!(f.since.unwrap().to_rfc3339(), "2025-12-31T23:00:00+00:00");
    }

    #[test]
    fn until_before_since_is_an_empty_range_not_an_error() {
        let (f, _) = parse("since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z").unwrap();
        assert!(f.until.unwrap() < f.since.unwrap());
    }

    #[test]
    fn bad_values_name_their_parameter() {
        for (query, field) in [
            ("level=loud", "level"),
            ("since=yesterday", "since"),
            ("until=2026-13-01T00:00:00Z", "until"),
            ("tag=novalue", "tag"),
            ("tag=:v", "tag"),
            ("tag=k:", "tag"),
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=ten", "limit"),
        ] {
            assert_eq!(field_of(query).as_deref(), Some(field), "{query}");
        }
        assert_eq!(
            field_of(&format!("q={}", "x".repeat(1001))).as_deref(),
            Some("q")
        );
    }
}

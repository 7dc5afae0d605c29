//! Issues: the list (filtered, sorted, keyset-paginated), one issue, its status (triage),
//! and its events. Members of the organization only; anyone else gets 404.
//!
//! `?status=` absent lists issues of every status (Sentry's UI defaults to unresolved; an API
//! filter that is not given filters nothing). `q` is a case-insensitive substring of the
//! title or the culprit.

use actix_web::{HttpResponse, get, patch, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::db::event_queries::EventScope;
use crate::db::event_queries::EventSummary;
use crate::db::issues::{self, Issue, IssueFilter, IssueSort, SortKey};
use crate::domain::{IssueId, IssueStatus, Level, ProjectId, Role};
use crate::error::ApiError;
use crate::http::access::project_for;
use crate::http::events::{EventListParams, event_page};
use crate::http::pagination::{Page, PageParams, cursor_time};
use crate::http::validate::{parse_level, parse_q, parse_status};

/// An issue as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueOut {
    pub id: IssueId,
    pub title: String,
    pub culprit: Option<String>,
    /// The most severe level seen.
    pub level: Level,
    pub status: IssueStatus,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub times_seen: i64,
    /// The fingerprint components the issue groups events by.
    #[schema(value_type = Vec<String>)]
    pub fingerprint: Value,
}

impl From<Issue> for IssueOut {
    fn from(i: Issue) -> Self {
        Self {
            id: i.id,
            title: i.title,
            culprit: i.culprit,
            level: i.level,
            status: i.status,
            first_seen: i.first_seen,
            last_seen: i.last_seen,
            times_seen: i.times_seen,
            fingerprint: i.fingerprint,
        }
    }
}

/// Query of the issue list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IssueListParams {
    /// `unresolved`, `resolved` or `ignored` (default: all).
    pub status: Option<String>,
    /// `fatal`, `error`, `warning`, `info` or `debug`.
    pub level: Option<String>,
    /// Case-insensitive substring of the title or the culprit.
    pub q: Option<String>,
    /// `last_seen` (default), `first_seen` or `times_seen`; always newest/most first.
    pub sort: Option<String>,
    /// Rows per page, 1..=1000 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (of the same sort).
    pub cursor: Option<String>,
}

/// `PATCH` body of an issue.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IssuePatch {
    /// `unresolved`, `resolved` or `ignored`.
    #[schema(value_type = crate::domain::IssueStatus, required = true)]
    pub status: Option<Value>,
}

/// The project's issue `id`, or 404.
async fn issue_of(
    conn: &mut diesel_async::AsyncPgConnection,
    project_id: ProjectId,
    id: IssueId,
) -> Result<Issue, ApiError> {
    issues::find(conn, project_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such issue"))
}

/// Where a page of the issue list in `sort` order starts: the decoded `cursor`, which must
/// come from a page of the same sort (400 naming `cursor` otherwise).
pub(crate) fn issue_cursor(
    page: &PageParams,
    sort: IssueSort,
) -> Result<Option<(SortKey, IssueId)>, ApiError> {
    match page.cursor::<(String, SortKey, IssueId)>()? {
        None => Ok(None),
        Some((s, SortKey::Time(t), id)) if s == sort.as_str() && SortKey::Time(t).fits(sort) => {
            Ok(Some((SortKey::Time(cursor_time(t)?), id)))
        }
        Some((s, key, id)) if s == sort.as_str() && key.fits(sort) => Ok(Some((key, id))),
        Some(_) => Err(ApiError::invalid_field(
            "cursor",
            "cursor belongs to another sort",
        )),
    }
}

/// The cursor of the page after one ending with `last`.
pub(crate) fn issue_page(rows: Vec<Issue>, limit: i64, sort: IssueSort) -> Page<Issue> {
    Page::from_rows(rows, limit, |i| (sort.as_str(), SortKey::of(i, sort), i.id))
}

/// A project's issues; by default the most recently seen first.
#[utoipa::path(tag = "issues",
    params(("org" = String, Path, description = "organization slug"),
           ("project" = String, Path, description = "project slug"),
           IssueListParams),
    responses((status = 200, body = Page<IssueOut>), (status = 400), (status = 401), (status = 404)))]
#[get("/api/v1/orgs/{org}/projects/{project}/issues")]
pub async fn list_issues(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, String)>,
    query: web::Query<IssueListParams>,
) -> Result<HttpResponse, ApiError> {
    let (org, project) = path.into_inner();
    let (mut conn, project) = project_for(&state, &current, &org, &project, Role::Member).await?;
    let p = query.into_inner();
    let given = |v: Option<String>| v.filter(|v| !v.is_empty());
    let filter = IssueFilter {
        status: given(p.status)
            .map(|s| parse_status(Some(&s)))
            .transpose()?,
        level: given(p.level)
            .map(|l| parse_level("level", &l))
            .transpose()?,
        q: parse_q(p.q)?,
        ..IssueFilter::default()
    };
    let sort = match given(p.sort) {
        None => IssueSort::default(),
        Some(s) => IssueSort::parse(&s).ok_or_else(|| {
            ApiError::invalid_field("sort", "sort must be last_seen, first_seen or times_seen")
        })?,
    };
    let page = PageParams::from_raw(p.limit, p.cursor)?;
    let limit = page.limit()?;
    let after = issue_cursor(&page, sort)?;
    let rows = issues::list(&mut conn, project.id, &filter, sort, after, limit + 1).await?;
    let page = issue_page(rows, limit, sort);
    Ok(HttpResponse::Ok().json(page.map(IssueOut::from)))
}

/// One issue of the project.
#[utoipa::path(tag = "issues",
    params(("org" = String, Path, description = "organization slug"),
           ("project" = String, Path, description = "project slug"),
           ("issue_id" = Uuid, Path)),
    responses((status = 200, body = IssueOut), (status = 401), (status = 404)))]
#[get("/api/v1/orgs/{org}/projects/{project}/issues/{issue_id}")]
pub async fn get_issue(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, String, IssueId)>,
) -> Result<HttpResponse, ApiError> {
    let (org, project, id) = path.into_inner();
    let (mut conn, project) = project_for(&state, &current, &org, &project, Role::Member).await?;
    let issue = issue_of(&mut conn, project.id, id).await?;
    Ok(HttpResponse::Ok().json(IssueOut::from(issue)))
}

/// Change an issue's status (resolve, ignore, reopen). A resolved issue that receives a new
/// event becomes unresolved again by itself (a regression).
#[utoipa::path(tag = "issues", request_body = IssuePatch,
    params(("org" = String, Path, description = "organization slug"),
           ("project" = String, Path, description = "project slug"),
           ("issue_id" = Uuid, Path)),
    responses((status = 200, body = IssueOut), (status = 400), (status = 401), (status = 403),
              (status = 404), (status = 415)))]
#[patch("/api/v1/orgs/{org}/projects/{project}/issues/{issue_id}")]
pub async fn update_issue(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, String, IssueId)>,
    body: crate::http::validate::JsonObject<IssuePatch>,
) -> Result<HttpResponse, ApiError> {
    let (org, project, id) = path.into_inner();
    let (mut conn, project) = project_for(&state, &current, &org, &project, Role::Member).await?;
    let status = parse_status(body.status.as_ref().and_then(Value::as_str))?;
    let issue = issues::set_status(&mut conn, project.id, id, status)
        .await?
        .ok_or_else(|| ApiError::not_found("no such issue"))?;
    Ok(HttpResponse::Ok().json(IssueOut::from(issue)))
}

/// An issue's events, newest first (the filters of the project's event list apply).
#[utoipa::path(tag = "issues",
    params(("org" = String, Path, description = "organization slug"),
           ("project" = String, Path, description = "project slug"),
           ("issue_id" = Uuid, Path),
           EventListParams),
    responses((status = 200, body = Page<EventSummary>), (status = 400), (status = 401), (status = 404)))]
#[get("/api/v1/orgs/{org}/projects/{project}/issues/{issue_id}/events")]
pub async fn list_issue_events(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, String, IssueId)>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let (org, project, id) = path.into_inner();
    let (mut conn, project) = project_for(&state, &current, &org, &project, Role::Member).await?;
    let issue = issue_of(&mut conn, project.id, id).await?;
    event_page(&mut conn, EventScope::Issue(issue.id), query.into_inner()).await
}

//! `/{org}/{project}/issues`: the issue list with status tabs, filters (level, environment,
//! release, text), sorts, keyset pages (the API's cursors) and bulk resolve/ignore. With
//! JavaScript, new issues and rising counts arrive live from the project's event stream.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::{project_access, project_crumbs, see_other};
use crate::AppState;
use crate::db::activity::{self, Per};
use crate::db::issues::{self, Issue, IssueFilter, IssueSort, IssueValueKey};
use crate::db::projects::Project;
use crate::domain::{IssueId, IssueStatus, Level};
use crate::http::access::OrgAccess;
use crate::http::issues::{issue_cursor, issue_page};
use crate::http::pagination::PageParams;
use crate::http::validate::{parse_level, parse_q, parse_status};
use crate::web::layout::{self, csrf_field};
use crate::web::pages::org::last_day;
use crate::web::post::FormPost;
use crate::web::session::WebUser;
use crate::web::{WebError, chart, format};

/// Rows per page: one screen.
pub const PAGE_ROWS: i64 = 50;

/// The page's query, as sent.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    release: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    cursor: String,
}

/// The query validated.
struct View {
    status: IssueStatus,
    level: Option<Level>,
    environment: String,
    release: String,
    q: String,
    sort: IssueSort,
    cursor: String,
}

impl View {
    fn parse(q: ListQuery) -> Result<Self, WebError> {
        let status = match q.status.as_str() {
            "" => IssueStatus::Unresolved,
            s => parse_status(Some(s))?,
        };
        let level = match q.level.as_str() {
            "" => None,
            l => Some(parse_level("level", l)?),
        };
        let sort = match q.sort.as_str() {
            "" => IssueSort::default(),
            s => IssueSort::parse(s).ok_or_else(|| WebError::BadRequest("unknown sort".into()))?,
        };
        parse_q(Some(q.q.clone()))?;
        Ok(Self {
            status,
            level,
            environment: q.environment.trim().to_owned(),
            release: q.release.trim().to_owned(),
            q: q.q.trim().to_owned(),
            sort,
            cursor: q.cursor,
        })
    }

    fn filter(&self) -> IssueFilter {
        let given = |s: &str| (!s.is_empty()).then(|| s.replace('\0', "\u{FFFD}"));
        IssueFilter {
            status: Some(self.status),
            level: self.level,
            q: given(&self.q),
            environment: given(&self.environment),
            release: given(&self.release),
        }
    }

    /// This view's query string with `status` (and a cursor) replaced.
    fn query(&self, status: IssueStatus, cursor: Option<&str>) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        s.append_pair("status", status.as_str());
        if let Some(l) = self.level {
            s.append_pair("level", l.as_str());
        }
        for (k, v) in [
            ("environment", &self.environment),
            ("release", &self.release),
            ("q", &self.q),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        if self.sort != IssueSort::default() {
            s.append_pair("sort", self.sort.as_str());
        }
        if let Some(c) = cursor {
            s.append_pair("cursor", c);
        }
        s.finish()
    }

    fn is_default(&self) -> bool {
        self.level.is_none()
            && self.environment.is_empty()
            && self.release.is_empty()
            && self.q.is_empty()
            && self.cursor.is_empty()
    }
}

struct Row {
    issue: Issue,
    hourly: Vec<i64>,
}

/// The environments and releases the project's issues have seen: the filters' suggestions.
struct Known {
    environments: Vec<String>,
    releases: Vec<String>,
}

/// How many suggestions each filter offers.
const KNOWN_VALUES: i64 = 50;

const STATUSES: [IssueStatus; 3] = [
    IssueStatus::Unresolved,
    IssueStatus::Resolved,
    IssueStatus::Ignored,
];

#[allow(clippy::too_many_arguments)]
fn template(
    user: &WebUser,
    access: &OrgAccess,
    project: &Project,
    view: &View,
    rows: &[Row],
    known: &Known,
    next_cursor: Option<&str>,
    now: DateTime<Utc>,
) -> Markup {
    let base = format!("/{}/{}/issues", access.org.slug, project.slug);
    let stream = format!(
        "/api/v1/orgs/{}/projects/{}/stream",
        access.org.slug, project.slug
    );
    layout::page(
        &format!("Issues of {}", project.name),
        Some(user),
        &project_crumbs(access, project),
        html! {
            h1 { "Issues" span.muted { " · " (project.name) } }
            p { a href={ "/" (access.org.slug) "/" (project.slug) "/settings" } { "Project settings, keys and SDK setup" } }
            nav.tabs aria-label="Issue status" {
                @for s in STATUSES {
                    a href={ (base) "?" (view.query(s, None)) }
                      aria-current=[(s == view.status).then_some("page")] { (s.as_str()) }
                }
            }
            form.filters method="get" action=(base) role="search" {
                input type="hidden" name="status" value=(view.status.as_str());
                label { "Level"
                    select name="level" {
                        option value="" { "any" }
                        @for l in [Level::Fatal, Level::Error, Level::Warning, Level::Info, Level::Debug] {
                            option value=(l.as_str()) selected[view.level == Some(l)] { (l.as_str()) }
                        }
                    }
                }
                label { "Environment" input type="text" name="environment" value=(view.environment) maxlength="200" list="known-environments"; }
                label { "Release" input type="text" name="release" value=(view.release) maxlength="200" list="known-releases"; }
                @for (id, values) in [("known-environments", &known.environments), ("known-releases", &known.releases)] {
                    datalist id=(id) { @for v in values { option value=(v); } }
                }
                label { "Search" input type="search" name="q" value=(view.q) maxlength="1000" placeholder="title or culprit"; }
                label { "Sort"
                    select name="sort" {
                        @for (s, name) in [(IssueSort::LastSeen, "last seen"), (IssueSort::FirstSeen, "first seen"), (IssueSort::TimesSeen, "events")] {
                            option value=(s.as_str()) selected[view.sort == s] { (name) }
                        }
                    }
                }
                button type="submit" { "Apply" }
            }
            form #bulk method="post" action=(base) {
                (csrf_field(&user.csrf))
                input type="hidden" name="back" value=(view.query(view.status, (!view.cursor.is_empty()).then_some(view.cursor.as_str())));
                div.bulk {
                    span { "With selected:" }
                    @for s in STATUSES {
                        @if s != view.status {
                            button type="submit" name="status" value=(s.as_str()) { (action_name(s)) }
                        }
                    }
                }
                @if rows.is_empty() {
                    p.empty #no-issues { "No " (view.status.as_str()) " issues" @if !view.is_default() { " match these filters" } "." }
                }
                table.list.issues #issues data-stream=(stream) data-status=(view.status.as_str())
                    data-live=[(view.is_default() && view.sort == IssueSort::LastSeen).then_some("1")]
                    data-base=(base) {
                    thead { tr {
                        th scope="col" { span.sr { "Select" } }
                        th scope="col" { "Level" }
                        th scope="col" { "Issue" }
                        th scope="col" { "Events" }
                        th scope="col" { "24 h" }
                        th scope="col" { "First seen" }
                        th scope="col" { "Last seen" }
                    } }
                    tbody {
                        @for r in rows {
                            @let i = &r.issue;
                            tr data-id=(i.id) {
                                td { input type="checkbox" name="issue" value=(i.id) id={ "sel-" (i.id) } aria-label={ "Select " (i.title) }; }
                                td { (format::level(i.level)) }
                                td.title {
                                    a href={ (base) "/" (i.id) } { (i.title) }
                                    @if let Some(c) = &i.culprit { br; span.culprit { (c) } }
                                }
                                td.num.count { (format::count(i.times_seen)) }
                                td { (chart::sparkline(&r.hourly, &format!("{} events in the last 24 hours", r.hourly.iter().sum::<i64>()))) }
                                td.first { (format::time(i.first_seen, now)) }
                                td.last { (format::time(i.last_seen, now)) }
                            }
                        }
                    }
                }
            }
            nav.pages aria-label="Pages" {
                @if !view.cursor.is_empty() {
                    a href={ (base) "?" (view.query(view.status, None)) } { "← First page" }
                }
                @if let Some(c) = next_cursor {
                    a rel="next" href={ (base) "?" (view.query(view.status, Some(c))) } { "Next page →" }
                }
            }
            p.live #live-status aria-live="polite" {}
        },
    )
}

fn action_name(s: IssueStatus) -> &'static str {
    match s {
        IssueStatus::Unresolved => "Reopen",
        IssueStatus::Resolved => "Resolve",
        IssueStatus::Ignored => "Ignore",
    }
}

/// `GET /{org}/{project}/issues`.
pub async fn list(
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<(String, String)>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, WebError> {
    let (org, project) = path.into_inner();
    let (mut conn, access, project) = project_access(&state, &user, &org, &project).await?;
    let view = View::parse(query.into_inner())?;
    let page = PageParams::from_raw(None, Some(view.cursor.clone()))?;
    let after = issue_cursor(&page, view.sort)?;
    let rows = issues::list(
        &mut conn,
        project.id,
        &view.filter(),
        view.sort,
        after,
        PAGE_ROWS + 1,
    )
    .await?;
    let page = issue_page(rows, PAGE_ROWS, view.sort);
    let now = (state.clock)();
    let ids: Vec<Uuid> = page.data.iter().map(|i| i.id.uuid()).collect();
    let mut hourly = activity::counts(&mut conn, Per::Issue, &ids, last_day(now)).await?;
    let rows: Vec<Row> = page
        .data
        .into_iter()
        .map(|issue| Row {
            hourly: hourly.remove(&issue.id.uuid()).unwrap_or_default(),
            issue,
        })
        .collect();
    let known = Known {
        environments: issues::known_values(
            &mut conn,
            project.id,
            IssueValueKey::Environment,
            KNOWN_VALUES,
        )
        .await?,
        releases: issues::known_values(&mut conn, project.id, IssueValueKey::Release, KNOWN_VALUES)
            .await?,
    };
    Ok(layout::ok(template(
        &user,
        &access,
        &project,
        &view,
        &rows,
        &known,
        page.next_cursor.as_deref(),
        now,
    )))
}

/// `POST /{org}/{project}/issues`: sets the status of the selected issues, then back to the
/// list as it was.
pub async fn bulk(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, project) = path.into_inner();
    let (mut conn, access, project) = project_access(&state, &user, &org, &project).await?;
    let status = parse_status(Some(form.get("status")))?;
    let ids: Vec<IssueId> = form
        .all("issue")
        .filter_map(|id| id.parse().ok())
        .take(PAGE_ROWS as usize)
        .collect();
    issues::set_status_many(&mut conn, project.id, &ids, status).await?;
    let back = form.get("back");
    let to = format!("/{}/{}/issues?{}", access.org.slug, project.slug, back);
    Ok(see_other(crate::web::session::safe_next(&to)))
}

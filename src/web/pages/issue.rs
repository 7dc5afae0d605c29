//! `/{org}/{project}/issues/{id}`: one issue — status actions, counts, events over time
//! (24 h hourly or 30 d daily), one event in full with older/newer links (the latest by
//! default), each tag's most common values across the issue, and its latest events.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::{project_access, project_crumbs, see_other};
use crate::AppState;
use crate::db::activity::{self, Buckets, Per, TagSummary};
use crate::db::event_queries::{self, EventFilter, EventRow, EventScope, EventSummary};
use crate::db::issues::{self, Issue};
use crate::db::projects::Project;
use crate::domain::{EventId, IssueId, IssueStatus};
use crate::http::access::OrgAccess;
use crate::http::validate::parse_status;
use crate::web::layout::{self, csrf_field};
use crate::web::pages::org::last_day;
use crate::web::post::FormPost;
use crate::web::session::WebUser;
use crate::web::{WebError, chart, event_view, format};

/// Events the issue page lists.
const LISTED_EVENTS: i64 = 20;

#[derive(Debug, Default, Deserialize)]
pub struct IssueQuery {
    /// The event to show (default: the latest).
    #[serde(default)]
    event: String,
    /// `30d` for the daily chart; anything else is the last 24 hours.
    #[serde(default)]
    range: String,
}

/// Everything the page draws.
struct IssuePage {
    issue: Issue,
    chart: Vec<(String, i64)>,
    month: bool,
    event: Option<EventRow>,
    older: Option<EventSummary>,
    newer: Option<EventSummary>,
    tags: Vec<TagSummary>,
    sampled: i64,
    events: Vec<EventSummary>,
}

fn last_month(now: DateTime<Utc>) -> Buckets {
    let end = now.duration_trunc(TimeDelta::days(1)).unwrap_or(now) + TimeDelta::days(1);
    Buckets {
        end,
        secs: 86_400,
        count: 30,
    }
}

fn template(
    user: &WebUser,
    access: &OrgAccess,
    project: &Project,
    p: &IssuePage,
    now: DateTime<Utc>,
) -> Markup {
    let i = &p.issue;
    let base = format!("/{}/{}", access.org.slug, project.slug);
    let here = format!("{base}/issues/{}", i.id);
    let event_link = |e: &EventSummary| {
        format!(
            "{here}?event={}{}",
            e.id,
            if p.month { "&range=30d" } else { "" }
        )
    };
    layout::page(
        &i.title,
        Some(user),
        &project_crumbs(access, project),
        html! {
            header.issue {
                h1 { (i.title) }
                @if let Some(c) = &i.culprit { p.culprit { (c) } }
                p.badges { (format::level(i.level)) " " (format::status(i.status)) }
                form.actions method="post" action=(here) {
                    (csrf_field(&user.csrf))
                    @for (s, name) in [(IssueStatus::Resolved, "Resolve"), (IssueStatus::Ignored, "Ignore"), (IssueStatus::Unresolved, "Reopen")] {
                        @if s != i.status {
                            button type="submit" name="status" value=(s.as_str()) { (name) }
                        }
                    }
                }
            }
            dl.facts {
                div { dt { "Events" } dd.count { (format::count(i.times_seen)) } }
                div { dt { "First seen" } dd { (format::time(i.first_seen, now)) } }
                div { dt { "Last seen" } dd { (format::time(i.last_seen, now)) } }
                @if let Some(r) = p.event.as_ref().and_then(|e| e.release.as_ref()) {
                    div { dt { "Release" } dd { (r) } }
                }
            }
            section aria-labelledby="h-chart" {
                h2 #h-chart { "Events over time" }
                nav.tabs aria-label="Chart range" {
                    a href=(here) aria-current=[(!p.month).then_some("page")] { "24 hours" }
                    a href={ (here) "?range=30d" } aria-current=[p.month.then_some("page")] { "30 days" }
                }
                (chart::bars(&p.chart, if p.month { "Events per day, last 30 days" } else { "Events per hour, last 24 hours" }))
            }
            section aria-labelledby="h-event" {
                h2 #h-event { @if p.newer.is_none() { "Latest event" } @else { "Event" } }
                nav.pages aria-label="Events of this issue" {
                    @if let Some(e) = &p.newer { a href=(event_link(e)) { "← Newer" } }
                    @if let Some(e) = &p.older { a href=(event_link(e)) { "Older →" } }
                    @if let Some(e) = &p.event { a href={ (base) "/events/" (e.id) } { "Event page and raw JSON" } }
                }
                @match &p.event {
                    Some(e) => { (event_view::event(e, now)) }
                    None => { p { "No stored events (they may have passed the retention period)." } }
                }
            }
            @if !p.tags.is_empty() {
                section aria-labelledby="h-tag-values" {
                    h2 #h-tag-values { "Tag values" }
                    p.muted { "Across the latest " (format::count(p.sampled)) " events." }
                    div.tagsums {
                        @for t in &p.tags {
                            div.tagsum {
                                h3 { (t.key) }
                                ul {
                                    @for (value, n) in &t.top {
                                        li {
                                            span.v { (value) }
                                            span.n { (percent(*n, p.sampled)) }
                                            meter min="0" max=(p.sampled.max(1)) value=(n) { (n) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="h-events" {
                h2 #h-events { "Latest events" }
                table.list {
                    thead { tr { th scope="col" { "Received" } th scope="col" { "Level" } th scope="col" { "Message" } th scope="col" { "Environment" } th scope="col" { "Release" } } }
                    tbody {
                        @for e in &p.events {
                            tr {
                                td { a href={ (base) "/events/" (e.id) } { (format::time(e.received_at, now)) } }
                                td { (format::level(e.level)) }
                                td { (e.message) }
                                td { (e.environment.as_deref().unwrap_or("")) }
                                td { (e.release.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn percent(n: i64, of: i64) -> String {
    format!("{}%", (n * 100).checked_div(of).unwrap_or(0))
}

async fn load(
    conn: &mut diesel_async::AsyncPgConnection,
    project: &Project,
    id: IssueId,
    query: &IssueQuery,
    now: DateTime<Utc>,
) -> Result<IssuePage, WebError> {
    let issue = issues::find(conn, project.id, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let month = query.range == "30d";
    let buckets = if month {
        last_month(now)
    } else {
        last_day(now)
    };
    let counts = activity::counts(conn, Per::Issue, &[issue.id.uuid()], buckets)
        .await?
        .remove(&issue.id.uuid())
        .unwrap_or_default();
    let chart = counts
        .into_iter()
        .enumerate()
        .map(|(n, c)| {
            let t = buckets.at(n);
            let label = if month {
                t.format("%b %d").to_string()
            } else {
                t.format("%H:00").to_string()
            };
            (label, c)
        })
        .collect();
    let scope = EventScope::Issue(issue.id);
    let none = EventFilter::default();
    let events = event_queries::list(conn, scope, &none, None, LISTED_EVENTS).await?;
    let chosen: Option<EventId> = match query.event.as_str() {
        "" => events.first().map(|e| e.id),
        s => Some(s.parse().map_err(|_| WebError::NotFound)?),
    };
    let event = match chosen {
        Some(eid) => Some(
            event_queries::find(conn, project.id, eid)
                .await?
                .filter(|e| e.issue_id == issue.id)
                .ok_or(WebError::NotFound)?,
        ),
        None => None,
    };
    let (older, newer) = match &event {
        Some(e) => (
            event_queries::list(conn, scope, &none, Some((e.received_at, e.id)), 1)
                .await?
                .pop(),
            activity::newer_event(conn, issue.id, (e.received_at, e.id)).await?,
        ),
        None => (None, None),
    };
    let (tags, sampled) = activity::tag_summary(conn, issue.id).await?;
    Ok(IssuePage {
        issue,
        chart,
        month,
        event,
        older,
        newer,
        tags,
        sampled,
        events,
    })
}

/// `GET /{org}/{project}/issues/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<(String, String, String)>,
    query: web::Query<IssueQuery>,
) -> Result<HttpResponse, WebError> {
    let (org, project, id) = path.into_inner();
    let id: IssueId = id.parse().map_err(|_| WebError::NotFound)?;
    let (mut conn, access, project) = project_access(&state, &user, &org, &project).await?;
    let now = (state.clock)();
    let page = load(&mut conn, &project, id, &query, now).await?;
    Ok(layout::ok(template(&user, &access, &project, &page, now)))
}

/// `POST /{org}/{project}/issues/{id}`: resolve, ignore or reopen (members, as in the API).
pub async fn set_status(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, project, id) = path.into_inner();
    let id: IssueId = id.parse().map_err(|_| WebError::NotFound)?;
    let (mut conn, access, project) = project_access(&state, &user, &org, &project).await?;
    let status = parse_status(Some(form.get("status")))?;
    issues::set_status(&mut conn, project.id, id, status)
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(see_other(&format!(
        "/{}/{}/issues/{id}",
        access.org.slug, project.slug
    )))
}

//! `/{org}`: the organization's projects with their last 24 hours of events (a sparkline)
//! and unresolved issues; admins also get the form to create a project.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DurationRound, TimeDelta};
use maud::{Markup, html};
use uuid::Uuid;

use super::see_other;
use crate::AppState;
use crate::db::activity::{self, Buckets, Per};
use crate::db::projects::{self, Project};
use crate::domain::{ProjectId, Role};
use crate::http::access::OrgAccess;
use crate::http::client_ip::Origin;
use crate::web::csrf::FormData;
use crate::web::layout::{self, csrf_field};
use crate::web::post::FormPost;
use crate::web::session::WebUser;
use crate::web::{WebError, chart, format};

/// Projects one page lists (one screen).
const MAX_PROJECTS: i64 = 200;

/// The last 24 hours in hourly buckets, the current hour last.
pub fn last_day(now: chrono::DateTime<chrono::Utc>) -> Buckets {
    let end = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now) + TimeDelta::hours(1);
    Buckets {
        end,
        secs: 3600,
        count: 24,
    }
}

struct Row {
    project: Project,
    hourly: Vec<i64>,
    unresolved: i64,
}

fn template(
    user: &WebUser,
    access: &OrgAccess,
    rows: &[Row],
    form: &FormData,
    error: Option<&str>,
) -> Markup {
    let org = &access.org;
    layout::page(
        &org.name,
        Some(user),
        &[(org.name.clone(), format!("/{}", org.slug))],
        html! {
            div.heading {
                h1 { (org.name) }
                a href={ "/" (org.slug) "/settings" } { @if access.role >= Role::Admin { "Settings and members" } @else { "Members" } }
            }
            h2 { "Projects" }
            @if rows.is_empty() {
                p { "No projects yet." }
            } @else {
                table.list {
                    thead { tr { th scope="col" { "Project" } th scope="col" { "Events, 24 h" } th scope="col" { "" } th scope="col" { "Unresolved issues" } } }
                    tbody {
                        @for r in rows {
                            @let total: i64 = r.hourly.iter().sum();
                            tr {
                                td { a href={ "/" (org.slug) "/" (r.project.slug) "/issues" } { strong { (r.project.name) } } br; span.muted { (r.project.slug) @if let Some(p) = &r.project.platform { " · " (p) } } }
                                td.num { (format::count(total)) }
                                td { (chart::sparkline(&r.hourly, &format!("{total} events in the last 24 hours"))) }
                                td.num { (format::count(r.unresolved)) }
                            }
                        }
                    }
                }
            }
            @if access.role >= Role::Admin {
                section aria-labelledby="h-new-project" {
                    h2 #h-new-project { "Create a project" }
                    @if let Some(e) = error { p.error role="alert" { (e) } }
                    form.inline method="post" action={ "/" (org.slug) } {
                        (csrf_field(&user.csrf))
                        label { "Name" input type="text" name="name" required maxlength="200" value=(form.get("name")); }
                        label { "Slug" input type="text" name="slug" required pattern="[a-z0-9-]{1,50}" maxlength="50" value=(form.get("slug")); }
                        label { "Platform" input type="text" name="platform" maxlength="64" placeholder="python" value=(form.get("platform")); }
                        button type="submit" { "Create" }
                    }
                }
            }
        },
    )
}

async fn rows(
    conn: &mut diesel_async::AsyncPgConnection,
    access: &OrgAccess,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Row>, WebError> {
    let mut list = projects::projects_page(conn, access.org.id, None, MAX_PROJECTS).await?;
    list.truncate(MAX_PROJECTS as usize);
    let ids: Vec<ProjectId> = list.iter().map(|p| p.id).collect();
    let uuids: Vec<Uuid> = ids.iter().map(|p| p.uuid()).collect();
    let mut hourly = activity::counts(conn, Per::Project, &uuids, last_day(now)).await?;
    let unresolved = activity::unresolved_per_project(conn, &ids).await?;
    Ok(list
        .into_iter()
        .map(|p| Row {
            hourly: hourly.remove(&p.id.uuid()).unwrap_or_default(),
            unresolved: unresolved.get(&p.id.uuid()).copied().unwrap_or(0),
            project: p,
        })
        .collect())
}

/// `GET /{org}`.
pub async fn index(
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let mut conn = state.pool.get().await?;
    let access = OrgAccess::load(&mut conn, user.user.id, &path).await?;
    let rows = rows(&mut conn, &access, (state.clock)()).await?;
    Ok(layout::ok(template(
        &user,
        &access,
        &rows,
        &FormData::default(),
        None,
    )))
}

/// `GET /{org}/{project}`: the project's issues.
pub async fn project_root(path: web::Path<(String, String)>) -> HttpResponse {
    let (org, project) = path.into_inner();
    see_other(&format!("/{org}/{project}/issues"))
}

/// `POST /{org}`: creates a project (admins) and opens it.
pub async fn create_project(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    origin: Origin,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let mut conn = state.pool.get().await?;
    let access = OrgAccess::load(&mut conn, user.user.id, &path).await?;
    access.require(Role::Admin)?;
    let actor = origin.actor(&user.user);
    let (name, slug, platform) = (form.get("name"), form.get("slug"), form.get("platform"));
    let created =
        crate::http::projects::create(&mut conn, &actor, &access, name, slug, Some(platform)).await;
    match created {
        Ok(p) => Ok(see_other(&format!(
            "/{}/{}/issues",
            access.org.slug, p.slug
        ))),
        Err(e) if e.status.is_client_error() => {
            let rows = rows(&mut conn, &access, (state.clock)()).await?;
            Ok(layout::html_response(
                StatusCode::BAD_REQUEST,
                template(&user, &access, &rows, &form, Some(&e.message)),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

//! `/{org}/{project}/settings/alerts/{id}`: one rule — what it does, for admins the form to
//! edit it (the creation form's fields, filled from the rule; posted to `…/{id}/edit`, which
//! goes through the API's `PATCH` change with its validation and audit entry) — and its
//! notifications (the delivery log), newest first, a page at a time with the API's cursors.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::form::{self, FormError};
use super::{action_text, base_of, condition_text, crumbs, filters_text, rule_id};
use crate::AppState;
use crate::db::alerts::{self as rules_db, AlertRule};
use crate::db::deliveries::{self, Delivery};
use crate::db::projects::Project;
use crate::domain::{DeliveryId, Role};
use crate::http::access::OrgAccess;
use crate::http::alerts as changes;
use crate::http::client_ip::Origin;
use crate::http::pagination::{DEFAULT_LIMIT, Page, PageParams};
use crate::web::csrf::FormData;
use crate::web::layout::{self, csrf_field};
use crate::web::pages::{admin_project, project_access, see_other};
use crate::web::post::FormPost;
use crate::web::session::WebUser;
use crate::web::{WebError, format};

/// `?cursor=` (older notifications) and `?saved=1` (after an edit) of the rule's page.
#[derive(Debug, Default, Deserialize)]
pub struct RuleQuery {
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    saved: String,
}

/// What the edit form shows: the stored rule, or a refused post with what was sent.
enum Edit<'a> {
    Stored { saved: bool },
    Refused(&'a FormError, &'a FormData),
}

struct View<'a> {
    access: &'a OrgAccess,
    project: &'a Project,
    rule: &'a AlertRule,
    page: &'a Page<Delivery>,
    /// Whether this page is an older one (`?cursor=`).
    older: bool,
    edit: Edit<'a>,
    now: DateTime<Utc>,
}

fn edit_form(user: &WebUser, base: &str, rule: &AlertRule, edit: &Edit<'_>) -> Markup {
    let stored;
    let (error, sent) = match edit {
        Edit::Refused(e, sent) => (Some(*e), *sent),
        Edit::Stored { .. } => {
            stored = form::form_of(rule);
            (None, &stored)
        }
    };
    html! {
        section #edit aria-labelledby="h-edit" {
            h2 #h-edit { "Edit the rule" }
            form.stack method="post" action={ (base) "/" (rule.id) "/edit" } {
                (csrf_field(&user.csrf))
                (form::rule_fields("edit-", error, sent))
                label.check { input type="checkbox" name="enabled" value="true" checked[sent.get("enabled") == "true"]; " Enabled" }
                button type="submit" { "Save the rule" }
            }
        }
    }
}

fn deliveries_table(issues: &str, rows: &[Delivery], now: DateTime<Utc>) -> Markup {
    html! {
        table.list {
            thead { tr {
                th scope="col" { "Created" } th scope="col" { "For" } th scope="col" { "Status" }
                th scope="col" { "Attempts" } th scope="col" { "Last HTTP status" } th scope="col" { "Last error" }
                th scope="col" { "Next attempt" }
            } }
            tbody {
                @for d in rows {
                    tr {
                        td { (format::time(d.created_at, now)) }
                        td { @match d.issue_id { Some(i) => a href={ (issues) "/" (i) } { "issue" }, None => "test" } }
                        td { span class={ "badge delivery-" (d.status.as_str()) } { (d.status.as_str()) } }
                        td.num { (d.attempts) }
                        td { @match d.last_status { Some(s) => (s), None => "—" } }
                        td.title { (d.last_error.as_deref().unwrap_or("—")) }
                        td { (format::exact(d.next_attempt_at)) }
                    }
                }
            }
        }
    }
}

fn template(user: &WebUser, v: &View<'_>) -> Markup {
    let (access, project, rule) = (v.access, v.project, v.rule);
    let base = base_of(access, project);
    let here = format!("{base}/{}", rule.id);
    let issues = format!("/{}/{}/issues", access.org.slug, project.slug);
    let mut crumbs = crumbs(access, project);
    crumbs.push(("Alert rules".into(), base.clone()));
    let admin = access.role >= Role::Admin;
    layout::page(
        &format!("Alert rule {}", rule.name),
        Some(user),
        &crumbs,
        html! {
            h1 { "Alert rule" span.muted { " · " (rule.name) } }
            @match &v.edit {
                Edit::Refused(e, _) => { p.error role="alert" { "The rule was not saved: " (e.message) } }
                Edit::Stored { saved: true } => { p.notice role="status" { "The rule was saved." } }
                Edit::Stored { saved: false } => {}
            }
            dl.facts {
                div { dt { "When" } dd { (condition_text(rule)) } }
                div { dt { "Then" } dd { (action_text(rule)) } }
                div { dt { "Events" } dd { (filters_text(rule)) } }
                div { dt { "State" } dd { (if rule.enabled { "enabled" } else { "disabled" }) } }
            }
            @if admin {
                form.actions method="post" action={ (here) "/test" } {
                    (csrf_field(&user.csrf))
                    button type="submit" { "Send test" }
                }
            }
            section aria-labelledby="h-deliveries" {
                h2 #h-deliveries { @if v.older { "Older notifications" } @else { "Recent notifications" } }
                @if v.page.data.is_empty() {
                    p.muted { "No notifications yet." }
                } @else {
                    (deliveries_table(&issues, &v.page.data, v.now))
                }
                nav.pages aria-label="Notification pages" {
                    @if v.older {
                        a href=(here) { "← Newest" }
                    }
                    @if let Some(c) = &v.page.next_cursor {
                        a rel="next" href={ (here) "?cursor=" (c) } { "Older notifications →" }
                    }
                }
            }
            @if admin {
                (edit_form(user, &base, rule, &v.edit))
            }
        },
    )
}

/// Renders the rule's page: its notifications at `cursor` (`""`: the newest).
#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    conn: &mut diesel_async::AsyncPgConnection,
    user: &WebUser,
    access: &OrgAccess,
    project: &Project,
    rule: &AlertRule,
    cursor: &str,
    edit: Edit<'_>,
) -> Result<Markup, WebError> {
    let params = PageParams::from_raw(None, Some(cursor.to_owned()))?;
    let before = params.cursor::<DeliveryId>()?;
    let rows = deliveries::list_for_rule(conn, rule.id, before, DEFAULT_LIMIT + 1).await?;
    let page = Page::from_rows(rows, DEFAULT_LIMIT, |d| d.id);
    let view = View {
        access,
        project,
        rule,
        page: &page,
        older: before.is_some(),
        edit,
        now: (state.clock)(),
    };
    Ok(template(user, &view))
}

/// `GET /{org}/{project}/settings/alerts/{id}` (members; `?cursor=` for older
/// notifications, `?saved=1` after an edit).
pub async fn show_rule(
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<(String, String, String)>,
    query: web::Query<RuleQuery>,
) -> Result<HttpResponse, WebError> {
    let (org, project, id) = path.into_inner();
    let id = rule_id(&id)?;
    let (mut conn, access, project) = project_access(&state, &user, &org, &project).await?;
    let rule = rules_db::find_rule(&mut conn, project.id, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let edit = Edit::Stored {
        saved: !query.saved.is_empty(),
    };
    let page = render(
        &state,
        &mut conn,
        &user,
        &access,
        &project,
        &rule,
        &query.cursor,
        edit,
    )
    .await?;
    Ok(layout::ok(page))
}

/// `POST /{org}/{project}/settings/alerts/{id}/edit` (admins): replaces the rule's name,
/// condition, action, filters and enabled with the form's (the API's `PATCH`, its audit entry), then
/// redirects to the rule's page saying so. A refused form is drawn again (400) with the
/// error by its field, the rule unchanged.
pub async fn edit(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    origin: Origin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, project, id) = path.into_inner();
    let id = rule_id(&id)?;
    let (mut conn, access, project) = admin_project(&state, &user, &org, &project).await?;
    let actor = origin.actor(&user.user);
    let body = form::edit_body(&form);
    match changes::update(&mut conn, &actor, &project, id, &body, (state.clock)()).await {
        Ok(row) => Ok(see_other(&format!(
            "{}/{}?saved=1",
            base_of(&access, &project),
            row.id
        ))),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let rule = rules_db::find_rule(&mut conn, project.id, id)
                .await?
                .ok_or(WebError::NotFound)?;
            let error = FormError::of(e);
            let page = render(
                &state,
                &mut conn,
                &user,
                &access,
                &project,
                &rule,
                "",
                Edit::Refused(&error, &form),
            )
            .await?;
            Ok(layout::html_response(StatusCode::BAD_REQUEST, page))
        }
        Err(e) => Err(e.into()),
    }
}

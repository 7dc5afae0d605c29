//! `/{org}/{project}/settings/alerts`: the project's alert rules (name, condition in words,
//! action, filters, enabled) and, for admins, a form to create one and buttons to enable,
//! disable, edit, delete and send a test notification; `…/alerts/{id}` (`rule`): the rule,
//! its edit form and its notifications (the delivery log). The form (`form`, one for creating
//! and editing) is turned into the API's rule body and goes through the same validation and
//! the same shared changes (`http::alerts::{create, update, delete, send_test}`, with their
//! audit entries), so an error names the field and shows on the form. A new rule's webhook
//! signing secret is shown once, from the session's flash.
//! Members see the lists without the forms; posting anyway is a 403 page, as in the API.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde_json::json;

use super::{admin_project, project_access, project_crumbs, see_other};
use crate::AppState;
use crate::db::alerts::{self as rules_db, AlertRule};
use crate::db::projects::Project;
use crate::domain::alerts::{Action, Condition, Filters};
use crate::domain::{Role, RuleId};
use crate::error::ApiError;
use crate::http::access::OrgAccess;
use crate::http::alerts as changes;
use crate::http::client_ip::Origin;
use crate::web::csrf::FormData;
use crate::web::flash::{CreatedQuery, CreatedRule, Shown};
use crate::web::layout::{self, csrf_field};
use crate::web::post::FormPost;
use crate::web::session::WebUser;
use crate::web::{WebError, format};

mod form;
mod rule;

use form::FormError;
pub use rule::{edit, show_rule};

/// Rules the page lists (one screen).
const MAX_RULES: i64 = 200;

/// `3600` → `1 h`.
fn window(secs: u32) -> String {
    match secs {
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// When the rule fires, in words.
fn condition_text(rule: &AlertRule) -> String {
    match serde_json::from_value::<Condition>(rule.condition.clone()) {
        Ok(Condition::NewIssue) => "A new issue is created".into(),
        Ok(Condition::Regression) => "A resolved issue comes back (regression)".into(),
        Ok(Condition::EventFrequency {
            threshold,
            window_secs,
        }) => format!(
            "An issue is seen {} times or more within {}",
            format::count(threshold.into()),
            window(window_secs)
        ),
        Err(_) => "—".into(),
    }
}

/// What the rule does, in words.
fn action_text(rule: &AlertRule) -> String {
    match serde_json::from_value::<Action>(rule.action.clone()) {
        Ok(Action::Webhook { url }) => format!("Webhook to {url}"),
        Ok(Action::Email { to }) if to.is_empty() => "E-mail to every member".into(),
        Ok(Action::Email { to }) => format!("E-mail to {}", to.join(", ")),
        Ok(Action::Log) => "Write to the server log".into(),
        Err(_) => "—".into(),
    }
}

/// Which events count, in words.
fn filters_text(rule: &AlertRule) -> String {
    let filters: Filters = serde_json::from_value(rule.filters.clone()).unwrap_or_default();
    let mut parts = Vec::new();
    if let Some(level) = filters.min_level {
        parts.push(format!("level {} or worse", level.as_str()));
    }
    if let Some(env) = filters.environment {
        parts.push(format!("environment {env}"));
    }
    if parts.is_empty() {
        "Every event".into()
    } else {
        parts.join(", ")
    }
}

/// What the list page says above the list.
enum Message<'a> {
    None,
    /// The page after a rule's creation, whose secret is no longer in the flash.
    AlreadyShown,
    /// A refused form, drawn again with what was sent.
    Refused(&'a FormError, &'a FormData),
}

fn base_of(access: &OrgAccess, project: &Project) -> String {
    format!("/{}/{}/settings/alerts", access.org.slug, project.slug)
}

fn crumbs(access: &OrgAccess, project: &Project) -> Vec<layout::Crumb> {
    let mut crumbs = project_crumbs(access, project);
    crumbs.push((
        "Settings".into(),
        format!("/{}/{}/settings", access.org.slug, project.slug),
    ));
    crumbs
}

fn create_form(base: &str, csrf: &str, error: Option<&FormError>, sent: &FormData) -> Markup {
    html! {
        section aria-labelledby="h-new" {
            h2 #h-new { "New alert rule" }
            form.stack method="post" action=(base) {
                (csrf_field(csrf))
                (form::rule_fields("", error, sent))
                button type="submit" { "Create the rule" }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn list_template(
    user: &WebUser,
    access: &OrgAccess,
    project: &Project,
    rules: &[AlertRule],
    created: Option<&CreatedRule>,
    message: Message<'_>,
    now: DateTime<Utc>,
) -> Markup {
    let base = base_of(access, project);
    let admin = access.role >= Role::Admin;
    let empty = FormData::default();
    let (error, sent) = match &message {
        Message::Refused(e, sent) => (Some(*e), *sent),
        _ => (None, &empty),
    };
    layout::page(
        &format!("Alert rules of {}", project.name),
        Some(user),
        &crumbs(access, project),
        html! {
            h1 { "Alert rules" span.muted { " · " (project.name) } }
            @match &message {
                Message::Refused(e, _) => { p.error role="alert" { "The rule was not created: " (e.message) } }
                Message::AlreadyShown => {
                    p.notice role="status" { "The rule was created. Its signing secret was shown once and is not shown again." }
                }
                Message::None => {}
            }
            @if let Some(c) = created {
                section.created #created aria-labelledby="h-created" tabindex="-1" {
                    h2 #h-created { "New rule “" (c.name) "”" }
                    p { strong { "Copy the webhook signing secret now: it is shown only this once." } }
                    dl.fields {
                        div { dt { "Signing secret" } dd { code #new-secret { (c.secret) } " " button.copy type="button" data-copy="new-secret" hidden { "Copy" } } }
                    }
                }
            }
            @if rules.is_empty() {
                p.muted { "No alert rules yet." }
            } @else {
                table.list {
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "When" } th scope="col" { "Then" }
                        th scope="col" { "Events" } th scope="col" { "State" } th scope="col" { "Created" }
                        @if admin { th scope="col" { "Actions" } }
                    } }
                    tbody {
                        @for r in rules {
                            tr {
                                td.title { a href={ (base) "/" (r.id) } { (r.name) } }
                                td { (condition_text(r)) }
                                td { (action_text(r)) }
                                td { (filters_text(r)) }
                                td { @if r.enabled { "enabled" } @else { span.muted { "disabled" } } }
                                td { (format::time(r.created_at, now)) }
                                @if admin {
                                    td {
                                        a href={ (base) "/" (r.id) "#edit" } aria-label={ "Edit " (r.name) } { "Edit" }
                                        form.actions method="post" action={ (base) "/" (r.id) "/toggle" } {
                                            (csrf_field(&user.csrf))
                                            input type="hidden" name="enabled" value=(if r.enabled { "false" } else { "true" });
                                            button type="submit" aria-label={ (if r.enabled { "Disable " } else { "Enable " }) (r.name) } { (if r.enabled { "Disable" } else { "Enable" }) }
                                        }
                                        form.actions method="post" action={ (base) "/" (r.id) "/test" } {
                                            (csrf_field(&user.csrf))
                                            button type="submit" aria-label={ "Send test of " (r.name) } { "Send test" }
                                        }
                                        form.actions method="post" action={ (base) "/" (r.id) "/delete" } {
                                            (csrf_field(&user.csrf))
                                            button.danger type="submit" aria-label={ "Delete " (r.name) } { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if admin {
                (create_form(&base, &user.csrf, error, sent))
            } @else {
                p.muted { "Alert rules are managed by the organization's admins." }
            }
        },
    )
}

async fn render_list(
    state: &AppState,
    conn: &mut diesel_async::AsyncPgConnection,
    user: &WebUser,
    access: &OrgAccess,
    project: &Project,
    created: Option<&CreatedRule>,
    message: Message<'_>,
) -> Result<Markup, WebError> {
    let rules = rules_db::list_rules(conn, project.id, None, MAX_RULES).await?;
    let now = (state.clock)();
    Ok(list_template(
        user, access, project, &rules, created, message, now,
    ))
}

/// `GET /{org}/{project}/settings/alerts`; with `?created=<rule id>` after a rule's
/// creation, its signing secret taken from the session's flash (so shown once).
pub async fn show(
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<(String, String)>,
    query: Option<web::Query<CreatedQuery>>,
) -> Result<HttpResponse, WebError> {
    let (org, project) = path.into_inner();
    let (mut conn, access, project) = project_access(&state, &user, &org, &project).await?;
    let (created, message) = match state.flash.rules.shown(user.session_id, query.as_deref()) {
        Shown::Now(created) => (Some(created), Message::None),
        Shown::AlreadyShown => (None, Message::AlreadyShown),
        Shown::Nothing => (None, Message::None),
    };
    let page = render_list(
        &state,
        &mut conn,
        &user,
        &access,
        &project,
        created.as_ref(),
        message,
    )
    .await?;
    Ok(layout::ok(page))
}

/// `POST /{org}/{project}/settings/alerts` (admins): creates the rule the form describes,
/// leaves its secret in the session's flash and redirects to the page that shows it once. A
/// refused form is drawn again (400) with the error by its field.
pub async fn create(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    origin: Origin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, project) = path.into_inner();
    let (mut conn, access, project) = admin_project(&state, &user, &org, &project).await?;
    let actor = origin.actor(&user.user);
    let now = (state.clock)();
    match changes::create(&mut conn, &actor, &project, &form::rule_body(&form), now).await {
        Ok((row, secret)) => {
            let created = CreatedRule {
                name: row.name,
                secret,
            };
            state.flash.rules.put(user.session_id, row.id, created);
            Ok(see_other(&format!(
                "{}?created={}#created",
                base_of(&access, &project),
                row.id
            )))
        }
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let error = FormError::of(e);
            let page = render_list(
                &state,
                &mut conn,
                &user,
                &access,
                &project,
                None,
                Message::Refused(&error, &form),
            )
            .await?;
            Ok(layout::html_response(StatusCode::BAD_REQUEST, page))
        }
        Err(e) => Err(e.into()),
    }
}

/// The rule id of a `…/alerts/{id}/…` path (a malformed one names nothing: 404).
fn rule_id(text: &str) -> Result<RuleId, WebError> {
    text.parse().map_err(|_| WebError::NotFound)
}

/// `POST /{org}/{project}/settings/alerts/{id}/toggle` (admins; `enabled`: `true` or
/// `false`).
pub async fn toggle(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    origin: Origin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, project, id) = path.into_inner();
    let id = rule_id(&id)?;
    let (mut conn, access, project) = admin_project(&state, &user, &org, &project).await?;
    let enabled = match form.get("enabled") {
        "true" => true,
        "false" => false,
        _ => {
            return Err(ApiError::invalid_field("enabled", "enabled must be true or false").into());
        }
    };
    let actor = origin.actor(&user.user);
    let body = json!({ "enabled": enabled });
    changes::update(&mut conn, &actor, &project, id, &body, (state.clock)()).await?;
    Ok(see_other(&base_of(&access, &project)))
}

/// `POST /{org}/{project}/settings/alerts/{id}/delete` (admins).
pub async fn delete(
    state: web::Data<AppState>,
    FormPost { user, .. }: FormPost,
    origin: Origin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, project, id) = path.into_inner();
    let id = rule_id(&id)?;
    let (mut conn, access, project) = admin_project(&state, &user, &org, &project).await?;
    changes::delete(&mut conn, &origin.actor(&user.user), &project, id).await?;
    Ok(see_other(&base_of(&access, &project)))
}

/// `POST /{org}/{project}/settings/alerts/{id}/test` (admins): queues a test notification
/// and redirects to the rule's delivery log.
pub async fn send_test(
    state: web::Data<AppState>,
    FormPost { user, .. }: FormPost,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, project, id) = path.into_inner();
    let id = rule_id(&id)?;
    let (mut conn, access, project) = admin_project(&state, &user, &org, &project).await?;
    changes::send_test(&state, &mut conn, &project, id).await?;
    Ok(see_other(&format!("{}/{id}", base_of(&access, &project))))
}

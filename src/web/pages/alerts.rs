//! `/{org}/{project}/settings/alerts`: the project's alert rules (name, condition in words,
//! action, filters, enabled) and, for admins, a form to create one and buttons to enable,
//! disable, delete and send a test notification; `…/alerts/{id}`: a rule's recent
//! notifications (the delivery log). The form is turned into the API's rule body and goes
//! through the same validation and the same shared changes (`http::alerts::{create, update,
//! delete, send_test}`, with their audit entries), so an error names the field and shows on
//! the form. A new rule's webhook signing secret is shown once, from the session's flash.
//! Members see the lists without the forms; posting anyway is a 403 page, as in the API.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{admin_project, project_access, project_crumbs, see_other};
use crate::AppState;
use crate::db::alerts::{self as rules_db, AlertRule};
use crate::db::deliveries::{self, Delivery};
use crate::db::projects::Project;
use crate::domain::alerts::{Action, Condition, Filters};
use crate::domain::{Level, Role, RuleId};
use crate::error::ApiError;
use crate::http::access::OrgAccess;
use crate::http::alerts as changes;
use crate::http::client_ip::Origin;
use crate::web::csrf::FormData;
use crate::web::flash::CreatedRule;
use crate::web::layout::{self, csrf_field};
use crate::web::post::FormPost;
use crate::web::session::WebUser;
use crate::web::{WebError, format};

/// Rules the page lists (one screen).
const MAX_RULES: i64 = 200;
/// Notifications the delivery log shows.
const MAX_DELIVERIES: i64 = 50;
/// The windows the form offers for `event_frequency`, in seconds.
const WINDOWS: &[u32] = &[60, 300, 900, 3600, 86_400, 604_800];

/// `?created=<rule id>`: the page after a rule's creation.
#[derive(Debug, Deserialize)]
pub struct ShowQuery {
    created: Option<String>,
}

/// A refused form: the message and the form field it belongs to.
struct FormError {
    message: String,
    input: &'static str,
}

/// The form's input that holds the rule body's `field` (as the validation names it).
fn input_of(field: &str) -> &'static str {
    match field {
        "name" => "name",
        "condition.threshold" => "threshold",
        "condition.window_secs" => "window_secs",
        f if f.starts_with("condition") => "condition",
        "action.url" => "url",
        "action.to" => "to",
        f if f.starts_with("action") => "action",
        "filters.min_level" => "min_level",
        "filters.environment" => "environment",
        _ => "",
    }
}

/// A number as JSON when it reads as one, else the text (which the validation then refuses,
/// naming the field).
fn number(text: &str) -> Value {
    let text = text.trim();
    text.parse::<u64>()
        .map_or_else(|_| Value::String(text.to_owned()), Value::from)
}

/// The API's rule body for the creation form.
pub fn rule_body(form: &FormData) -> Value {
    let condition = match form.get("condition") {
        "event_frequency" => json!({
            "kind": "event_frequency",
            "threshold": number(form.get("threshold")),
            "window_secs": number(form.get("window_secs")),
        }),
        kind => json!({ "kind": kind }),
    };
    let action = match form.get("action") {
        "webhook" => json!({ "kind": "webhook", "url": form.get("url").trim() }),
        "email" => {
            let to: Vec<&str> = form
                .get("to")
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|a| !a.is_empty())
                .collect();
            json!({ "kind": "email", "to": to })
        }
        kind => json!({ "kind": kind }),
    };
    let mut filters = Map::new();
    for key in ["min_level", "environment"] {
        let value = form.get(key).trim();
        if !value.is_empty() {
            filters.insert(key.to_owned(), json!(value));
        }
    }
    json!({
        "name": form.get("name"),
        "condition": condition,
        "action": action,
        "filters": filters,
    })
}

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

/// The field's error under it, if the refused form names it.
fn field_error(error: Option<&FormError>, input: &str) -> Markup {
    html! {
        @if let Some(e) = error.filter(|e| e.input == input) {
            span.error id={ "err-" (input) } { (e.message) }
        }
    }
}

/// `aria-describedby` of an input the refused form names.
fn described(error: Option<&FormError>, input: &str) -> Option<String> {
    error
        .filter(|e| e.input == input)
        .map(|_| format!("err-{input}"))
}

fn create_form(base: &str, csrf: &str, error: Option<&FormError>, sent: &FormData) -> Markup {
    let value = |name: &str| sent.get(name).to_owned();
    let chosen = |name: &str, option: &str, default: bool| {
        let got = sent.get(name);
        got == option || (got.is_empty() && default)
    };
    html! {
        section aria-labelledby="h-new" {
            h2 #h-new { "New alert rule" }
            form.stack method="post" action=(base) {
                (csrf_field(csrf))
                label { "Name" input type="text" name="name" required maxlength="200" value=(value("name")) aria-describedby=[described(error, "name")]; }
                (field_error(error, "name"))
                label { "When"
                    select name="condition" aria-describedby=[described(error, "condition")] {
                        option value="new_issue" selected[chosen("condition", "new_issue", true)] { "A new issue is created" }
                        option value="regression" selected[chosen("condition", "regression", false)] { "A resolved issue comes back (regression)" }
                        option value="event_frequency" selected[chosen("condition", "event_frequency", false)] { "An issue is seen often (event frequency)" }
                    }
                }
                (field_error(error, "condition"))
                label { "Events (event frequency)" input type="number" name="threshold" min="1" max="1000000" value=(value("threshold")) placeholder="100" aria-describedby=[described(error, "threshold")]; }
                (field_error(error, "threshold"))
                label { "Within (event frequency)"
                    select name="window_secs" aria-describedby=[described(error, "window_secs")] {
                        @for &w in WINDOWS {
                            option value=(w) selected[chosen("window_secs", &w.to_string(), w == 3600)] { (window(w)) }
                        }
                    }
                }
                (field_error(error, "window_secs"))
                label { "Then"
                    select name="action" aria-describedby=[described(error, "action")] {
                        option value="webhook" selected[chosen("action", "webhook", true)] { "Send a webhook" }
                        option value="email" selected[chosen("action", "email", false)] { "Send an e-mail" }
                        option value="log" selected[chosen("action", "log", false)] { "Write to the server log" }
                    }
                }
                (field_error(error, "action"))
                label { "Webhook URL" input type="url" name="url" maxlength="2048" value=(value("url")) placeholder="https://hooks.example.com/mesher" aria-describedby=[described(error, "url")]; }
                (field_error(error, "url"))
                label { "E-mail addresses (comma-separated; empty: every member)" input type="text" name="to" value=(value("to")) aria-describedby=[described(error, "to")]; }
                (field_error(error, "to"))
                label { "Minimum level"
                    select name="min_level" aria-describedby=[described(error, "min_level")] {
                        option value="" selected[sent.get("min_level").is_empty()] { "Any level" }
                        @for l in Level::ALL {
                            option value=(l.as_str()) selected[sent.get("min_level") == l.as_str()] { (l.as_str()) }
                        }
                    }
                }
                (field_error(error, "min_level"))
                label { "Environment (empty: any)" input type="text" name="environment" maxlength="200" value=(value("environment")) placeholder="production" aria-describedby=[described(error, "environment")]; }
                (field_error(error, "environment"))
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
    query: Option<web::Query<ShowQuery>>,
) -> Result<HttpResponse, WebError> {
    let (org, project) = path.into_inner();
    let (mut conn, access, project) = project_access(&state, &user, &org, &project).await?;
    let asked: Option<RuleId> = query
        .as_ref()
        .and_then(|q| q.created.as_deref())
        .and_then(|r| r.parse().ok());
    let created = asked.and_then(|r| state.flash.take_rule(user.session_id, r));
    let message = match (asked, &created) {
        (Some(_), None) => Message::AlreadyShown,
        _ => Message::None,
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
    match changes::create(&mut conn, &actor, &project, &rule_body(&form), now).await {
        Ok((row, secret)) => {
            let created = CreatedRule {
                rule_id: row.id,
                name: row.name,
                secret,
            };
            state.flash.put_rule(user.session_id, created);
            Ok(see_other(&format!(
                "{}?created={}#created",
                base_of(&access, &project),
                row.id
            )))
        }
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let error = FormError {
                input: input_of(e.field.as_deref().unwrap_or("")),
                message: e.message,
            };
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

fn deliveries_template(
    user: &WebUser,
    access: &OrgAccess,
    project: &Project,
    rule: &AlertRule,
    rows: &[Delivery],
    now: DateTime<Utc>,
) -> Markup {
    let base = base_of(access, project);
    let issues = format!("/{}/{}/issues", access.org.slug, project.slug);
    let mut crumbs = crumbs(access, project);
    crumbs.push(("Alert rules".into(), base.clone()));
    layout::page(
        &format!("Alert rule {}", rule.name),
        Some(user),
        &crumbs,
        html! {
            h1 { "Alert rule" span.muted { " · " (rule.name) } }
            dl.facts {
                div { dt { "When" } dd { (condition_text(rule)) } }
                div { dt { "Then" } dd { (action_text(rule)) } }
                div { dt { "Events" } dd { (filters_text(rule)) } }
                div { dt { "State" } dd { (if rule.enabled { "enabled" } else { "disabled" }) } }
            }
            @if access.role >= Role::Admin {
                form.actions method="post" action={ (base) "/" (rule.id) "/test" } {
                    (csrf_field(&user.csrf))
                    button type="submit" { "Send test" }
                }
            }
            section aria-labelledby="h-deliveries" {
                h2 #h-deliveries { "Recent notifications" }
                @if rows.is_empty() {
                    p.muted { "No notifications yet." }
                } @else {
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
        },
    )
}

/// `GET /{org}/{project}/settings/alerts/{id}`: the rule and its recent notifications
/// (members).
pub async fn show_rule(
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, project, id) = path.into_inner();
    let id = rule_id(&id)?;
    let (mut conn, access, project) = project_access(&state, &user, &org, &project).await?;
    let rule = rules_db::find_rule(&mut conn, project.id, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let rows = deliveries::list_for_rule(&mut conn, rule.id, None, MAX_DELIVERIES).await?;
    let now = (state.clock)();
    Ok(layout::ok(deliveries_template(
        &user, &access, &project, &rule, &rows, now,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)]) -> FormData {
        FormData(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn forms_become_the_api_body_and_errors_find_their_input() {
        let body = rule_body(&form(&[
            ("name", "Busy"),
            ("condition", "event_frequency"),
            ("threshold", " 100 "),
            ("window_secs", "3600"),
            ("action", "email"),
            ("to", "a@example.com, b@example.com"),
            ("min_level", "error"),
            ("environment", ""),
            ("url", "ignored"),
        ]));
        assert_eq!(
            body,
            json!({
                "name": "Busy",
                "condition": {"kind": "event_frequency", "threshold": 100, "window_secs": 3600},
                "action": {"kind": "email", "to": ["a@example.com", "b@example.com"]},
                "filters": {"min_level": "error"},
            })
        );
        let refused = crate::domain::alerts::parse_new_rule(&rule_body(&form(&[
            ("name", "x"),
            ("condition", "event_frequency"),
            ("threshold", "lots"),
            ("window_secs", "60"),
            ("action", "log"),
        ])))
        .unwrap_err();
        assert_eq!(input_of(&refused.field), "threshold");
        for (field, input) in [
            ("name", "name"),
            ("condition.kind", "condition"),
            ("action.url", "url"),
            ("action.kind", "action"),
            ("filters.environment", "environment"),
        ] {
            assert_eq!(input_of(field), input);
        }
        assert_eq!(window(604_800), "7 d");
        assert_eq!(window(900), "15 min");
    }
}

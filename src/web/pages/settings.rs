//! `/{org}/{project}/settings`: the project's name and platform, SDK setup snippets with
//! its DSN, and for admins its keys (create: redirects to the page, which shows the key and
//! DSN this once from the session's flash, with a copy button; revoke) and deletion.
//! Members see the page without the admin controls, and posting them anyway is a 403 page,
//! as in the API.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::{admin_project, project_access, project_crumbs, see_other};
use crate::AppState;
use crate::db::projects::{self, ApiKey, Project};
use crate::domain::{KeyId, Role};
use crate::http::access::OrgAccess;
use crate::http::client_ip::Origin;
use crate::http::keys::{new_key, revoke};
use crate::web::flash::CreatedKey;
use crate::web::layout::{self, csrf_field};
use crate::web::post::FormPost;
use crate::web::session::WebUser;
use crate::web::{WebError, format};

/// Keys the page lists (one screen).
const MAX_KEYS: i64 = 100;

/// A key just created, shown once.
type Created = CreatedKey;

/// `?created=<key id>`: the page after a key's creation.
#[derive(Debug, Deserialize)]
pub struct ShowQuery {
    created: Option<String>,
}

/// SDK setup snippets for `dsn`.
pub fn snippets(dsn: &str, url: &str, key: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "Python",
            format!(
                "pip install sentry-sdk\n\nimport sentry_sdk\nsentry_sdk.init(dsn=\"{dsn}\")\n"
            ),
        ),
        (
            "JavaScript / Node",
            format!(
                "npm install @sentry/node\n\nconst Sentry = require(\"@sentry/node\");\nSentry.init({{ dsn: \"{dsn}\" }});\n"
            ),
        ),
        (
            "Rust",
            format!(
                "# Cargo.toml: sentry = \"0.49\"\n\nlet _guard = sentry::init((\"{dsn}\", sentry::ClientOptions {{\n    release: sentry::release_name!(),\n    ..Default::default()\n}}));\n"
            ),
        ),
        (
            "curl",
            format!(
                "curl -X POST {url}/api/v1/events \\\n  -H 'X-Mesher-Key: {key}' -H 'Content-Type: application/json' \\\n  -d '{{\"message\":\"hello\",\"level\":\"error\",\"timestamp\":\"2026-01-01T00:00:00Z\"}}'\n"
            ),
        ),
    ]
}

#[allow(clippy::too_many_arguments)]
fn template(
    user: &WebUser,
    access: &OrgAccess,
    project: &Project,
    keys: &[ApiKey],
    created: Option<&Created>,
    message: Message<'_>,
    state: &AppState,
    now: DateTime<Utc>,
) -> Markup {
    let base = format!("/{}/{}/settings", access.org.slug, project.slug);
    let admin = access.role >= Role::Admin;
    let (dsn, key) = match created {
        Some(c) => (c.dsn.clone(), c.key.clone()),
        None => (
            state.settings.dsn("<key>", project.number),
            "<key>".to_owned(),
        ),
    };
    let url = state.settings.public_url().trim_end_matches('/').to_owned();
    layout::page(
        &format!("Settings of {}", project.name),
        Some(user),
        &project_crumbs(access, project),
        html! {
            h1 { "Project settings" span.muted { " · " (project.name) } }
            dl.facts {
                div { dt { "Slug" } dd { (project.slug) } }
                div { dt { "Platform" } dd { (project.platform.as_deref().unwrap_or("—")) } }
                div { dt { "DSN project number" } dd { (project.number) } }
            }
            @match message {
                Message::Error(e) => { p.error role="alert" { (e) } }
                Message::AlreadyShown => {
                    p.notice role="status" { "The key was created. Its secret was shown once and is not shown again: create another key if it was not copied." }
                }
                Message::None => {}
            }
            @if let Some(c) = created {
                section.created #created aria-labelledby="h-created" tabindex="-1" {
                    h2 #h-created { "New key “" (c.label) "”" }
                    p { strong { "Copy it now: it is shown only this once." } }
                    dl.fields {
                        div { dt { "Key" } dd { code #new-key { (c.key) } " " button.copy type="button" data-copy="new-key" hidden { "Copy" } } }
                        div { dt { "DSN" } dd { code #new-dsn { (c.dsn) } " " button.copy type="button" data-copy="new-dsn" hidden { "Copy" } } }
                    }
                }
            }
            @if admin {
                section aria-labelledby="h-keys" {
                    h2 #h-keys { "Keys" }
                    table.list {
                        thead { tr { th scope="col" { "Label" } th scope="col" { "Key starts" } th scope="col" { "Created" } th scope="col" { "Last used" } th scope="col" { "State" } } }
                        tbody {
                            @for k in keys {
                                tr {
                                    td { (k.label) }
                                    td { code { (k.prefix) "…" } }
                                    td { (format::time(k.created_at, now)) }
                                    td { @match k.last_used_at { Some(t) => (format::time(t, now)), None => "never" } }
                                    td {
                                        @if let Some(t) = k.revoked_at { "revoked " (format::time(t, now)) }
                                        @else {
                                            form.inline method="post" action={ (base) "/keys/" (k.id) "/revoke" } {
                                                (csrf_field(&user.csrf))
                                                button type="submit" aria-label={ "Revoke key " (k.label) } { "Revoke" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    form.inline method="post" action={ (base) "/keys" } {
                        (csrf_field(&user.csrf))
                        label { "Label" input type="text" name="label" required maxlength="200" placeholder="production"; }
                        button type="submit" { "Create a key" }
                    }
                }
            } @else {
                p.muted { "Keys are managed by the organization's admins." }
            }
            section aria-labelledby="h-alerts" {
                h2 #h-alerts { "Alerts" }
                p { a href={ (base) "/alerts" } { "Alert rules" } ": notifications by webhook, e-mail or log when a new issue appears, an issue comes back, or an issue is seen often." }
            }
            section aria-labelledby="h-sdk" {
                h2 #h-sdk { "Send errors" }
                @if created.is_none() { p.muted { "Replace " code { "<key>" } " with a key of this project." } }
                @for (name, code) in snippets(&dsn, &url, &key) {
                    h3 { (name) }
                    pre.raw tabindex="0" aria-label={ (name) " setup" } { code { (code) } }
                }
            }
            @if admin {
                section aria-labelledby="h-delete" {
                    h2 #h-delete { "Delete the project" }
                    p { "Deletes its issues, events and keys. This cannot be undone." }
                    form.inline method="post" action={ (base) "/delete" } {
                        (csrf_field(&user.csrf))
                        label { "Type the slug “" (project.slug) "” to confirm" input type="text" name="confirm" required autocomplete="off"; }
                        button.danger type="submit" { "Delete project" }
                    }
                }
            }
        },
    )
}

/// What the page says above its sections.
#[derive(Debug, Clone, Copy)]
enum Message<'a> {
    None,
    Error(&'a str),
    /// The page after a key's creation, whose secret is no longer in the flash.
    AlreadyShown,
}

async fn render(
    state: &AppState,
    conn: &mut diesel_async::AsyncPgConnection,
    user: &WebUser,
    access: &OrgAccess,
    project: &Project,
    created: Option<&Created>,
    message: Message<'_>,
) -> Result<maud::Markup, WebError> {
    let keys = if access.role >= Role::Admin {
        projects::keys_page(conn, project.id, None, MAX_KEYS).await?
    } else {
        Vec::new()
    };
    let now = (state.clock)();
    Ok(template(
        user, access, project, &keys, created, message, state, now,
    ))
}

/// `GET /{org}/{project}/settings`; with `?created=<key id>` after a key's creation, the
/// key and DSN taken from the session's flash (so shown once: a reload shows them no more).
pub async fn show(
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<(String, String)>,
    // A query that does not parse is ignored, like an unknown key id.
    query: Option<web::Query<ShowQuery>>,
) -> Result<HttpResponse, WebError> {
    let (org, project) = path.into_inner();
    let (mut conn, access, project) = project_access(&state, &user, &org, &project).await?;
    let asked: Option<KeyId> = query
        .as_ref()
        .and_then(|q| q.created.as_deref())
        .and_then(|k| k.parse().ok());
    let created = asked.and_then(|k| state.flash.take_key(user.session_id, k));
    let message = match (asked, &created) {
        (Some(_), None) => Message::AlreadyShown,
        _ => Message::None,
    };
    let page = render(
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

/// `POST /{org}/{project}/settings/keys`: creates a key (admins), leaves it in the session's
/// flash and redirects to the page that shows it once (a reload does not post again).
pub async fn create_key(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    origin: Origin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, project) = path.into_inner();
    let (mut conn, access, project) = admin_project(&state, &user, &org, &project).await?;
    let actor = origin.actor(&user.user);
    match new_key(&mut conn, &actor, &project, form.get("label")).await {
        Ok((row, key)) => {
            let created = Created {
                key_id: row.id,
                label: row.label,
                dsn: state.settings.dsn(&key, project.number),
                key,
            };
            state.flash.put_key(user.session_id, created);
            Ok(see_other(&format!(
                "/{}/{}/settings?created={}#created",
                access.org.slug, project.slug, row.id
            )))
        }
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let page = render(
                &state,
                &mut conn,
                &user,
                &access,
                &project,
                None,
                Message::Error(&e.message),
            )
            .await?;
            Ok(layout::html_response(StatusCode::BAD_REQUEST, page))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /{org}/{project}/settings/keys/{key_id}/revoke` (admins).
pub async fn revoke_key(
    state: web::Data<AppState>,
    FormPost { user, .. }: FormPost,
    origin: Origin,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, project, key_id) = path.into_inner();
    let key_id: KeyId = key_id.parse().map_err(|_| WebError::NotFound)?;
    let (mut conn, access, project) = admin_project(&state, &user, &org, &project).await?;
    revoke(
        &state,
        &mut conn,
        &origin.actor(&user.user),
        &project,
        key_id,
    )
    .await?;
    Ok(see_other(&format!(
        "/{}/{}/settings",
        access.org.slug, project.slug
    )))
}

/// `POST /{org}/{project}/settings/delete` (admins; `confirm` must be the project's slug).
pub async fn delete(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    origin: Origin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, project) = path.into_inner();
    let (mut conn, access, project) = admin_project(&state, &user, &org, &project).await?;
    if form.get("confirm") != project.slug {
        let page = render(
            &state,
            &mut conn,
            &user,
            &access,
            &project,
            None,
            Message::Error("Type the project's slug to confirm the deletion."),
        )
        .await?;
        return Ok(layout::html_response(StatusCode::BAD_REQUEST, page));
    }
    let actor = origin.actor(&user.user);
    crate::http::projects::delete(&state, &mut conn, &actor, &project).await?;
    Ok(see_other(&format!("/{}", access.org.slug)))
}

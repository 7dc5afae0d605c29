//! `/{org}/settings`: the organization's members with their roles, and for admins the
//! controls to add a member by email, change a role, remove a member and rename the
//! organization; owners also delete it (typing its slug). Members see the list without
//! controls (and may leave); posting a control anyway is a 403 page, as in the API, whose
//! checks (`http::orgs`: who may touch whom, the last owner stays) decide every change.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

use super::see_other;
use crate::AppState;
use crate::db::DbConn;
use crate::db::accounts::{self, Member};
use crate::domain::{Role, UserId};
use crate::error::ApiError;
use crate::http::access::OrgAccess;
use crate::http::client_ip::Origin;
use crate::http::orgs;
use crate::web::csrf::FormData;
use crate::web::layout::{self, csrf_field};
use crate::web::post::FormPost;
use crate::web::session::WebUser;
use crate::web::{WebError, format};

/// Members the page lists (one screen).
const MAX_MEMBERS: i64 = 500;

const ROLES: [Role; 3] = [Role::Member, Role::Admin, Role::Owner];

/// Whether the caller's role lets them change or remove a member with role `target`
/// (admins manage members and admins, owners everyone): controls they cannot use are
/// not drawn. The last owner's rows keep their controls for owners; the API's check
/// answers why not.
fn manages(actor: Role, target: Role) -> bool {
    actor >= Role::Admin && (target < Role::Owner || actor == Role::Owner)
}

fn template(
    user: &WebUser,
    access: &OrgAccess,
    members: &[Member],
    form: &FormData,
    error: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Markup {
    let org = &access.org;
    let base = format!("/{}/settings", org.slug);
    let admin = access.role >= Role::Admin;
    let grantable: Vec<Role> = ROLES
        .into_iter()
        .filter(|r| *r < Role::Owner || access.role == Role::Owner)
        .collect();
    layout::page(
        &format!("Settings of {}", org.name),
        Some(user),
        &[
            (org.name.clone(), format!("/{}", org.slug)),
            ("Settings".into(), base.clone()),
        ],
        html! {
            h1 { "Organization settings" span.muted { " · " (org.name) } }
            dl.facts {
                div { dt { "Slug" } dd { (org.slug) } }
                div { dt { "Your role" } dd { (access.role) } }
            }
            @if admin {
                p { a href={ (base) "/audit" } { "Audit log" } " — who did what in this organization, and when." }
            }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            section aria-labelledby="h-members" {
                h2 #h-members { "Members" }
                table.list {
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Role" }
                        th scope="col" { "Joined" } th scope="col" { "" }
                    } }
                    tbody {
                        @for m in members {
                            @let me = m.user_id == user.user.id;
                            tr {
                                td { (m.name) @if me { " " span.muted { "(you)" } } }
                                td { (m.email) }
                                td {
                                    @if manages(access.role, m.role) {
                                        form.inline method="post" action={ (base) "/members/" (m.user_id) "/role" } {
                                            (csrf_field(&user.csrf))
                                            label.sr for={ "role-" (m.user_id) } { "Role of " (m.email) }
                                            select #{ "role-" (m.user_id) } name="role" {
                                                @for r in &grantable {
                                                    option value=(r) selected[*r == m.role] { (r) }
                                                }
                                            }
                                            button type="submit" aria-label={ "Change the role of " (m.email) } { "Change" }
                                        }
                                    } @else { (m.role) }
                                }
                                td { (format::time(m.joined_at, now)) }
                                td {
                                    @if manages(access.role, m.role) || me {
                                        form.inline method="post" action={ (base) "/members/" (m.user_id) "/remove" } {
                                            (csrf_field(&user.csrf))
                                            button.danger type="submit" aria-label={ @if me { "Leave the organization" } @else { "Remove " (m.email) } } {
                                                @if me { "Leave" } @else { "Remove" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if admin {
                    form.inline method="post" action={ (base) "/members" } {
                        (csrf_field(&user.csrf))
                        label { "Email" input type="email" name="email" required maxlength="320" value=(form.get("email")); }
                        label { "Role"
                            select name="role" {
                                @for r in &grantable { option value=(r) selected[r.as_str() == form.get("role")] { (r) } }
                            }
                        }
                        button type="submit" { "Add a member" }
                    }
                    p.muted { "The person must have registered on this server first." }
                } @else {
                    p.muted { "Members are managed by the organization's admins." }
                }
            }
            @if admin {
                section aria-labelledby="h-rename" {
                    h2 #h-rename { "Rename" }
                    form.inline method="post" action={ (base) "/rename" } {
                        (csrf_field(&user.csrf))
                        label { "Name" input type="text" name="name" required maxlength="200" value=(org.name); }
                        button type="submit" { "Rename" }
                    }
                    p.muted { "The slug, and so every address, stays the same." }
                }
            }
            @if access.role == Role::Owner {
                section aria-labelledby="h-delete" {
                    h2 #h-delete { "Delete the organization" }
                    p { "Deletes its projects with their issues, events, keys and alert rules. This cannot be undone." }
                    form.inline method="post" action={ (base) "/delete" } {
                        (csrf_field(&user.csrf))
                        label { "Type the slug “" (org.slug) "” to confirm" input type="text" name="confirm" required autocomplete="off"; }
                        button.danger type="submit" { "Delete organization" }
                    }
                }
            }
        },
    )
}

/// The page, with `error` above the members (answered with `status`).
async fn render(
    state: &AppState,
    conn: &mut diesel_async::AsyncPgConnection,
    user: &WebUser,
    access: &OrgAccess,
    form: &FormData,
    error: Option<(StatusCode, &str)>,
) -> Result<HttpResponse, WebError> {
    let mut members = accounts::members_page(conn, access.org.id, None, MAX_MEMBERS).await?;
    members.truncate(MAX_MEMBERS as usize);
    let now = (state.clock)();
    let body = template(user, access, &members, form, error.map(|(_, e)| e), now);
    Ok(layout::html_response(
        error.map_or(StatusCode::OK, |(s, _)| s),
        body,
    ))
}

/// The caller's access to `org` (404 page for an outsider) with the connection used.
async fn load<'a>(
    state: &'a AppState,
    user: &WebUser,
    org: &str,
) -> Result<(DbConn<'a>, OrgAccess), WebError> {
    let mut conn = state.pool.get().await?;
    let access = OrgAccess::load(&mut conn, user.user.id, org).await?;
    Ok((conn, access))
}

/// After a change: back to the page, or the page again with why not (a client error the
/// API would answer 400 or 409); a missing role stays the 403 page.
async fn after(
    state: &AppState,
    conn: &mut diesel_async::AsyncPgConnection,
    user: &WebUser,
    access: &OrgAccess,
    form: &FormData,
    done: Result<(), ApiError>,
) -> Result<HttpResponse, WebError> {
    match done {
        Ok(()) => Ok(see_other(&format!("/{}/settings", access.org.slug))),
        Err(e) if matches!(e.status, StatusCode::BAD_REQUEST | StatusCode::CONFLICT) => {
            render(
                state,
                conn,
                user,
                access,
                form,
                Some((e.status, &e.message)),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `GET /{org}/settings`.
pub async fn show(
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (mut conn, access) = load(&state, &user, &path).await?;
    render(
        &state,
        &mut conn,
        &user,
        &access,
        &FormData::default(),
        None,
    )
    .await
}

/// `POST /{org}/settings/members`: adds a registered user by email (admins).
pub async fn add_member(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    origin: Origin,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (mut conn, access) = load(&state, &user, &path).await?;
    let actor = origin.actor(&user.user);
    let done = orgs::add(
        &mut conn,
        &actor,
        &access,
        form.get("email"),
        form.get("role"),
    )
    .await
    .map(drop);
    after(&state, &mut conn, &user, &access, &form, done).await
}

/// The member named by a path's `{user_id}` (404 page when it is no user id).
fn member_id(raw: &str) -> Result<UserId, WebError> {
    raw.parse().map_err(|_| WebError::NotFound)
}

/// `POST /{org}/settings/members/{user_id}/role` (admins; owners by owners).
pub async fn set_role(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    origin: Origin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, target) = path.into_inner();
    let target = member_id(&target)?;
    let (mut conn, access) = load(&state, &user, &org).await?;
    let actor = origin.actor(&user.user);
    let role = form.get("role");
    let done = orgs::change_role(&mut conn, &actor, &access, user.user.id, target, role)
        .await
        .map(drop);
    after(
        &state,
        &mut conn,
        &user,
        &access,
        &FormData::default(),
        done,
    )
    .await
}

/// `POST /{org}/settings/members/{user_id}/remove` (admins; owners by owners; anyone
/// for themself, which leaves the organization and goes home).
pub async fn remove_member(
    state: web::Data<AppState>,
    FormPost { user, .. }: FormPost,
    origin: Origin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, target) = path.into_inner();
    let target = member_id(&target)?;
    let (mut conn, access) = load(&state, &user, &org).await?;
    let actor = origin.actor(&user.user);
    let done = orgs::remove(&mut conn, &actor, &access, user.user.id, target).await;
    if done.is_ok() && target == user.user.id {
        return Ok(see_other("/"));
    }
    after(
        &state,
        &mut conn,
        &user,
        &access,
        &FormData::default(),
        done,
    )
    .await
}

/// `POST /{org}/settings/rename` (admins).
pub async fn rename(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    origin: Origin,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (mut conn, access) = load(&state, &user, &path).await?;
    let actor = origin.actor(&user.user);
    let done = orgs::rename(&mut conn, &actor, &access, form.get("name"))
        .await
        .map(drop);
    after(&state, &mut conn, &user, &access, &form, done).await
}

/// `POST /{org}/settings/delete` (owners; `confirm` must be the organization's slug).
pub async fn delete(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    origin: Origin,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let (mut conn, access) = load(&state, &user, &path).await?;
    access.require(Role::Owner)?;
    if form.get("confirm") != access.org.slug {
        let why = "Type the organization's slug to confirm the deletion.";
        return render(
            &state,
            &mut conn,
            &user,
            &access,
            &form,
            Some((StatusCode::BAD_REQUEST, why)),
        )
        .await;
    }
    orgs::delete(&state, &mut conn, &origin.actor(&user.user), &access).await?;
    Ok(see_other("/"))
}

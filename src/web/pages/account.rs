//! `/account`: the signed-in user's name, password (the current one required, counted like
//! a login), active sessions (this one marked; revoke any other) and user tokens for
//! scripts (create with the current password, shown this once with a copy button; revoke).
//! Every change goes through the API's own code (`http::auth`, `http::tokens`,
//! `auth::session`).

use actix_web::http::StatusCode;
use actix_web::http::header::RETRY_AFTER;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use secrecy::SecretString;

use super::see_other;
use crate::AppState;
use crate::auth::session::{self, SessionInfo, UserToken};
use crate::db::accounts;
use crate::domain::{SessionId, TokenId};
use crate::error::ApiError;
use crate::http::auth::{check_user_name, session_cookie_removal, set_password};
use crate::http::client_ip::Origin;
use crate::http::tokens::{TokenCreated, mint, revoke};
use crate::web::layout::{self, csrf_field};
use crate::web::post::FormPost;
use crate::web::session::WebUser;
use crate::web::{WebError, format};

/// What a post leaves on the page: a new token (shown once), an error, a notice.
#[derive(Default)]
struct Outcome<'a> {
    created: Option<&'a TokenCreated>,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

fn template(
    user: &WebUser,
    sessions: &[SessionInfo],
    tokens: &[UserToken],
    out: &Outcome<'_>,
    now: DateTime<Utc>,
) -> Markup {
    let u = &user.user;
    layout::page(
        "Account",
        Some(user),
        &[("Account".into(), "/account".into())],
        html! {
            h1 { "Account" span.muted { " · " (u.email) } }
            @if let Some(e) = out.error { p.error role="alert" { (e) } }
            @if let Some(n) = out.notice { p.notice role="status" { (n) } }
            @if let Some(c) = out.created {
                section.created aria-labelledby="h-created" {
                    h2 #h-created { "New token “" (c.info.label) "”" }
                    p { strong { "Copy it now: it is shown only this once." } }
                    p { code #new-token { (c.token) } " " button.copy type="button" data-copy="new-token" hidden { "Copy" } }
                    p.muted { "Send it as " code { "Authorization: Bearer …" } " to the API." }
                }
            }
            section aria-labelledby="h-name" {
                h2 #h-name { "Name" }
                form.inline method="post" action="/account/name" {
                    (csrf_field(&user.csrf))
                    label { "Name" input type="text" name="name" maxlength="200" value=(u.name) autocomplete="name"; }
                    button type="submit" { "Save" }
                }
            }
            section aria-labelledby="h-password" {
                h2 #h-password { "Password" }
                form.stack method="post" action="/account/password" {
                    (csrf_field(&user.csrf))
                    label { "Current password" input type="password" name="current_password" required autocomplete="current-password"; }
                    label { "New password" input type="password" name="new_password" required minlength="8" maxlength="1024" autocomplete="new-password"; }
                    label.check { input type="checkbox" name="revoke_tokens" value="1"; " Also revoke every user token" }
                    button type="submit" { "Change password" }
                }
                p.muted { "Changing it signs out every other session." }
            }
            section aria-labelledby="h-sessions" {
                h2 #h-sessions { "Sessions" }
                table.list {
                    thead { tr {
                        th scope="col" { "Browser" } th scope="col" { "Address" } th scope="col" { "Signed in" }
                        th scope="col" { "Last seen" } th scope="col" { "" }
                    } }
                    tbody {
                        @for s in sessions {
                            tr {
                                td { (s.user_agent.as_deref().unwrap_or("—")) }
                                td { (s.ip.as_deref().unwrap_or("—")) }
                                td { (format::time(s.created_at, now)) }
                                td { (format::time(s.last_seen_at, now)) }
                                td {
                                    @if s.id == user.session_id { strong.current { "This session" } }
                                    @else {
                                        form.inline method="post" action={ "/account/sessions/" (s.id) "/revoke" } {
                                            (csrf_field(&user.csrf))
                                            button type="submit" aria-label={ "Revoke the session signed in " (format::exact(s.created_at)) } { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="h-tokens" {
                h2 #h-tokens { "User tokens" }
                p.muted { "For scripts: a token acts as you on the API until it is revoked." }
                @if !tokens.is_empty() {
                    table.list {
                        thead { tr {
                            th scope="col" { "Label" } th scope="col" { "Token starts" } th scope="col" { "Created" }
                            th scope="col" { "Last used" } th scope="col" { "State" }
                        } }
                        tbody {
                            @for t in tokens {
                                tr {
                                    td { (t.label) }
                                    td { code { (t.prefix) "…" } }
                                    td { (format::time(t.created_at, now)) }
                                    td { @match t.last_used_at { Some(at) => (format::time(at, now)), None => "never" } }
                                    td {
                                        @if let Some(at) = t.revoked_at { "revoked " (format::time(at, now)) }
                                        @else {
                                            form.inline method="post" action={ "/account/tokens/" (t.id) "/revoke" } {
                                                (csrf_field(&user.csrf))
                                                button type="submit" aria-label={ "Revoke token " (t.label) } { "Revoke" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                form.stack method="post" action="/account/tokens" {
                    (csrf_field(&user.csrf))
                    label { "Label" input type="text" name="label" required maxlength="200" placeholder="deploy script"; }
                    label { "Current password" input type="password" name="current_password" required autocomplete="current-password"; }
                    button type="submit" { "Create a token" }
                }
            }
        },
    )
}

/// The page with `out`, answered with `status`.
async fn render(
    state: &AppState,
    user: &WebUser,
    out: &Outcome<'_>,
    status: StatusCode,
) -> Result<HttpResponse, WebError> {
    let now = (state.clock)();
    let mut conn = state.pool.get().await?;
    let sessions =
        session::active_sessions(&mut conn, &state.settings.auth, now, user.user.id).await?;
    let tokens = session::list_tokens(&mut conn, user.user.id).await?;
    drop(conn);
    Ok(layout::html_response(
        status,
        template(user, &sessions, &tokens, out, now),
    ))
}

/// The page again with why a change was refused (the API's 400 or 429 — a throttled
/// password check keeps its `Retry-After`); other failures are error pages.
async fn refused(state: &AppState, user: &WebUser, e: ApiError) -> Result<HttpResponse, WebError> {
    if !matches!(
        e.status,
        StatusCode::BAD_REQUEST | StatusCode::TOO_MANY_REQUESTS
    ) {
        return Err(e.into());
    }
    let out = Outcome {
        error: Some(&e.message),
        ..Outcome::default()
    };
    let mut res = render(state, user, &out, e.status).await?;
    if let Some(secs) = e.retry_after {
        res.headers_mut().insert(RETRY_AFTER, secs.into());
    }
    Ok(res)
}

/// `GET /account`.
pub async fn show(state: web::Data<AppState>, user: WebUser) -> Result<HttpResponse, WebError> {
    render(&state, &user, &Outcome::default(), StatusCode::OK).await
}

/// `POST /account/name`.
pub async fn set_name(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
) -> Result<HttpResponse, WebError> {
    let name = match check_user_name(form.get("name")) {
        Ok(name) => name,
        Err(e) => return refused(&state, &user, e).await,
    };
    let mut conn = state.pool.get().await?;
    accounts::set_user_name(&mut conn, user.user.id, name).await?;
    Ok(see_other("/account"))
}

/// `POST /account/password`: the current password, the new one; other sessions end.
pub async fn change_password(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    origin: Origin,
) -> Result<HttpResponse, WebError> {
    let secret = |name: &str| SecretString::from(form.get(name).to_owned());
    let done = set_password(
        &state,
        &user.user,
        Some(user.session_id),
        &origin,
        secret("current_password"),
        secret("new_password"),
        !form.get("revoke_tokens").is_empty(),
    )
    .await;
    match done {
        Ok(()) => {
            let out = Outcome {
                notice: Some("Password changed; every other session was signed out."),
                ..Outcome::default()
            };
            render(&state, &user, &out, StatusCode::OK).await
        }
        Err(e) => refused(&state, &user, e).await,
    }
}

/// `POST /account/sessions/{id}/revoke`: ends one of the user's sessions (this one signs
/// out).
pub async fn revoke_session(
    state: web::Data<AppState>,
    FormPost { user, .. }: FormPost,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let id: SessionId = path.parse().map_err(|_| WebError::NotFound)?;
    let mut conn = state.pool.get().await?;
    if !session::revoke_user_session(&mut conn, (state.clock)(), user.user.id, id).await? {
        return Err(WebError::NotFound);
    }
    if id == user.session_id {
        let mut res = see_other("/login");
        let _ = res.add_cookie(&session_cookie_removal());
        return Ok(res);
    }
    Ok(see_other("/account"))
}

/// `POST /account/tokens`: a label and the current password; the token is shown once.
pub async fn create_token(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    origin: Origin,
) -> Result<HttpResponse, WebError> {
    let password = SecretString::from(form.get("current_password").to_owned());
    match mint(
        &state,
        &user.user,
        &origin,
        form.get("label"),
        Some(password),
    )
    .await
    {
        Ok(created) => {
            let out = Outcome {
                created: Some(&created),
                ..Outcome::default()
            };
            render(&state, &user, &out, StatusCode::OK).await
        }
        Err(e) => refused(&state, &user, e).await,
    }
}

/// `POST /account/tokens/{id}/revoke`.
pub async fn revoke_token(
    state: web::Data<AppState>,
    FormPost { user, .. }: FormPost,
    origin: Origin,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let id: TokenId = path.parse().map_err(|_| WebError::NotFound)?;
    revoke(&state, &user.user, &origin, id).await?;
    Ok(see_other("/account"))
}

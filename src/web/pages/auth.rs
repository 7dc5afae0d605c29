//! `/login`, `/register` and `POST /logout`. Signing in and registering run the API's own
//! code (`http::auth::sign_in`, `register_user`): the same throttle, timing and checks.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use secrecy::SecretString;
use serde::Deserialize;

use super::see_other;
use crate::AppState;
use crate::error::ApiError;
use crate::http::auth::{register_user, session_cookie, session_cookie_removal, sign_in, sign_out};
use crate::http::client_ip::Origin;
use crate::web::WebError;
use crate::web::csrf::{self, FormData};
use crate::web::layout::{self, csrf_field};
use crate::web::post::FormPost;
use crate::web::session::safe_next;

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// What a form shows again after a refused post.
#[derive(Default)]
struct Sent<'a> {
    email: &'a str,
    name: &'a str,
    error: Option<String>,
}

fn login_form(token: &str, next: &str, sent: &Sent<'_>, registration: bool) -> Markup {
    layout::page(
        "Sign in",
        None,
        &[],
        html! {
            section.narrow {
                h1 { "Sign in" }
                @if let Some(e) = &sent.error { p.error role="alert" { (e) } }
                form.stack method="post" action="/login" {
                    (csrf_field(token))
                    input type="hidden" name="next" value=(next);
                    label for="email" { "Email" }
                    input #email type="email" name="email" autocomplete="username" required value=(sent.email);
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password" required;
                    button type="submit" { "Sign in" }
                }
                @if registration {
                    p { "No account? " a href={ "/register" @if next != "/" { "?next=" (urlencode(next)) } } { "Register" } }
                }
            }
        },
    )
}

fn register_form(token: &str, next: &str, sent: &Sent<'_>) -> Markup {
    layout::page(
        "Register",
        None,
        &[],
        html! {
            section.narrow {
                h1 { "Create an account" }
                @if let Some(e) = &sent.error { p.error role="alert" { (e) } }
                form.stack method="post" action="/register" {
                    (csrf_field(token))
                    input type="hidden" name="next" value=(next);
                    label for="name" { "Name" }
                    input #name type="text" name="name" autocomplete="name" maxlength="200" value=(sent.name);
                    label for="email" { "Email" }
                    input #email type="email" name="email" autocomplete="username" required value=(sent.email);
                    label for="password" { "Password (at least 8 characters)" }
                    input #password type="password" name="password" autocomplete="new-password" minlength="8" required;
                    button type="submit" { "Create account" }
                }
                p { "Have an account? " a href="/login" { "Sign in" } }
            }
        },
    )
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A page with the signed-out CSRF cookie set when the browser had none.
fn with_anon_cookie(
    status: StatusCode,
    body: Markup,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> HttpResponse {
    let mut res = layout::html_response(status, body);
    if let Some(c) = cookie {
        let _ = res.add_cookie(&c);
    }
    res
}

/// The message a refused sign-in or registration shows.
fn message(e: &ApiError) -> String {
    match e.retry_after {
        Some(secs) if e.status == StatusCode::TOO_MANY_REQUESTS => format!(
            "Too many failed attempts. Try again in {} minute{}.",
            secs.div_ceil(60),
            if secs.div_ceil(60) == 1 { "" } else { "s" }
        ),
        _ => {
            let mut m = e.message.clone();
            if let Some(first) = m.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            format!("{}.", m.trim_end_matches('.'))
        }
    }
}

/// `GET /login`.
pub async fn login_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> HttpResponse {
    let (token, cookie) = csrf::anonymous(&req, state.settings.http.secure_cookies);
    let next = safe_next(&query.next);
    let body = login_form(
        &token,
        next,
        &Sent::default(),
        state.settings.auth.allow_registration,
    );
    with_anon_cookie(StatusCode::OK, body, cookie)
}

/// `POST /login`: signs in and goes back to `next`, or shows the form again with why not.
pub async fn login_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    origin: Origin,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, WebError> {
    let form = FormData(form.into_inner());
    form.check_anonymous(&req)?;
    let next = safe_next(form.get("next"));
    let password = SecretString::from(form.get("password").to_owned());
    match sign_in(&state, &origin, form.get("email"), password).await {
        Ok((_, token)) => {
            let mut res = see_other(next);
            let _ = res.add_cookie(&session_cookie(&state, token));
            Ok(res)
        }
        Err(e) if e.status.is_client_error() => {
            let (token, _) = csrf::anonymous(&req, state.settings.http.secure_cookies);
            let sent = Sent {
                email: form.get("email"),
                error: Some(message(&e)),
                ..Sent::default()
            };
            let body = login_form(&token, next, &sent, state.settings.auth.allow_registration);
            let mut res = layout::html_response(e.status, body);
            if let Some(secs) = e.retry_after {
                res.headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, secs.into());
            }
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}

fn registration_closed() -> HttpResponse {
    layout::html_response(
        StatusCode::FORBIDDEN,
        layout::error_page(
            403,
            "Registration is closed",
            "This server does not take new accounts. Ask its administrator for one.",
        ),
    )
}

/// `GET /register`.
pub async fn register_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> HttpResponse {
    if !state.settings.auth.allow_registration {
        return registration_closed();
    }
    let (token, cookie) = csrf::anonymous(&req, state.settings.http.secure_cookies);
    let body = register_form(&token, safe_next(&query.next), &Sent::default());
    with_anon_cookie(StatusCode::OK, body, cookie)
}

/// `POST /register`: creates the account, signs in and goes on to `next`.
pub async fn register_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    origin: Origin,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, WebError> {
    let form = FormData(form.into_inner());
    form.check_anonymous(&req)?;
    if !state.settings.auth.allow_registration {
        return Ok(registration_closed());
    }
    let next = safe_next(form.get("next"));
    let password = || SecretString::from(form.get("password").to_owned());
    let created = register_user(&state, form.get("email"), password(), form.get("name")).await;
    let signed_in = match created {
        Ok(user) => sign_in(&state, &origin, &user.email, password()).await,
        Err(e) => Err(e),
    };
    match signed_in {
        Ok((_, token)) => {
            let mut res = see_other(next);
            let _ = res.add_cookie(&session_cookie(&state, token));
            Ok(res)
        }
        Err(e) if e.status.is_client_error() => {
            let (token, _) = csrf::anonymous(&req, state.settings.http.secure_cookies);
            let sent = Sent {
                email: form.get("email"),
                name: form.get("name"),
                error: Some(message(&e)),
            };
            Ok(layout::html_response(
                e.status,
                register_form(&token, next, &sent),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /logout`: ends the session on the server and forgets the cookie.
pub async fn logout(
    state: web::Data<AppState>,
    FormPost { user, .. }: FormPost,
    origin: Origin,
) -> Result<HttpResponse, WebError> {
    sign_out(&state, &user.user, user.session_id, &origin).await?;
    let mut res = see_other("/login");
    let _ = res.add_cookie(&session_cookie_removal());
    Ok(res)
}

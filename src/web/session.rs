//! `WebUser`: the signed-in user of a page, from the `mesher_session` cookie (the API's
//! sessions, resolved by the same `auth::session` code). Signed out, a page redirects to
//! `/login?next=<the page>`; `next` is only ever a path on this site ([`safe_next`]).

use std::future::Future;
use std::pin::Pin;

use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use super::WebError;
use super::csrf::{self, FormData};
use crate::AppState;
use crate::auth::extractors::SESSION_COOKIE;
use crate::auth::session;
use crate::db::accounts::User;
use crate::domain::SessionId;

/// The signed-in user of a page request.
#[derive(Debug, Clone)]
pub struct WebUser {
    pub user: User,
    pub session_id: SessionId,
    /// The CSRF token every form of the page carries.
    pub csrf: String,
}

impl WebUser {
    /// 403 unless `form` carries this session's CSRF token.
    pub fn check(&self, form: &FormData) -> Result<(), WebError> {
        form.check(&self.csrf)
    }
}

impl FromRequest for WebUser {
    type Error = WebError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, WebError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            // Back to this page after signing in; after a post, to the page it came from.
            let next = match *req.method() {
                Method::GET | Method::HEAD => req
                    .uri()
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_owned(),
                _ => "/".to_owned(),
            };
            let sign_in = || WebError::SignIn { next: next.clone() };
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or(WebError::Internal)?
                .clone();
            let cookie = req.cookie(SESSION_COOKIE).ok_or_else(sign_in)?;
            let mut conn = state.pool.get().await?;
            let now = (state.clock)();
            match session::resolve_session(&mut conn, &state.settings.auth, now, cookie.value())
                .await?
            {
                Ok((user, session_id)) => Ok(WebUser {
                    user,
                    session_id,
                    csrf: csrf::for_session(cookie.value()),
                }),
                Err(_) => Err(sign_in()),
            }
        })
    }
}

/// `next` if it is a path on this site (`/…`, not `//host` nor `/\host`, no control
/// characters), else `/`: a sign-in link cannot send anyone elsewhere.
pub fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control())
        && next.len() <= 2048;
    if ok { next } else { "/" }
}

/// `/login?next=…` for a page.
pub fn login_url(next: &str) -> String {
    let next = safe_next(next);
    if next == "/" {
        return "/login".into();
    }
    let encoded: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    format!("/login?next={encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        for (next, safe) in [
            (
                "/acme/api/issues?status=resolved",
                "/acme/api/issues?status=resolved",
            ),
            ("/", "/"),
            ("//evil.example/x", "/"),
            ("/\\evil.example", "/"),
            ("https://evil.example/", "/"),
            ("javascript:alert(1)", "/"),
            ("/a\nb", "/"),
            ("", "/"),
        ] {
            assert_eq!(safe_next(next), safe, "{next:?}");
        }
        assert_eq!(
            login_url("/acme?x=1&y=2"),
            "/login?next=%2Facme%3Fx%3D1%26y%3D2"
        );
        assert_eq!(login_url("//evil"), "/login");
    }
}

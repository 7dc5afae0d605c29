//! `CurrentUser`: the authenticated user of a management request, as a handler argument.
//!
//! Credentials: the `mesher_session` cookie, or `Authorization: Bearer mshu_…`. Requests
//! carrying the cookie have passed [`csrf_guard`] before any handler or extractor runs: a
//! state change (POST, PUT, PATCH, DELETE) with the cookie needs a JSON content type, an `Origin` equal to
//! `http.public_url` when one is sent, and no `Sec-Fetch-Site: cross-site` — a browser cannot
//! send such a request cross-origin without a CORS preflight, which Mesher never grants.
//! Requests with `Authorization: Bearer …` authenticate by that token alone (never by the
//! cookie, even when the token is wrong), so they are not forgeable by another site and skip
//! it; any other `Authorization` scheme next to the cookie is a cookie request like any other.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use super::session::{self, Rejection};
use crate::AppState;
use crate::db::accounts::User;
use crate::domain::{ErrorCode, SessionId, TokenId, UserId};
use crate::error::ApiError;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "mesher_session";

/// How the request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Session(SessionId),
    Token(TokenId),
}

/// The authenticated user.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: User,
    pub credential: Credential,
}

impl CurrentUser {
    pub fn id(&self) -> UserId {
        self.user.id
    }

    /// The session this request came with, if it came with one.
    pub fn session_id(&self) -> Option<SessionId> {
        match self.credential {
            Credential::Session(id) => Some(id),
            Credential::Token(_) => None,
        }
    }
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("AppState missing")))?
                .clone();
            let now = (state.clock)();
            let bearer = bearer_token(req.headers()).map(str::to_owned);
            let mut conn = state.pool.get().await?;
            if let Some(token) = bearer {
                return match session::resolve_token(&mut conn, now, &token).await? {
                    Some((user, id)) => Ok(CurrentUser {
                        user,
                        credential: Credential::Token(id),
                    }),
                    None => Err(ApiError::unauthorized(
                        ErrorCode::InvalidToken,
                        "unknown or revoked user token",
                    )),
                };
            }
            let Some(cookie) = req.cookie(SESSION_COOKIE) else {
                return Err(ApiError::unauthorized(
                    ErrorCode::Unauthenticated,
                    "log in (session cookie) or send Authorization: Bearer mshu_…",
                ));
            };
            match session::resolve_session(&mut conn, &state.settings.auth, now, cookie.value())
                .await?
            {
                Ok((user, id)) => Ok(CurrentUser {
                    user,
                    credential: Credential::Session(id),
                }),
                Err(Rejection::Expired) => Err(ApiError::unauthorized(
                    ErrorCode::SessionExpired,
                    "the session has expired; log in again",
                )),
                Err(Rejection::Unknown) => Err(ApiError::unauthorized(
                    ErrorCode::Unauthenticated,
                    "the session is not valid; log in again",
                )),
            }
        })
    }
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case), when the request
/// has one. Such a request authenticates by the token only: [`CurrentUser`] never falls back
/// to the cookie, which is what lets [`csrf_guard`] waive its checks for it.
pub fn bearer_token(headers: &header::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Middleware: applies [`check_csrf`] to every request that carries the session cookie and
/// no bearer token, before extractors run (so a forged form post gets 403, whatever else is
/// wrong with it).
pub async fn csrf_guard(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    // The web UI's pages check their own CSRF token (a form field bound to the session,
    // `web::csrf`): an HTML form cannot send JSON.
    let cookie_borne = req.cookie(SESSION_COOKIE).is_some()
        && bearer_token(req.headers()).is_none()
        && !crate::web::is_ui_path(req.path());
    if cookie_borne
        && let Some(state) = req.app_data::<web::Data<AppState>>()
        && let Err(e) = check_csrf(req.request(), &state.settings.http.public_url)
    {
        let response = actix_web::ResponseError::error_response(&e);
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req).await.map(|res| res.map_into_left_body())
}

/// The CSRF rules for a cookie-authenticated request (see the module documentation).
pub fn check_csrf(req: &HttpRequest, public_url: &str) -> Result<(), ApiError> {
    // Only the methods a route takes to change something. Any other (GET, HEAD, OPTIONS,
    // TRACE, …) changes nothing, and one no route takes is answered 405 with `Allow`.
    if !matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return Ok(());
    }
    let forbidden = |message: &str| ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Csrf, message);
    let header = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let is_json = header(header::CONTENT_TYPE)
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(forbidden(
            "a state-changing request with a session cookie must send Content-Type: application/json",
        ));
    }
    if let Some(origin) = header(header::ORIGIN)
        && origin.trim_end_matches('/') != public_url.trim_end_matches('/')
    {
        return Err(forbidden(
            "the request's Origin is not this Mesher's public URL",
        ));
    }
    if header(header::HeaderName::from_static("sec-fetch-site")) == Some("cross-site") {
        return Err(forbidden("cross-site requests are refused"));
    }
    Ok(())
}

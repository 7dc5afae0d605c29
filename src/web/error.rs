//! `WebError`: what goes wrong on a page, rendered as an HTML page with the same status the
//! API would answer (an outsider's 404 reveals nothing, a missing role is a 403), or as a
//! redirect to the sign-in page.

use actix_web::http::StatusCode;
use actix_web::http::header::{LOCATION, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};

use crate::error::ApiError;
use crate::web::layout;

/// A failed page request.
#[derive(Debug)]
pub enum WebError {
    /// Not signed in (or the session ended): go to `/login?next=<this page>`.
    SignIn { next: String },
    /// Nothing here, or nothing this user may know of.
    NotFound,
    /// Signed in and a member, but without the role this needs.
    Forbidden(String),
    /// A form post without the right CSRF token.
    Csrf,
    /// A request the page cannot make sense of.
    BadRequest(String),
    /// The database is unreachable; worth retrying.
    Unavailable(u64),
    /// Our fault; the cause is logged by [`ApiError`].
    Internal,
}

impl std::fmt::Display for WebError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.title())
    }
}

impl WebError {
    fn title(&self) -> &'static str {
        match self {
            Self::SignIn { .. } => "Sign in",
            Self::NotFound => "Not found",
            Self::Forbidden(_) => "Not allowed",
            Self::Csrf => "Form expired",
            Self::BadRequest(_) => "Bad request",
            Self::Unavailable(_) => "Unavailable",
            Self::Internal => "Something went wrong",
        }
    }

    fn explanation(&self) -> String {
        match self {
            Self::SignIn { .. } => "Sign in to see this page.".into(),
            Self::NotFound => "There is nothing here, or you are not a member of the \
                               organization it belongs to."
                .into(),
            Self::Forbidden(why) => format!("Your role does not allow this: {why}."),
            Self::Csrf => "The form was not sent from this page (its security token is missing \
                           or stale). Go back, reload the page and try again."
                .into(),
            Self::BadRequest(why) => why.clone(),
            Self::Unavailable(_) => {
                "The database cannot be reached right now. Try again in a moment.".into()
            }
            Self::Internal => "The server failed to answer this page. It has been logged.".into(),
        }
    }
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        match e.status {
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::FORBIDDEN => Self::Forbidden(e.message.trim_end_matches('.').into()),
            StatusCode::UNAUTHORIZED => Self::SignIn { next: "/".into() },
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable(e.retry_after.unwrap_or(1)),
            s if s.is_client_error() => Self::BadRequest(e.message.clone()),
            _ => {
                // Logs the cause once, as the API does.
                let _ = e.error_response();
                Self::Internal
            }
        }
    }
}

impl From<diesel::result::Error> for WebError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl From<crate::db::DbError> for WebError {
    fn from(e: crate::db::DbError) -> Self {
        ApiError::from(e).into()
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn { .. } => StatusCode::SEE_OTHER,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Forbidden(_) | Self::Csrf => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::SignIn { next } = self {
            return HttpResponse::SeeOther()
                .insert_header((LOCATION, crate::web::session::login_url(next)))
                .finish();
        }
        let body = layout::error_page(
            self.status_code().as_u16(),
            self.title(),
            &self.explanation(),
        );
        let mut res = layout::html_response(self.status_code(), body);
        if let Self::Unavailable(secs) = self {
            res.headers_mut().insert(RETRY_AFTER, (*secs).into());
        }
        res
    }
}

impl From<bb8::RunError<diesel_async::pooled_connection::PoolError>> for WebError {
    fn from(e: bb8::RunError<diesel_async::pooled_connection::PoolError>) -> Self {
        ApiError::from(e).into()
    }
}

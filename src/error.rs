//! `ApiError`: the one place where errors become HTTP responses.
//!
//! Every error body has the shape `{"error":{"code":"…","message":"…","field":"…"}}`
//! ([`ErrorBody`], declared once for the OpenAPI document), with a code from the one list
//! [`ErrorCode`]. A 4xx says exactly what was wrong and is logged at debug level only; a
//! 5xx says only that something failed on our side, and the cause goes to the log (at
//! error level, one line, rate-limited per code: an outage fails every request the same
//! way), never to the client. Neither form prints a backtrace: the cause is written with
//! `{:#}` (its chain of messages), in `Display` and in `Debug` alike.
//! Database and pool errors convert with `?`: an unreachable database is a 503 with
//! `Retry-After`, a missing row a 404, anything else a 500.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::DbError;
pub use crate::domain::ErrorCode;

/// An error on its way to becoming an HTTP response.
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
    /// The internal cause of a 5xx, logged and never sent.
    pub source: Option<anyhow::Error>,
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// A sentence for people.
    pub message: String,
    /// The request field at fault, when there is one (e.g. `exception.values[0].type`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// An error with this status, machine-readable code and human message.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            source: None,
        }
    }

    /// Names the request field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Replaces the machine-readable code.
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }

    /// Adds a `Retry-After` header (seconds).
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// A 400 with this code.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A 400 `invalid_field` naming `field`.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::bad_request(ErrorCode::InvalidField, message).with_field(field)
    }

    /// A 401 with this code.
    pub fn unauthorized(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    /// A 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    /// A 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    /// A 409 with this code.
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// A 413 with this code.
    pub fn too_large(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
    }

    /// A 415 with this code.
    pub fn unsupported(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, code, message)
    }

    /// A 503: a dependency (the database) is unavailable; worth retrying.
    pub fn unavailable(cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the service is temporarily unavailable, retry later",
        );
        e.source = Some(cause.into());
        e.with_retry_after(1)
    }

    /// A 500 whose cause is logged, not shown.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal server error",
        );
        e.source = Some(cause.into());
        e
    }

    /// The body this error is answered with.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                field: self.field.clone(),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )?;
        if let Some(source) = &self.source {
            write!(f, " ({source:#})")?;
        }
        Ok(())
    }
}

/// Like `Display`, field by field: never `anyhow`'s `Debug`, which appends the backtrace
/// captured with `RUST_BACKTRACE=1` to every expected error.
impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiError")
            .field("status", &self.status.as_u16())
            .field("code", &self.code)
            .field("message", &self.message)
            .field("field", &self.field)
            .field("retry_after", &self.retry_after)
            .field("source", &self.source.as_ref().map(|e| format!("{e:#}")))
            .finish()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            crate::log_limited!(error, by = self.code.as_str(); error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, "request refused");
        }
        let mut response = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            response.insert_header((RETRY_AFTER, HeaderValue::from(secs)));
        }
        response.json(self.body())
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Pool(_) | DbError::PoolSetup(_) | DbError::Connect(_) => Self::unavailable(e),
            DbError::Query(diesel::result::Error::NotFound) => Self::not_found("not found"),
            other => Self::internal(other),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::from(e).into()
    }
}

/// A refused event (`too_many_events` is a 413, the rest 400s naming the field).
impl From<crate::domain::EventError> for ApiError {
    fn from(e: crate::domain::EventError) -> Self {
        let status = match e.code {
            ErrorCode::TooManyEvents => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        let err = Self::new(status, e.code, e.message);
        match e.field {
            Some(field) => err.with_field(field),
            None => err,
        }
    }
}

/// A refused alert rule body: 400 naming the field (none for the body itself).
impl From<crate::domain::alerts::RuleError> for ApiError {
    fn from(e: crate::domain::alerts::RuleError) -> Self {
        let err = Self::bad_request(e.code, e.message);
        if e.field.is_empty() {
            err
        } else {
            err.with_field(e.field)
        }
    }
}

/// No pooled connection could be had in time: 503, so handlers write
/// `state.pool.get().await?`.
impl From<bb8::RunError<diesel_async::pooled_connection::PoolError>> for ApiError {
    fn from(e: bb8::RunError<diesel_async::pooled_connection::PoolError>) -> Self {
        Self::unavailable(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body_of(e: ApiError) -> serde_json::Value {
        let bytes = to_bytes(e.error_response().into_body()).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[actix_web::test]
    async fn client_error_names_the_field() {
        let body = body_of(ApiError::invalid_field("level", "level is unknown")).await;
        assert_eq!(body["error"]["code"], "invalid_field");
        assert_eq!(body["error"]["field"], "level");
    }

    #[actix_web::test]
    async fn server_error_hides_its_cause() {
        let e = ApiError::internal(anyhow::anyhow!("password authentication failed for x"));
        let body = body_of(e).await;
        assert_eq!(body["error"]["code"], "internal");
        assert!(!body.to_string().contains("password"));
    }

    #[test]
    fn no_form_prints_a_backtrace() {
        let e = ApiError::unavailable(anyhow::anyhow!("connection refused").context("key lookup"));
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(text.contains("key lookup: connection refused"), "{text}");
            assert!(!text.to_lowercase().contains("backtrace"), "{text}");
            assert_eq!(text.lines().count(), 1, "{text}");
        }
    }

    #[test]
    fn not_found_query_is_404_and_pool_timeout_is_503() {
        let e: ApiError = diesel::result::Error::NotFound.into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let e: ApiError =
            bb8::RunError::<diesel_async::pooled_connection::PoolError>::TimedOut.into();
        assert_eq!(
            (e.status, e.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, Some(1))
        );
    }
}

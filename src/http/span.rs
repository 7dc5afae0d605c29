//! The root span of every request: like tracing-actix-web's default, but with the path
//! instead of the full target, so a query-string credential (`?key=mshr_…`,
//! `?sentry_key=…`) never reaches the logs, and with an error's `Display` only (the
//! default also records its `Debug` form, which for an `anyhow` cause is a backtrace).
//! Errors are logged by `ApiError::error_response` (src/error.rs), not here.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

/// Root span builder that never records query strings.
pub struct MesherRootSpan;

impl RootSpanBuilder for MesherRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        // Below `info` (the bench and many deployments log at `warn`) the span is disabled:
        // skip formatting its fields, a cost of every ingested event.
        if !tracing::enabled!(tracing::Level::INFO) {
            return Span::none();
        }
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "default".to_owned());
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.path = %request.path(),
            request_id = %request_id,
            http.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, error) = match outcome {
            Ok(response) => (
                response.status(),
                response.response().error().map(|e| e.to_string()),
            ),
            Err(e) => (e.as_response_error().status_code(), Some(e.to_string())),
        };
        span.record("http.status_code", status.as_u16());
        span.record(
            "otel.status_code",
            if status.is_server_error() {
                "ERROR"
            } else {
                "OK"
            },
        );
        if let Some(message) = error {
            span.record("exception.message", message);
        }
    }
}

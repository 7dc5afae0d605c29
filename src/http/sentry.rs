//! Sentry SDK compatibility (docs/api.md, “Sentry SDK endpoints”): `POST /api/{number}/store/` and
//! `POST /api/{number}/envelope/`, so unmodified SDKs work with the DSN
//! `http://<mshr_ key>@<host>/<number>`.
//!
//! Auth comes from `X-Sentry-Auth: Sentry sentry_key=…`, `Authorization: Sentry …` or
//! `?sentry_key=`; the key must belong to project `{number}`. Events are normalized with
//! Sentry's defaults (a missing level is `error`, a missing timestamp is the receive time)
//! into the same stored event as the native endpoint. Answers follow Sentry's: `200
//! {"id":"<32 hex>"}`; errors carry `X-Sentry-Error`; 429 carries `Retry-After` and
//! `X-Sentry-Rate-Limits`. CORS is open on these two routes (browser SDKs post from any
//! origin, with no cookies involved).

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, post, web};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::ingest::{
    admit, authenticate, check_content_type, header, push, query_param, read_decoded_body,
    too_large,
};
use crate::AppState;
use crate::auth::project_key::KeyProject;
use crate::domain::envelope as sentry_envelope;
use crate::domain::event::parse_sentry_event;
use crate::domain::{ErrorCode, PendingEvent};
use crate::error::ApiError;

/// Content types Sentry SDKs send (or none at all).
const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/x-sentry-envelope",
    "text/plain",
    "application/octet-stream",
];

/// An error in Sentry's clothes: our JSON body, plus `X-Sentry-Error`, plus
/// `X-Sentry-Rate-Limits` on a 429.
pub struct SentryError(pub ApiError);

impl From<ApiError> for SentryError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl std::fmt::Debug for SentryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Display for SentryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for SentryError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = self.0.error_response();
        if let Ok(v) = HeaderValue::from_str(&self.0.message) {
            res.headers_mut()
                .insert(HeaderName::from_static("x-sentry-error"), v);
        }
        if let Some(secs) = self.0.retry_after
            && self.0.status == StatusCode::TOO_MANY_REQUESTS
            && let Ok(v) = HeaderValue::from_str(&format!("{secs}::project"))
        {
            res.headers_mut()
                .insert(HeaderName::from_static("x-sentry-rate-limits"), v);
        }
        res
    }
}

/// The `sentry_key` of an `X-Sentry-Auth` / `Authorization: Sentry …` header value.
fn key_from_auth_header(value: &str) -> Option<String> {
    let rest = value.trim().strip_prefix("Sentry")?;
    rest.split(',').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k.trim() == "sentry_key").then(|| v.trim().to_owned())
    })
}

fn sentry_key(req: &HttpRequest) -> Option<String> {
    header(req, "x-sentry-auth")
        .and_then(key_from_auth_header)
        .or_else(|| header(req, AUTHORIZATION.as_str()).and_then(key_from_auth_header))
        .or_else(|| query_param(req, "sentry_key"))
}

/// The checks both Sentry routes start with: the key, which must belong to project
/// `{number}`; the content type; the body, read and decoded within the limits.
async fn authenticated_body(
    req: &HttpRequest,
    state: &AppState,
    number: &str,
    payload: web::Payload,
) -> Result<(KeyProject, Vec<u8>), ApiError> {
    let project = authenticate(state, sentry_key(req)).await?;
    if number.parse::<i32>().ok() != Some(project.project_number) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ProjectMismatch,
            "the key does not belong to this project number (check the DSN)",
        ));
    }
    check_content_type(req, CONTENT_TYPES)?;
    let body = read_decoded_body(req, payload, state).await?;
    Ok((project, body))
}

/// Normalizes one Sentry event payload.
fn sentry_event(payload: &[u8], state: &AppState) -> Result<PendingEvent, ApiError> {
    let limit = state.settings.http.event_limit;
    if payload.len() > limit {
        return Err(too_large(format!(
            "an event may hold at most {limit} bytes"
        )));
    }
    let received_at = Utc::now();
    let event = parse_sentry_event(payload, received_at)?;
    Ok(PendingEvent::new(event, received_at))
}

/// The id Sentry clients expect back: their own `event_id` when they sent one.
fn sentry_id(pending: &PendingEvent) -> String {
    pending
        .event_id
        .unwrap_or(pending.id.uuid())
        .simple()
        .to_string()
}

/// Sentry's legacy store endpoint: one event as JSON.
#[utoipa::path(tag = "sentry",
    params(("number" = i32, Path, description = "the project's number (the DSN's last part)"),
           ("X-Sentry-Auth" = Option<String>, Header, description = "Sentry sentry_key=mshr_…, or ?sentry_key=")),
    request_body(content = serde_json::Value, description = "a Sentry event", content_type = "application/json"),
    responses((status = 200, description = "{\"id\": \"<32 hex>\"}"), (status = 400), (status = 401),
              (status = 403), (status = 413), (status = 415), (status = 429)))]
#[post("/store/")]
pub async fn store(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, SentryError> {
    let (project, body) = authenticated_body(&req, &state, &path, payload).await?;
    let pending = sentry_event(&body, &state).inspect_err(|_| {
        state.registry.count_rejected(project.project_id, 1);
    })?;
    admit(&state, project.project_id, 1)?;
    let id = sentry_id(&pending);
    push(&state, project.project_id, vec![pending]).await?;
    Ok(HttpResponse::Ok().json(json!({ "id": id })))
}

/// Sentry's envelope endpoint: `event` items are ingested; other item types (sessions,
/// client reports, attachments, …) are accepted and ignored.
#[utoipa::path(tag = "sentry",
    params(("number" = i32, Path, description = "the project's number (the DSN's last part)"),
           ("X-Sentry-Auth" = Option<String>, Header, description = "Sentry sentry_key=mshr_…, or ?sentry_key=")),
    request_body(content = serde_json::Value, description = "a Sentry envelope: text, a JSON header line then items (https://develop.sentry.dev/sdk/envelopes/)", content_type = "application/x-sentry-envelope"),
    responses((status = 200, description = "{\"id\": \"<32 hex>\"}"), (status = 400), (status = 401),
              (status = 403), (status = 413), (status = 415), (status = 429)))]
#[post("/envelope/")]
pub async fn envelope(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, SentryError> {
    let (project, body) = authenticated_body(&req, &state, &path, payload).await?;
    let (header, payloads) = event_payloads(&body, state.settings.http.max_envelope_events)?;
    let mut events = Vec::with_capacity(payloads.len());
    for payload in payloads {
        match sentry_event(payload, &state) {
            Ok(pending) => events.push(pending),
            Err(e) => {
                state.registry.count_rejected(project.project_id, 1);
                return Err(e.into());
            }
        }
    }
    let header_id = header
        .get("event_id")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok());
    let id = header_id
        .map(|u| u.simple().to_string())
        .or_else(|| events.first().map(sentry_id));
    if !events.is_empty() {
        admit(&state, project.project_id, events.len())?;
        push(&state, project.project_id, events).await?;
    }
    Ok(HttpResponse::Ok().json(json!({ "id": id })))
}

/// The header line of an envelope.
type EnvelopeHeader = serde_json::Map<String, serde_json::Value>;

/// The envelope's header and the payloads of its `event` items, at most `max` of them: the
/// items are read one at a time and reading stops at the first event item over `max` (413
/// `too_many_events`), so a small compressed envelope of many items costs nothing.
fn event_payloads(body: &[u8], max: usize) -> Result<(EnvelopeHeader, Vec<&[u8]>), ApiError> {
    let invalid = |e: sentry_envelope::EnvelopeError| {
        ApiError::bad_request(ErrorCode::InvalidEnvelope, e.to_string())
    };
    let (header, items) = sentry_envelope::open(body).map_err(invalid)?;
    let mut payloads = Vec::new();
    for item in items {
        let item = item.map_err(invalid)?;
        if item.ty != "event" {
            continue;
        }
        if payloads.len() == max {
            return Err(ApiError::too_large(
                ErrorCode::TooManyEvents,
                format!("an envelope may carry at most {max} events"),
            ));
        }
        payloads.push(item.payload);
    }
    Ok((header, payloads))
}

/// The CORS policy of the Sentry routes: any origin (browser SDKs), POST, the headers SDKs
/// send; the rate-limit headers readable by the SDK.
pub fn cors() -> actix_cors::Cors {
    actix_cors::Cors::default()
        .allow_any_origin()
        .allowed_methods(["POST", "OPTIONS"])
        .allow_any_header()
        .expose_headers(["x-sentry-error", "x-sentry-rate-limits", "retry-after"])
        .max_age(86_400)
}

#[cfg(test)]
mod tests {
    use super::key_from_auth_header;

    #[test]
    fn keys_from_sentry_auth_headers() {
        let h = "Sentry sentry_key=mshr_abc, sentry_version=7, sentry_client=sentry.python/2.75.0";
        assert_eq!(key_from_auth_header(h).as_deref(), Some("mshr_abc"));
        assert_eq!(
            key_from_auth_header("Sentry sentry_version=7,sentry_key=k").as_deref(),
            Some("k")
        );
        assert_eq!(key_from_auth_header("Bearer x"), None);
        assert_eq!(key_from_auth_header("Sentry sentry_version=7"), None);
    }
}

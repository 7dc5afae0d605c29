//! `POST /api/v1/events`: Mesher's native ingestion endpoint (docs/api.md, “Status codes”).
//! The helpers here (key, content type, body, rate limit) are the ingestion edge shared with
//! the Sentry routes (`sentry.rs`); see docs/architecture.md, “The path of an event”.
//!
//! Order of checks, cheapest refusal first: key (401) → content type and encoding (415) →
//! body size as sent (413) → decompressed size (413, without inflating a bomb) → JSON and
//! event validation (400, per item in a batch) → the project's buffer (202).

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::Utc;
use futures_util::StreamExt;
use serde::Serialize;

use crate::AppState;
use crate::auth::project_key::{KeyError, KeyProject};
use crate::domain::event::{EventError, MAX_BATCH_EVENTS, body_is_array, parse_event_at};
use crate::domain::json::repair_lone_surrogates;
use crate::domain::{ErrorCode, EventId, PendingEvent, ProjectId};
use crate::error::ApiError;
use crate::ingest::batch::{BatchError, read_batch};
use crate::ingest::decode::{DecodeError, Encoding, decode};
use crate::ingest::rate::Refused;
use crate::ingest::registry::AcceptError;

/// Where the native endpoint finds the key.
const KEY_HEADER: &str = "x-mesher-key";

#[derive(Serialize)]
struct Rejected {
    index: usize,
    error: EventError,
}

#[derive(Serialize)]
struct BatchAccepted {
    ids: Vec<EventId>,
    rejected: Vec<Rejected>,
}

/// Ingest one event or a batch of up to 1000.
#[utoipa::path(tag = "ingest",
    params(("X-Mesher-Key" = Option<String>, Header, description = "project key (mshr_…), or ?key="),
           ("key" = Option<String>, Query, description = "project key, when no header is sent")),
    request_body(content = serde_json::Value, description = "an event (Sentry event format) or an array of events", content_type = "application/json"),
    responses((status = 202, description = "{\"id\"} for one event; {\"ids\",\"rejected\"} for a batch"),
              (status = 400, description = "invalid body or event; a batch whose every event is invalid: {\"ids\":[],\"rejected\":[…]}"),
              (status = 401), (status = 413), (status = 415), (status = 429), (status = 503)))]
#[post("/api/v1/events")]
pub async fn ingest(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let project = authenticate(&state, native_key(&req)).await?;
    check_content_type(&req, &["application/json", "text/plain"])?;
    let body = read_decoded_body(&req, payload, &state).await?;
    let received_at = Utc::now();
    let event_limit = state.settings.http.event_limit;

    if !body_is_array(&body) {
        if body.len() > event_limit {
            return Err(too_large(format!(
                "an event may hold at most {event_limit} bytes"
            )));
        }
        let event = parse_event_at(&body, received_at).map_err(|e| {
            state.registry.count_rejected(project.project_id, 1);
            ApiError::from(e)
        })?;
        admit(&state, project.project_id, 1)?;
        let pending = PendingEvent::new(event, received_at);
        let id = pending.id;
        push(&state, project.project_id, vec![pending]).await?;
        return Ok(HttpResponse::Accepted().json(serde_json::json!({ "id": id })));
    }

    // A lone surrogate escape makes the whole array invalid to serde_json; repaired, it
    // costs nothing but that character (see domain/json.rs).
    let first = read_batch(&body, MAX_BATCH_EVENTS);
    let repaired = matches!(first, Err(BatchError::Json(_)))
        .then(|| repair_lone_surrogates(&body))
        .flatten();
    let items = match &repaired {
        Some(fixed) => read_batch(fixed, MAX_BATCH_EVENTS),
        None => first,
    }
    .map_err(|e| match e {
        BatchError::TooMany(_) => ApiError::too_large(ErrorCode::TooManyEvents, e.to_string()),
        BatchError::Json(_) => ApiError::bad_request(ErrorCode::InvalidJson, e.to_string()),
    })?;
    let mut accepted = Vec::with_capacity(items.len());
    let mut rejected = Vec::new();
    for (index, raw) in items.iter().enumerate() {
        let item = raw.get().as_bytes();
        let parsed = if item.len() > event_limit {
            Err(EventError {
                code: ErrorCode::EventTooLarge,
                message: format!("an event may hold at most {event_limit} bytes"),
                field: None,
            })
        } else {
            parse_event_at(item, received_at)
        };
        match parsed {
            Ok(event) => accepted.push(PendingEvent::new(event, received_at)),
            Err(error) => rejected.push(Rejected { index, error }),
        }
    }
    if !rejected.is_empty() {
        state
            .registry
            .count_rejected(project.project_id, rejected.len() as u64);
    }
    admit(&state, project.project_id, accepted.len())?;
    let ids: Vec<EventId> = accepted.iter().map(|p| p.id).collect();
    let status = if ids.is_empty() && !rejected.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::ACCEPTED
    };
    if !accepted.is_empty() {
        push(&state, project.project_id, accepted).await?;
    }
    Ok(HttpResponse::build(status).json(BatchAccepted { ids, rejected }))
}

pub(crate) fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The value of query parameter `name`, if present.
pub(crate) fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get(name).cloned())
}

fn native_key(req: &HttpRequest) -> Option<String> {
    header(req, KEY_HEADER)
        .map(str::to_owned)
        .or_else(|| query_param(req, "key"))
}

/// The project of `key`, or the 401/503 to answer.
pub(crate) async fn authenticate(
    state: &AppState,
    key: Option<String>,
) -> Result<KeyProject, ApiError> {
    let Some(key) = key else {
        return Err(ApiError::unauthorized(
            ErrorCode::MissingKey,
            "send the project key in the X-Mesher-Key header or the ?key= query parameter",
        ));
    };
    state
        .keys
        .authenticate(key.trim())
        .await
        .map_err(|e| match e {
            KeyError::Malformed | KeyError::Unknown => {
                ApiError::unauthorized(ErrorCode::InvalidKey, "unknown or revoked project key")
            }
            KeyError::Db(e) => ApiError::unavailable(anyhow::anyhow!("key lookup failed: {e}")),
        })
}

/// 429 when the project is over its rate limit (`writer.rate_limit_per_sec`); 413
/// `too_many_events` when the request holds more events than the limit's burst, which no
/// wait would let through.
pub(crate) fn admit(state: &AppState, project_id: ProjectId, n: usize) -> Result<(), ApiError> {
    state
        .registry
        .admit(project_id, n)
        .map_err(|refused| match refused {
            Refused::Wait(wait) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                "the project is over its ingestion rate limit; retry later",
            )
            .with_retry_after(wait.as_secs().max(1)),
            Refused::OverBurst { burst } => ApiError::too_large(
                ErrorCode::TooManyEvents,
                format!("a request may carry at most {burst} events (writer.rate_limit_burst)"),
            ),
        })
}

/// Puts accepted events in the project's buffer (through the durable spool when one is
/// configured: answered only once they are on disk); a project deleted since its key was
/// checked is answered like its key: 401; a spool that cannot take them: 503.
pub(crate) async fn push(
    state: &AppState,
    project_id: ProjectId,
    events: Vec<PendingEvent>,
) -> Result<(), ApiError> {
    state
        .registry
        .accept(project_id, events)
        .await
        .map_err(|e| match e {
            AcceptError::Deleted(_) => {
                ApiError::unauthorized(ErrorCode::InvalidKey, "unknown or revoked project key")
            }
            AcceptError::Spool(e) => ApiError::unavailable(e),
        })
}

/// Reads the body (limit as sent) and decodes its `Content-Encoding` (limit again).
pub(crate) async fn read_decoded_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Vec<u8>, ApiError> {
    let encoding =
        Encoding::from_header(header(req, CONTENT_ENCODING.as_str())).map_err(decode_error)?;
    let limit = state.settings.http.body_limit;
    let body = read_body(req, payload, limit).await?;
    decode(encoding, &body, limit).map_err(decode_error)
}

/// A 413 `payload_too_large`.
pub(crate) fn too_large(message: String) -> ApiError {
    ApiError::too_large(ErrorCode::PayloadTooLarge, message)
}

/// One of `accepted`, or no content type at all (SDKs and curl often omit it); anything
/// else is 415.
pub(crate) fn check_content_type(req: &HttpRequest, accepted: &[&str]) -> Result<(), ApiError> {
    let Some(ct) = header(req, CONTENT_TYPE.as_str()) else {
        return Ok(());
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime.is_empty() || accepted.contains(&mime.as_str()) {
        Ok(())
    } else {
        Err(ApiError::unsupported(
            ErrorCode::UnsupportedMediaType,
            format!("Content-Type {mime:?} is not accepted; send application/json"),
        ))
    }
}

pub(crate) fn decode_error(e: DecodeError) -> ApiError {
    match e {
        DecodeError::Unsupported(_) => {
            ApiError::unsupported(ErrorCode::UnsupportedEncoding, e.to_string())
        }
        DecodeError::TooLarge(_) => too_large(e.to_string()),
        DecodeError::Corrupt(_) => ApiError::bad_request(ErrorCode::InvalidEncoding, e.to_string()),
    }
}

/// Reads the body as sent, refusing more than `limit` bytes (by `Content-Length` up front,
/// and while streaming for chunked bodies).
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    let declared = header(req, CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(format!("the body exceeds {limit} bytes")));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(8192).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(
                ErrorCode::InvalidBody,
                format!("could not read the body: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(format!("the body exceeds {limit} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

//! Event payload parsing and normalization (the limits are also listed in docs/api.md,
//! “Limits”).
//!
//! Input is the Sentry event format (as sent by the official SDKs) or Mesher's own
//! subset of it. [`normalize_with`] turns one JSON value into a [`NormalizedEvent`] or an
//! [`EventError`] naming the offending field as a path such as `tags.region` or
//! `exception.values[0].stacktrace.frames[2].lineno`. It never panics.
//!
//! Limits (checked, an error names the field; see the `MAX_*` constants):
//! - `message`: 1..=8192 chars when given explicitly. A message *derived* from
//!   `logentry` or the exception is truncated to 8192 chars instead of failing.
//! - tags: at most 100; keys and values 1..=200 chars.
//! - `fingerprint`: at most 50 entries of at most 1000 chars each.
//! - `platform` ≤ 64 chars; `release`, `environment`, `server_name`, `logger` ≤ 200
//!   (Sentry's release limit, and short enough to be shown as tags); `transaction`
//!   ≤ 1000 (unparameterised URLs can be long).
//! - a batch holds at most 1000 events.
//!
//! Nested interface content (exception values, frames, breadcrumbs, contexts, user,
//! extra) is type-checked but not length-limited: its size is bounded by the
//! ingestion body limit, and rejecting a real SDK event for, say, a long C++ symbol
//! would lose it (SDKs drop events on any 4xx).
//!
//! `null` is treated as "absent" for every typed field, and an empty string as absent
//! for the optional top-level strings. Unknown top-level fields — including Sentry
//! fields Mesher does not type, such as `threads`, `request`, `sdk`, `modules`,
//! `logentry` — are moved into `extra` under their own name; when the client's
//! `extra` already has that name, under `_event.<name>` (then `_event.<name>.2`,
//! `.3`, ...: the first free one), so nothing is dropped or overwritten. A `message`
//! sent as an object is kept in `extra` the same way, under `message`.

mod fast;
mod fields;
mod interfaces;
mod message;
mod storable;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error_code::ErrorCode;
use super::level::Level;

pub use interfaces::{Breadcrumb, Exception, Frame, Stacktrace};

/// Maximum length, in characters, of an event message.
pub const MAX_MESSAGE_CHARS: usize = 8192;
/// Maximum number of events in one batch (JSON array body).
pub const MAX_BATCH_EVENTS: usize = 1000;
/// Maximum number of tags on one event.
pub const MAX_TAGS: usize = 100;
/// Maximum length, in characters, of a tag key.
pub const MAX_TAG_KEY_CHARS: usize = 200;
/// Maximum length, in characters, of a tag value.
pub const MAX_TAG_VALUE_CHARS: usize = 200;
/// Maximum number of entries in an explicit fingerprint.
pub const MAX_FINGERPRINT_ENTRIES: usize = 50;
/// Maximum length, in characters, of one fingerprint entry.
pub const MAX_FINGERPRINT_ENTRY_CHARS: usize = 1000;
/// Maximum length, in characters, of `platform`.
pub const MAX_PLATFORM_CHARS: usize = 64;
/// Maximum length, in characters, of `release`, `environment`, `server_name`, `logger`.
pub const MAX_NAME_CHARS: usize = 200;
/// Maximum length, in characters, of `transaction`.
pub const MAX_TRANSACTION_CHARS: usize = 1000;
/// How far after its receive time an event's own time may be before it is taken for a
/// client clock that runs ahead (Relay's default).
pub const MAX_FUTURE_SKEW: chrono::Duration = chrono::Duration::seconds(60);
/// How far before its receive time an event's own time may be before it is taken for a
/// wrong clock (Relay's default; also beyond the usual partition retention).
pub const MAX_PAST_SKEW: chrono::Duration = chrono::Duration::days(30);

/// A validated event, ready for grouping and storage.
///
/// `Deserialize` exists to read stored events back; untrusted input must go through
/// [`normalize`] / [`normalize_with`], which enforce the limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NormalizedEvent {
    /// The client's own event id, if it sent one (Mesher assigns its own id too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Uuid>,
    /// When the event happened, per the client (microsecond precision).
    pub timestamp: DateTime<Utc>,
    /// Severity.
    pub level: Level,
    /// Human-readable message, 1..=8192 chars.
    pub message: String,
    /// SDK platform, e.g. `python`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// Release (version) of the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Deployment environment, e.g. `production`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Host that reported the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Route or task the event happened in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<String>,
    /// Logger name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logger: Option<String>,
    /// Explicit grouping fingerprint (never empty when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Vec<String>>,
    /// Exceptions in Sentry order: innermost (cause) first, the raised one last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<Vec<Exception>>,
    /// Breadcrumbs, oldest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breadcrumbs: Option<Vec<Breadcrumb>>,
    /// User interface: `id`, `email`, `username`, `ip_address` and free fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Map<String, Value>>,
    /// Contexts: an object of objects (`os`, `runtime`, `trace`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contexts: Option<Map<String, Value>>,
    /// Flat string tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The client's `extra` plus every top-level field Mesher does not type.
    #[serde(default)]
    pub extra: Map<String, Value>,
}

/// Why an event was rejected; serializes as the `error` object of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct EventError {
    /// Machine-readable code: `invalid_json`, `invalid_event`, `missing_field`,
    /// `invalid_field` or `too_many_events`.
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// Path of the offending field, e.g. `exception.values[0].type`.
    pub field: Option<String>,
}

impl EventError {
    fn missing(field: &str) -> Self {
        EventError {
            code: ErrorCode::MissingField,
            message: format!("`{field}` is required"),
            field: Some(field.to_owned()),
        }
    }

    /// `field` is anything that writes the field's path (a `&str`, or a path built lazily).
    fn invalid(field: impl std::fmt::Display, problem: &str) -> Self {
        let field = field.to_string();
        EventError {
            code: ErrorCode::InvalidField,
            message: format!("`{field}` {problem}"),
            field: Some(field),
        }
    }
}

/// How lenient [`normalize_with`] is. `Default` is Mesher's strict contract.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// Level used when `level` is absent, `null` or not a recognised level.
    /// `None`: the level is required and must be valid.
    pub default_level: Option<Level>,
    /// Timestamp used when `timestamp` is absent or `null`. `None`: required.
    pub default_timestamp: Option<DateTime<Utc>>,
    /// The receive time. When given, a `timestamp` more than [`MAX_FUTURE_SKEW`] after it
    /// or [`MAX_PAST_SKEW`] before it becomes the receive time, and the client's value is
    /// kept in `extra` under `timestamp`.
    pub received_at: Option<DateTime<Utc>>,
}

impl NormalizeOptions {
    /// Sentry's behaviour for its store/envelope endpoints: a missing or unknown
    /// level is `error`, a missing timestamp is the receive time. SDKs drop an event
    /// on any 4xx, so rejecting what Sentry accepts would lose it.
    pub fn sentry(received_at: DateTime<Utc>) -> Self {
        NormalizeOptions {
            default_level: Some(Level::Error),
            default_timestamp: Some(received_at),
            received_at: Some(received_at),
        }
    }

    /// Mesher's native endpoint: level and timestamp required, the timestamp checked
    /// against the receive time.
    pub fn native(received_at: DateTime<Utc>) -> Self {
        NormalizeOptions {
            received_at: Some(received_at),
            ..Self::default()
        }
    }
}

/// Parses one event from a JSON body with the strict options (no receive time: the
/// timestamp is kept as sent, e.g. for importing old events).
pub fn parse_event(bytes: &[u8]) -> Result<NormalizedEvent, EventError> {
    parse_with(bytes, &NormalizeOptions::default(), parse_json)
}

/// Parses one event received at `received_at` by the native endpoint.
pub fn parse_event_at(
    bytes: &[u8],
    received_at: DateTime<Utc>,
) -> Result<NormalizedEvent, EventError> {
    parse_with(bytes, &NormalizeOptions::native(received_at), parse_json)
}

/// Parses the event of a Sentry route (the store endpoint, an envelope's `event` item)
/// received at `received_at`: Sentry's lenient options, and `NaN`/`Infinity` read as `null`
/// ([`super::json::parse_lenient_json`]).
pub fn parse_sentry_event(
    bytes: &[u8],
    received_at: DateTime<Utc>,
) -> Result<NormalizedEvent, EventError> {
    parse_with(bytes, &NormalizeOptions::sentry(received_at), |bytes| {
        super::json::parse_lenient_json(bytes).map_err(|e| EventError {
            code: ErrorCode::InvalidJson,
            message: format!("the event is not valid JSON: {e}"),
            field: None,
        })
    })
}

/// One event from its JSON text: the fast path when it can read it ([`fast`]), else the
/// slow path — `slow_parse` into a `Value`, then [`normalize_checked`] — which also gives
/// every error.
fn parse_with(
    bytes: &[u8],
    opts: &NormalizeOptions,
    slow_parse: impl FnOnce(&[u8]) -> Result<Value, EventError>,
) -> Result<NormalizedEvent, EventError> {
    let bytes = strip_bom(bytes);
    let may_hold_nul = storable::may_hold_nul(bytes);
    if !may_hold_nul && let Some(event) = fast::parse(bytes, opts) {
        return Ok(event);
    }
    normalize_checked(slow_parse(bytes)?, opts, may_hold_nul)
}

/// Parses a body holding one event object or an array of at most
/// [`MAX_BATCH_EVENTS`] events, normalizing each item independently (strict options).
///
/// The outer error is for the body as a whole (invalid JSON, too many events); the
/// inner results are per item, in order. An empty array gives an empty vector. Use
/// [`body_is_array`] to tell which response shape the client expects.
pub fn parse_batch(bytes: &[u8]) -> Result<Vec<Result<NormalizedEvent, EventError>>, EventError> {
    // Once for the whole body, not once per item (that would scan it `items` times).
    let may_hold_nul = storable::may_hold_nul(bytes);
    let normalize = |item| normalize_checked(item, &NormalizeOptions::default(), may_hold_nul);
    match parse_json(strip_bom(bytes))? {
        Value::Array(items) if items.len() > MAX_BATCH_EVENTS => Err(EventError {
            code: ErrorCode::TooManyEvents,
            message: format!(
                "a batch holds at most {MAX_BATCH_EVENTS} events, got {}",
                items.len()
            ),
            field: None,
        }),
        Value::Array(items) => Ok(items.into_iter().map(normalize).collect()),
        single => Ok(vec![normalize(single)]),
    }
}

/// Whether a JSON body is an array (a batch) rather than a single event.
pub fn body_is_array(bytes: &[u8]) -> bool {
    strip_bom(bytes).iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}

/// Normalizes one event with the strict options (level and timestamp required).
pub fn normalize(value: Value) -> Result<NormalizedEvent, EventError> {
    normalize_with(value, &NormalizeOptions::default())
}

/// Normalizes one event; see the module documentation for the rules. What it answers can
/// always be stored (see `storable.rs`).
pub fn normalize_with(
    value: Value,
    opts: &NormalizeOptions,
) -> Result<NormalizedEvent, EventError> {
    normalize_checked(value, opts, true)
}

/// [`normalize_with`] for a value parsed from the JSON text `source` (or from a repaired
/// copy of it, [`super::json`]): the walk that replaces NUL in every string is skipped when
/// `source` holds no `\u0000` escape, the only way JSON text can put a NUL in a string
/// (serde_json refuses raw control characters, and the repairs never write one). The walk
/// visits every node of the tree, about a sixth of the edge's work on a typical event.
pub fn normalize_parsed(
    value: Value,
    source: &[u8],
    opts: &NormalizeOptions,
) -> Result<NormalizedEvent, EventError> {
    normalize_checked(value, opts, storable::may_hold_nul(source))
}

fn normalize_checked(
    mut value: Value,
    opts: &NormalizeOptions,
    may_hold_nul: bool,
) -> Result<NormalizedEvent, EventError> {
    if may_hold_nul {
        storable::replace_nul(&mut value);
    }
    let Value::Object(mut obj) = value else {
        return Err(EventError {
            code: ErrorCode::InvalidEvent,
            message: "an event must be a JSON object".to_owned(),
            field: None,
        });
    };
    let mut take = |key: &str| obj.remove(key);
    let parts = Parts {
        event_id: take("event_id"),
        timestamp: take("timestamp"),
        level: take("level"),
        platform: take("platform"),
        release: take("release"),
        environment: take("environment"),
        server_name: take("server_name"),
        logger: take("logger"),
        transaction: take("transaction"),
        fingerprint: take("fingerprint"),
        exception: Lazy::Raw(take("exception")),
        breadcrumbs: Lazy::Raw(take("breadcrumbs")),
        user: take("user"),
        contexts: take("contexts"),
        tags: take("tags"),
        extra: take("extra"),
        message: take("message"),
        rest: obj,
    };
    assemble(parts, opts)
}

/// An interface either still to be read from its JSON value or already typed (by the fast
/// path, [`fast`]).
enum Lazy<T> {
    Raw(Option<Value>),
    Typed(Option<Vec<T>>),
}

impl<T> Default for Lazy<T> {
    fn default() -> Self {
        Lazy::Raw(None)
    }
}

impl Lazy<Exception> {
    fn get(self) -> Result<Option<Vec<Exception>>, EventError> {
        match self {
            Lazy::Raw(v) => interfaces::exceptions(v),
            Lazy::Typed(t) => Ok(t),
        }
    }
}

impl Lazy<Breadcrumb> {
    fn get(self) -> Result<Option<Vec<Breadcrumb>>, EventError> {
        match self {
            Lazy::Raw(v) => interfaces::breadcrumbs(v),
            Lazy::Typed(t) => Ok(t),
        }
    }
}

/// An event's top-level fields taken apart (each `None` when absent), the rest kept by
/// name; both paths of the edge fill one, and [`assemble`] checks it, in one order, so the
/// first error is always the same.
#[derive(Default)]
struct Parts {
    event_id: Option<Value>,
    timestamp: Option<Value>,
    level: Option<Value>,
    platform: Option<Value>,
    release: Option<Value>,
    environment: Option<Value>,
    server_name: Option<Value>,
    logger: Option<Value>,
    transaction: Option<Value>,
    fingerprint: Option<Value>,
    exception: Lazy<Exception>,
    breadcrumbs: Lazy<Breadcrumb>,
    user: Option<Value>,
    contexts: Option<Value>,
    tags: Option<Value>,
    extra: Option<Value>,
    message: Option<Value>,
    /// Every other top-level field, `logentry` included.
    rest: Map<String, Value>,
}

fn assemble(parts: Parts, opts: &NormalizeOptions) -> Result<NormalizedEvent, EventError> {
    let event_id = fields::event_id(parts.event_id)?;
    let mut skewed = None;
    let timestamp = match parts.timestamp {
        None | Some(Value::Null) => opts
            .default_timestamp
            .ok_or_else(|| EventError::missing("timestamp"))?,
        Some(v) => {
            let t = fields::timestamp(&v, "timestamp")?;
            match opts.received_at {
                Some(now) if t > now + MAX_FUTURE_SKEW || t < now - MAX_PAST_SKEW => {
                    skewed = Some(v);
                    now
                }
                _ => t,
            }
        }
    };
    let level = fields::level(parts.level, opts.default_level)?;
    let text = |v, key: &str, max| fields::opt_string(v, key, max);
    let platform = text(parts.platform, "platform", MAX_PLATFORM_CHARS)?;
    let release = text(parts.release, "release", MAX_NAME_CHARS)?;
    let environment = text(parts.environment, "environment", MAX_NAME_CHARS)?;
    let server_name = text(parts.server_name, "server_name", MAX_NAME_CHARS)?;
    let logger = text(parts.logger, "logger", MAX_NAME_CHARS)?;
    let transaction = text(parts.transaction, "transaction", MAX_TRANSACTION_CHARS)?;
    let fingerprint = fields::fingerprint(parts.fingerprint)?;
    let exception = parts.exception.get()?;
    let breadcrumbs = parts.breadcrumbs.get()?;
    let user = fields::object(parts.user, "user")?;
    let contexts = fields::contexts(parts.contexts)?;
    let tags = fields::tags(parts.tags)?;
    let mut extra = fields::object(parts.extra, "extra")?.unwrap_or_default();
    // `logentry` stays in `rest` so that it also lands in `extra` below.
    let (message, message_object) = message::resolve(
        parts.message,
        parts.rest.get("logentry"),
        exception.as_deref(),
    )?;
    if let Some(raw) = message_object {
        fields::insert_unique(&mut extra, "message".to_owned(), raw);
    }
    for (key, value) in parts.rest {
        fields::insert_unique(&mut extra, key, value);
    }
    if let Some(client_time) = skewed {
        fields::insert_unique(&mut extra, "timestamp".to_owned(), client_time);
    }
    Ok(NormalizedEvent {
        event_id,
        timestamp,
        level,
        message,
        platform,
        release,
        environment,
        server_name,
        transaction,
        logger,
        fingerprint,
        exception,
        breadcrumbs,
        user,
        contexts,
        tags,
        extra,
    })
}

fn parse_json(bytes: &[u8]) -> Result<Value, EventError> {
    super::json::parse_json(bytes).map_err(|e| EventError {
        code: ErrorCode::InvalidJson,
        message: format!("invalid JSON: {e}"),
        field: None,
    })
}

/// Some clients (PowerShell, .NET) prefix UTF-8 bodies with a byte-order mark.
fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

//! Parsers for the scalar and map-shaped top-level event fields.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{
    EventError, Level, MAX_FINGERPRINT_ENTRIES, MAX_FINGERPRINT_ENTRY_CHARS, MAX_TAG_KEY_CHARS,
    MAX_TAG_VALUE_CHARS, MAX_TAGS,
};

/// Latest accepted timestamp, 9999-12-31T23:59:59Z, in Unix seconds: the end of the
/// four-digit years RFC 3339 can express.
const MAX_TIMESTAMP_SECS: f64 = 253_402_300_799.0;

/// An optional string of at most `max_chars` characters; `null` and `""` are absent.
pub(super) fn opt_string(
    v: Option<Value>,
    field: &str,
    max_chars: usize,
) -> Result<Option<String>, EventError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.chars().count() > max_chars => Err(EventError::invalid(
            field,
            &format!("must be at most {max_chars} characters"),
        )),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(EventError::invalid(field, "must be a string")),
    }
}

/// The client's event id: 32 hex digits (Sentry) or a hyphenated UUID.
pub(super) fn event_id(v: Option<Value>) -> Result<Option<Uuid>, EventError> {
    let bad = || EventError::invalid("event_id", "must be 32 hex digits or a hyphenated UUID");
    match v {
        None | Some(Value::Null) => Ok(None),
        // `Uuid::parse_str` also takes braced and URN forms; the contract does not.
        Some(Value::String(s)) if s.len() == 32 || s.len() == 36 => {
            Uuid::parse_str(&s).map(Some).map_err(|_| bad())
        }
        Some(_) => Err(bad()),
    }
}

/// An RFC 3339 string (or a zone-less ISO 8601 one, taken as UTC, as old SDKs send)
/// or Unix seconds, between 1970 and 9999, truncated to microseconds (PostgreSQL's
/// precision, so a stored event reads back equal).
pub(super) fn timestamp(
    v: &Value,
    field: impl std::fmt::Display,
) -> Result<DateTime<Utc>, EventError> {
    let out_of_range = || EventError::invalid(&field, "must be between 1970 and 9999");
    let parsed = match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| {
                NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").map(|t| t.and_utc())
            })
            .map_err(|_| {
                EventError::invalid(&field, "must be an RFC 3339 date-time or Unix seconds")
            })?,
        Value::Number(n) => {
            let secs = n
                .as_f64()
                .filter(|s| s.is_finite())
                .ok_or_else(out_of_range)?;
            if !(0.0..=MAX_TIMESTAMP_SECS).contains(&secs) {
                return Err(out_of_range());
            }
            // In range, so the product fits an i64 (and an f64 holds whole
            // microseconds exactly until 2255); rounding, not truncating, keeps the
            // float `1.969` from becoming `1.968999`.
            DateTime::from_timestamp_micros((secs * 1e6).round() as i64).ok_or_else(out_of_range)?
        }
        _ => {
            return Err(EventError::invalid(&field, "must be a string or a number"));
        }
    };
    if parsed < DateTime::UNIX_EPOCH || parsed.timestamp() > MAX_TIMESTAMP_SECS as i64 {
        return Err(out_of_range());
    }
    Ok(parsed.trunc_subsecs(6))
}

/// The event level; `default` (lenient mode) replaces an absent or unknown one.
pub(super) fn level(v: Option<Value>, default: Option<Level>) -> Result<Level, EventError> {
    let parsed = match v {
        None | Some(Value::Null) => return default.ok_or_else(|| EventError::missing("level")),
        Some(Value::String(s)) => s.parse::<Level>().ok(),
        Some(_) => None,
    };
    parsed.or(default).ok_or_else(|| {
        EventError::invalid("level", "must be one of fatal, error, warning, info, debug")
    })
}

/// A JSON object (or absent).
pub(super) fn object(
    v: Option<Value>,
    field: impl std::fmt::Display,
) -> Result<Option<Map<String, Value>>, EventError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(EventError::invalid(&field, "must be an object")),
    }
}

/// `contexts`: an object whose values are objects (`null` entries are dropped).
pub(super) fn contexts(v: Option<Value>) -> Result<Option<Map<String, Value>>, EventError> {
    let Some(map) = object(v, "contexts")? else {
        return Ok(None);
    };
    let mut out = Map::new();
    for (key, value) in map {
        match value {
            Value::Null => {}
            Value::Object(_) => {
                out.insert(key, value);
            }
            _ => {
                return Err(EventError::invalid(
                    format!("contexts.{key}"),
                    "must be an object",
                ));
            }
        }
    }
    Ok(Some(out))
}

/// Numbers and booleans are stringified: SDKs send `set_tag("retries", 3)` as-is.
fn scalar_string(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `tags`: an object, or Sentry's `[["key", "value"], ...]` list (later pairs win).
/// `null` values are skipped: they carry nothing and SDKs emit them for unset tags.
pub(super) fn tags(v: Option<Value>) -> Result<BTreeMap<String, String>, EventError> {
    let pairs: Vec<(String, Value)> = match v {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m.into_iter().collect(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Array(pair) if pair.len() == 2 => {
                    let mut pair = pair.into_iter();
                    match (pair.next(), pair.next()) {
                        (Some(Value::String(k)), Some(v)) => Ok((k, v)),
                        _ => Err(EventError::invalid(
                            format!("tags[{i}]"),
                            "key must be a string",
                        )),
                    }
                }
                _ => Err(EventError::invalid(
                    format!("tags[{i}]"),
                    "must be a [key, value] pair",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(EventError::invalid(
                "tags",
                "must be an object or a list of pairs",
            ));
        }
    };
    let mut out = BTreeMap::new();
    for (key, value) in pairs {
        if value.is_null() {
            continue;
        }
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > MAX_TAG_KEY_CHARS {
            // The key itself is the problem, so the path cannot usefully embed it.
            return Err(EventError::invalid(
                "tags",
                &format!("keys must be 1 to {MAX_TAG_KEY_CHARS} characters"),
            ));
        }
        let field = || format!("tags.{key}");
        let value =
            scalar_string(value).ok_or_else(|| EventError::invalid(field(), "must be a string"))?;
        let value_chars = value.chars().count();
        if value_chars == 0 || value_chars > MAX_TAG_VALUE_CHARS {
            return Err(EventError::invalid(
                field(),
                &format!("must be 1 to {MAX_TAG_VALUE_CHARS} characters"),
            ));
        }
        out.insert(key, value);
        // Checked as we go, so a huge tag list costs at most 101 entries of work.
        if out.len() > MAX_TAGS {
            let problem = format!("must hold at most {MAX_TAGS} tags");
            return Err(EventError::invalid("tags", &problem));
        }
    }
    Ok(out)
}

/// `fingerprint`: a list of strings (numbers and booleans stringified, as Sentry
/// does). An empty list means "no explicit fingerprint".
pub(super) fn fingerprint(v: Option<Value>) -> Result<Option<Vec<String>>, EventError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(EventError::invalid(
                "fingerprint",
                "must be a list of strings",
            ));
        }
    };
    if items.len() > MAX_FINGERPRINT_ENTRIES {
        return Err(EventError::invalid(
            "fingerprint",
            &format!("must have at most {MAX_FINGERPRINT_ENTRIES} entries"),
        ));
    }
    let entries = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let field = || format!("fingerprint[{i}]");
            let s = scalar_string(item)
                .ok_or_else(|| EventError::invalid(field(), "must be a string"))?;
            if s.chars().count() > MAX_FINGERPRINT_ENTRY_CHARS {
                return Err(EventError::invalid(
                    field(),
                    &format!("must be at most {MAX_FINGERPRINT_ENTRY_CHARS} characters"),
                ));
            }
            Ok(s)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((!entries.is_empty()).then_some(entries))
}

/// Inserts a moved top-level field into `extra` without overwriting anything.
///
/// The field goes under its own name when that is free. Otherwise (the client's
/// `extra` already uses the name) it goes under `_event.<key>`, then
/// `_event.<key>.2`, `_event.<key>.3`, ... — the first free one. Callers insert in
/// key order, so the outcome is deterministic.
pub(super) fn insert_unique(extra: &mut Map<String, Value>, key: String, value: Value) {
    if !extra.contains_key(&key) {
        extra.insert(key, value);
        return;
    }
    let base = format!("_event.{key}");
    let mut candidate = base.clone();
    let mut n = 2u64;
    while extra.contains_key(&candidate) {
        candidate = format!("{base}.{n}");
        n += 1;
    }
    extra.insert(candidate, value);
}

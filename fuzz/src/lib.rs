//! What the fuzz targets share: the paths an untrusted body takes through Mesher, and the
//! invariants every accepted event must satisfy (docs/fuzzing.md lists them).
//!
//! A failed assertion is a crash to libFuzzer, so each one here states something the
//! crate promises: an event answered 2xx is storable (no U+0000 anywhere, the documented
//! limits hold), it can be grouped and titled, and it reads back as it was written.

use chrono::{DateTime, Utc};
use mesher::domain::event::{
    MAX_FINGERPRINT_ENTRIES, MAX_FINGERPRINT_ENTRY_CHARS, MAX_FUTURE_SKEW, MAX_MESSAGE_CHARS,
    MAX_NAME_CHARS, MAX_PAST_SKEW, MAX_PLATFORM_CHARS, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS,
    MAX_TAGS, MAX_TRANSACTION_CHARS,
};
use mesher::domain::fingerprint::{MAX_CULPRIT_CHARS, MAX_TITLE_CHARS};
use mesher::domain::json::{parse_json, parse_lenient_json};
use mesher::domain::{
    NormalizeOptions, NormalizedEvent, fingerprint, normalize_with, parse_event_at,
    title_and_culprit,
};
use serde_json::Value;

/// The receive time every target uses: fixed, so a crash reproduces whatever the day.
pub fn received_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_796_083_200, 0).expect("2026-12-01T00:00:00Z")
}

/// The native endpoint's path for one event (`POST /api/v1/events`).
pub fn native_event(bytes: &[u8]) {
    let now = received_at();
    if let Ok(ev) = parse_event_at(bytes, now) {
        check_event(&ev, &NormalizeOptions::native(now));
    }
}

/// The Sentry endpoints' path for one event payload (`store/`, or an `event` item of an
/// envelope): lenient JSON, then the Sentry normalization.
pub fn sentry_event(bytes: &[u8]) {
    let lenient = parse_lenient_json(bytes);
    // The lenient reader only adds to what the strict one reads, and changes none of it.
    if let Ok(strict) = parse_json(bytes) {
        assert_eq!(
            lenient.as_ref().ok(),
            Some(&strict),
            "parse_lenient_json differs from parse_json on JSON both should read"
        );
    }
    let Ok(value) = lenient else { return };
    let opts = NormalizeOptions::sentry(received_at());
    if let Ok(ev) = normalize_with(value, &opts) {
        check_event(&ev, &opts);
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn check_len(what: &str, value: Option<&String>, max: usize) {
    if let Some(v) = value {
        let n = chars(v);
        assert!((1..=max).contains(&n), "{what}: {n} chars, limit 1..={max}");
    }
}

/// The invariants of an event that normalization accepted.
pub fn check_event(ev: &NormalizedEvent, opts: &NormalizeOptions) {
    // Storable: PostgreSQL refuses U+0000 in text and in jsonb, at any depth.
    let value = serde_json::to_value(ev).expect("a normalized event serializes");
    assert_no_nul(&value, "$");
    let text = serde_json::to_string(ev).expect("a normalized event serializes");
    assert!(!text.as_bytes().contains(&0), "raw NUL in the JSON text");

    // The documented limits (module documentation of domain::event).
    let m = chars(&ev.message);
    assert!(
        (1..=MAX_MESSAGE_CHARS).contains(&m),
        "message: {m} chars, limit 1..={MAX_MESSAGE_CHARS}: {:?}",
        ev.message
    );
    check_len("platform", ev.platform.as_ref(), MAX_PLATFORM_CHARS);
    check_len("release", ev.release.as_ref(), MAX_NAME_CHARS);
    check_len("environment", ev.environment.as_ref(), MAX_NAME_CHARS);
    check_len("server_name", ev.server_name.as_ref(), MAX_NAME_CHARS);
    check_len("logger", ev.logger.as_ref(), MAX_NAME_CHARS);
    check_len(
        "transaction",
        ev.transaction.as_ref(),
        MAX_TRANSACTION_CHARS,
    );
    assert!(ev.tags.len() <= MAX_TAGS, "{} tags", ev.tags.len());
    for (k, v) in &ev.tags {
        check_len("tag key", Some(k), MAX_TAG_KEY_CHARS);
        check_len("tag value", Some(v), MAX_TAG_VALUE_CHARS);
    }
    if let Some(fp) = &ev.fingerprint {
        assert!(
            (1..=MAX_FINGERPRINT_ENTRIES).contains(&fp.len()),
            "fingerprint: {} entries",
            fp.len()
        );
        for entry in fp {
            let n = chars(entry);
            assert!(
                n <= MAX_FINGERPRINT_ENTRY_CHARS,
                "fingerprint entry: {n} chars"
            );
        }
    }

    // Time: 1970..=9999, whole microseconds, and near the receive time when one is given.
    let secs = ev.timestamp.timestamp();
    assert!(
        (0..=253_402_300_799).contains(&secs),
        "timestamp {}",
        ev.timestamp
    );
    assert_eq!(
        ev.timestamp.timestamp_subsec_nanos() % 1000,
        0,
        "timestamp finer than microseconds"
    );
    if let Some(now) = opts.received_at {
        assert!(
            ev.timestamp <= now + MAX_FUTURE_SKEW && ev.timestamp >= now - MAX_PAST_SKEW,
            "timestamp {} too far from the receive time {now}",
            ev.timestamp
        );
    }

    // Grouping and titling never fail, and are deterministic.
    let fp = fingerprint(ev);
    assert_eq!(fp.hash.len(), 64, "fingerprint hash {:?}", fp.hash);
    assert!(
        fp.hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "fingerprint hash {:?}",
        fp.hash
    );
    assert!(!fp.components.is_empty(), "no fingerprint components");
    assert_eq!(fingerprint(ev), fp, "fingerprint is not deterministic");
    for c in &fp.components {
        assert!(!c.contains('\0'), "NUL in a fingerprint component");
    }
    let (title, culprit) = title_and_culprit(ev);
    let t = chars(&title);
    assert!((1..=MAX_TITLE_CHARS).contains(&t), "title: {t} chars");
    assert!(!title.contains('\0'), "NUL in the title");
    if let Some(c) = &culprit {
        let n = chars(c);
        assert!(n <= MAX_CULPRIT_CHARS, "culprit: {n} chars");
        assert!(!c.contains('\0'), "NUL in the culprit");
    }

    // A stored event reads back as it was written (floats to within their last digit).
    let back: NormalizedEvent = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("a stored event does not read back: {e}\n{text}"));
    let again = serde_json::to_value(&back).expect("a read-back event serializes");
    assert!(
        same(&value, &again),
        "an event reads back different:\n{value}\n{again}"
    );
}

fn assert_no_nul(v: &Value, path: &str) {
    match v {
        Value::String(s) => assert!(!s.contains('\0'), "NUL in the string at {path}"),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                assert_no_nul(item, &format!("{path}[{i}]"));
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                assert!(!k.contains('\0'), "NUL in a key at {path}");
                assert_no_nul(item, &format!("{path}.{k}"));
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Equal JSON, except that floats may differ in their last bit: serde_json (without its
/// `float_roundtrip` feature, which Mesher does not enable) may read a printed `f64` back
/// one ulp off.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x != y => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) if x.is_finite() && y.is_finite() => {
                x.to_bits().abs_diff(y.to_bits()) <= 1
            }
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

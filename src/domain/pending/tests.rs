use std::path::PathBuf;

use serde_json::{Value, json};

use super::*;
use crate::domain::{NormalizeOptions, envelope, json::parse_lenient_json, normalize_with};

/// The event items of the captured SDK requests (`tests/fixtures/sentry-sdk`), as sent.
fn fixture_events() -> Vec<(PathBuf, Vec<u8>)> {
    let root = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sentry-sdk"
    ));
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_none_or(|e| e != "envelope") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let (_, items) = envelope::open(&bytes).unwrap();
            for item in items {
                let item = item.unwrap();
                if item.ty == "event" {
                    out.push((path.clone(), item.payload.to_vec()));
                }
            }
        }
    }
    out
}

fn pending(payload: &[u8]) -> PendingEvent {
    let now = Utc::now();
    let value = parse_lenient_json(payload).unwrap();
    PendingEvent::new(
        normalize_with(value, &NormalizeOptions::sentry(now)).unwrap(),
        now,
    )
}

/// Issue 10: a buffered event costs at most three times its JSON (measured: about 1.1–1.3×
/// for these; it was about 11× while the buffer held the typed event and its `Value`s).
#[test]
fn a_buffered_sdk_event_costs_at_most_three_times_its_json() {
    let events = fixture_events();
    assert!(events.len() >= 6, "{} fixture events", events.len());
    for (path, payload) in events {
        let footprint = pending(&payload).footprint();
        let ratio = footprint as f64 / payload.len() as f64;
        eprintln!(
            "{}: json {} bytes, footprint {footprint} bytes ({ratio:.2}x)",
            path.display(),
            payload.len()
        );
        assert!(
            footprint <= 3 * payload.len(),
            "{}: {footprint} bytes for {} bytes of JSON",
            path.display(),
            payload.len()
        );
    }
}

/// The fixed part, counted in every footprint, stays small (docs/architecture.md, "Memory").
#[test]
fn the_struct_is_152_bytes() {
    assert_eq!(std::mem::size_of::<PendingEvent>(), 152);
}

/// Every field reads back as what the writer stored before: the typed value's JSON (or its
/// text), absent where the event has none.
#[test]
fn the_fields_hold_the_columns_of_the_typed_event() {
    for (path, payload) in fixture_events() {
        let now = Utc::now();
        let value = parse_lenient_json(&payload).unwrap();
        let event = normalize_with(value, &NormalizeOptions::sentry(now)).unwrap();
        let fp = crate::domain::fingerprint(&event);
        let (title, culprit) = crate::domain::title_and_culprit(&event);
        let p = PendingEvent::new(event.clone(), now);
        let json_of = |f: Field| p.get(f).map(|s| serde_json::from_str::<Value>(s).unwrap());
        let value_of = |v: Value| (!v.is_null()).then_some(v);
        let cases: Vec<(Field, Option<Value>, Option<Value>)> = vec![
            (
                Field::Message,
                p.get(Field::Message).map(|s| json!(s)),
                Some(json!(event.message)),
            ),
            (
                Field::Platform,
                p.get(Field::Platform).map(|s| json!(s)),
                event.platform.clone().map(Value::from),
            ),
            (
                Field::Release,
                p.get(Field::Release).map(|s| json!(s)),
                event.release.clone().map(Value::from),
            ),
            (
                Field::Environment,
                p.get(Field::Environment).map(|s| json!(s)),
                event.environment.clone().map(Value::from),
            ),
            (
                Field::ServerName,
                p.get(Field::ServerName).map(|s| json!(s)),
                event.server_name.clone().map(Value::from),
            ),
            (
                Field::Transaction,
                p.get(Field::Transaction).map(|s| json!(s)),
                event.transaction.clone().map(Value::from),
            ),
            (
                Field::Logger,
                p.get(Field::Logger).map(|s| json!(s)),
                event.logger.clone().map(Value::from),
            ),
            (
                Field::Title,
                p.get(Field::Title).map(|s| json!(s)),
                Some(json!(title)),
            ),
            (
                Field::Culprit,
                p.get(Field::Culprit).map(|s| json!(s)),
                culprit.clone().map(Value::from),
            ),
            (
                Field::FingerprintHash,
                p.get(Field::FingerprintHash).map(|s| json!(s)),
                Some(json!(fp.hash)),
            ),
            (
                Field::FingerprintJson,
                json_of(Field::FingerprintJson),
                Some(json!(fp.components)),
            ),
            (Field::Tags, json_of(Field::Tags), Some(json!(event.tags))),
            (
                Field::Exception,
                json_of(Field::Exception),
                value_of(json!(event.exception)),
            ),
            (
                Field::Breadcrumbs,
                json_of(Field::Breadcrumbs),
                value_of(json!(event.breadcrumbs)),
            ),
            (
                Field::User,
                json_of(Field::User),
                value_of(json!(event.user)),
            ),
            (
                Field::Contexts,
                json_of(Field::Contexts),
                value_of(json!(event.contexts)),
            ),
            (
                Field::Extra,
                json_of(Field::Extra),
                Some(json!(event.extra)),
            ),
        ];
        assert_eq!(cases.len(), FIELDS);
        for (field, got, want) in cases {
            assert_eq!(got, want, "{}: {field:?}", path.display());
        }
        assert_eq!(
            (p.event_id, p.timestamp, p.level, p.received_at),
            (event.event_id, event.timestamp, event.level, now)
        );
    }
}

#[test]
fn an_empty_field_is_not_an_absent_one() {
    let event = crate::domain::parse_event(
        br#"{"message":"m","level":"info","timestamp":"2026-11-29T12:00:00Z"}"#,
    )
    .unwrap();
    let fp = crate::domain::fingerprint(&event);
    let p = PendingEvent::from_parts(Parts {
        id: EventId::new(),
        received_at: Utc::now(),
        event: &event,
        fingerprint: &fp,
        title: "",
        culprit: Some(""),
    });
    assert_eq!((p.title(), p.culprit()), ("", Some("")));
    assert_eq!(
        (p.get(Field::Platform), p.get(Field::Exception)),
        (None, None)
    );
    assert_eq!(
        (p.get(Field::Tags), p.get(Field::Extra)),
        (Some("{}"), Some("{}"))
    );
}

#[test]
fn packing_round_trips_and_refuses_what_it_did_not_write() {
    for (_, payload) in fixture_events() {
        let p = pending(&payload);
        let mut bytes = Vec::new();
        p.pack(&mut bytes);
        assert_eq!(PendingEvent::unpack(&bytes), Ok(p.clone()));
        // Cut short anywhere, or with a trailing byte: refused, never a panic.
        for cut in [0, 1, 16, 40, 60, 120, bytes.len() - 1] {
            assert_eq!(
                PendingEvent::unpack(&bytes[..cut]),
                Err(BadPacking),
                "cut {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(b'x');
        assert_eq!(PendingEvent::unpack(&longer), Err(BadPacking));
    }
}

#[test]
fn unpacking_arbitrary_bytes_never_panics() {
    let p = pending(br#"{"message":"caf\u00e9 \u2603","level":"error"}"#);
    let mut bytes = Vec::new();
    p.pack(&mut bytes);
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[i] ^= flip;
            let _ = PendingEvent::unpack(&b);
        }
    }
}

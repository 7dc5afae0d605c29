//! The event items of real Sentry SDK requests (`tests/fixtures/sentry-sdk`).

use std::path::PathBuf;

use serde_json::Value;

use super::super::super::fingerprint::{fingerprint, title_and_culprit};
use super::*;

/// The captured SDK requests, kept in the repository (`tests/fixtures/sentry-sdk`).
fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sentry-sdk"
    ))
}

fn split_line(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == b'\n') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[]),
    }
}

/// The payloads of the `event` items of one envelope: each item is a header line,
/// then `length` bytes or, without `length`, one line.
pub(super) fn event_items(name: &str) -> Vec<Value> {
    let path = fixtures_dir().join(name);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_envelope_header, mut rest) = split_line(&data);
    let mut events = Vec::new();
    while !rest.is_empty() {
        let (header, after) = split_line(rest);
        if header.iter().all(u8::is_ascii_whitespace) {
            rest = after;
            continue;
        }
        let header: Value = serde_json::from_slice(header).unwrap();
        let (payload, after) = match header.get("length").and_then(Value::as_u64) {
            Some(n) => {
                let (payload, tail) = after.split_at(n as usize);
                (payload, tail.strip_prefix(b"\n").unwrap_or(tail))
            }
            None => split_line(after),
        };
        rest = after;
        if header["type"] == "event" {
            events.push(serde_json::from_slice(payload).unwrap());
        }
    }
    events
}

fn fixture(name: &str) -> NormalizedEvent {
    let mut items = event_items(name);
    assert_eq!(items.len(), 1, "{name}");
    normalize(items.remove(0)).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

/// Every captured envelope file, by path.
pub(super) fn event_files() -> Vec<String> {
    let mut files = Vec::new();
    for dir in std::fs::read_dir(fixtures_dir()).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(dir).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "envelope") {
                files.push(path.to_str().unwrap().to_owned());
            }
        }
    }
    files
}

#[test]
fn every_fixture_event_normalizes_and_round_trips() {
    let mut seen = 0;
    for path in event_files() {
        for item in event_items(&path) {
            let ev = normalize(item).unwrap_or_else(|e| panic!("{path:?}: {e:?}"));
            let back = serde_json::to_value(&ev).unwrap();
            assert_eq!(normalize(back.clone()).unwrap(), ev);
            assert_eq!(serde_json::from_value::<NormalizedEvent>(back).unwrap(), ev);
            seen += 1;
        }
    }
    assert_eq!(seen, 11, "event items across the fixtures");
}

#[test]
fn node_exception_event() {
    let ev = fixture("node-11.12/002.envelope");
    assert_eq!(
        ev.message,
        "SyntaxError: Expected property name or '}' in JSON at position 1"
    );
    assert_eq!(ev.level, Level::Error);
    assert_eq!(
        ev.event_id.unwrap().simple().to_string(),
        "6335ce2372084cc39d00750114d9bde1"
    );
    assert_eq!(ev.timestamp.timestamp_millis(), 1_795_959_778_963);
    assert_eq!(ev.tags["region"], "us-east");
    assert_eq!(ev.user.as_ref().unwrap()["email"], "sam@example.com");
    let crumbs = ev.breadcrumbs.as_ref().unwrap();
    assert_eq!(crumbs[0].category.as_deref(), Some("db"));
    assert!(crumbs[0].timestamp.is_some());
    assert!(ev.extra.contains_key("sdk") && ev.extra.contains_key("modules"));
    let frames = &ev.exception.as_ref().unwrap()[0]
        .stacktrace
        .as_ref()
        .unwrap()
        .frames;
    assert_eq!(frames.iter().filter(|f| f.in_app == Some(true)).count(), 2);
    let fp = fingerprint(&ev);
    assert_eq!(
        fp.components,
        [
            "type:SyntaxError",
            "frame:app.Object.?",
            "frame:app.parseOrder"
        ]
    );
    assert_eq!(
        title_and_culprit(&ev).1.as_deref(),
        Some("app in parseOrder")
    );
    // A different error raised from the same place is a different issue.
    assert_ne!(
        fingerprint(&fixture("node-11.12/003.envelope")).hash,
        fp.hash
    );
}

#[test]
fn node_capture_message_with_synthetic_exception() {
    let ev = fixture("node-11.12/004.envelope");
    assert_eq!(ev.message, "queue backlog above 10k");
    assert_eq!(ev.level, Level::Warning);
    assert_eq!(title_and_culprit(&ev).0, "queue backlog above 10k");
}

#[test]
fn python_chained_exception() {
    let ev = fixture("python-2.75-br/001.envelope");
    assert_eq!(ev.message, "PaymentError: payment declined");
    assert_eq!(
        ev.timestamp.to_rfc3339(),
        "2026-11-29T13:42:56.076141+00:00"
    );
    assert_eq!(ev.extra["sys.argv"], serde_json::json!(["app.py"]));
    assert!(ev.extra.contains_key("transaction_info"));
    let fp = fingerprint(&ev);
    assert_eq!(
        fp.components
            .iter()
            .filter(|c| c.starts_with("type:"))
            .count(),
        2
    );
    assert_eq!(title_and_culprit(&ev).0, "PaymentError: payment declined");
    // The same program run again (another process, other addresses) groups together.
    assert_eq!(
        fingerprint(&fixture("python-2.75-gzip/001.envelope")).hash,
        fp.hash
    );
}

#[test]
fn python_message_and_logging_events() {
    let ev = fixture("python-2.75-br/002.envelope");
    assert_eq!(
        (ev.message.as_str(), ev.level),
        ("disk almost full", Level::Warning)
    );
    assert_eq!(ev.contexts.as_ref().unwrap()["cart"]["items"], 3);
    let log = fixture("python-2.75-gzip/003.envelope");
    assert_eq!(log.message, "order 1234 could not be saved");
    assert_eq!(log.logger.as_deref(), Some("shop.orders"));
    assert_eq!(log.extra["logentry"]["params"], serde_json::json!([1234]));
}

#[test]
fn python_custom_fingerprint_with_default() {
    let ev = fixture("python-2.75-gzip/004.envelope");
    assert_eq!(ev.level, Level::Fatal);
    assert_eq!(ev.message, "KeyError: 'missing'");
    let fp = fingerprint(&ev);
    assert_eq!(
        fp.components,
        ["type:KeyError", "frame:__main__.<module>", "custom-group"]
    );
    let crumbs = ev.breadcrumbs.unwrap();
    assert_eq!(crumbs[1].level.as_deref(), Some("error"));
}

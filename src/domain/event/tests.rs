//! Whole-event tests: contract cases, real Sentry SDK payloads, and properties.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::*;

mod fast;
mod fields;
mod fixtures;
mod interfaces;
mod properties;

/// A minimal valid event with `extra_fields` merged in (a `null` removes a field).
fn with(extra_fields: Value) -> Value {
    let mut v = json!({"message": "boom", "level": "error", "timestamp": 1_700_000_000});
    for (k, x) in extra_fields.as_object().unwrap() {
        if x.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = x.clone();
        }
    }
    v
}

fn ok(v: Value) -> NormalizedEvent {
    normalize(v).unwrap()
}

/// The `(code, field)` of the error `normalize` gives.
fn err(v: Value) -> (&'static str, String) {
    let e = normalize(v).unwrap_err();
    (e.code.as_str(), e.field.unwrap_or_default())
}

fn invalid(field: &str) -> (&'static str, String) {
    ("invalid_field", field.to_owned())
}

#[test]
fn minimal_event() {
    let ev = ok(with(json!({})));
    assert_eq!(ev.message, "boom");
    assert_eq!(ev.level, Level::Error);
    assert_eq!(
        ev.timestamp,
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    );
    assert!(ev.event_id.is_none() && ev.tags.is_empty() && ev.extra.is_empty());
}

#[test]
fn levels_and_aliases() {
    for (input, level) in [
        ("FATAL", Level::Fatal),
        ("critical", Level::Fatal),
        ("Error", Level::Error),
        ("warn", Level::Warning),
        ("warning", Level::Warning),
        ("info", Level::Info),
        ("log", Level::Info),
        ("debug", Level::Debug),
    ] {
        assert_eq!(ok(with(json!({"level": input}))).level, level, "{input}");
    }
    assert_eq!(
        err(with(json!({"level": null}))),
        ("missing_field", "level".into())
    );
    assert_eq!(err(with(json!({"level": "loud"}))), invalid("level"));
    assert_eq!(err(with(json!({"level": 40}))), invalid("level"));
}

#[test]
fn sentry_options_default_level_and_timestamp() {
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let opts = NormalizeOptions::sentry(now);
    let ev = normalize_with(with(json!({"level": null, "timestamp": null})), &opts).unwrap();
    assert_eq!((ev.level, ev.timestamp), (Level::Error, now));
    let ev = normalize_with(with(json!({"level": "sample"})), &opts).unwrap();
    assert_eq!(ev.level, Level::Error);
    let ev = normalize_with(with(json!({"level": "warn"})), &opts).unwrap();
    assert_eq!(ev.level, Level::Warning);
    // Leniency covers only level and timestamp.
    let e = normalize_with(with(json!({"tags": 1})), &opts).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("tags"));
}

#[test]
fn timestamps() {
    let rfc = ok(with(json!({"timestamp": "2026-11-29T13:42:56.109410Z"}))).timestamp;
    assert_eq!(
        rfc,
        "2026-11-29T13:42:56.109410Z"
            .parse::<DateTime<Utc>>()
            .unwrap()
    );
    let float = ok(with(json!({"timestamp": 1_795_959_778.969}))).timestamp;
    assert_eq!(float.timestamp_millis(), 1_795_959_778_969);
    assert_eq!(
        err(with(json!({"timestamp": null}))),
        ("missing_field", "timestamp".into())
    );
    assert_eq!(err(with(json!({"timestamp": -5}))), invalid("timestamp"));
    assert_eq!(
        err(with(json!({"timestamp": "soon"}))),
        invalid("timestamp")
    );
}

#[test]
fn event_ids() {
    let hex = "6335ce2372084cc39d00750114d9bde1";
    let id = ok(with(json!({"event_id": hex}))).event_id.unwrap();
    assert_eq!(id.simple().to_string(), hex);
    let hyphenated = ok(with(
        json!({"event_id": "6335CE23-7208-4CC3-9D00-750114D9BDE1"}),
    ));
    assert_eq!(hyphenated.event_id, Some(id));
    for bad in [
        json!("6335ce2372084cc39d00750114d9bde"),
        json!("{6335ce23-7208-4cc3-9d00-750114d9bde1}"),
        json!("zz35ce2372084cc39d00750114d9bde1"),
        json!(12),
    ] {
        assert_eq!(err(with(json!({"event_id": bad}))), invalid("event_id"));
    }
}

#[test]
fn unknown_fields_move_to_extra_without_overwriting() {
    let ev = ok(with(json!({
        "extra": {"sys.argv": ["app.py"], "threads": "client's own"},
        "threads": {"values": []},
        "request": {"url": "http://x"},
        "sdk": {"name": "sentry.python"},
        "modules": {"django": "5.2"},
        "weird": 1,
    })));
    assert_eq!(ev.extra["sys.argv"], json!(["app.py"]));
    assert_eq!(ev.extra["threads"], json!("client's own"));
    assert_eq!(ev.extra["_event.threads"], json!({"values": []}));
    for key in ["request", "sdk", "modules", "weird"] {
        assert!(ev.extra.contains_key(key), "{key}");
    }
    assert_eq!(err(with(json!({"extra": [1]}))), invalid("extra"));
}

#[test]
fn message_derivation() {
    let exc = json!({"values": [{"type": "Inner", "value": "cause"}, {"type": "ValueError", "value": "bad"}]});
    assert_eq!(
        ok(with(json!({"message": null, "exception": exc}))).message,
        "ValueError: bad"
    );
    assert_eq!(
        ok(with(json!({"message": "", "exception": exc}))).message,
        "ValueError: bad"
    );
    // An explicit message wins.
    assert_eq!(ok(with(json!({"exception": exc}))).message, "boom");

    let logentry = json!({"message": "order %s could not be saved", "params": [1234]});
    let ev = ok(with(
        json!({"message": null, "logentry": logentry, "exception": exc}),
    ));
    assert_eq!(ev.message, "order 1234 could not be saved");
    assert_eq!(ev.extra["logentry"], logentry);
    let formatted = json!({"message": "order %s", "formatted": "order 7", "params": [7]});
    assert_eq!(
        ok(with(json!({"message": null, "logentry": formatted}))).message,
        "order 7"
    );

    let object = json!({"message": "user %s", "params": ["ann"]});
    let ev = ok(with(json!({"message": object})));
    assert_eq!(ev.message, "user ann");
    assert_eq!(ev.extra["message"], object);

    let long = "x".repeat(MAX_MESSAGE_CHARS + 10);
    let derived = ok(with(
        json!({"message": null, "exception": [{"type": "E", "value": long}]}),
    ));
    assert_eq!(derived.message.chars().count(), MAX_MESSAGE_CHARS);
    let from_log = ok(with(
        json!({"message": null, "logentry": {"formatted": long}}),
    ));
    assert_eq!(from_log.message.chars().count(), MAX_MESSAGE_CHARS);
}

/// Caught by the `event` fuzz target (fuzz/): `logging.error("%s", "")` sends a template
/// whose parameters format to nothing, which made an empty message (the contract is
/// 1..=8192 characters). The template is kept instead, and the event is accepted.
#[test]
fn a_message_that_formats_to_nothing_keeps_its_template() {
    let logentry = json!({"message": "%s", "params": [""]});
    let ev = normalize_with(
        json!({"logentry": logentry}),
        &NormalizeOptions::sentry(Utc::now()),
    )
    .unwrap();
    assert_eq!(ev.message, "%s");
    assert_eq!(ev.extra["logentry"], logentry);
    let object = json!({"message": "%s%s", "params": ["", ""]});
    assert_eq!(ok(with(json!({"message": object}))).message, "%s%s");
}

#[test]
fn message_errors() {
    let exactly = "é".repeat(MAX_MESSAGE_CHARS);
    assert_eq!(ok(with(json!({"message": exactly}))).message, exactly);
    let long = "x".repeat(MAX_MESSAGE_CHARS + 1);
    assert_eq!(err(with(json!({"message": long}))), invalid("message"));
    assert_eq!(
        err(with(json!({"message": null}))),
        ("missing_field", "message".into())
    );
    assert_eq!(
        err(with(json!({"message": "", "exception": {"values": []}}))).1,
        "message"
    );
    assert_eq!(err(with(json!({"message": 5}))), invalid("message"));
    assert_eq!(
        err(with(json!({"message": {"formatted": 1}}))),
        invalid("message.formatted")
    );
    assert_eq!(
        err(with(json!({"message": null, "logentry": "x"}))),
        invalid("logentry")
    );
    assert_eq!(
        err(with(json!({"message": null, "logentry": {"message": []}}))),
        invalid("logentry.message")
    );
}

#[test]
fn nested_errors_name_their_path() {
    let frames = json!([{}, {}, {"lineno": "12"}]);
    let v =
        with(json!({"exception": {"values": [{"type": "E", "stacktrace": {"frames": frames}}]}}));
    assert_eq!(
        err(v),
        invalid("exception.values[0].stacktrace.frames[2].lineno")
    );
    let v = with(json!({"breadcrumbs": [{"timestamp": -1}]}));
    assert_eq!(err(v), invalid("breadcrumbs[0].timestamp"));
}

#[test]
fn parse_event_and_batch() {
    let body = serde_json::to_vec(&with(json!({}))).unwrap();
    assert_eq!(parse_event(&body).unwrap().message, "boom");
    let bom: Vec<u8> = b"\xEF\xBB\xBF".iter().chain(&body).copied().collect();
    assert!(parse_event(&bom).is_ok());
    assert_eq!(parse_event(b"{nope").unwrap_err().code, "invalid_json");
    assert_eq!(parse_event(b"").unwrap_err().code, "invalid_json");
    let not_object = parse_event(b"[1]").unwrap_err();
    assert_eq!(
        (not_object.code.as_str(), not_object.field),
        ("invalid_event", None)
    );

    assert_eq!(parse_batch(&body).unwrap().len(), 1);
    let mixed = json!([with(json!({})), with(json!({"level": "nope"})), 3]);
    let results = parse_batch(&serde_json::to_vec(&mixed).unwrap()).unwrap();
    assert!(results[0].is_ok());
    assert_eq!(
        results[1].as_ref().unwrap_err().field.as_deref(),
        Some("level")
    );
    assert_eq!(results[2].as_ref().unwrap_err().code, "invalid_event");
    assert!(parse_batch(b"[]").unwrap().is_empty());
    let full = Value::Array(vec![with(json!({})); MAX_BATCH_EVENTS]);
    assert_eq!(
        parse_batch(&serde_json::to_vec(&full).unwrap())
            .unwrap()
            .len(),
        MAX_BATCH_EVENTS
    );
    let over = Value::Array(vec![json!({}); MAX_BATCH_EVENTS + 1]);
    let e = parse_batch(&serde_json::to_vec(&over).unwrap()).unwrap_err();
    assert_eq!(e.code, "too_many_events");
    assert_eq!(parse_batch(b"[").unwrap_err().code, "invalid_json");

    assert!(body_is_array(b" \n[{}]"));
    assert!(body_is_array(b"\xEF\xBB\xBF[]"));
    assert!(!body_is_array(b"{}"));
    assert!(!body_is_array(b""));
}

#[test]
fn error_serializes_as_api_error_object() {
    let e = normalize(with(json!({"level": "loud"}))).unwrap_err();
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["code"], "invalid_field");
    assert_eq!(v["field"], "level");
    assert_eq!(e.to_string(), v["message"].as_str().unwrap());
}

#[test]
fn a_time_far_from_the_receive_time_becomes_it_and_the_clients_is_kept() {
    let now: DateTime<Utc> = "2026-12-01T12:00:00Z".parse().unwrap();
    let opts = NormalizeOptions::native(now);
    // (sent, kept as the event's time?)
    let cases = [
        ("2026-12-01T12:01:00Z", true),  // 60 s ahead: a clock a little fast
        ("2026-12-01T12:01:01Z", false), // further ahead
        ("2026-11-01T12:00:00Z", true),  // 30 days back
        ("2026-11-01T11:59:59Z", false), // older
        ("1970-01-01T00:00:00Z", false),
        ("9999-12-31T23:59:59Z", false),
    ];
    for (sent, kept) in cases {
        let e = normalize_with(with(json!({"timestamp": sent})), &opts).unwrap();
        let sent_t: DateTime<Utc> = sent.parse().unwrap();
        if kept {
            assert_eq!(e.timestamp, sent_t, "{sent}");
            assert!(!e.extra.contains_key("timestamp"), "{sent}");
        } else {
            assert_eq!(e.timestamp, now, "{sent}");
            assert_eq!(e.extra["timestamp"], json!(sent), "{sent}");
        }
    }
    // The client's own extra.timestamp stays where it was.
    let e = normalize_with(
        with(json!({"timestamp": 0, "extra": {"timestamp": "mine"}})),
        &opts,
    )
    .unwrap();
    assert_eq!(
        (&e.extra["timestamp"], &e.extra["_event.timestamp"]),
        (&json!("mine"), &json!(0))
    );
    // Without a receive time (imports, the strict parser) the time is kept as sent.
    assert_eq!(
        ok(with(json!({"timestamp": 0}))).timestamp,
        DateTime::UNIX_EPOCH
    );
}

#[test]
fn nul_is_replaced_in_every_field_of_the_event() {
    let e = ok(with(json!({
        "message": "a\u{0}b",
        "release": "1.0\u{0}",
        "tags": {"k\u{0}": "v\u{0}"},
        "fingerprint": ["f\u{0}"],
        "user": {"id": "\u{0}"},
        "extra": {"\u{0}": "\u{0}"},
        "exception": {"values": [{"type": "E\u{0}", "value": "v\u{0}"}]},
    })));
    let stored = serde_json::to_string(&(
        &e.message,
        &e.release,
        &e.tags,
        &e.fingerprint,
        &e.user,
        &e.extra,
        &e.exception,
    ))
    .unwrap();
    assert!(!stored.contains("\\u0000"), "{stored}");
    assert_eq!(e.message, "a\u{FFFD}b");
    assert_eq!(e.tags["k\u{FFFD}"], "v\u{FFFD}");
}

#[test]
fn skipping_the_nul_walk_changes_nothing() {
    // JSON texts with and without `\u0000`, as a string, a key, nested, escaped; the walk
    // itself is `nul_is_replaced_in_every_field_of_the_event`.
    let texts = [
        r#"{"m":"a\u0000b"}"#,
        r#"{"k\u0000":{"k\ufffd":1}}"#,
        r#"{"a":[{"b":["x\u0000"]}]}"#,
        r#"{"m":"a\\u0000b","k\\u0000":"\\\u0000"}"#,
        r#"{"m":"\u0001 \\ \"u0000\" \u00000"}"#,
        r#"{"m":"plain","n":[1,2.5,null,true]}"#,
    ];
    for text in texts {
        let extra = serde_json::from_str::<Value>(text).unwrap();
        let event = with(json!({"extra": extra}));
        let source = serde_json::to_vec(&event).unwrap();
        let walked = normalize_with(event.clone(), &NormalizeOptions::default()).unwrap();
        let skipped = normalize_parsed(
            super::super::json::parse_json(&source).unwrap(),
            &source,
            &NormalizeOptions::default(),
        )
        .unwrap();
        assert_eq!(skipped, walked, "{text}");
    }
}

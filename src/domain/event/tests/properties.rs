//! Property tests: no input panics; valid events round-trip; grouping is stable.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::super::super::fingerprint::fingerprint;
use super::*;

/// Field names the parser looks at, so random objects reach the deep code paths.
const KEYS: &[&str] = &[
    "message",
    "level",
    "timestamp",
    "event_id",
    "tags",
    "extra",
    "exception",
    "values",
    "stacktrace",
    "frames",
    "lineno",
    "in_app",
    "function",
    "module",
    "type",
    "value",
    "breadcrumbs",
    "data",
    "user",
    "contexts",
    "fingerprint",
    "logentry",
    "formatted",
    "params",
    "pre_context",
    "release",
    "platform",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "error",
            "WARN",
            "2026-11-29T13:42:56Z",
            "%s %s",
            "{{ default }}"
        ])
        .prop_map(Value::from),
    ];
    let key = prop_oneof![prop::sample::select(KEYS).prop_map(str::to_owned), ".{0,6}"];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn arb_frame() -> impl Strategy<Value = (String, String, bool)> {
    ("[a-c]{1,2}", "[f-h]{1,2}", any::<bool>())
}

proptest! {
    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        let _ = parse_event(&bytes);
        let _ = parse_batch(&bytes);
        let _ = normalize_with(v.clone(), &NormalizeOptions::sentry(chrono::Utc::now()));
        if let Ok(ev) = normalize(v) {
            let _ = fingerprint(&ev);
            let _ = super::super::super::fingerprint::title_and_culprit(&ev);
        }
    }

    #[test]
    fn arbitrary_json_objects_never_panic(fields in prop::collection::vec((prop::sample::select(KEYS), arb_json()), 0..8)) {
        let obj: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        if let Ok(ev) = normalize(Value::Object(obj)) {
            let _ = fingerprint(&ev);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_event(&bytes);
        let _ = parse_batch(&bytes);
        let _ = body_is_array(&bytes);
    }

    #[test]
    fn valid_events_round_trip(
        message in "\\PC{1,60}",
        level in prop::sample::select(Level::ALL.to_vec()),
        micros in 0i64..4_000_000_000_000_000,
        tags in prop::collection::btree_map("[a-z.]{1,20}", "\\PC{1,30}", 0..10),
        release in proptest::option::of("[a-z0-9@.]{1,40}"),
        fp in proptest::option::of(prop::collection::vec(".{0,20}", 1..4)),
        extra in prop::collection::btree_map("[a-z]{1,8}", any::<i32>(), 0..5),
        unknown in prop::collection::btree_map("x_[a-z]{1,8}", any::<bool>(), 0..5),
    ) {
        let timestamp = chrono::DateTime::from_timestamp_micros(micros).unwrap();
        let mut input = json!({
            "message": message, "level": level.as_str(), "tags": tags, "extra": extra,
            "timestamp": timestamp.to_rfc3339(), "release": release, "fingerprint": fp,
        });
        for (k, v) in &unknown {
            input[k] = json!(v);
        }
        let ev = normalize(input).unwrap();
        prop_assert_eq!(&ev.message, &message);
        prop_assert_eq!(ev.level, level);
        prop_assert_eq!(ev.timestamp, timestamp);
        prop_assert_eq!(&ev.tags, &tags);
        prop_assert_eq!(&ev.release, &release);
        // NUL is not storable: it becomes U+FFFD (see storable.rs).
        let fp = fp.map(|f| f.iter().map(|s| s.replace('\0', "\u{FFFD}")).collect::<Vec<_>>());
        prop_assert_eq!(&ev.fingerprint, &fp);
        prop_assert_eq!(ev.extra.len(), extra.len() + unknown.len());
        let serialized = serde_json::to_value(&ev).unwrap();
        prop_assert_eq!(&normalize(serialized.clone()).unwrap(), &ev);
        prop_assert_eq!(&serde_json::from_value::<NormalizedEvent>(serialized).unwrap(), &ev);
        // Float seconds give the same instant, to the microsecond.
        let float = with(json!({"timestamp": micros as f64 / 1e6}));
        let from_float = normalize(float).unwrap().timestamp;
        prop_assert!((from_float - timestamp).num_microseconds().unwrap().abs() <= 1);
    }

    #[test]
    fn fingerprint_is_deterministic_and_ignores_line_numbers(
        frames in prop::collection::vec(arb_frame(), 0..8),
        lines_a in prop::collection::vec(any::<u32>(), 8),
        lines_b in prop::collection::vec(any::<u32>(), 8),
        ty in "[A-Z][a-z]{0,6}",
    ) {
        let build = |lines: &[u32]| {
            let frames: Vec<Value> = frames.iter().zip(lines).map(|((m, f, in_app), l)| {
                json!({"module": m, "function": f, "in_app": in_app, "lineno": l, "colno": l})
            }).collect();
            normalize(with(json!({"exception": [{"type": ty, "stacktrace": {"frames": frames}}]}))).unwrap()
        };
        let a = build(&lines_a);
        let b = build(&lines_b);
        prop_assert_eq!(fingerprint(&a), fingerprint(&a.clone()));
        prop_assert_eq!(fingerprint(&a), fingerprint(&b));
        prop_assert_eq!(fingerprint(&a).hash.len(), 64);
    }
}

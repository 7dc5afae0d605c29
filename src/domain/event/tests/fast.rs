//! The fast path ([`super::super::fast`]) against the slow one: whenever it reads an event,
//! the slow path gives the same event; it reads what SDKs send; it gives up on the rest.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::super::fast;
use super::*;

fn received_at() -> DateTime<Utc> {
    "2026-11-29T13:42:56Z".parse().unwrap()
}

/// The option sets of the three routes' parsers.
fn option_sets() -> [NormalizeOptions; 3] {
    [
        NormalizeOptions::default(),
        NormalizeOptions::native(received_at()),
        NormalizeOptions::sentry(received_at()),
    ]
}

/// What the slow path alone answers for `bytes`.
fn slow(bytes: &[u8], opts: &NormalizeOptions) -> Result<NormalizedEvent, EventError> {
    normalize_checked(parse_json(bytes)?, opts, true)
}

/// Whether the fast path read `bytes`; panics when it read them differently from the slow
/// path.
fn agrees(bytes: &[u8], opts: &NormalizeOptions) -> bool {
    match fast::parse(bytes, opts) {
        None => false,
        Some(event) => {
            let text = String::from_utf8_lossy(bytes);
            assert_eq!(Ok(event), slow(bytes, opts), "{text}");
            true
        }
    }
}

/// An event like the benchmark's: eight frames, two breadcrumbs, tags, user, contexts.
fn bench_like() -> Value {
    let frames: Vec<Value> = (0..8)
        .map(|f| {
            json!({"filename": format!("app/mod_{f}.py"), "function": format!("step_{f}"),
                        "lineno": 10 + f * 7, "in_app": f >= 3})
        })
        .collect();
    json!({
        "event_id": "0192b3c4d5e6f7a8b9c0d1e2f3a4b5c6", "level": "error",
        "timestamp": "2026-11-29T13:42:50.123456Z", "platform": "python",
        "release": "shop@2.4.1", "environment": "production", "server_name": "web-3",
        "transaction": "/api/checkout",
        "exception": {"values": [{"type": "PaymentError", "value": "card declined",
                                  "stacktrace": {"frames": frames}}]},
        "breadcrumbs": [{"timestamp": 1_790_000_000.5, "category": "http", "message": "POST"}],
        "tags": {"region": "eu-west-1"}, "user": {"id": "7", "email": "a@example.com"},
        "contexts": {"runtime": {"name": "CPython"}}, "extra": {"cart_items": 3},
        "sdk": {"name": "sentry.python"}, "logentry": {"message": "%s", "params": [1]},
    })
}

#[test]
fn it_reads_what_sdks_send() {
    let bench = serde_json::to_vec(&bench_like()).unwrap();
    for opts in option_sets() {
        assert!(agrees(&bench, &opts), "the benchmark's event");
    }
    // Every event item the official SDKs sent in the captured requests.
    let mut read = 0;
    for name in fixtures::event_files() {
        for item in fixtures::event_items(&name) {
            let bytes = serde_json::to_vec(&item).unwrap();
            let opts = NormalizeOptions::sentry(received_at());
            read += usize::from(agrees(&bytes, &opts));
        }
    }
    assert_eq!(read, 11, "fixture events the fast path read");
}

#[test]
fn it_gives_up_where_the_slow_path_decides() {
    let cases: &[(&str, &str)] = &[
        (
            "a frame field it does not type",
            r#"{"exception":[{"type":"E","stacktrace":{"frames":[{"function":"f","instruction_addr":"0x1"}]}}]}"#,
        ),
        (
            "a duplicate top-level key",
            r#"{"level":"info","level":"error"}"#,
        ),
        ("a duplicate unknown key", r#"{"x":1,"x":2}"#),
        (
            "a duplicate interface",
            r#"{"exception":[],"exception":[{"type":"E"}]}"#,
        ),
        (
            "a lone exception object",
            r#"{"exception":{"type":"E","value":"v"}}"#,
        ),
        (
            "values beside another key",
            r#"{"breadcrumbs":{"values":[],"x":1}}"#,
        ),
        (
            "a null context line",
            r#"{"exception":[{"stacktrace":{"frames":[{"pre_context":[null]}]}}]}"#,
        ),
        (
            "a wrong type",
            r#"{"exception":[{"stacktrace":{"frames":[{"lineno":-1}]}}]}"#,
        ),
        (
            "a bad breadcrumb time",
            r#"{"breadcrumbs":[{"timestamp":"yesterday"}]}"#,
        ),
        (
            "a broken limit",
            r#"{"platform":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#,
        ),
        ("not an object", r#"[1]"#),
        (
            "an exception as an array",
            r#"{"exception":[[null,null,null,null,null]]}"#,
        ),
        (
            "a stack trace as an array",
            r#"{"exception":[{"type":"E","stacktrace":[]}]}"#,
        ),
        (
            "a frame as an array",
            r#"{"exception":[{"stacktrace":{"frames":[["a.py",null,null,null,1,null,null,null,null,null,null]]}}]}"#,
        ),
        (
            "a breadcrumb as an array",
            r#"{"breadcrumbs":[[null,null,null,"m",null,null]]}"#,
        ),
        ("NaN", r#"{"extra":{"x":NaN}}"#),
    ];
    for (why, body) in cases {
        let text = match body.strip_prefix('{') {
            Some(rest) => {
                format!(r#"{{"message":"m","level":"error","timestamp":1795990000,{rest}"#)
            }
            None => body.to_string(),
        };
        for opts in option_sets() {
            assert!(
                fast::parse(text.as_bytes(), &opts).is_none(),
                "{why}: {text}"
            );
        }
    }
    // …and the slow path still keeps what the fast path does not type.
    let frame = r#"{"message":"m","level":"error","timestamp":1795990000,
        "exception":[{"type":"E","stacktrace":{"frames":[{"function":"f","instruction_addr":"0x1"}]}}]}"#;
    let event = parse_event(frame.as_bytes()).unwrap();
    let frames = &event.exception.unwrap()[0]
        .stacktrace
        .clone()
        .unwrap()
        .frames;
    assert_eq!(frames[0].other["instruction_addr"], "0x1");
}

/// A value of the type `key` wants most of the time, anything now and then.
fn value_for(key: &'static str) -> BoxedStrategy<Value> {
    let wanted: BoxedStrategy<Value> = match key {
        "lineno" | "colno" => (0u64..500).prop_map(Value::from).boxed(),
        "in_app" => any::<bool>().prop_map(Value::from).boxed(),
        "pre_context" | "post_context" => prop::collection::vec("[a-z ]{0,6}", 0..3)
            .prop_map(|v| json!(v))
            .boxed(),
        "vars" | "mechanism" | "data" => Just(json!({"k": [1, "v", null]})).boxed(),
        "timestamp" => prop_oneof![
            (1_700_000_000u64..1_800_000_000).prop_map(Value::from),
            Just(json!("2026-11-29T13:40:00.5Z")),
            Just(json!(1_764_423_770.25)),
        ]
        .boxed(),
        "logentry" => Just(json!({"message": "%s", "params": [1]})).boxed(),
        "event_id" => Just(json!("0192b3c4d5e6f7a8b9c0d1e2f3a4b5c6")).boxed(),
        "level" => prop::sample::select(vec!["error", "WARN", "info", "assert"])
            .prop_map(Value::from)
            .boxed(),
        _ => "[a-zA-Z0-9 ]{0,8}".prop_map(Value::from).boxed(),
    };
    let anything = prop_oneof![
        Just(Value::Null),
        Just(json!(-3)),
        Just(json!(2.5)),
        Just(json!("")),
        Just(json!(true)),
        Just(json!([null])),
        Just(json!({})),
    ];
    prop_oneof![24 => wanted, 1 => anything].boxed()
}

/// An object with some of `keys`; the last one, a key the fast path does not type, now
/// and then.
fn object_of(keys: &'static [&'static str]) -> BoxedStrategy<Value> {
    let (untyped, typed) = keys.split_last().expect("keys");
    (
        prop::collection::vec(prop::sample::select(typed), 0..typed.len()),
        prop::bool::weighted(0.1),
    )
        .prop_flat_map(move |(mut chosen, odd)| {
            if odd {
                chosen.push(untyped);
            }
            chosen
                .into_iter()
                .map(|k| value_for(k).prop_map(move |v| (k.to_owned(), v)))
                .collect::<Vec<_>>()
                .prop_map(|kv| Value::Object(kv.into_iter().collect()))
        })
        .boxed()
}

const FRAME_KEYS: &[&str] = &[
    "filename",
    "abs_path",
    "function",
    "module",
    "lineno",
    "colno",
    "in_app",
    "context_line",
    "pre_context",
    "post_context",
    "vars",
    "instruction_addr",
];
const CRUMB_KEYS: &[&str] = &[
    "timestamp",
    "type",
    "category",
    "message",
    "level",
    "data",
    "x",
];

/// A list the way either path may meet it: `{"values": [...]}`, bare, a lone item, empty.
fn listed(item: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::collection::vec(item.clone(), 0..4).prop_map(|v| json!({ "values": v })),
        prop::collection::vec(item.clone(), 0..4).prop_map(Value::Array),
        item,
        Just(json!({})),
        Just(Value::Null),
    ]
}

fn arb_event() -> impl Strategy<Value = Value> {
    let frame = object_of(FRAME_KEYS);
    let exception = (
        object_of(&["type", "value", "module", "mechanism", "thread_id"]),
        prop::option::of(prop::collection::vec(frame, 0..4)),
    )
        .prop_map(|(mut e, frames)| {
            if let Some(frames) = frames {
                e["stacktrace"] = json!({ "frames": frames });
            }
            e
        })
        .boxed();
    (
        object_of(&[
            "message",
            "level",
            "timestamp",
            "platform",
            "release",
            "environment",
            "server_name",
            "logger",
            "transaction",
            "event_id",
            "logentry",
            "sdk",
        ]),
        prop::option::of(listed(exception)),
        prop::option::of(listed(object_of(CRUMB_KEYS))),
        prop::option::of(prop_oneof![
            3 => Just(json!({"a": "b", "n": 3})),
            3 => Just(json!([["a", "b"], ["c", true]])),
            1 => Just(json!({"": "x"})),
        ]),
        prop::option::of(prop_oneof![3 => Just(json!({"message": 1})), 1 => Just(json!([1]))]),
        prop::option::of(prop_oneof![
            3 => Just(json!({"os": {"name": "x"}, "gone": null})),
            1 => Just(json!({"os": 1}))
        ]),
    )
        .prop_map(
            |(mut event, exception, breadcrumbs, tags, extra, contexts)| {
                let fields = [
                    ("exception", exception),
                    ("breadcrumbs", breadcrumbs),
                    ("tags", tags),
                    ("extra", extra),
                    ("contexts", contexts),
                ];
                for (key, value) in fields {
                    if let Some(value) = value {
                        event[key] = value;
                    }
                }
                // Mostly an event the strict options take, so that the fast path reads it.
                let basics = [
                    ("message", json!("m")),
                    ("level", json!("error")),
                    ("timestamp", json!(1_795_990_000)),
                ];
                for (key, value) in basics {
                    let derived = key == "message" && event.get("logentry").is_some();
                    if event.get(key).is_none() && !derived {
                        event[key] = value;
                    }
                }
                event
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn whatever_the_fast_path_reads_the_slow_path_reads_the_same(event in arb_event()) {
        let bytes = serde_json::to_vec(&event).unwrap();
        for opts in option_sets() {
            agrees(&bytes, &opts);
        }
    }
}

#[test]
fn a_byte_order_mark_is_skipped_on_both_kinds_of_route() {
    let body = b"\xEF\xBB\xBF{\"message\":\"m\",\"level\":\"error\",\"timestamp\":1795990000}";
    assert_eq!(parse_event_at(body, received_at()).unwrap().message, "m");
    assert_eq!(
        parse_sentry_event(body, received_at()).unwrap().message,
        "m"
    );
}

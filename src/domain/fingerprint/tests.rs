use serde_json::{Value, json};

use super::super::event::{NormalizedEvent, normalize};
use super::*;

fn event(mut v: Value) -> NormalizedEvent {
    let obj = v.as_object_mut().unwrap();
    obj.entry("level").or_insert(json!("error"));
    obj.entry("timestamp").or_insert(json!(1_700_000_000));
    normalize(v).unwrap()
}

fn frame(module: &str, function: &str, lineno: u64, in_app: bool) -> Value {
    json!({"module": module, "function": function, "lineno": lineno, "in_app": in_app,
           "filename": format!("{module}.py")})
}

fn exc_event(ty: &str, value: &str, frames: Vec<Value>) -> NormalizedEvent {
    event(json!({"exception": {"values": [
        {"type": ty, "value": value, "stacktrace": {"frames": frames}}
    ]}}))
}

fn hash(ev: &NormalizedEvent) -> String {
    fingerprint(ev).hash
}

#[test]
fn hash_is_sha256_hex() {
    let fp = fingerprint(&event(json!({"message": "hello"})));
    assert_eq!(fp.hash.len(), 64);
    assert!(
        fp.hash
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(fp.components, ["message:hello"]);
}

#[test]
fn line_numbers_do_not_matter() {
    let a = exc_event(
        "E",
        "x",
        vec![frame("app", "main", 1, true), frame("app", "f", 10, true)],
    );
    let b = exc_event(
        "E",
        "x",
        vec![frame("app", "main", 7, true), frame("app", "f", 99, true)],
    );
    assert_eq!(hash(&a), hash(&b));
    // The exception value does not matter either when there is a stack.
    let c = exc_event(
        "E",
        "other",
        vec![frame("app", "main", 7, true), frame("app", "f", 3, true)],
    );
    assert_eq!(hash(&a), hash(&c));
    assert_eq!(
        fingerprint(&a).components,
        ["type:E", "frame:app.main", "frame:app.f"]
    );
}

#[test]
fn different_in_app_function_or_type_splits() {
    let a = exc_event(
        "E",
        "x",
        vec![frame("app", "main", 1, true), frame("app", "f", 2, true)],
    );
    let b = exc_event(
        "E",
        "x",
        vec![frame("app", "main", 1, true), frame("app", "g", 2, true)],
    );
    let c = exc_event(
        "F",
        "x",
        vec![frame("app", "main", 1, true), frame("app", "f", 2, true)],
    );
    assert_ne!(hash(&a), hash(&b));
    assert_ne!(hash(&a), hash(&c));
}

#[test]
fn only_in_app_frames_count_when_there_are_some() {
    let a = exc_event(
        "E",
        "x",
        vec![frame("lib", "run", 1, false), frame("app", "f", 2, true)],
    );
    let b = exc_event(
        "E",
        "x",
        vec![frame("lib2", "go", 1, false), frame("app", "f", 2, true)],
    );
    assert_eq!(hash(&a), hash(&b));
    // No in-app frame at all: every frame counts.
    let c = exc_event(
        "E",
        "x",
        vec![frame("lib", "run", 1, false), frame("lib", "f", 2, false)],
    );
    let d = exc_event(
        "E",
        "x",
        vec![frame("lib", "walk", 1, false), frame("lib", "f", 2, false)],
    );
    assert_ne!(hash(&c), hash(&d));
    assert_eq!(
        fingerprint(&c).components,
        ["type:E", "frame:lib.run", "frame:lib.f"]
    );
}

#[test]
fn filename_replaces_missing_module() {
    let ev = event(
        json!({"exception": [{"type": "E", "stacktrace": {"frames": [
            {"filename": "src/a.js", "function": "go", "lineno": 3},
            {"lineno": 4},
        ]}}]}),
    );
    assert_eq!(fingerprint(&ev).components, ["type:E", "frame:src/a.js.go"]);
}

#[test]
fn chained_exception_types_all_count() {
    let chain = |inner: &str| {
        event(json!({"exception": {"values": [
            {"type": inner, "value": "v", "stacktrace": {"frames": [frame("m", "f", 1, true)]}},
            {"type": "Outer", "value": "v", "stacktrace": {"frames": [frame("m", "g", 1, true)]}},
        ]}}))
    };
    assert_ne!(hash(&chain("A")), hash(&chain("B")));
    assert_eq!(
        fingerprint(&chain("A")).components,
        ["type:A", "frame:m.f", "type:Outer", "frame:m.g"]
    );
}

#[test]
fn exception_without_stack_uses_masked_value() {
    let a = exc_event("KeyError", "'user 12'", vec![]);
    let b = exc_event("KeyError", "'user 13'", vec![]);
    let c = exc_event("KeyError", "'order'", vec![]);
    assert_eq!(hash(&a), hash(&b));
    assert_ne!(hash(&a), hash(&c));
    assert_eq!(
        fingerprint(&a).components,
        ["type:KeyError", "value:'user <num>'"]
    );
}

#[test]
fn message_masking_groups_variable_parts() {
    let h = |m: &str| hash(&event(json!({"message": m})));
    assert_eq!(h("user 123 failed"), h("user 456 failed"));
    assert_ne!(h("user 123 failed"), h("user 123 succeeded"));
    assert_eq!(
        h("job 550e8400-e29b-41d4-a716-446655440000 lost"),
        h("job 6ba7b810-9dad-11d1-80b4-00c04fd430c8 lost")
    );
    assert_eq!(h("at 0x7fdbed8dac10"), h("at 0x1"));
    assert_eq!(h("commit 3f2a9c1b8d7e"), h("commit a1b2c3d4e5f6a7b8"));
}

#[test]
fn mask_rules() {
    let cases = [
        ("user 123 failed", "user <num> failed"),
        ("id 550E8400-E29B-41D4-A716-446655440000.", "id <uuid>."),
        ("ptr 0x7fdbed8dac10, 0XFF", "ptr <hex>, <hex>"),
        ("sha 3f2a9c1b8d7e done", "sha <hex> done"),
        ("req_5f3a9c1b2d4e", "req_<hex>"),
        ("deadbeefcafe stays", "deadbeefcafe stays"),
        ("1234567890", "<num>"),
        ("took 1.5s on v2", "took <num>.<num>s on v<num>"),
        ("xa1b2c3d4e", "xa<num>b<num>c<num>d<num>e"),
        ("0x", "<num>x"),
        ("héllo wörld", "héllo wörld"),
        ("", ""),
    ];
    for (input, expected) in cases {
        assert_eq!(mask_variable_parts(input), expected, "{input:?}");
    }
}

#[test]
fn default_marker_expands() {
    let base =
        json!({"exception": [{"type": "E", "stacktrace": {"frames": [frame("m", "f", 1, true)]}}]});
    let with_fp = |fp: Value| {
        let mut v = base.clone();
        v["fingerprint"] = fp;
        event(v)
    };
    let plain = event(base.clone());
    assert_eq!(hash(&with_fp(json!(["{{ default }}"]))), hash(&plain));
    assert_eq!(hash(&with_fp(json!(["{{default}}"]))), hash(&plain));
    let custom = fingerprint(&with_fp(json!(["{{ default }}", "custom-group"])));
    assert_eq!(custom.components, ["type:E", "frame:m.f", "custom-group"]);
    assert_ne!(custom.hash, hash(&plain));
    let explicit = fingerprint(&with_fp(json!(["db-down", 3])));
    assert_eq!(explicit.components, ["db-down", "3"]);
    // An explicit fingerprint ignores the stack completely.
    let other = event(json!({"message": "m", "fingerprint": ["db-down", "3"]}));
    assert_eq!(hash(&other), explicit.hash);
}

#[test]
fn components_are_length_prefixed() {
    let a = event(json!({"message": "m", "fingerprint": ["ab", "c"]}));
    let b = event(json!({"message": "m", "fingerprint": ["a", "bc"]}));
    assert_ne!(hash(&a), hash(&b));
}

#[test]
fn title_and_culprit_from_exception() {
    let ev = event(json!({"transaction": "/cart", "exception": {"values": [
        {"type": "ValueError", "value": "bad amount -70",
         "stacktrace": {"frames": [frame("__main__", "checkout", 19, true), frame("__main__", "charge", 16, true)]}},
        {"type": "PaymentError", "value": "payment declined\nsecond line",
         "stacktrace": {"frames": [frame("__main__", "<module>", 23, true), frame("__main__", "checkout", 21, true), frame("lib", "x", 1, false)]}},
    ]}}));
    let (title, culprit) = title_and_culprit(&ev);
    assert_eq!(title, "PaymentError: payment declined");
    assert_eq!(culprit.as_deref(), Some("__main__ in checkout"));
}

#[test]
fn title_and_culprit_fallbacks() {
    let ev = event(json!({"message": "\n  disk almost full  \nmore", "transaction": "task.run"}));
    assert_eq!(
        title_and_culprit(&ev),
        ("disk almost full".to_owned(), Some("task.run".to_owned()))
    );
    let ev = event(json!({"message": "m"}));
    assert_eq!(title_and_culprit(&ev), ("m".to_owned(), None));
    let long = event(json!({"message": "é".repeat(1000), "transaction": "t".repeat(500)}));
    let (title, culprit) = title_and_culprit(&long);
    assert_eq!(title.chars().count(), MAX_TITLE_CHARS);
    assert!(title.ends_with('…'));
    assert_eq!(culprit.unwrap().chars().count(), MAX_CULPRIT_CHARS);
    let blank = event(json!({"message": "   "}));
    assert_eq!(title_and_culprit(&blank).0, "<untitled>");
}

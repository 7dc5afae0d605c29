//! Exceptions, frames and breadcrumbs.

use serde_json::json;

use super::super::interfaces::*;
use super::*;

fn err_field<T: std::fmt::Debug>(r: Result<T, EventError>) -> String {
    r.unwrap_err().field.unwrap()
}

#[test]
fn exception_shapes() {
    let one = json!({"type": "E", "value": "v"});
    let wrapped = exceptions(Some(json!({"values": [one.clone()]})))
        .unwrap()
        .unwrap();
    let bare = exceptions(Some(json!([one.clone()]))).unwrap().unwrap();
    let single = exceptions(Some(one)).unwrap().unwrap();
    assert_eq!(wrapped, bare);
    assert_eq!(wrapped, single);
    assert_eq!(wrapped[0].ty.as_deref(), Some("E"));
    assert_eq!(exceptions(Some(json!({"values": []}))).unwrap(), None);
    assert_eq!(exceptions(Some(json!({}))).unwrap(), None);
    assert_eq!(exceptions(Some(json!([]))).unwrap(), None);
    assert_eq!(err_field(exceptions(Some(json!("boom")))), "exception");
    assert_eq!(
        err_field(exceptions(Some(json!({"values": 1})))),
        "exception.values"
    );
    assert_eq!(err_field(exceptions(Some(json!([1])))), "exception[0]");
}

#[test]
fn frame_fields_are_typed_and_unknown_ones_kept() {
    let v = json!([{"type": "E", "stacktrace": {"frames": [{
        "filename": "a.py", "abs_path": "/a.py", "function": "f", "module": "a",
        "lineno": 3, "colno": 4, "in_app": true, "context_line": "x()",
        "pre_context": ["a", null], "post_context": [], "vars": {"x": 1},
        "instruction_addr": "0x1"}], "registers": {"rip": "0x1"}}, "thread_id": 7}]);
    let exc = exceptions(Some(v)).unwrap().unwrap().remove(0);
    assert_eq!(exc.other.get("thread_id"), Some(&json!(7)));
    let st = exc.stacktrace.unwrap();
    assert!(st.other.contains_key("registers"));
    let f = &st.frames[0];
    assert_eq!(
        (f.lineno, f.colno, f.in_app),
        (Some(3), Some(4), Some(true))
    );
    assert_eq!(
        f.pre_context.as_deref(),
        Some(&["a".to_owned(), String::new()][..])
    );
    assert_eq!(f.other.get("instruction_addr"), Some(&json!("0x1")));
    assert_eq!(f.vars, Some(json!({"x": 1})));
}

#[test]
fn frame_errors_name_the_path() {
    let with_frame = |f: Value| {
        exceptions(Some(
            json!({"values": [{"stacktrace": {"frames": [{}, {}, f]}}]}),
        ))
    };
    let base = "exception.values[0].stacktrace.frames[2]";
    for (frame, field) in [
        (json!({"lineno": -1}), "lineno"),
        (json!({"lineno": 1.5}), "lineno"),
        (json!({"colno": "3"}), "colno"),
        (json!({"in_app": "yes"}), "in_app"),
        (json!({"function": 1}), "function"),
        (json!({"pre_context": "x"}), "pre_context"),
        (json!({"post_context": [1]}), "post_context[0]"),
    ] {
        assert_eq!(err_field(with_frame(frame)), format!("{base}.{field}"));
    }
    assert_eq!(err_field(with_frame(json!(3))), base);
    let bad_frames = exceptions(Some(json!([{"stacktrace": {"frames": {}}}])));
    assert_eq!(err_field(bad_frames), "exception[0].stacktrace.frames");
    assert_eq!(
        err_field(exceptions(Some(json!([{"stacktrace": []}])))),
        "exception[0].stacktrace"
    );
}

#[test]
fn breadcrumbs_both_shapes_and_timestamp_forms() {
    let items = json!([
        {"timestamp": 1_795_959_778.962, "category": "db", "message": "SELECT", "level": "WARN"},
        {"timestamp": "2026-11-29T13:42:56.075562Z", "type": "http", "data": {"status": 200}, "level": "assert", "x": 1}
    ]);
    let bare = breadcrumbs(Some(items.clone())).unwrap().unwrap();
    let wrapped = breadcrumbs(Some(json!({"values": items})))
        .unwrap()
        .unwrap();
    assert_eq!(bare, wrapped);
    assert_eq!(bare[0].level.as_deref(), Some("warning"));
    assert_eq!(bare[1].level.as_deref(), Some("assert"));
    assert_eq!(bare[1].other.get("x"), Some(&json!(1)));
    assert!(bare.iter().all(|b| b.timestamp.is_some()));
    let bad_ts = breadcrumbs(Some(json!({"values": [{}, {"timestamp": "nope"}]})));
    assert_eq!(err_field(bad_ts), "breadcrumbs.values[1].timestamp");
    assert_eq!(
        err_field(breadcrumbs(Some(json!([{"data": 1}])))),
        "breadcrumbs[0].data"
    );
    assert_eq!(err_field(breadcrumbs(Some(json!(true)))), "breadcrumbs");
}

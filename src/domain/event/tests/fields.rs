//! Scalar and map-shaped fields, directly and through whole events.

use serde_json::json;

use super::super::fields::*;
use super::*;

#[test]
fn timestamp_forms() {
    let t = |v: Value| timestamp(&v, "timestamp");
    let expected = DateTime::parse_from_rfc3339("2026-11-29T13:42:56.109410Z").unwrap();
    assert_eq!(t(json!("2026-11-29T13:42:56.109410Z")).unwrap(), expected);
    assert_eq!(
        t(json!("2026-11-29T15:42:56.109410+02:00")).unwrap(),
        expected
    );
    assert_eq!(t(json!("2026-11-29T13:42:56.109410")).unwrap(), expected);
    assert_eq!(
        t(json!(1_795_959_778.969))
            .unwrap()
            .timestamp_subsec_micros(),
        969_000
    );
    assert_eq!(t(json!(0)).unwrap(), DateTime::UNIX_EPOCH);
    assert_eq!(
        t(json!(1_795_959_778u64)).unwrap().timestamp(),
        1_795_959_778
    );
    // Sub-microsecond digits are truncated to PostgreSQL's precision.
    let nanos = t(json!("2026-11-29T13:42:56.123456789Z")).unwrap();
    assert_eq!(nanos.timestamp_subsec_nanos(), 123_456_000);
}

#[test]
fn timestamp_rejections() {
    for bad in [
        json!(-1),
        json!(-0.5),
        json!(1e300),
        json!(u64::MAX),
        json!("yesterday"),
        json!(""),
        json!("1969-12-31T23:59:59Z"),
        json!(true),
        json!({}),
        json!([1]),
    ] {
        let err = timestamp(&bad, "timestamp").unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.field.as_deref()),
            ("invalid_field", Some("timestamp")),
            "{bad}"
        );
    }
}

#[test]
fn insert_unique_never_overwrites() {
    let mut extra = Map::new();
    extra.insert("a".into(), json!(1));
    extra.insert("_event.a".into(), json!(2));
    insert_unique(&mut extra, "b".into(), json!("b"));
    insert_unique(&mut extra, "a".into(), json!(3));
    insert_unique(&mut extra, "a".into(), json!(4));
    assert_eq!(
        Value::Object(extra),
        json!({"a": 1, "_event.a": 2, "_event.a.2": 3, "_event.a.3": 4, "b": "b"})
    );
}

#[test]
fn scalars_and_objects() {
    assert_eq!(opt_string(Some(json!("")), "release", 5).unwrap(), None);
    assert_eq!(
        opt_string(Some(json!("ééééé")), "release", 5)
            .unwrap()
            .unwrap(),
        "ééééé"
    );
    let err = opt_string(Some(json!("123456")), "release", 5).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("release"));
    assert!(opt_string(Some(json!(1)), "release", 5).is_err());
    assert_eq!(object(Some(json!(null)), "user").unwrap(), None);
    assert_eq!(
        object(Some(json!([])), "user")
            .unwrap_err()
            .field
            .as_deref(),
        Some("user")
    );
}

#[test]
fn tags_object_and_pair_list() {
    let obj = ok(with(
        json!({"tags": {"region": "eu", "retries": 3, "ok": true, "gone": null}}),
    ));
    let list = ok(with(
        json!({"tags": [["region", "eu"], ["retries", 3], ["ok", true], ["gone", null]]}),
    ));
    assert_eq!(obj.tags, list.tags);
    let expected = [("ok", "true"), ("region", "eu"), ("retries", "3")];
    assert!(
        obj.tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .eq(expected)
    );
    let later_wins = ok(with(json!({"tags": [["a", "1"], ["a", "2"]]})));
    assert_eq!(later_wins.tags["a"], "2");
}

#[test]
fn tag_limits() {
    let many: Map<String, Value> = (0..=MAX_TAGS)
        .map(|i| (format!("k{i}"), json!("v")))
        .collect();
    assert_eq!(err(with(json!({"tags": many}))), invalid("tags"));
    let enough: Map<String, Value> = (0..MAX_TAGS)
        .map(|i| (format!("k{i}"), json!("v")))
        .collect();
    assert_eq!(ok(with(json!({"tags": enough}))).tags.len(), MAX_TAGS);
    let k200 = "k".repeat(200);
    let v200 = "v".repeat(200);
    assert_eq!(ok(with(json!({"tags": {&k200: &v200}}))).tags[&k200], v200);
    assert_eq!(
        err(with(json!({"tags": {"k".repeat(201): "v"}}))),
        invalid("tags")
    );
    assert_eq!(err(with(json!({"tags": {"": "v"}}))), invalid("tags"));
    assert_eq!(
        err(with(json!({"tags": {"mykey": "v".repeat(201)}}))),
        invalid("tags.mykey")
    );
    assert_eq!(
        err(with(json!({"tags": {"mykey": ""}}))),
        invalid("tags.mykey")
    );
    assert_eq!(
        err(with(json!({"tags": {"mykey": {"a": 1}}}))),
        invalid("tags.mykey")
    );
    assert_eq!(
        err(with(json!({"tags": [["a", "b"], ["c"]]}))),
        invalid("tags[1]")
    );
    assert_eq!(err(with(json!({"tags": [[1, "b"]]}))), invalid("tags[0]"));
    assert_eq!(err(with(json!({"tags": "a=b"}))), invalid("tags"));
}

#[test]
fn optional_scalars() {
    let ev = ok(with(
        json!({"platform": "python", "release": "shop@1.4.2", "environment": "",
        "server_name": "web-3", "transaction": "/cart", "logger": "shop.orders"}),
    ));
    assert_eq!(ev.platform.as_deref(), Some("python"));
    assert_eq!(ev.release.as_deref(), Some("shop@1.4.2"));
    assert_eq!(ev.environment, None);
    assert_eq!(ev.logger.as_deref(), Some("shop.orders"));
    for (field, max) in [
        ("platform", MAX_PLATFORM_CHARS),
        ("release", MAX_NAME_CHARS),
        ("environment", MAX_NAME_CHARS),
        ("server_name", MAX_NAME_CHARS),
        ("logger", MAX_NAME_CHARS),
        ("transaction", MAX_TRANSACTION_CHARS),
    ] {
        assert!(
            normalize(with(json!({field: "a".repeat(max)}))).is_ok(),
            "{field}"
        );
        assert_eq!(
            err(with(json!({field: "a".repeat(max + 1)}))),
            invalid(field)
        );
        assert_eq!(err(with(json!({field: ["a"]}))), invalid(field));
    }
}

#[test]
fn user_contexts_and_fingerprint() {
    let ev = ok(with(
        json!({"user": {"id": 42, "email": "a@b.c", "plan": "pro"},
        "contexts": {"os": {"name": "Linux"}, "gone": null}, "fingerprint": ["a", 1, true]}),
    ));
    assert_eq!(ev.user.unwrap()["plan"], "pro");
    assert_eq!(
        Value::Object(ev.contexts.unwrap()),
        json!({"os": {"name": "Linux"}})
    );
    assert_eq!(ev.fingerprint.unwrap(), ["a", "1", "true"]);
    assert_eq!(ok(with(json!({"fingerprint": []}))).fingerprint, None);
    assert_eq!(err(with(json!({"user": "bob"}))), invalid("user"));
    assert_eq!(
        err(with(json!({"contexts": {"os": "Linux"}}))),
        invalid("contexts.os")
    );
    assert_eq!(err(with(json!({"contexts": []}))), invalid("contexts"));
    let too_many: Vec<&str> = vec!["x"; MAX_FINGERPRINT_ENTRIES + 1];
    assert_eq!(
        err(with(json!({"fingerprint": too_many}))),
        invalid("fingerprint")
    );
    let long = "x".repeat(MAX_FINGERPRINT_ENTRY_CHARS + 1);
    assert_eq!(
        err(with(json!({"fingerprint": ["ok", long]}))),
        invalid("fingerprint[1]")
    );
    assert_eq!(
        err(with(json!({"fingerprint": [{}]}))),
        invalid("fingerprint[0]")
    );
    assert_eq!(
        err(with(json!({"fingerprint": "x"}))),
        invalid("fingerprint")
    );
}

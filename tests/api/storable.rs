//! Every event the parsers accept is stored (docs/architecture.md, “In the writer”): values
//! PostgreSQL refuses (NUL, lone surrogates, clocks far off) are made storable on the way
//! in, by both ingestion routes, and a property test writes arbitrary accepted events
//! through the writer's own `write_batch` into a real database — by `INSERT` and by binary
//! `COPY` (`db/copy.rs`), which must store the same bytes in every column.

use std::cell::RefCell;

use chrono::Utc;
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use mesher::db::{copy as db_copy, events as db_events, partitions, schema::events};
use mesher::domain::json::parse_lenient_json;
use mesher::domain::{
    EventId, NormalizeOptions, PendingEvent, ProjectId, normalize_parsed, parse_event_at,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::helpers::{TestDb, create_project, event, spawn_app};

/// The stored events' (message, extra) of a project, oldest id first.
async fn stored(app: &crate::helpers::TestApp) -> Vec<(String, Value)> {
    let mut conn = app.db.conn().await;
    events::table
        .order(events::id.asc())
        .select((events::message, events::extra))
        .load(&mut conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn nul_and_lone_surrogates_cost_nothing_but_themselves() {
    let app = spawn_app().await;
    let p = app.project("poison").await;

    // 20 good events and one carrying NUL everywhere it can, in one batch; then 20 more.
    let mut batch: Vec<Value> = (0..20).map(|i| event(&format!("good {i}"))).collect();
    let mut poisoned = event("nul \u{0} here");
    poisoned["tags"] = json!({"k\u{0}": "v\u{0}"});
    poisoned["extra"] = json!({"\u{0}": ["\u{0}"]});
    batch.insert(7, poisoned);
    assert_eq!(app.post_events(&p.key, &json!(batch)).await.status(), 202);
    let more: Vec<Value> = (0..20).map(|i| event(&format!("after {i}"))).collect();
    assert_eq!(app.post_events(&p.key, &json!(more)).await.status(), 202);

    // A lone surrogate, as a JavaScript SDK serializes a string cut inside a pair: on the
    // native route and on Sentry's store route.
    let now = Utc::now().to_rfc3339();
    let native = format!(r#"{{"message":"cut \ud83d","level":"error","timestamp":"{now}"}}"#);
    let res = app
        .post_raw(
            "/api/v1/events",
            native,
            &[
                ("x-mesher-key", p.key.as_str()),
                ("content-type", "application/json"),
            ],
        )
        .await;
    assert_eq!(res.status(), 202);
    let store = format!("/api/{}/store/?sentry_key={}", p.number, p.key);
    let res = app
        .post_raw(&store, r#"{"message":"sentry \udc00 cut"}"#, &[])
        .await;
    assert_eq!(res.status(), 200);

    let s = app.assert_accounted(p.id).await;
    assert_eq!((s.accepted, s.stored), (43, 43), "{s:?}");
    let rows = stored(&app).await;
    let messages: Vec<&str> = rows.iter().map(|(m, _)| m.as_str()).collect();
    for expected in ["nul \u{FFFD} here", "cut \u{FFFD}", "sentry \u{FFFD} cut"] {
        assert!(
            messages.contains(&expected),
            "{expected:?} not in {messages:?}"
        );
    }
}

/// The edge skips the walk that replaces NUL when the JSON text holds no `\u0000` escape
/// (`storable::may_hold_nul`): a NUL is replaced wherever the text puts one, and an escaped
/// backslash followed by `u0000` (the six characters, not a NUL) is stored as sent.
#[actix_web::test]
async fn nul_escapes_are_replaced_and_escaped_backslashes_kept() {
    let app = spawn_app().await;
    let p = app.project("nul-escapes").await;
    // (the event's fields as JSON text, its stored message, its stored extra)
    let cases: &[(&str, &str, Value)] = &[
        (
            r#""message":"in a \u0000 string","extra":{}"#,
            "in a \u{FFFD} string",
            json!({}),
        ),
        (
            r#""message":"in a key","extra":{"k\u0000":1,"k\ufffd":2}"#,
            "in a key",
            json!({"k\u{FFFD}": 2, "k\u{FFFD}.2": 1}),
        ),
        (
            r#""message":"nested","extra":{"a":{"b":[1,{"c":"x\u0000y"}]}}"#,
            "nested",
            json!({"a": {"b": [1, {"c": "x\u{FFFD}y"}]}}),
        ),
        (
            r#""message":"escaped \\u0000","extra":{"k\\u0000":"v\\u0000"}"#,
            r"escaped \u0000",
            json!({r"k\u0000": r"v\u0000"}),
        ),
        (
            r#""message":"escaped \\u0000 then \u0000","extra":{"k\\u0000":"\\\u0000"}"#,
            "escaped \\u0000 then \u{FFFD}",
            json!({r"k\u0000": "\\\u{FFFD}"}),
        ),
        (
            r#""message":"none","extra":{"k":"\u0001 \\ \"u0000\""}"#,
            "none",
            json!({"k": "\u{1} \\ \"u0000\""}),
        ),
    ];
    let now = Utc::now().to_rfc3339();
    let native = [
        ("x-mesher-key", p.key.as_str()),
        ("content-type", "application/json"),
    ];
    let store = format!("/api/{}/store/?sentry_key={}", p.number, p.key);
    for (fields, ..) in cases {
        let body = format!(r#"{{"level":"error","timestamp":"{now}",{fields}}}"#);
        let res = app.post_raw("/api/v1/events", body.clone(), &native).await;
        assert_eq!(res.status(), 202, "native: {fields}");
        let res = app.post_raw(&store, body, &[]).await;
        assert_eq!(res.status(), 200, "store: {fields}");
    }
    app.assert_accounted(p.id).await;
    let rows = stored(&app).await;
    for (fields, message, extra) in cases {
        let found: Vec<&Value> = rows
            .iter()
            .filter(|(m, _)| m == message)
            .map(|(_, x)| x)
            .collect();
        assert_eq!(found, [extra, extra], "{fields}");
    }
}

#[actix_web::test]
async fn a_clock_far_off_gives_way_to_the_receive_time() {
    let app = spawn_app().await;
    let p = app.project("clocks").await;
    // (the event's own time, kept?)
    let cases = [
        ("2000-01-01T00:00:00Z", false),
        ("9999-01-01T00:00:00Z", false),
        (&*Utc::now().to_rfc3339(), true),
    ];
    for (sent, _) in cases {
        let body = json!({"message": sent, "level": "error", "timestamp": sent});
        assert_eq!(app.post_events(&p.key, &body).await.status(), 202, "{sent}");
    }
    app.assert_accounted(p.id).await;
    let mut conn = app.db.conn().await;
    for (sent, kept) in cases {
        let (timestamp, received_at, extra): (chrono::DateTime<Utc>, chrono::DateTime<Utc>, Value) =
            events::table
                .filter(events::message.eq(sent))
                .select((events::timestamp, events::received_at, events::extra))
                .first(&mut conn)
                .await
                .unwrap();
        if kept {
            assert!(extra.get("timestamp").is_none(), "{sent}: {extra}");
        } else {
            assert_eq!(timestamp, received_at, "{sent}");
            assert_eq!(extra["timestamp"], sent, "{sent}: {extra}");
        }
    }
}

/// Strings of any Unicode, NUL included; U+E000 stands for a lone surrogate, written into
/// the JSON text as `\ud800` once the event is serialized.
fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 0..max).prop_map(|c| c.into_iter().collect()),
        prop::collection::vec(
            prop::sample::select(vec!['\0', '\u{E000}', 'a', 'é', '😀']),
            0..max
        )
        .prop_map(|c| c.into_iter().collect()),
    ]
}

/// Any JSON: deep, wide, with huge and tiny numbers and any keys.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -0.0,
            1e308,
            -1e-300
        ])
        .prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any_text(12).prop_map(Value::from),
    ];
    leaf.prop_recursive(8, 128, 20, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            prop::collection::vec((any_text(8), inner), 0..20)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An event's own time: any the parser takes, from 1970 to 9999, as text or a number.
fn any_timestamp() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0i64..253_402_300_799).prop_map(Value::from),
        (0.0f64..253_402_300_799.0).prop_map(Value::from),
        (0i64..253_402_300_799_999_999).prop_map(|us| {
            let t = chrono::DateTime::from_timestamp_micros(us).unwrap();
            Value::from(t.to_rfc3339())
        }),
        Just(json!("1970-01-01T00:00:00Z")),
        Just(json!("9999-12-31T23:59:59.999999Z")),
        Just(json!(Utc::now().to_rfc3339())),
    ]
}

fn any_event() -> impl Strategy<Value = Value> {
    let frame = (any_text(20), any_text(20), any::<u32>(), any::<bool>()).prop_map(
        |(function, module, lineno, in_app)| {
            json!({"function": function, "module": module, "lineno": lineno, "in_app": in_app,
                   "vars": {"x": function}})
        },
    );
    let exception = (any_text(20), any_text(40), prop::collection::vec(frame, 0..5))
        .prop_map(|(ty, value, frames)| {
            json!({"values": [{"type": ty, "value": value, "stacktrace": {"frames": frames}}]})
        });
    let breadcrumb = (any_text(20), any_text(20), any_json()).prop_map(
        |(message, category, data)| json!({"message": message, "category": category, "data": data}),
    );
    (
        (any_text(60), prop::sample::select(vec!["fatal", "error", "warning", "info", "debug"])),
        any_timestamp(),
        prop::collection::btree_map(any_text(20), any_text(20), 0..5),
        any_json(),
        proptest::option::of(prop::collection::vec(any_text(20), 1..4)),
        proptest::option::of(exception),
        prop::collection::vec(breadcrumb, 0..4),
        (any_json(), any_json(), any_text(30)),
    )
        .prop_map(
            |((message, level), timestamp, tags, extra, fingerprint, exception, crumbs, (user, contexts, release))| {
                json!({
                    "message": message, "level": level, "timestamp": timestamp, "tags": tags,
                    "extra": {"data": extra}, "fingerprint": fingerprint, "exception": exception,
                    "breadcrumbs": crumbs, "user": {"data": user}, "contexts": {"app": {"data": contexts}},
                    "release": release, "environment": release, "server_name": release,
                    "transaction": release, "logger": release, "platform": "other",
                    "unknown_field": user,
                })
            },
        )
}

/// The event as an SDK would send it: JSON text with `\ud800` for every U+E000.
fn wire_bytes(event: &Value) -> Vec<u8> {
    serde_json::to_string(event)
        .unwrap()
        .replace('\u{E000}', "\\ud800")
        .into_bytes()
}

#[derive(diesel::QueryableByName)]
struct RowText {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: uuid::Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    row: String,
}

/// Every column of the events `ids` but the ids, as PostgreSQL prints them, by id.
async fn event_rows(
    conn: &mut diesel_async::AsyncPgConnection,
    ids: &[uuid::Uuid],
) -> std::collections::HashMap<uuid::Uuid, String> {
    let rows: Vec<RowText> = diesel::sql_query(
        "SELECT id, row(received_at, event_id, \"timestamp\", level, message, platform, release,
                    environment, server_name, transaction, logger, tags, exception,
                    breadcrumbs, user_data, contexts, extra)::text AS row
         FROM events WHERE id = ANY($1)",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
    .load(conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| (r.id, r.row)).collect()
}

/// Every column of a project's issues but the ids, by fingerprint.
async fn issue_rows(conn: &mut diesel_async::AsyncPgConnection, project: ProjectId) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        row: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT row(fingerprint_hash, fingerprint, title, culprit, level, status, first_seen,
                    last_seen, times_seen)::text AS row
         FROM issues WHERE project_id = $1 ORDER BY fingerprint_hash",
    )
    .bind::<diesel::sql_types::Uuid, _>(project)
    .load(conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.row).collect()
}

#[test]
fn every_accepted_event_is_stored() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (db, project) = rt.block_on(async {
        let db = TestDb::migrated().await;
        let project = create_project(&db, "anything").await;
        let copied = create_project(&db, "copied").await;
        (db, (project, copied))
    });
    let (project, copied) = project;
    let copy = RefCell::new(rt.block_on(db_copy::connect(&db.url)).unwrap());
    let conn = RefCell::new(rt.block_on(db.conn()));
    let today = Utc::now().date_naive();
    rt.block_on(partitions::ensure_range(
        &mut conn.borrow_mut(),
        today,
        today,
    ))
    .unwrap();
    let accepted_total = RefCell::new(0usize);

    let config = ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(batch in prop::collection::vec((any_event(), any::<bool>()), 1..6))| {
        let now = Utc::now();
        // Through the native parser or Sentry's, as either route would.
        let accepted: Vec<PendingEvent> = batch
            .iter()
            .filter_map(|(event, native)| {
                let bytes = wire_bytes(event);
                let parsed = if *native {
                    parse_event_at(&bytes, now).ok()
                } else {
                    parse_lenient_json(&bytes).ok().and_then(|v| {
                        normalize_parsed(v, &bytes, &NormalizeOptions::sentry(now)).ok()
                    })
                };
                parsed.map(|e| PendingEvent::new(e, now))
            })
            .collect();
        let written = rt
            .block_on(db_events::write_batch(&mut conn.borrow_mut(), project.id, &accepted));
        prop_assert!(written.is_ok(), "refused: {:?}", written.err());
        prop_assert_eq!(written.unwrap().event_count(), accepted.len());
        *accepted_total.borrow_mut() += accepted.len();

        // The same events by COPY into another project: the same bytes in every column.
        let again: Vec<PendingEvent> = accepted
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.id = EventId::new();
                e
            })
            .collect();
        let written = rt.block_on(db_copy::write_batch(&mut copy.borrow_mut(), copied.id, &again));
        prop_assert!(written.is_ok(), "COPY refused: {:?}", written.err());
        prop_assert_eq!(written.unwrap().event_count(), again.len());
        let ids: Vec<uuid::Uuid> = accepted.iter().chain(&again).map(|e| e.id.uuid()).collect();
        let rows = rt.block_on(event_rows(&mut conn.borrow_mut(), &ids));
        prop_assert_eq!(rows.len(), ids.len());
        for (inserted, copied) in accepted.iter().zip(&again) {
            prop_assert_eq!(&rows[&inserted.id.uuid()], &rows[&copied.id.uuid()]);
        }
        let a = rt.block_on(issue_rows(&mut conn.borrow_mut(), project.id));
        let b = rt.block_on(issue_rows(&mut conn.borrow_mut(), copied.id));
        prop_assert_eq!(a, b);
    });

    let count: i64 = rt
        .block_on(
            events::table
                .filter(events::project_id.eq(project.id))
                .count()
                .get_result(&mut *conn.borrow_mut()),
        )
        .unwrap();
    assert_eq!(count as usize, *accepted_total.borrow());
    assert!(count > 0, "the strategies produced no accepted event");
}

//! `POST /api/v1/events`: every status of docs/api.md ("Status codes", "Limits") for its
//! cause, and 202 meaning stored.

use std::io::Write;

use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use mesher::db::schema::{api_keys, events, issues};
use serde_json::{Value, json};

use crate::helpers::{event, spawn_app, spawn_app_with};

fn exception_event(function: &str, lineno: u32) -> Value {
    json!({
        "level": "error",
        "timestamp": 1_790_000_000.25,
        "exception": { "values": [{
            "type": "ValueError",
            "value": format!("bad value at line {lineno}"),
            "stacktrace": { "frames": [
                { "module": "app.main", "function": "run", "lineno": 10, "in_app": true },
                { "module": "app.pay", "function": function, "lineno": lineno, "in_app": true }
            ]}
        }]},
    })
}

/// The status of a refused request and its `error` object.
async fn refusal(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.expect("a JSON error body");
    (status, body["error"].clone())
}

#[actix_web::test]
async fn key_problems_are_401() {
    let app = spawn_app().await;
    let project = app.project("keys").await;

    let res = app
        .post_raw("/api/v1/events", event("x").to_string(), &[])
        .await;
    let (status, err) = refusal(res).await;
    assert_eq!((status, err["code"].as_str()), (401, Some("missing_key")));

    for bad in [
        "not-a-key",
        "mshr_short",
        &format!("mshr_{}", "A".repeat(40)),
    ] {
        let (status, err) = refusal(app.post_events(bad, &event("x")).await).await;
        assert_eq!(
            (status, err["code"].as_str()),
            (401, Some("invalid_key")),
            "{bad}"
        );
    }

    // The key also works from the query string.
    let res = app
        .post_raw(
            &format!("/api/v1/events?key={}", project.key),
            event("q").to_string(),
            &[],
        )
        .await;
    assert_eq!(res.status(), 202);

    // Revoked: refused once the cache entry (500 ms in tests, ≤ 5 s always) expires.
    let mut conn = app.db.conn().await;
    diesel::update(api_keys::table.find(project.key_id))
        .set(api_keys::revoked_at.eq(diesel::dsl::now))
        .execute(&mut conn)
        .await
        .unwrap();
    actix_web::rt::time::sleep(std::time::Duration::from_millis(700)).await;
    let (status, err) = refusal(app.post_events(&project.key, &event("x")).await).await;
    assert_eq!((status, err["code"].as_str()), (401, Some("invalid_key")));
    app.assert_accounted(project.id).await;
}

#[actix_web::test]
async fn invalid_events_are_400_naming_the_field() {
    let app = spawn_app().await;
    let p = app.project("invalid").await;
    let now = chrono::Utc::now().to_rfc3339();
    let cases = [
        (
            json!({ "message": "m", "level": "loud", "timestamp": now }),
            "level",
        ),
        (
            json!({ "message": "m", "level": "error", "timestamp": "yesterday" }),
            "timestamp",
        ),
        (json!({ "message": "m", "level": "error" }), "timestamp"),
        (json!({ "level": "error", "timestamp": now }), "message"),
        (
            json!({ "message": 42, "level": "error", "timestamp": now }),
            "message",
        ),
        (
            json!({ "message": "x".repeat(8193), "level": "error", "timestamp": now }),
            "message",
        ),
        (
            json!({ "message": "m", "level": "error", "timestamp": now, "tags": { "k": "v".repeat(201) } }),
            "tags.k",
        ),
        (
            json!({ "message": "m", "level": "error", "timestamp": now, "event_id": "nope" }),
            "event_id",
        ),
    ];
    for (body, field) in &cases {
        let (status, err) = refusal(app.post_events(&p.key, body).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(err["field"], *field, "{body} → {err}");
        assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    let res = app
        .post_raw("/api/v1/events", "{not json", &[("x-mesher-key", &p.key)])
        .await;
    let (status, err) = refusal(res).await;
    assert_eq!((status, err["code"].as_str()), (400, Some("invalid_json")));

    let s = app.assert_accounted(p.id).await;
    assert_eq!(s.rejected, cases.len() as u64 + 1);
    assert_eq!(s.accepted, 0);
}

#[actix_web::test]
async fn size_encoding_and_type_limits() {
    let app = spawn_app_with(|s| s.http.body_limit = 64 * 1024, None).await;
    let p = app.project("limits").await;
    let key = ("x-mesher-key", p.key.as_str());

    // A compression bomb: 60 KiB of gzip that would inflate to 64 MiB.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 64 << 20]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 64 * 1024);

    let big = json!({ "message": "m", "level": "error", "timestamp": 1, "extra": { "pad": "x".repeat(70_000) } });
    let too_many = Value::Array((0..1001).map(|_| json!({})).collect());
    let gzip = ("content-encoding", "gzip");
    // (case, body, headers besides the key, status, error code when it is pinned)
    type Refused<'a> = (
        &'a str,
        Vec<u8>,
        Vec<(&'a str, &'a str)>,
        u16,
        Option<&'a str>,
    );
    let cases: [Refused; 6] = [
        (
            "oversize body as sent",
            big.to_string().into(),
            vec![],
            413,
            Some("payload_too_large"),
        ),
        ("compression bomb", bomb, vec![gzip], 413, None),
        (
            "unknown encoding",
            event("z").to_string().into(),
            vec![("content-encoding", "zstd")],
            415,
            Some("unsupported_encoding"),
        ),
        (
            "form body",
            "message=hi".into(),
            vec![("content-type", "application/x-www-form-urlencoded")],
            415,
            Some("unsupported_media_type"),
        ),
        (
            "garbage that claims to be gzip",
            "plain".into(),
            vec![gzip],
            400,
            None,
        ),
        (
            "more than 1000 events in one batch",
            too_many.to_string().into(),
            vec![("content-type", "application/json")],
            413,
            Some("too_many_events"),
        ),
    ];
    for (case, body, mut headers, status, code) in cases {
        headers.insert(0, key);
        let (got, err) = refusal(app.post_raw("/api/v1/events", body, &headers).await).await;
        assert_eq!(got, status, "{case}: {err}");
        if let Some(code) = code {
            assert_eq!(err["code"], code, "{case}: {err}");
        }
    }

    // One event over the per-event limit inside a batch is rejected alone.
    let app2 = spawn_app_with(|s| s.http.event_limit = 2048, None).await;
    let p2 = app2.project("event-limit").await;
    let mut fat = event("fat");
    fat["extra"] = json!({ "pad": "x".repeat(4000) });
    let res = app2
        .post_events(&p2.key, &json!([event("thin"), fat]))
        .await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["ids"].as_array().unwrap().len(), 1);
    assert_eq!(body["rejected"][0]["index"], 1);
    assert_eq!(body["rejected"][0]["error"]["code"], "event_too_large");
    app.assert_accounted(p.id).await;
    let s = app2.assert_accounted(p2.id).await;
    assert_eq!((s.accepted, s.stored, s.rejected), (1, 1, 1));
}

#[actix_web::test]
async fn compressed_bodies_are_accepted() {
    let app = spawn_app().await;
    let p = app.project("compressed").await;
    let body = event("compressed").to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.as_bytes()).unwrap();
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(body.as_bytes()).unwrap();
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    raw.write_all(body.as_bytes()).unwrap();
    let mut br = Vec::new();
    brotli::CompressorWriter::new(&mut br, 4096, 5, 22)
        .write_all(body.as_bytes())
        .unwrap();
    for (encoding, bytes) in [
        ("gzip", gz.finish().unwrap()),
        ("deflate", zlib.finish().unwrap()),
        ("deflate", raw.finish().unwrap()),
        ("br", br),
        ("UTF-8", body.clone().into_bytes()),
        ("", body.clone().into_bytes()),
    ] {
        let res = app
            .post_raw(
                "/api/v1/events",
                bytes,
                &[("x-mesher-key", &p.key), ("content-encoding", encoding)],
            )
            .await;
        assert_eq!(res.status(), 202, "{encoding}");
    }
    let s = app.assert_accounted(p.id).await;
    assert_eq!(s.stored, 6);
}

#[actix_web::test]
async fn accepted_means_stored_in_its_day_partition_with_its_issue() {
    let app = spawn_app().await;
    let p = app.project("stored").await;

    let mut single = event("user 42 failed to pay");
    single["surprise"] = json!({ "kept": true });
    single["extra"] = json!({ "order": 7 });
    let res = app.post_events(&p.key, &single).await;
    assert_eq!(res.status(), 202);
    let one: Value = res.json().await.unwrap();
    let first_id: uuid::Uuid = one["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(first_id.get_version_num(), 7);

    let mut invalid = event("x");
    invalid["level"] = json!("nope");
    let batch = json!([
        event("user 43 failed to pay"),
        invalid,
        event("other thing")
    ]);
    let res = app.post_events(&p.key, &batch).await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["rejected"][0]["index"], 1);
    assert_eq!(body["rejected"][0]["error"]["field"], "level");
    let mut ids: Vec<uuid::Uuid> = body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect();
    ids.push(first_id);

    let s = app.assert_accounted(p.id).await;
    assert_eq!((s.accepted, s.stored, s.rejected), (3, 3, 1));

    let mut conn = app.db.conn().await;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: uuid::Uuid,
        #[diesel(sql_type = diesel::sql_types::Text)]
        part: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        day: String,
        #[diesel(sql_type = diesel::sql_types::Jsonb)]
        extra: Value,
        #[diesel(sql_type = diesel::sql_types::Text)]
        title: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT e.id, e.tableoid::regclass::text AS part, \
                to_char(e.received_at AT TIME ZONE 'UTC', '\"events_\"YYYY_MM_DD') AS day, \
                e.extra, i.title \
         FROM events e JOIN issues i ON i.id = e.issue_id AND i.project_id = e.project_id",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert!(ids.contains(&row.id));
        assert_eq!(row.part, row.day);
    }
    let first = rows.iter().find(|r| r.id == first_id).unwrap();
    assert_eq!(first.extra["surprise"], json!({ "kept": true }));
    assert_eq!(first.extra["order"], 7);
    // "user 42" and "user 43" are one issue (numbers masked); "other thing" another.
    let titles: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.title.as_str()).collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    let n_issues: i64 = issues::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(n_issues, 2);
}

#[actix_web::test]
async fn grouping_aggregates_and_reopens_resolved_issues() {
    let app = spawn_app().await;
    let p = app.project("grouping").await;
    let mut warning = exception_event("charge", 99);
    warning["level"] = json!("warning");
    let batch = json!([
        exception_event("charge", 10),
        exception_event("charge", 20),
        warning
    ]);
    assert_eq!(app.post_events(&p.key, &batch).await.status(), 202);
    assert_eq!(
        app.post_events(&p.key, &exception_event("refund", 10))
            .await
            .status(),
        202
    );
    app.assert_accounted(p.id).await;

    let mut conn = app.db.conn().await;
    let mut rows: Vec<(String, String, i64, String)> = issues::table
        .select((
            issues::title,
            issues::level,
            issues::times_seen,
            issues::status,
        ))
        .order(issues::times_seen.desc())
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[0].1.as_str(), rows[0].2), ("error", 3));
    assert!(rows[0].0.starts_with("ValueError"), "{rows:?}");

    // A fatal event later raises the level; a resolved issue that gets an event regresses.
    diesel::update(issues::table)
        .set(issues::status.eq("resolved"))
        .execute(&mut conn)
        .await
        .unwrap();
    let mut fatal = exception_event("charge", 1);
    fatal["level"] = json!("fatal");
    assert_eq!(app.post_events(&p.key, &fatal).await.status(), 202);
    app.assert_accounted(p.id).await;
    rows = issues::table
        .select((
            issues::title,
            issues::level,
            issues::times_seen,
            issues::status,
        ))
        .order(issues::times_seen.desc())
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        (rows[0].1.as_str(), rows[0].2, rows[0].3.as_str()),
        ("fatal", 4, "unresolved")
    );
    assert_eq!(rows[1].3, "resolved");
    let stored: i64 = events::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(stored, 5);
}

#[actix_web::test]
async fn metrics_expose_the_counters() {
    let app = spawn_app().await;
    let p = app.project("metrics").await;
    app.post_events(&p.key, &json!([event("a"), event("b"), {}]))
        .await;
    app.assert_accounted(p.id).await;
    let text = app.get("/metrics").await.text().await.unwrap();
    let id = p.id.to_string();
    for line in [
        format!("mesher_events_accepted_total{{project_id=\"{id}\"}} 2"),
        format!("mesher_events_stored_total{{project_id=\"{id}\"}} 2"),
        format!("mesher_events_rejected_total{{project_id=\"{id}\"}} 1"),
        format!("mesher_events_buffered{{project_id=\"{id}\"}} 0"),
    ] {
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
    assert!(text.contains("reason=\"buffer_full\""), "{text}");
}

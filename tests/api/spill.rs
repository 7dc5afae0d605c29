//! Spilling (issue 10, item 2): with the durable spool on, an outage longer than the memory
//! buffer is bounded by `writer.spool_max_bytes`, not by `writer.buffer_capacity`. A full
//! buffer spills its oldest events to the spool (counted `spilled`, not dropped), the writer
//! reads them back once the database is there again, and at the spool's cap the oldest are
//! dropped, counted `spool_full`. Each test stops a private PostgreSQL server.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    PrivateCluster, ServerProcess, TestApp, TestDb, create_project, event, post_n, spawn_app_on,
};
use crate::spool::{check, segments, series, settled, spool_dir};

/// Posts one native batch of `n` events to `url` (must be 202); returns their ids.
async fn post_batch(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    n: usize,
    tag: &str,
) -> Vec<Uuid> {
    let batch: Vec<Value> = (0..n).map(|i| event(&format!("{tag} {}", i % 3))).collect();
    let res = client
        .post(format!("{url}/api/v1/events"))
        .header("x-mesher-key", key)
        .header("content-type", "application/json")
        .body(json!(batch).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202, "{tag}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["rejected"], json!([]), "{body}");
    body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().parse().unwrap())
        .collect()
}

/// A project's series in `/metrics` text (`reason` for the dropped counter).
fn project_series(text: &str, name: &str, project: Uuid, reason: Option<&str>) -> u64 {
    let p = format!("project_id=\"{project}\"");
    text.lines()
        .find(|l| {
            l.starts_with(&format!("{name}{{"))
                && l.contains(&p)
                && reason.is_none_or(|r| l.contains(&format!("reason=\"{r}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse::<f64>().unwrap() as u64)
        .unwrap_or_else(|| panic!("no {name} of {project} in:\n{text}"))
}

/// Ids of `ids` stored in the app's database.
async fn stored_of(app: &TestApp, ids: &[Uuid]) -> HashSet<Uuid> {
    use diesel::{ExpressionMethods, QueryDsl};
    use diesel_async::RunQueryDsl;
    use mesher::db::schema::events;
    let mut conn = app.db.conn().await;
    events::table
        .select(events::id)
        .filter(events::id.eq_any(ids))
        .load::<Uuid>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// The database down while four times the buffer arrives: every request is 202, the
/// buffer's oldest events spill to the spool instead of being dropped (and the batch whose
/// retries ran out goes back there too), nothing is dropped, the accounting holds at every
/// moment; once the database is back, every event is stored exactly once.
#[actix_web::test]
async fn an_outage_longer_than_the_buffer_spills_and_loses_nothing() {
    let cluster = PrivateCluster::start().await;
    let dir = spool_dir("spill");
    let spool = dir.clone();
    let app = spawn_app_on(&cluster, move |s| {
        s.writer.spool_dir = Some(spool);
        s.writer.buffer_capacity = 50;
        s.writer.batch_size = 20;
        s.writer.max_retries = 1;
        s.writer.retry_base_ms = 50;
        s.writer.retry_max_ms = 100;
    })
    .await;
    let p = app.project("spill").await;
    // The key is known before the outage (served from the cache during it).
    let mut ids = post_n(&app, &p.key, 5, "before").await;
    app.assert_accounted(p.id).await;

    cluster.stop().await;
    let client = reqwest::Client::new();
    for round in 0..10 {
        ids.extend(
            post_batch(
                &client,
                &app.address,
                &p.key,
                20,
                &format!("outage {round}"),
            )
            .await,
        );
        let s = app.registry.snapshot(p.id);
        assert!(s.is_accounted(), "{s:?}");
        assert_eq!(s.dropped(), 0, "{s:?}");
    }
    // Let batches fail after their retries: they go back to the spool, not dropped.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let s = app.registry.snapshot(p.id);
    assert_eq!((s.accepted, s.stored, s.dropped()), (205, 5, 0), "{s:?}");
    assert!(s.is_accounted(), "{s:?}");
    assert!(s.spilled >= 150 - 20, "{s:?}");
    assert!(
        s.buffered <= 50 + 20,
        "memory holds the buffer and a batch: {s:?}"
    );
    let text = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(
        project_series(&text, "mesher_events_spilled", p.id.uuid(), None),
        s.spilled
    );

    cluster.restart().await;
    let s = app.assert_accounted(p.id).await;
    assert_eq!(
        (s.accepted, s.stored, s.dropped(), s.spilled),
        (205, 205, 0, 0),
        "{s:?}"
    );
    assert_eq!(stored_of(&app, &ids).await.len(), ids.len());
    assert_eq!(
        check(&app.db, &p, &ids).await,
        (205, 205, 0),
        "each once, times_seen exact"
    );
    let text = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(series(&text, "mesher_spool_events_outstanding"), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A spool far smaller than the outage: at `spool_max_bytes` its oldest segments go, and the
/// spilled events only they held are dropped, counted `spool_full` (in the stats and
/// `/metrics`); every other event is stored, the newest among them, and the accounting is
/// exact.
#[actix_web::test]
async fn at_the_spool_cap_the_oldest_spilled_events_are_dropped_counted() {
    let cluster = PrivateCluster::start().await;
    let dir = spool_dir("spill-cap");
    let spool = dir.clone();
    let app = spawn_app_on(&cluster, move |s| {
        s.writer.spool_dir = Some(spool);
        s.writer.spool_max_bytes = 16384;
        s.writer.spool_segment_bytes = 4096;
        s.writer.buffer_capacity = 10;
        s.writer.batch_size = 10;
        // The batch in flight keeps retrying through the outage.
        s.writer.max_retries = 1000;
        s.writer.retry_base_ms = 50;
        s.writer.retry_max_ms = 100;
    })
    .await;
    let p = app.project("spill-cap").await;
    let mut ids = post_n(&app, &p.key, 2, "before").await;
    app.assert_accounted(p.id).await;

    cluster.stop().await;
    let client = reqwest::Client::new();
    for round in 0..15 {
        ids.extend(post_batch(&client, &app.address, &p.key, 10, &format!("cap {round}")).await);
    }
    let s = app.registry.snapshot(p.id);
    assert!(s.is_accounted(), "{s:?}");
    assert!(s.dropped_spool_full > 0, "{s:?}");
    assert_eq!(s.dropped(), s.dropped_spool_full, "no other drop: {s:?}");
    let text = app.get("/metrics").await.text().await.unwrap();
    let reason = Some("spool_full");
    let full = project_series(&text, "mesher_events_dropped_total", p.id.uuid(), reason);
    assert_eq!(full, s.dropped_spool_full);
    assert!(
        series(&text, "mesher_spool_bytes") <= 16384 + 4096 + 2048,
        "{text}"
    );

    cluster.restart().await;
    let s = app.assert_accounted(p.id).await;
    assert_eq!(s.accepted, 152);
    assert_eq!(s.stored + s.dropped_spool_full, 152, "{s:?}");
    assert_eq!(s.dropped(), s.dropped_spool_full, "{s:?}");
    let stored = stored_of(&app, &ids).await;
    assert_eq!(stored.len() as u64, s.stored);
    assert!(
        ids[ids.len() - 20..].iter().all(|id| stored.contains(id)),
        "the newest are stored"
    );
    let (_, _, wrong) = check(&app.db, &p, &ids).await;
    assert_eq!(wrong, 0, "times_seen exact");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kill -9` with most of the accepted events spilled (the database down): the restarted
/// node replays the spool — as spilled events, read back batch by batch — and every event
/// answered 202 is stored exactly once.
#[actix_web::test]
async fn kill_9_while_spilled_then_replay_loses_nothing() {
    let cluster = PrivateCluster::start().await;
    let db = TestDb::migrated_at(cluster.url("postgres")).await;
    let p = create_project(&db, "spill-kill").await;
    let dir = spool_dir("spill-kill");
    let env = [
        ("MESHER__WRITER__SPOOL_DIR", dir.to_str().unwrap()),
        ("MESHER__WRITER__BUFFER_CAPACITY", "20"),
        ("MESHER__WRITER__BATCH_SIZE", "10"),
        ("MESHER__WRITER__MAX_RETRIES", "1000"),
        ("MESHER__WRITER__RETRY_MAX_MS", "100"),
        ("MESHER__LOG__LEVEL", "info"),
        ("MESHER__LOG__FORMAT", "json"),
    ];
    let server = ServerProcess::start(&db, &env).await;
    let client = reqwest::Client::new();
    let mut ids = post_batch(&client, &server.url, &p.key, 5, "before").await;
    assert_eq!(settled(&db, &p, &ids).await.1, 5);

    cluster.stop().await;
    for round in 0..12 {
        ids.extend(post_batch(&client, &server.url, &p.key, 10, &format!("kill {round}")).await);
    }
    let text = client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let spilled = project_series(&text, "mesher_events_spilled", p.id.uuid(), None);
    assert!(spilled >= 80, "{spilled} spilled:\n{text}");
    server.kill9_and_wait();

    cluster.restart().await;
    let log = dir.join("server.log");
    let server = ServerProcess::start_logging(&db, &env, &log).await;
    let (stored, distinct, wrong) = settled(&db, &p, &ids).await;
    assert_eq!(
        distinct as usize,
        ids.len(),
        "every event answered 202 is stored"
    );
    assert_eq!(stored, distinct, "and stored once");
    assert_eq!(wrong, 0, "every issue's times_seen equals its events");
    // The replay finished: the spool says so, with the 5 stored before as already stored.
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if let Some(line) = text.lines().find(|l| l.contains("spool replayed")) {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "no replay line in:\n{text}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(line.contains(r#""lost":0"#), "{line}");
    assert!(server.sigterm_and_wait().success());
    assert!(segments(&dir).is_empty(), "a clean stop leaves no segment");
    let _ = std::fs::remove_dir_all(&dir);
}

//! The durable spool (`writer.spool_dir`): every event answered 202 survives `kill -9`, and
//! replay on start stores each spooled event exactly once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{
    ServerProcess, TestDb, TestProject, create_project, event, mesher_command, post_n,
    spawn_app_with,
};

pub(crate) fn spool_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mesher-spool-{name}-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

/// `mesher serve` with the spool in `dir`, syncing before every answer, and a slow flush so
/// events sit in the buffer.
async fn start(db: &TestDb, dir: &Path) -> ServerProcess {
    let env = spool_env(dir);
    ServerProcess::start(db, &env).await
}

fn spool_env(dir: &Path) -> Vec<(&'static str, &str)> {
    vec![
        ("MESHER__WRITER__SPOOL_DIR", dir.to_str().unwrap()),
        ("MESHER__WRITER__SPOOL_FSYNC", "always"),
        ("MESHER__WRITER__FLUSH_INTERVAL_MS", "700"),
        ("MESHER__NODE__HEARTBEAT_MS", "200"),
    ]
}

async fn post(client: &reqwest::Client, url: &str, key: &str, message: &str) -> Option<uuid::Uuid> {
    let res = client
        .post(format!("{url}/api/v1/events"))
        .header("x-mesher-key", key)
        .body(event(message).to_string())
        .send()
        .await
        .ok()?;
    if res.status() != 202 {
        return None;
    }
    let body: Value = res.json().await.ok()?;
    body["id"].as_str()?.parse().ok()
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

#[derive(diesel::QueryableByName)]
struct Counts {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    d: i64,
}

/// How many times each of `ids` is stored, in total, and how many issues of the project have
/// a `times_seen` different from their stored events.
pub(crate) async fn check(db: &TestDb, p: &TestProject, ids: &[uuid::Uuid]) -> (i64, i64, i64) {
    use diesel_async::RunQueryDsl;
    let mut conn = db.conn().await;
    // One statement, so both counts see the same rows.
    let stored: Counts = diesel::sql_query(
        "SELECT count(*) AS n, count(DISTINCT id) AS d FROM events WHERE id = ANY($1)",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(ids)
    .get_result(&mut conn)
    .await
    .unwrap();
    let wrong: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM issues i WHERE i.project_id = $1 AND i.times_seen <> \
         (SELECT count(*) FROM events e WHERE e.issue_id = i.id)",
    )
    .bind::<diesel::sql_types::Uuid, _>(p.id)
    .get_result(&mut conn)
    .await
    .unwrap();
    (stored.n, stored.d, wrong.n)
}

/// Waits until all of `ids` are stored (or 30 s), then checks them.
pub(crate) async fn settled(db: &TestDb, p: &TestProject, ids: &[uuid::Uuid]) -> (i64, i64, i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = check(db, p, ids).await;
        if c.1 as usize == ids.len() || Instant::now() > deadline {
            return c;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn kill_9_under_load_loses_no_event_answered_202() {
    let db = TestDb::migrated().await;
    let p = create_project(&db, "spool-kill").await;
    let dir = spool_dir("kill");
    let server = start(&db, &dir).await;
    let client = reqwest::Client::new();
    let answered = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sent = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (client, url, key) = (client.clone(), server.url.clone(), p.key.clone());
            let (answered, sent) = (answered.clone(), sent.clone());
            actix_web::rt::spawn(async move {
                for i in 0..60 {
                    let n = sent.fetch_add(1, Ordering::Relaxed);
                    match post(&client, &url, &key, &format!("crash {}", (t + i) % 7)).await {
                        Some(id) => answered.lock().unwrap().push(id),
                        None if n > 100 => return, // the server is gone
                        None => panic!("refused before the kill"),
                    }
                }
            })
        })
        .collect();
    while sent.load(Ordering::Relaxed) < 250 {
        actix_web::rt::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill9_and_wait();
    for t in tasks {
        t.await.unwrap();
    }
    let ids = answered.lock().unwrap().clone();
    assert!(ids.len() >= 200, "{} answered 202", ids.len());
    let before = check(&db, &p, &ids).await;
    assert!(
        (before.1 as usize) < ids.len(),
        "some answered events were still buffered at the kill ({before:?})"
    );
    assert!(!segments(&dir).is_empty());

    // The restarted node replays the spool, and says so of the killed run.
    let log = dir.join("server.log");
    let mut env = spool_env(&dir);
    env.push(("MESHER__LOG__FORMAT", "json"));
    let server = ServerProcess::start_logging(&db, &env, &log).await;
    let (stored, distinct, wrong) = settled(&db, &p, &ids).await;
    assert_eq!(
        distinct as usize,
        ids.len(),
        "every event answered 202 is stored"
    );
    assert_eq!(stored, distinct, "and stored once");
    assert_eq!(wrong, 0, "every issue's times_seen equals its events");

    let deadline = Instant::now() + Duration::from_secs(15);
    let report = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if let Some(line) = text
            .lines()
            .find(|l| l.contains("ended without a clean shutdown"))
        {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "no report of the killed run");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        report.contains("are in its spool") && report.contains("which this node replays"),
        "{report}"
    );
    assert!(server.sigterm_and_wait().success());
    assert_eq!(
        check(&db, &p, &ids).await,
        (stored, distinct, 0),
        "replay finished as checked"
    );
    assert!(segments(&dir).is_empty(), "a clean stop leaves no segment");
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn replay_skips_stored_events_and_ignores_a_torn_tail() {
    let db = TestDb::migrated().await;
    let p = create_project(&db, "spool-replay").await;
    let dir = spool_dir("replay");
    let server = start(&db, &dir).await;
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            post(&client, &server.url, &p.key, &format!("again {}", i % 2))
                .await
                .unwrap(),
        );
    }
    assert_eq!(settled(&db, &p, &ids).await, (6, 6, 0));
    // The current segment still holds the (stored) events: replay it, with a torn record
    // after them, into a node on the same database.
    let copy = spool_dir("replay-copy");
    for seg in segments(&dir) {
        let mut bytes = std::fs::read(&seg).unwrap();
        bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, b'{']);
        std::fs::write(copy.join(seg.file_name().unwrap()), bytes).unwrap();
    }
    assert!(!segments(&copy).is_empty());
    server.kill9_and_wait();

    let log = copy.join("server.log");
    let mut env = spool_env(&copy);
    env.extend([
        ("MESHER__LOG__LEVEL", "info"),
        ("MESHER__LOG__FORMAT", "json"),
    ]);
    let server = ServerProcess::start_logging(&db, &env, &log).await;
    let late = post(&client, &server.url, &p.key, "again 0").await.unwrap();
    ids.push(late);
    assert_eq!(
        settled(&db, &p, &ids).await,
        (7, 7, 0),
        "nothing stored twice"
    );
    assert!(server.sigterm_and_wait().success());
    assert_eq!(check(&db, &p, &ids).await, (7, 7, 0));
    assert!(segments(&copy).is_empty());
    // The six came back from the spool and were found stored, not written again.
    let log = std::fs::read_to_string(&log).unwrap();
    let replayed = log
        .lines()
        .find(|l| l.contains("spool replayed"))
        .unwrap_or_else(|| panic!("no replay line in:\n{log}"));
    assert!(
        replayed.contains(r#""already_stored":6"#) && replayed.contains(r#""replayed":0"#),
        "{replayed}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&copy);
}

/// A node-wide series of `GET /metrics` text (panics when absent).
pub(crate) fn series(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.split(' ').next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse::<f64>().unwrap() as u64)
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

/// The spool's series in `/metrics` follow what it does: 6 events appended in 6 requests
/// (at least one sync each, `spool_fsync = "always"`), outstanding until their batch of 10
/// is stored, bytes equal to the segment files on disk.
#[actix_web::test]
async fn metrics_show_the_spool() {
    let dir = spool_dir("metrics");
    let spool = dir.clone();
    let app = spawn_app_with(
        move |s| {
            s.writer.spool_dir = Some(spool);
            s.writer.spool_fsync = mesher::config::SpoolFsync::Always;
            s.writer.batch_size = 10;
            s.writer.flush_interval_ms = 600_000;
        },
        None,
    )
    .await;
    let p = app.project("spool-metrics").await;
    let scrape = || async { app.get("/metrics").await.text().await.unwrap() };
    let on_disk = || -> u64 {
        segments(&dir)
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .sum()
    };

    post_n(&app, &p.key, 6, "spooled").await;
    let text = scrape().await;
    let cases = [
        ("mesher_spool_appended_events_total", 6),
        ("mesher_spool_events_outstanding", 6),
        ("mesher_spool_segments", 1),
        ("mesher_spool_bytes", on_disk()),
        ("mesher_spool_refused_events_total", 0),
        ("mesher_spool_evicted_events_total", 0),
    ];
    for (name, value) in cases {
        assert_eq!(series(&text, name), value, "{name}");
    }
    let fsyncs = series(&text, "mesher_spool_fsyncs_total");
    assert!((6..=8).contains(&fsyncs), "{fsyncs} syncs");

    // Four more: a batch of 10, stored and released.
    post_n(&app, &p.key, 4, "spooled").await;
    app.assert_accounted(p.id).await;
    let text = scrape().await;
    assert_eq!(series(&text, "mesher_spool_appended_events_total"), 10);
    assert_eq!(series(&text, "mesher_spool_events_outstanding"), 0);
    assert_eq!(series(&text, "mesher_spool_bytes"), on_disk());
    assert!(series(&text, "mesher_spool_fsyncs_total") >= fsyncs + 4);
}

/// A second `mesher serve` on a spool directory in use refuses to start, saying why and
/// who holds it; once the first has stopped, the directory is free again.
#[actix_web::test]
async fn a_spool_directory_serves_one_process() {
    let db = TestDb::migrated().await;
    let dir = spool_dir("lock");
    let first = start(&db, &dir).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let second = actix_web::rt::task::spawn_blocking({
        let mut cmd = mesher_command(&db);
        cmd.env("MESHER__HTTP__BIND", format!("127.0.0.1:{port}"))
            .envs(spool_env(&dir))
            .arg("serve");
        move || cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert!(!second.status.success(), "{:?}", second.status);
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("is in use by another process (pid ") && err.contains("writer.spool_dir"),
        "{err}"
    );
    assert!(first.sigterm_and_wait().success());
    let again = start(&db, &dir).await;
    assert!(again.sigterm_and_wait().success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// At `spool_max_bytes` the oldest segments are deleted instead of refusing events: every
/// request is 202, the spool stays within the cap plus a segment, the events of the deleted
/// segments are counted evicted (exactly: appended = outstanding + evicted), and they are
/// still stored — nothing accepted is dropped for the cap.
#[actix_web::test]
async fn at_the_cap_the_oldest_segments_go_and_every_event_is_still_stored() {
    let dir = spool_dir("cap");
    let spool = dir.clone();
    let app = spawn_app_with(
        move |s| {
            s.writer.spool_dir = Some(spool);
            s.writer.spool_max_bytes = 8192;
            s.writer.spool_segment_bytes = 4096;
            s.writer.batch_size = 40;
            s.writer.buffer_capacity = 100;
            s.writer.flush_interval_ms = 600_000;
        },
        None,
    )
    .await;
    let p = app.project("spool-cap").await;
    let mut ids = post_n(&app, &p.key, 39, "capped").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    let evicted = series(&text, "mesher_spool_evicted_events_total");
    assert!(evicted > 0, "{text}");
    assert_eq!(
        evicted + series(&text, "mesher_spool_events_outstanding"),
        39,
        "{text}"
    );
    assert_eq!(series(&text, "mesher_spool_appended_events_total"), 39);
    assert!(
        series(&text, "mesher_spool_bytes") <= 8192 + 4096 + 1024,
        "{text}"
    );
    assert_eq!(series(&text, "mesher_spool_refused_events_total"), 0);

    // The 40th fills a batch: all 40 are stored, none dropped.
    ids.extend(post_n(&app, &p.key, 1, "last").await);
    let s = app.assert_accounted(p.id).await;
    assert_eq!((s.accepted, s.stored, s.dropped()), (40, 40, 0), "{s:?}");
    let text = app.get("/metrics").await.text().await.unwrap();
    assert_eq!(series(&text, "mesher_spool_events_outstanding"), 0);
    // (The 40th may have made room too.)
    assert!(series(&text, "mesher_spool_evicted_events_total") >= evicted);
    assert_eq!(series(&text, "mesher_spool_appended_events_total"), 40);
    assert_eq!(check(&app.db, &p, &ids).await, (40, 40, 0));
    let _ = std::fs::remove_dir_all(&dir);
}

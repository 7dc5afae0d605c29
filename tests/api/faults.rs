//! Fault tests (issue 10, item 5): the database stopped, starved or locked, and the process
//! stopped or killed under load (docs/architecture.md, "In the writer" and "Shutdown").
//! Small loads, exact assertions: every event answered 2xx is stored or counted as dropped,
//! and the server recovers by itself.
//!
//! The tests that stop the database run against a private server ([`PrivateCluster`]); the
//! others use a database of the shared server like the rest of the suite.

use std::collections::{HashMap, HashSet};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use futures_util::future::join_all;
use mesher::db::schema::{events, issues};
use mesher::domain::ProjectId;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    PrivateCluster, ServerProcess, TestApp, TestDb, create_project, event, lock_todays_partition,
    member, mesher_command, release, spawn_app_on, spawn_app_with, wait_for_blocked_flush,
};

/// Posts one native batch of `n` events (each must be accepted); returns their ids.
async fn post_batch(app: &TestApp, key: &str, n: usize, prefix: &str) -> Vec<Uuid> {
    let batch: Vec<Value> = (0..n).map(|i| event(&format!("{prefix} {i}"))).collect();
    let res = app.post_events(key, &json!(batch)).await;
    assert_eq!(res.status(), 202, "{prefix}");
    accepted_ids(&res.json().await.unwrap())
}

/// The ids of a 202 body of the native batch route (nothing rejected).
fn accepted_ids(body: &Value) -> Vec<Uuid> {
    assert_eq!(body["rejected"], json!([]), "{body}");
    body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().parse().unwrap())
        .collect()
}

/// Ids of the events stored in `db` (all projects).
async fn stored_ids(db: &TestDb) -> Vec<Uuid> {
    let mut conn = db.conn().await;
    events::table
        .select(events::id)
        .load(&mut conn)
        .await
        .unwrap()
}

/// Polls `/health/ready` until it answers `status` (panics after `secs`).
async fn wait_ready_status(app: &TestApp, status: u16, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = app.get("/health/ready").await.status().as_u16();
        if got == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/health/ready still {got}, not {status}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

/// PostgreSQL goes away with a batch in flight and more buffered, and stays away longer
/// than the writer retries: every one of those events is dropped and counted as
/// `flush_failed` (no other reason), readiness is 503 meanwhile, and once the server is back
/// the same process is ready again and stores new events.
///
/// The events are all accepted before the stop (held back by a lock on the partition), so
/// the test needs no key lookup while the database is down (a key whose cache entry expired
/// cannot be checked then; serving stale keys is another change).
#[actix_web::test]
async fn an_outage_longer_than_the_retries_drops_exactly_what_was_pending_then_recovers() {
    let cluster = PrivateCluster::start().await;
    let app = spawn_app_on(&cluster, |s| {
        s.writer.batch_size = 10;
        s.writer.buffer_capacity = 100;
        s.writer.max_retries = 2;
        s.writer.retry_base_ms = 50;
        s.writer.retry_max_ms = 100;
        // Each attempt waits this long for a connection: 3 attempts ≈ 2–3 s per batch.
        s.database.connect_timeout_secs = 1;
    })
    .await;
    let p = app.project("outage").await;

    let lock = lock_todays_partition(&app.db).await;
    let pending = post_batch(&app, &p.key, 30, "pending").await;
    wait_for_blocked_flush(&app.db).await;
    let s = app.registry.snapshot(p.id);
    assert_eq!((s.accepted, s.buffered, s.stored), (30, 30, 0), "{s:?}");

    // A fast shutdown ends every session: the blocked flush and the lock alike.
    cluster.stop().await;
    drop(lock);
    assert_eq!(app.get("/health/ready").await.status(), 503);
    assert_eq!(app.get("/health/live").await.status(), 200);

    // Three batches of 10, each given up after its retries; the database stays down.
    let s = app.settle(p.id, 30).await;
    assert_eq!(s.buffered, 0, "still pending after 30 s: {s:?}");
    assert_eq!(
        (
            s.accepted,
            s.stored,
            s.dropped_flush_failed,
            s.dropped_buffer_full,
            s.dropped_invalid,
            s.dropped_project_deleted
        ),
        (30, 0, pending.len() as u64, 0, 0, 0),
        "{s:?}"
    );
    assert_eq!(app.get("/health/ready").await.status(), 503, "still down");

    // Back up: the same process recovers, no restart.
    cluster.restart().await;
    wait_ready_status(&app, 200, 15).await;
    let after = post_batch(&app, &p.key, 5, "after").await;
    let s = app.assert_accounted(p.id).await;
    assert_eq!(
        (s.accepted, s.stored, s.dropped_flush_failed),
        (35, 5, 30),
        "{s:?}"
    );
    let stored: HashSet<Uuid> = stored_ids(&app.db).await.into_iter().collect();
    assert_eq!(stored, after.into_iter().collect::<HashSet<_>>());
}

/// A pool of 2 connections, 20 API readers listing events as fast as they can, and
/// ingestion at the same time (with a short key cache, so the key's lookups compete for the
/// pool too): every ingestion request is 2xx, every reader request 200, everything stored.
#[actix_web::test]
async fn a_pool_of_two_serves_twenty_readers_and_ingestion_together() {
    let app = spawn_app_with(
        |s| {
            s.database.pool_size = 2;
            s.writer.batch_size = 20;
            s.writer.flush_interval_ms = 50;
            s.auth.key_cache_ttl_ms = 200;
        },
        None,
    )
    .await;
    let p = app.project("pool").await;
    let user = member(&app, "reader@example.com").await;
    let list = "/api/v1/orgs/test-org/projects/pool/events?limit=50";
    // The key is known before the readers start (its first lookup is not in the contest).
    let warm_up = post_batch(&app, &p.key, 5, "warm-up").await;
    let done = std::cell::Cell::new(false);

    let (app, user, done) = (&app, &user, &done);
    let readers = join_all((0..20).map(|_| async move {
        let (mut ok, mut other) = (0u32, Vec::new());
        while !done.get() {
            let (status, _) = app.get_as(user, list).await;
            if status == 200 {
                ok += 1;
            } else {
                other.push(status);
            }
        }
        (ok, other)
    }));
    let ingestion = async {
        // Let the readers get going first.
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        let posters = join_all((0..4).map(|w| {
            let key = &p.key;
            async move {
                let mut ids = Vec::new();
                for round in 0..15 {
                    ids.extend(post_batch(app, key, 5, &format!("w{w} r{round}")).await);
                    actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                }
                ids
            }
        }))
        .await;
        done.set(true);
        [warm_up, posters.concat()].concat()
    };
    let (reads, ids) = futures_util::future::join(readers, ingestion).await;

    let failed: Vec<u16> = reads.iter().flat_map(|(_, other)| other.clone()).collect();
    let served: u32 = reads.iter().map(|(ok, _)| ok).sum();
    assert!(failed.is_empty(), "readers got {failed:?}");
    assert!(served >= 20, "{served} reads");
    assert_eq!(ids.len(), 305);
    let s = app.assert_accounted(p.id).await;
    assert_eq!((s.accepted, s.stored), (305, 305), "{s:?}");
    let stored: HashSet<Uuid> = stored_ids(&app.db).await.into_iter().collect();
    assert!(ids.iter().all(|id| stored.contains(id)));
}

/// Today's partition locked for 12 s while events keep coming: the buffer never holds
/// more than its capacity (plus the one batch in flight), the oldest events make room and
/// are counted as `buffer_full`, and after the release everything left drains: the batch
/// that was in flight (the oldest events) and the newest `buffer_capacity` events.
#[actix_web::test]
async fn a_locked_partition_keeps_memory_bounded_and_drains_after_release() {
    const CAPACITY: u64 = 100;
    const BATCH: u64 = 20;
    let app = spawn_app_with(
        |s| {
            s.writer.buffer_capacity = CAPACITY as usize;
            s.writer.batch_size = BATCH as usize;
        },
        None,
    )
    .await;
    let p = app.project("locked").await;

    let lock = lock_todays_partition(&app.db).await;
    let held_for = Duration::from_secs(12);
    let started = Instant::now();
    let mut ids = Vec::new();
    let mut peak = 0;
    let mut round = 0;
    while started.elapsed() < held_for {
        ids.extend(post_batch(&app, &p.key, 10, &format!("locked {round}")).await);
        round += 1;
        let s = app.registry.snapshot(p.id);
        peak = peak.max(s.buffered);
        assert!(s.buffered <= CAPACITY + BATCH, "unbounded: {s:?}");
        assert_eq!(s.stored, 0, "nothing gets past the lock: {s:?}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ids.len() as u64 > 2 * CAPACITY, "{} events", ids.len());
    assert!(peak > CAPACITY, "the buffer filled up: peak {peak}");

    let released = Instant::now();
    release(lock).await;
    let s = app.assert_accounted(p.id).await;
    assert!(
        released.elapsed() < Duration::from_secs(10),
        "drained in {:?}",
        released.elapsed()
    );
    let accepted = ids.len() as u64;
    assert_eq!(s.accepted, accepted);
    assert_eq!((s.dropped_flush_failed, s.dropped_invalid), (0, 0), "{s:?}");
    assert_eq!(s.stored + s.dropped_buffer_full, accepted, "{s:?}");
    assert!(s.dropped_buffer_full > 0, "{s:?}");

    // What is stored: the batch that was in flight when the lock came (the oldest events,
    // 1 to BATCH of them) and the last CAPACITY accepted.
    let stored: HashSet<Uuid> = stored_ids(&app.db).await.into_iter().collect();
    let in_flight = s.stored - CAPACITY;
    assert!((1..=BATCH).contains(&in_flight), "{s:?}");
    let expected: HashSet<Uuid> = ids[..in_flight as usize]
        .iter()
        .chain(&ids[ids.len() - CAPACITY as usize..])
        .copied()
        .collect();
    assert_eq!(stored, expected);
}

/// A client for the real binary: requests that cannot hang a test.
fn process_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Posts batches of 10 events to `url` until a request fails to get an answer (the server
/// went away) or `stop` is set; returns the ids answered 202. Any answer but 202 fails the
/// test.
async fn post_until_gone(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    tag: usize,
    stop: &std::cell::Cell<bool>,
) -> Vec<Uuid> {
    let mut ids = Vec::new();
    let mut round = 0;
    while !stop.get() {
        let batch: Vec<Value> = (0..10)
            .map(|i| event(&format!("load {tag} {round} {i}")))
            .collect();
        let sent = client
            .post(format!("{url}/api/v1/events"))
            .header("x-mesher-key", key)
            .header("content-type", "application/json")
            .body(json!(batch).to_string())
            .send()
            .await;
        let Ok(res) = sent else { break };
        let status = res.status().as_u16();
        // An answer cut short by the exit is no answer.
        let Ok(body) = res.json::<Value>().await else {
            break;
        };
        assert_eq!(status, 202, "{body}");
        ids.extend(accepted_ids(&body));
        round += 1;
    }
    ids
}

/// SIGTERM to a real `mesher serve` while 6 clients keep posting: every event answered
/// 202 is stored, and nothing else is, and the process exits 0.
#[actix_web::test]
async fn sigterm_under_load_stores_every_accepted_event() {
    let db = TestDb::migrated().await;
    let p = create_project(&db, "sigterm").await;
    let server = ServerProcess::start(
        &db,
        &[
            // Partial batches wait for the shutdown: only full batches flush before it.
            ("MESHER__WRITER__FLUSH_INTERVAL_MS", "600000"),
            ("MESHER__WRITER__BATCH_SIZE", "50"),
        ],
    )
    .await;
    let url = server.url.clone();
    let client = process_client();
    let stop = std::cell::Cell::new(false);

    let load = join_all((0..6).map(|tag| post_until_gone(&client, &url, &p.key, tag, &stop)));
    let terminate = async {
        // Under load for a moment, then SIGTERM (waited for on a blocking thread, so the
        // clients keep posting meanwhile).
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        let status = actix_web::rt::task::spawn_blocking(move || server.sigterm_and_wait())
            .await
            .unwrap();
        stop.set(true);
        status
    };
    let (ids, status) = futures_util::future::join(load, terminate).await;
    assert!(status.success(), "{status}");

    let accepted: HashSet<Uuid> = ids.into_iter().flatten().collect();
    assert!(accepted.len() >= 100, "only {} accepted", accepted.len());
    let stored: HashSet<Uuid> = stored_ids(&db).await.into_iter().collect();
    let lost = accepted.difference(&stored).count();
    assert_eq!(lost, 0, "{lost} of {} accepted events lost", accepted.len());
    assert_eq!(stored, accepted, "stored events nobody was told about");
}

/// A `mesher serve` this test may kill (SIGKILL); killed when dropped.
struct Killable {
    child: Child,
    url: String,
}

impl Killable {
    /// Starts `mesher serve` on `db` with extra environment; waits until it is ready.
    async fn start(db: &TestDb, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = mesher_command(db)
            .env("MESHER__HTTP__BIND", format!("127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mesher serve starts");
        let node = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = process_client();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let probe = client
                .get(format!("{}/health/ready", node.url))
                .send()
                .await;
            if probe.is_ok_and(|res| res.status() == 200) {
                return node;
            }
            assert!(
                Instant::now() < deadline,
                "mesher serve did not become ready"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, and wait for the process to be gone.
    fn kill9(mut self) -> ExitStatus {
        self.child.kill().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Killable {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One of a project's series in `GET /metrics` text (0 when absent).
fn metric(text: &str, name: &str, project: ProjectId) -> u64 {
    let label = format!("project_id=\"{project}\"");
    text.lines()
        .find(|l| l.starts_with(name) && l.contains(&label))
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |v| v.parse::<f64>().unwrap() as u64)
}

/// SIGKILL with no spool: what was buffered at that moment is lost, nothing else; the
/// restarted node says so in its log, with that number, once (two nodes restart on the same
/// database, one of them says it); and the same database serves the new processes at once.
/// The load is stopped and the writer quiet (only a partial batch left, which waits for a
/// timer that will not fire) and a heartbeat has recorded it before the kill, so what was
/// buffered is known exactly, from `/metrics` and from the run's row.
#[actix_web::test]
async fn sigkill_without_spool_loses_what_was_buffered_and_the_next_node_says_so() {
    let db = TestDb::migrated().await;
    let p = create_project(&db, "sigkill").await;
    let env = [
        ("MESHER__WRITER__FLUSH_INTERVAL_MS", "600000"),
        ("MESHER__WRITER__BATCH_SIZE", "40"),
        ("MESHER__NODE__HEARTBEAT_MS", "200"),
        ("MESHER__LOG__FORMAT", "json"),
    ];
    let node = Killable::start(&db, &env).await;
    let client = process_client();
    let stop = std::cell::Cell::new(false);
    let load = join_all((0..4).map(|tag| post_until_gone(&client, &node.url, &p.key, tag, &stop)));
    let stopper = async {
        actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
        stop.set(true);
    };
    let (ids, ()) = futures_util::future::join(load, stopper).await;
    // Load in batches of 10 and flushes in batches of 40: make sure a partial batch is left.
    let mut accepted: Vec<Uuid> = ids.concat();
    if accepted.len().is_multiple_of(40) {
        let res = client
            .post(format!("{}/api/v1/events", node.url))
            .header("x-mesher-key", &p.key)
            .header("content-type", "application/json")
            .body(event("one more").to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        let body: Value = res.json().await.unwrap();
        accepted.push(body["id"].as_str().unwrap().parse().unwrap());
    }

    // Wait until only the partial batch is left (the full ones are stored).
    let deadline = Instant::now() + Duration::from_secs(15);
    let (buffered, text) = loop {
        let text = client
            .get(format!("{}/metrics", node.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let buffered = metric(&text, "mesher_events_buffered", p.id);
        if buffered < 40 {
            break (buffered, text);
        }
        assert!(Instant::now() < deadline, "full batches still pending");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        metric(&text, "mesher_events_accepted_total", p.id),
        accepted.len() as u64,
        "the server counted what the clients were told"
    );
    assert!(buffered > 0, "a partial batch is buffered");
    // A heartbeat since then has recorded it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while runs(&db).await != [(accepted.len() as i64, buffered as i64, false, false)] {
        assert!(
            Instant::now() < deadline,
            "no heartbeat: {:?}",
            runs(&db).await
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }

    let status = node.kill9();
    assert!(!status.success(), "{status}");

    let accepted: HashSet<Uuid> = accepted.into_iter().collect();
    let stored: HashSet<Uuid> = stored_ids(&db).await.into_iter().collect();
    assert!(stored.is_subset(&accepted), "stored events nobody sent");
    let lost = (accepted.len() - stored.len()) as u64;
    assert_eq!(lost, buffered, "lost exactly what was buffered");

    // Two new processes on the same database: ready, ingesting, storing; one of them
    // reports the killed run, once.
    let dir = std::env::temp_dir().join(format!("mesher-sigkill-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let logs = [dir.join("a.log"), dir.join("b.log")];
    let a = ServerProcess::start_logging(&db, &env[2..], &logs[0]).await;
    let b = ServerProcess::start_logging(&db, &env[2..], &logs[1]).await;
    let reports = || -> Vec<String> {
        logs.iter()
            .flat_map(|log| {
                std::fs::read_to_string(log)
                    .unwrap_or_default()
                    .lines()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .filter(|l| l.contains("ended without a clean shutdown"))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while reports().is_empty() {
        assert!(Instant::now() < deadline, "no report of the killed run");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    // Several more beats of both nodes: still said once.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let reports = reports();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let line: Value = serde_json::from_str(&reports[0]).unwrap();
    assert_eq!(line["level"], "WARN", "{line}");
    let fields = &line["fields"];
    assert_eq!(fields["buffered"], json!(buffered), "{line}");
    assert_eq!(fields["accepted"], json!(accepted.len()), "{line}");
    let message = fields["message"].as_str().unwrap();
    assert!(
        message.contains(&format!(
            "{buffered} accepted events were still buffered at its last heartbeat and are lost"
        )) && message.contains("enable writer.spool_dir"),
        "{message}"
    );

    let res = client
        .post(format!("{}/api/v1/events", a.url))
        .header("x-mesher-key", &p.key)
        .header("content-type", "application/json")
        .body(event("after the crash").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    let id: Uuid = body["id"].as_str().unwrap().parse().unwrap();
    let stopped =
        actix_web::rt::task::spawn_blocking(move || [a.sigterm_and_wait(), b.sigterm_and_wait()])
            .await
            .unwrap();
    assert!(stopped.iter().all(|s| s.success()), "{stopped:?}");
    let after: HashSet<Uuid> = stored_ids(&db).await.into_iter().collect();
    assert_eq!(after.len(), stored.len() + 1);
    assert!(after.contains(&id));
    // The killed run is reported; the two others stopped cleanly, with their totals.
    let mut rows = runs(&db).await;
    rows.sort();
    assert_eq!(
        rows,
        [
            (0, 0, true, false),
            (1, 0, true, false),
            (accepted.len() as i64, buffered as i64, false, true)
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every run of `db`'s nodes: (accepted, buffered, stopped cleanly, reported), oldest first.
async fn runs(db: &TestDb) -> Vec<(i64, i64, bool, bool)> {
    use mesher::db::schema::node_runs as r;
    let mut conn = db.conn().await;
    r::table
        .order(r::started_at)
        .select((
            r::accepted,
            r::buffered,
            r::stopped_at.is_not_null(),
            r::reported_at.is_not_null(),
        ))
        .load(&mut conn)
        .await
        .unwrap()
}

/// Posts one request of two events of every one of `GROUPS` issues, in ascending or
/// descending group order; returns how many were accepted.
async fn post_groups(app: &TestApp, key: &str, descending: bool, round: usize) -> usize {
    let mut batch = Vec::new();
    for g in 0..GROUPS {
        let g = if descending { GROUPS - 1 - g } else { g };
        for i in 0..2 {
            let mut e = event(&format!("shared {round} {g} {i}"));
            e["fingerprint"] = json!([format!("group-{g}")]);
            batch.push(e);
        }
    }
    let res = app.post_events(key, &json!(batch)).await;
    assert_eq!(res.status(), 202);
    accepted_ids(&res.json().await.unwrap()).len()
}

/// Issues of the two-node test.
const GROUPS: usize = 12;

/// Two servers on one database share one project's load, the same 12 issues from both
/// sides in opposite orders, flushing often: no deadlock (PostgreSQL's own count), nothing
/// dropped, every event stored, and every issue's `times_seen` equals its number of events.
/// (With the upsert's `ORDER BY u.hash` replaced by `ORDER BY random()`, this test sees
/// deadlocks: it failed in each run tried.)
#[actix_web::test]
async fn two_nodes_share_a_project_without_deadlock_and_count_exactly() {
    let cluster = PrivateCluster::start().await;
    let configure = |s: &mut mesher::config::Settings| {
        s.writer.batch_size = 30;
        s.writer.flush_interval_ms = 20;
    };
    let a = spawn_app_on(&cluster, configure).await;
    let b = spawn_app_on(&cluster, configure).await;
    let p = a.project("shared").await;
    // Every issue update holds its row lock a few milliseconds longer, so the two nodes'
    // upserts overlap: rows locked in different orders would deadlock here.
    let mut conn = a.db.conn().await;
    conn.batch_execute(
        "CREATE FUNCTION slow_update() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_sleep(0.003); RETURN NEW; END $$;
         CREATE TRIGGER slow_update BEFORE UPDATE ON issues
         FOR EACH ROW EXECUTE FUNCTION slow_update();",
    )
    .await
    .unwrap();

    let mut load = Vec::new();
    for round in 0..25 {
        load.push(post_groups(&a, &p.key, false, round));
        load.push(post_groups(&b, &p.key, true, round));
    }
    let sent: usize = join_all(load).await.into_iter().sum();
    assert_eq!(sent, 25 * 2 * 2 * GROUPS);

    let (sa, sb) = (
        a.assert_settled_and_counted(p.id).await,
        b.assert_settled_and_counted(p.id).await,
    );
    for s in [&sa, &sb] {
        assert_eq!(
            (s.accepted, s.stored),
            ((sent / 2) as u64, (sent / 2) as u64),
            "{s:?}"
        );
    }
    assert_eq!(a.stored_count(p.id).await, sent as i64);

    let seen: Vec<(Uuid, i64)> = issues::table
        .filter(issues::project_id.eq(p.id))
        .select((issues::id, issues::times_seen))
        .load(&mut conn)
        .await
        .unwrap();
    let of_issue: Vec<Uuid> = events::table
        .filter(events::project_id.eq(p.id))
        .select(events::issue_id)
        .load(&mut conn)
        .await
        .unwrap();
    let mut counted: HashMap<Uuid, i64> = HashMap::new();
    for issue in of_issue {
        *counted.entry(issue).or_default() += 1;
    }
    assert_eq!(seen.len(), GROUPS);
    for (issue, times_seen) in &seen {
        assert_eq!(Some(times_seen), counted.get(issue), "issue {issue}");
        assert_eq!(*times_seen, (sent / GROUPS) as i64);
    }

    // The servers' sessions publish their statistics when they end: end them, then read
    // PostgreSQL's deadlock count for the database.
    conn.batch_execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'mesher'",
    )
    .await
    .unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let deadlocks: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(deadlocks, 0);
}

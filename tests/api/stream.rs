//! The live stream (`GET …/projects/{project}/stream`) and the batch facts behind it:
//! committed events and their issues reach a member's stream on this node and on another node
//! of the same database (through LISTEN/NOTIFY), an outsider gets 404, a client that stops
//! reading is cut off while ingestion carries on, and the listener outlives a database
//! restart.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use mesher::db::schema::events;
use mesher::domain::{IssueStatus, ProjectId};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::helpers::fixtures::TEST_ORG;
use crate::helpers::{
    PrivateCluster, SseMessage, SseStream, TestApp, TestProject, check_cases, event, member, named,
    seed_with_facts, spawn_app, spawn_app_on, spawn_app_with,
};

/// Sends one event through Sentry's store endpoint, as an SDK would.
async fn sentry_store(app: &TestApp, p: &TestProject, message: &str) {
    let auth = format!("Sentry sentry_key={}, sentry_version=7", p.key);
    let res = app
        .post_raw(
            &format!("/api/{}/store/", p.number),
            json!({ "message": message, "level": "warning" }).to_string(),
            &[
                ("x-sentry-auth", &auth),
                ("content-type", "application/json"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
}

/// `(id, issue_id)` of every stored event of the project.
async fn stored_rows(app: &TestApp, project: ProjectId) -> HashSet<(Uuid, Uuid)> {
    let mut conn = app.db.conn().await;
    events::table
        .filter(events::project_id.eq(project))
        .select((events::id, events::issue_id))
        .load::<(Uuid, Uuid)>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// `(id, issue_id)` of the `event` messages.
fn streamed_rows(messages: &[SseMessage]) -> HashSet<(Uuid, Uuid)> {
    named(messages, "event")
        .into_iter()
        .map(|e| {
            let id = |k: &str| e[k].as_str().unwrap().parse::<Uuid>().unwrap();
            (id("id"), id("issue_id"))
        })
        .collect()
}

/// A counter's value in `/metrics` (the first line starting with `series`).
async fn metric(app: &TestApp, series: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[actix_web::test]
async fn a_member_sees_stored_events_and_their_issues_as_the_api_shows_them() {
    let app = spawn_app().await;
    let p = app.project("live").await;
    let user = member(&app, "live@example.com").await;
    let mut stream = app.stream(&user, TEST_ORG, "live").await;

    let sent = ["disk full", "timeout", "disk full", "disk full", "timeout"];
    for message in sent {
        sentry_store(&app, &p, message).await;
    }
    let mut first_seen_stored = None;
    let mut messages = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while named(&messages, "event").len() < sent.len() {
        let m = stream.next_before(deadline).await.expect("more messages");
        if m.event == "event" && first_seen_stored.is_none() {
            // Streamed after its commit: the row is there the moment the message is.
            let id: Uuid = m.data["id"].as_str().unwrap().parse().unwrap();
            first_seen_stored = Some(stored_rows(&app, p.id).await.iter().any(|r| r.0 == id));
        }
        messages.push(m);
    }
    assert_eq!(first_seen_stored, Some(true));
    assert_eq!(stream.retry, Some(3000));
    app.assert_accounted(p.id).await;

    // Exactly the stored events, each with its issue and the documented fields.
    assert_eq!(streamed_rows(&messages), stored_rows(&app, p.id).await);
    let mut texts: Vec<&str> = named(&messages, "event")
        .iter()
        .map(|e| {
            let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(|k| k.as_str()).collect();
            keys.sort();
            assert_eq!(keys, ["id", "issue_id", "level", "message", "received_at"]);
            assert_eq!(e["level"], "warning");
            e["message"].as_str().unwrap()
        })
        .collect();
    texts.sort();
    assert_eq!(
        texts,
        ["disk full", "disk full", "disk full", "timeout", "timeout"]
    );

    // Every event's issue came first, and each issue's last message is the issue as
    // GET …/issues/{id} answers it now.
    let mut last: HashMap<String, Value> = HashMap::new();
    for m in &messages {
        let issue_id = m.data["issue_id"].as_str().unwrap_or_default();
        match m.event.as_str() {
            "issue" => {
                last.insert(m.data["id"].as_str().unwrap().to_owned(), m.data.clone());
            }
            "event" => assert!(last.contains_key(issue_id), "{issue_id} before its issue"),
            other => panic!("unexpected message {other}"),
        }
    }
    assert_eq!(last.len(), 2);
    for (id, streamed) in &last {
        let (status, body) = app
            .get_as(
                &user,
                &format!("/api/v1/orgs/{TEST_ORG}/projects/live/issues/{id}"),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(streamed, &body);
    }
}

#[actix_web::test]
async fn only_members_may_open_a_stream() {
    let app = spawn_app().await;
    app.project("live").await;
    let member = member(&app, "member@example.com").await;
    let outsider = app.user("outsider@example.com").await;
    let path = format!("/api/v1/orgs/{TEST_ORG}/projects/live/stream");
    let unknown = format!("/api/v1/orgs/{TEST_ORG}/projects/nope/stream");
    check_cases(
        &app,
        &[
            (&outsider, Method::GET, &path, None, 404, "not_found"),
            (&member, Method::GET, &unknown, None, 404, "not_found"),
        ],
    )
    .await;
    let anonymous = app.get(&path).await;
    assert_eq!(anonymous.status(), 401);

    // Documented as an event stream.
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let route = &doc["paths"]["/api/v1/orgs/{org}/projects/{project}/stream"]["get"];
    assert!(
        route["responses"]["200"]["content"]["text/event-stream"].is_object(),
        "{route}"
    );
}

/// Two servers on one database: an event ingested through A reaches a stream opened on B,
/// which ingested nothing itself (the facts travel as NOTIFY).
#[actix_web::test]
async fn an_event_ingested_on_one_node_reaches_a_stream_on_another() {
    let cluster = PrivateCluster::start().await;
    let a = spawn_app_on(&cluster, |_| {}).await;
    let b = spawn_app_on(&cluster, |_| {}).await;
    let p = a.project("shared").await;
    let user = member(&a, "two@example.com").await;
    let mut on_b = b.stream(&user, TEST_ORG, "shared").await;

    for i in 0..3 {
        sentry_store(&a, &p, &format!("from node a {i}")).await;
    }
    let messages = on_b
        .collect_until(15, |m| named(m, "event").len() >= 3)
        .await;
    a.assert_accounted(p.id).await;
    assert_eq!(b.registry.snapshot(p.id).accepted, 0);
    assert_eq!(streamed_rows(&messages), stored_rows(&a, p.id).await);
    assert_eq!(streamed_rows(&messages).len(), 3);
}

/// A client that stops reading is disconnected (and counted) once its buffer is full; the
/// node stays ready, stores every event, and a client that reads gets all of them.
#[actix_web::test]
async fn a_client_that_stops_reading_is_cut_off_and_nothing_else_suffers() {
    let app = spawn_app_with(|s| s.stream.client_buffer = 8, None).await;
    let p = app.project("busy").await;
    let user = member(&app, "slow@example.com").await;
    let path = format!("/api/v1/orgs/{TEST_ORG}/projects/busy/stream");

    // The slow client: a socket with a small receive buffer that reads the head, then stops.
    let addr: std::net::SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut slow = socket.connect(addr).await.unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\r\n",
        user.token
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let mut first = [0u8; 256];
    let n = slow.read(&mut first).await.unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &first[..n]);

    // The reading client, on a thread and runtime of its own (so the test's posting does not
    // starve it).
    const BATCHES: usize = 6;
    const PER_BATCH: usize = 1000;
    let (url, token) = (format!("{}{path}", app.address), user.token.clone());
    let (opened_tx, opened) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let res = reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let mut fast = SseStream::new(res);
            opened_tx.send(()).unwrap();
            fast.collect_until(60, |m| named(m, "event").len() >= BATCHES * PER_BATCH)
                .await
        })
    });
    actix_web::rt::task::spawn_blocking(move || opened.recv().unwrap())
        .await
        .unwrap();

    let long = "x".repeat(300);
    for b in 0..BATCHES {
        let batch: Vec<Value> = (0..PER_BATCH)
            .map(|i| {
                let mut e = event(&format!("{b} {i} {long}"));
                e["fingerprint"] = json!([format!("group-{}", i % 10)]);
                e
            })
            .collect();
        let res = app.post_events(&p.key, &json!(batch)).await;
        assert_eq!(res.status(), 202);
    }

    let series = "mesher_stream_clients_dropped_total{reason=\"slow\"}";
    let deadline = Instant::now() + Duration::from_secs(30);
    while metric(&app, series).await == 0 {
        assert!(
            Instant::now() < deadline,
            "the slow client was never cut off"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    // Its connection is cut off: what the kernel held, then end of stream (or a reset) —
    // not the rest of its buffer and a finished response (the last chunk), and sooner than
    // an idle keep-alive connection would be closed (5 s).
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(4), slow.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "the slow client's connection stayed open");
    assert!(
        !rest.ends_with(b"\r\n0\r\n\r\n"),
        "the response was finished, not cut off"
    );

    assert_eq!(app.get("/health/ready").await.status(), 200);
    let s = app.assert_accounted(p.id).await;
    assert_eq!(s.stored as usize, BATCHES * PER_BATCH, "{s:?}");
    let got = actix_web::rt::task::spawn_blocking(move || reader.join().unwrap())
        .await
        .unwrap();
    assert_eq!(streamed_rows(&got), stored_rows(&app, p.id).await);
    // Only the slow client was cut off.
    assert_eq!(metric(&app, series).await, 1);
}

/// The database restarts under an open stream: the stream stays open, the listener
/// reconnects, and events stored afterwards are streamed again.
#[actix_web::test]
async fn the_stream_resumes_after_a_database_restart() {
    let cluster = PrivateCluster::start().await;
    let app = spawn_app_on(&cluster, |_| {}).await;
    let p = app.project("restart").await;
    let user = member(&app, "restart@example.com").await;
    let mut stream = app.stream(&user, TEST_ORG, "restart").await;

    sentry_store(&app, &p, "before").await;
    let before = stream
        .collect_until(15, |m| !named(m, "event").is_empty())
        .await;
    assert_eq!(named(&before, "event")[0]["message"], "before");

    cluster.stop().await;
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    cluster.restart().await;

    // Notices sent before the listener is back are not replayed: send until one arrives.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut after = None;
    for i in 0.. {
        assert!(
            Instant::now() < deadline,
            "nothing streamed after the restart"
        );
        sentry_store(&app, &p, &format!("after {i}")).await;
        let wait = Instant::now() + Duration::from_secs(2);
        if let Some(m) = stream.next_before(wait).await {
            after = Some(m);
            break;
        }
    }
    let m = after.unwrap();
    assert!(m.event == "issue" || m.event == "event", "{m:?}");
    assert!(metric(&app, "mesher_stream_listener_reconnects_total").await >= 1);
    app.assert_accounted(p.id).await;
}

/// What `write_batch` reports of a committed batch: created, regressed (resolved →
/// unresolved), the issue's new state, and the events it got.
#[actix_web::test]
async fn committed_batches_report_created_and_regressed_issues_with_their_events() {
    let app = spawn_app().await;
    let p = app.project("facts").await;
    let t = Utc::now();
    let ev = |fp: &str, level: &str| {
        (
            json!({ "message": format!("{fp} happened"), "level": level, "fingerprint": [fp],
                    "timestamp": t.to_rfc3339() }),
            t,
        )
    };
    let shape = |facts: &mesher::domain::BatchFacts| {
        let mut rows: Vec<(bool, bool, i64, IssueStatus, String, usize)> = facts
            .issues
            .iter()
            .map(|i| {
                (
                    i.created,
                    i.regressed,
                    i.times_seen,
                    i.status,
                    i.level.as_str().to_owned(),
                    i.event_count(),
                )
            })
            .collect();
        rows.sort_by_key(|r| (r.2, r.5));
        rows
    };
    use IssueStatus::Unresolved;

    let (batch, first) = seed_with_facts(
        &app,
        p.id,
        vec![ev("a", "error"), ev("b", "info"), ev("a", "warning")],
    )
    .await;
    assert_eq!(
        shape(&first),
        [
            (true, false, 1, Unresolved, "info".into(), 1),
            (true, false, 2, Unresolved, "error".into(), 2),
        ]
    );
    let a = first.issues.iter().find(|i| i.event_count() == 2).unwrap();
    let ids: Vec<_> = a.events.iter().map(|e| e.id).collect();
    assert_eq!(ids, [batch[0].id, batch[2].id]);
    assert_eq!(a.events[0].message, "a happened");

    // Resolve a; the next batch reopens it (a regression), once.
    let mut conn = app.db.conn().await;
    mesher::db::issues::set_status(&mut conn, p.id, a.issue_id, IssueStatus::Resolved)
        .await
        .unwrap()
        .unwrap();
    let (_, second) = seed_with_facts(&app, p.id, vec![ev("a", "fatal"), ev("c", "error")]).await;
    assert_eq!(
        shape(&second),
        [
            (true, false, 1, Unresolved, "error".into(), 1),
            (false, true, 3, Unresolved, "fatal".into(), 1),
        ]
    );
    let (_, third) = seed_with_facts(&app, p.id, vec![ev("a", "error")]).await;
    assert_eq!(
        shape(&third),
        [(false, false, 4, Unresolved, "fatal".into(), 1)]
    );
    assert_eq!(third.issues[0].issue_id, a.issue_id);
}

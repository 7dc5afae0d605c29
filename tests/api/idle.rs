//! Idle writers (`writer.idle_stop_secs`; docs/architecture.md, "Idle writers"): a project's
//! writer that received nothing for that long stops and its registry entry goes, the
//! project's counters stay (and never go backwards), and its next event starts a writer again.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};

use crate::helpers::{TestApp, TestProject, create_project, event, spawn_app_with};

/// Creates `n` projects (and keys) straight in the database.
async fn projects(app: &TestApp, n: usize) -> Vec<TestProject> {
    let mut all = vec![app.project("idle-0").await]; // creates the org, once
    let rest = stream::iter(1..n)
        .map(|i| async move { create_project(&app.db, &format!("idle-{i}")).await })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    all.extend(rest);
    all
}

/// Posts one event to each project, 8 at a time; every answer must be 202.
async fn one_event_each(app: &TestApp, projects: &[TestProject]) {
    let answers = stream::iter(projects)
        .map(|p| async move { app.post_events(&p.key, &event("idle")).await.status() })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    assert!(answers.iter().all(|s| s.as_u16() == 202), "{answers:?}");
}

/// An app whose writers stop after `idle_stop_secs`, with room in its pool for a burst of
/// first-time key lookups on this shared machine.
async fn app(idle_stop_secs: u64) -> TestApp {
    spawn_app_with(
        |s| {
            s.writer.idle_stop_secs = idle_stop_secs;
            s.database.pool_size = 8;
            s.database.acquire_timeout_ms = 3000;
        },
        None,
    )
    .await
}

/// Waits (up to `secs`) until `done` holds.
async fn wait_until(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

/// `mesher_writers` and project `p`'s `mesher_events_accepted_total` from `/metrics`.
async fn scraped(app: &TestApp, p: &TestProject) -> (f64, f64) {
    let text = app.get("/metrics").await.text().await.unwrap();
    let value = |prefix: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(prefix));
        let line = line.unwrap_or_else(|| panic!("no {prefix} in {text}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let accepted = format!("mesher_events_accepted_total{{project_id=\"{}\"}}", p.id);
    (value("mesher_writers "), value(&accepted))
}

/// Resident set size of this process (the test binary with the app in it), in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[actix_web::test]
async fn two_thousand_idle_writers_stop_and_an_event_starts_one_again() {
    const N: usize = 2000;
    let app = app(1).await;
    let projects = projects(&app, N).await;
    one_event_each(&app, &projects).await;
    assert!(app.registry.live_writers() > 0);

    // Every event is stored, every writer stops, every project keeps its counters.
    let stopped = wait_until(60, || app.registry.live_writers() == 0).await;
    assert!(
        stopped,
        "{} writers still alive",
        app.registry.live_writers()
    );
    let snapshots = app.registry.snapshots();
    assert_eq!(snapshots.len(), N);
    for (id, s) in &snapshots {
        assert_eq!((s.accepted, s.stored, s.buffered), (1, 1, 0), "{id}: {s:?}");
        assert!(s.is_accounted(), "{s:?}");
    }
    let p = &projects[0];
    assert_eq!(scraped(&app, p).await, (0.0, 1.0));

    // The next event starts a writer again; the counters go on from where they were.
    one_event_each(&app, std::slice::from_ref(p)).await;
    assert!(app.registry.live_writers() >= 1);
    let s = app.settle(p.id, 10).await;
    assert_eq!((s.accepted, s.stored, s.buffered), (2, 2, 0), "{s:?}");
    app.assert_accounted(p.id).await;
    assert_eq!(scraped(&app, p).await.1, 2.0);
    let stopped = wait_until(30, || app.registry.live_writers() == 0).await;
    assert!(stopped, "the restarted writer stops idle too");
}

#[actix_web::test]
async fn with_idle_stop_off_writers_stay() {
    let app = app(0).await;
    let projects = projects(&app, 20).await;
    one_event_each(&app, &projects).await;
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.registry.live_writers(), 20);
    for p in &projects {
        app.assert_accounted(p.id).await;
    }
}

/// What 1,000 idle writers cost, and that stopping them leaks nothing (docs/benchmarks.md):
/// the RSS of this process (the test binary with the app in it) before any writer and with
/// 1,000 idle writers (idle stop off); then, with idle stop on, after each of three rounds
/// of starting 1,000 writers and letting them stop. Run by hand:
/// `cargo test --test api idle::memory -- --ignored --nocapture`.
#[actix_web::test]
#[ignore = "a measurement, run by hand"]
async fn memory_of_a_thousand_idle_writers() {
    const N: usize = 1000;
    let app = app(0).await;
    let all = projects(&app, N).await;
    let before = rss_kib();
    one_event_each(&app, &all).await;
    for p in &all {
        app.settle(p.id, 10).await;
    }
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    let writers = app.registry.live_writers();
    let idle = rss_kib();
    eprintln!(
        "idle stop off: RSS {before} KiB before, {idle} KiB with {writers} idle writers (+{} KiB)",
        idle - before
    );
    drop(app);

    let app = self::app(1).await;
    let all = projects(&app, N).await;
    let before = rss_kib();
    for round in 1..=3 {
        one_event_each(&app, &all).await;
        assert!(wait_until(60, || app.registry.live_writers() == 0).await);
        eprintln!(
            "idle stop 1 s: round {round}: {N} writers started and stopped, RSS {} KiB ({before} KiB before round 1)",
            rss_kib()
        );
    }
}

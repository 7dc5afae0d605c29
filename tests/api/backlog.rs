//! Answering later under a backlog (`writer.answer_later_ms`): while a project's buffer holds
//! more than half its capacity, an ingest answer waits for the writer's next batch (at most
//! the bound); the events are buffered and counted before the wait, and nothing is refused.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{
    TestApp, TestProject, event, lock_todays_partition, release, spawn_app_with,
    wait_for_blocked_flush,
};

const BOUND: Duration = Duration::from_millis(1500);

async fn app_with_answer_later(ms: u64) -> TestApp {
    spawn_app_with(
        |s| {
            s.writer.buffer_capacity = 40;
            s.writer.batch_size = 10;
            s.writer.answer_later_ms = ms;
        },
        None,
    )
    .await
}

/// Posts `n` events to `p`; answers how long the answer took.
async fn post(app: &TestApp, p: &TestProject, n: usize) -> Duration {
    let body = json!((0..n).map(|i| event(&format!("e {i}"))).collect::<Vec<_>>());
    let t = Instant::now();
    assert_eq!(app.post_events(&p.key, &body).await.status(), 202);
    t.elapsed()
}

#[actix_web::test]
async fn a_backlog_answers_when_the_writer_takes_its_next_batch() {
    let app = app_with_answer_later(BOUND.as_millis() as u64).await;
    let (p, quiet) = (app.project("busy").await, app.project("quiet").await);
    let lock = lock_todays_partition(&app.db).await;
    // A whole batch goes into flight and blocks there: nothing more is taken meanwhile.
    assert!(post(&app, &p, 10).await < BOUND);
    wait_for_blocked_flush(&app.db).await;

    // 25 buffered, over half of 40: the answer waits out its bound, the events counted first.
    let (waited, seen) = futures_util::join!(post(&app, &p, 25), async {
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        app.registry.snapshot(p.id).accepted
    });
    assert_eq!(seen, 35, "buffered and counted before the answer");
    assert!(waited >= BOUND - Duration::from_millis(100), "{waited:?}");

    // Another project has no backlog: answered at once.
    assert!(post(&app, &quiet, 5).await < Duration::from_secs(1));

    // The writer takes its next batch once the lock goes: the waiting answer comes then.
    let (waited, ()) = futures_util::join!(post(&app, &p, 5), async {
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        release(lock).await;
    });
    assert!(
        waited >= Duration::from_millis(250) && waited < BOUND - Duration::from_millis(200),
        "{waited:?}"
    );
    let s = app.assert_accounted(p.id).await;
    assert_eq!((s.accepted, s.stored, s.dropped()), (40, 40, 0), "{s:?}");
}

#[actix_web::test]
async fn answers_never_wait_when_it_is_off() {
    let app = app_with_answer_later(0).await;
    let p = app.project("busy").await;
    let lock = lock_todays_partition(&app.db).await;
    post(&app, &p, 10).await;
    wait_for_blocked_flush(&app.db).await;
    for _ in 0..3 {
        assert!(post(&app, &p, 10).await < Duration::from_millis(500));
    }
    release(lock).await;
    let s = app.assert_accounted(p.id).await;
    assert_eq!((s.accepted, s.stored), (40, 40), "{s:?}");
}

#[actix_web::test]
async fn a_flush_in_flight_is_not_woken_again_by_every_request() {
    let app = app_with_answer_later(0).await;
    let p = app.project("busy").await;
    let lock = lock_todays_partition(&app.db).await;
    // A full batch wakes the writer once; its flush goes into flight and blocks there.
    post(&app, &p, 10).await;
    wait_for_blocked_flush(&app.db).await;
    let before = app.registry.wakes();
    assert!(before >= 1, "the first full batch woke the writer");

    // A backlog builds up behind it, over a batch from the 10th request on: the flush in
    // flight looks again when it is done, so none of these wakes the writer.
    for _ in 0..20 {
        post(&app, &p, 1).await;
    }
    assert_eq!(
        app.registry.wakes() - before,
        0,
        "wake-ups sent during the flush"
    );

    // And it does look again: the backlog is stored after it.
    release(lock).await;
    let s = app.assert_accounted(p.id).await;
    assert_eq!((s.accepted, s.stored), (30, 30), "{s:?}");
}

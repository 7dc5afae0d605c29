//! The storage writers: drop-oldest, flush triggers, retries, supervision, shutdown.

use std::time::{Duration, Instant};

use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use mesher::db::partitions::partition_name;
use serde_json::json;

use crate::helpers::{
    ServerProcess, TestDb, create_project, event, lock_todays_partition, post_n, release,
    spawn_app_with, wait_for_blocked_flush,
};

async fn stored_ids(db: &TestDb) -> Vec<uuid::Uuid> {
    use diesel::QueryDsl;
    use diesel_async::RunQueryDsl;
    use mesher::db::schema::events;
    let mut conn = db.conn().await;
    events::table
        .select(events::id)
        .load(&mut conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn drop_oldest_keeps_the_newest_and_counts_exactly() {
    let app = spawn_app_with(
        |s| {
            s.writer.buffer_capacity = 5;
            s.writer.batch_size = 5;
            s.writer.flush_interval_ms = 20;
        },
        None,
    )
    .await;
    let p = app.project("drop-oldest").await;
    let lock = lock_todays_partition(&app.db).await;
    let ids = post_n(&app, &p.key, 20, "held").await;
    // Bounded: at most the buffer plus the one batch in flight.
    assert!(app.registry.snapshot(p.id).buffered <= 10);
    release(lock).await;

    let s = app.assert_accounted(p.id).await;
    let stored = stored_ids(&app.db).await;
    assert_eq!(s.accepted, 20);
    assert_eq!(s.dropped_buffer_full, 20 - stored.len() as u64, "{s:?}");
    assert!(s.dropped_buffer_full >= 10, "{s:?}");
    for newest in &ids[15..] {
        assert!(stored.contains(newest), "a newest event was dropped");
    }
}

#[actix_web::test]
async fn flushes_by_size_without_waiting_for_the_timer() {
    let app = spawn_app_with(
        |s| {
            s.writer.batch_size = 10;
            s.writer.flush_interval_ms = 600_000;
        },
        None,
    )
    .await;
    let p = app.project("by-size").await;
    post_n(&app, &p.key, 10, "size").await;
    let s = app.settle(p.id, 3).await;
    assert_eq!((s.stored, s.buffered), (10, 0));

    post_n(&app, &p.key, 3, "partial").await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let s = app.registry.snapshot(p.id);
    assert_eq!(
        (s.stored, s.buffered),
        (10, 3),
        "a partial batch waits for the timer"
    );
    assert_eq!(s.accepted, s.stored + s.buffered);
}

#[actix_web::test]
async fn flushes_a_partial_batch_on_the_timer() {
    let app = spawn_app_with(|s| s.writer.flush_interval_ms = 200, None).await;
    let p = app.project("by-timer").await;
    let started = Instant::now();
    post_n(&app, &p.key, 3, "timer").await;
    let s = app.settle(p.id, 3).await;
    assert_eq!(s.stored, 3);
    assert!(started.elapsed() < Duration::from_secs(2));
    app.assert_accounted(p.id).await;
}

/// Makes every insert of an event whose message is `message` fail as PostgreSQL fails when
/// a lock cannot be had (SQLSTATE 55P03): a transient failure, as far as the writer can tell.
async fn fail_transiently(db: &TestDb, message: &str) {
    let mut conn = db.conn().await;
    conn.batch_execute(&format!(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.message = '{message}' THEN
             RAISE EXCEPTION 'could not obtain lock on relation \"events\"' USING ERRCODE = '55P03';
           END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse();"
    ))
    .await
    .unwrap();
}

#[actix_web::test]
async fn a_transient_failure_is_retried_then_dropped_and_counted() {
    let app = spawn_app_with(
        |s| {
            s.writer.max_retries = 2;
            s.writer.retry_base_ms = 10;
            s.writer.retry_max_ms = 40;
        },
        None,
    )
    .await;
    let p = app.project("failing").await;
    fail_transiently(&app.db, "boom").await;

    assert_eq!(app.post_events(&p.key, &event("boom")).await.status(), 202);
    let s = app.assert_accounted(p.id).await;
    assert_eq!(
        (s.stored, s.dropped_flush_failed, s.dropped_invalid),
        (0, 1, 0)
    );

    // The writer goes on with the next batch.
    assert_eq!(app.post_events(&p.key, &event("fine")).await.status(), 202);
    let s = app.assert_accounted(p.id).await;
    assert_eq!((s.accepted, s.stored, s.dropped_flush_failed), (2, 1, 1));
}

#[actix_web::test]
async fn a_row_the_database_refuses_costs_only_itself() {
    let flush_interval = Duration::from_millis(1000);
    let app = spawn_app_with(
        |s| s.writer.flush_interval_ms = flush_interval.as_millis() as u64,
        None,
    )
    .await;
    let p = app.project("poisoned").await;
    let mut conn = app.db.conn().await;
    conn.batch_execute("ALTER TABLE events ADD CONSTRAINT no_poison CHECK (message <> 'poison')")
        .await
        .unwrap();

    // One batch of 500: the poisoned event in the middle.
    let mut batch: Vec<_> = (0..499).map(|i| event(&format!("fine {i}"))).collect();
    batch.insert(250, event("poison"));
    let started = Instant::now();
    let res = app.post_events(&p.key, &json!(batch)).await;
    assert_eq!(res.status(), 202);
    let s = app.settle(p.id, 10).await;
    assert!(
        started.elapsed() <= 2 * flush_interval,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        (s.stored, s.dropped_invalid, s.dropped_flush_failed),
        (499, 1, 0),
        "{s:?}"
    );
    app.assert_accounted(p.id).await;
    assert!(
        !stored_messages(&app.db)
            .await
            .contains(&"poison".to_owned())
    );
}

async fn stored_messages(db: &TestDb) -> Vec<String> {
    use diesel::QueryDsl;
    use diesel_async::RunQueryDsl;
    use mesher::db::schema::events;
    let mut conn = db.conn().await;
    events::table
        .select(events::message)
        .load(&mut conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn keeps_accepting_while_a_flush_is_stuck() {
    let app = spawn_app_with(
        |s| {
            s.writer.buffer_capacity = 50;
            s.writer.batch_size = 10;
        },
        None,
    )
    .await;
    let p = app.project("slow").await;
    let lock = lock_todays_partition(&app.db).await;
    let batch = json!(
        (0..10)
            .map(|i| event(&format!("slow {i}")))
            .collect::<Vec<_>>()
    );
    let mut slowest = Duration::ZERO;
    for _ in 0..30 {
        let t = Instant::now();
        assert_eq!(app.post_events(&p.key, &batch).await.status(), 202);
        slowest = slowest.max(t.elapsed());
        assert!(
            app.registry.snapshot(p.id).buffered <= 60,
            "memory is bounded"
        );
    }
    assert!(
        slowest < Duration::from_secs(2),
        "slowest accept {slowest:?}"
    );
    release(lock).await;
    let s = app.assert_accounted(p.id).await;
    assert_eq!(s.accepted, 300);
    assert_eq!(s.stored + s.dropped_buffer_full, 300);
}

#[actix_web::test]
async fn a_crashed_writer_restarts_and_other_projects_lose_nothing() {
    let app = spawn_app_with(|_| {}, None).await;
    let a = app.project("crashing").await;
    let b = app.project("bystander").await;
    post_n(&app, &a.key, 1, "before").await;
    app.assert_accounted(a.id).await;

    let bystander = async {
        let mut n = 0;
        for round in 0..20 {
            post_n(&app, &b.key, 5, &format!("b{round}")).await;
            n += 5;
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        }
        n
    };
    let crash = async {
        app.registry.crash(a.id);
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        let t = Instant::now();
        post_n(&app, &a.key, 1, "after").await;
        // A restarted writer flushes on its timer (100 ms in tests); without a writer the
        // event would stay buffered for good. The bound is generous for a loaded machine.
        let s = app.settle(a.id, 10).await;
        (s, t.elapsed())
    };
    let (sent_b, (s, took)) = futures_util::future::join(bystander, crash).await;
    assert_eq!(s.writer_restarts, 1, "{s:?}");
    assert_eq!(s.stored, 2, "stored after the restart: {s:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let sb = app.assert_accounted(b.id).await;
    assert_eq!((sb.accepted, sb.stored), (sent_b, sent_b));
    app.assert_accounted(a.id).await;
}

#[actix_web::test]
async fn sigterm_flushes_every_buffer_before_exit() {
    let db = TestDb::migrated().await;
    let p = create_project(&db, "shutdown").await;
    let server =
        ServerProcess::start(&db, &[("MESHER__WRITER__FLUSH_INTERVAL_MS", "600000")]).await;
    let client = reqwest::Client::new();
    let batch = json!(
        (0..30)
            .map(|i| event(&format!("bye {i}")))
            .collect::<Vec<_>>()
    );
    let res = client
        .post(format!("{}/api/v1/events", server.url))
        .header("x-mesher-key", &p.key)
        .body(batch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert!(
        stored_ids(&db).await.is_empty(),
        "nothing flushed before shutdown"
    );

    let status = server.sigterm_and_wait();
    assert!(status.success(), "{status}");
    assert_eq!(stored_ids(&db).await.len(), 30);
}

#[actix_web::test]
async fn a_missing_partition_is_created_and_the_batch_stored() {
    let app = spawn_app_with(|s| s.writer.max_retries = 0, None).await;
    let p = app.project("no-partition").await;
    let today = partition_name(chrono::Utc::now().date_naive());
    let mut conn = app.db.conn().await;
    conn.batch_execute(&format!("DROP TABLE {today}"))
        .await
        .unwrap();

    // No retries allowed: the partition must be made on the spot, not by a retry.
    let ids = post_n(&app, &p.key, 3, "orphan").await;
    let s = app.assert_accounted(p.id).await;
    assert_eq!((s.stored, s.dropped_flush_failed), (3, 0), "{s:?}");
    let stored = stored_ids(&app.db).await;
    assert!(ids.iter().all(|id| stored.contains(id)));
}

#[actix_web::test]
async fn a_deleted_project_leaves_no_events_behind() {
    let app = spawn_app_with(
        |s| {
            s.writer.flush_interval_ms = 300;
            s.writer.max_retries = 1;
            s.writer.retry_base_ms = 10;
        },
        None,
    )
    .await;
    let p = app.project("doomed").await;
    post_n(&app, &p.key, 3, "late").await;
    let mut conn = app.db.conn().await;
    mesher::db::projects::delete_project(&mut conn, p.id)
        .await
        .unwrap();
    let s = app.settle(p.id, 10).await;
    assert_eq!(s.buffered, 0);
    assert_eq!(s.accepted, s.stored + s.dropped_flush_failed, "{s:?}");
    assert_eq!(app.stored_count(p.id).await, 0, "no orphan events");
}

#[derive(diesel::QueryableByName)]
struct BatchSize {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The size of each committed batch of the project, oldest first: the events of one batch
/// share their transaction id (`xmin`), whether they were copied or inserted.
async fn batch_sizes(db: &TestDb, project: mesher::domain::ProjectId) -> Vec<i64> {
    use diesel_async::RunQueryDsl;
    let mut conn = db.conn().await;
    let rows: Vec<BatchSize> = diesel::sql_query(
        "SELECT count(*) AS n FROM events WHERE project_id = $1
         GROUP BY xmin::text ORDER BY min(id::text)",
    )
    .bind::<diesel::sql_types::Uuid, _>(project)
    .load(&mut conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.n).collect()
}

/// A backlog (200 events held back behind a lock) is written in batches of up to
/// `max_batch_size`, not `batch_size`; a few events on a quiet project still go in a small
/// batch of their own. By COPY (the default) and by INSERT alike.
#[actix_web::test]
async fn a_backlog_is_written_in_bigger_batches_up_to_the_cap() {
    for copy_events in [true, false] {
        let app = spawn_app_with(
            |s| {
                s.writer.batch_size = 10;
                s.writer.max_batch_size = 50;
                s.writer.buffer_capacity = 1000;
                s.writer.copy_events = copy_events;
            },
            None,
        )
        .await;
        let p = app.project("backlog").await;
        let lock = lock_todays_partition(&app.db).await;
        for round in 0..10 {
            let batch: Vec<_> = (0..20)
                .map(|i| event(&format!("held {round} {i}")))
                .collect();
            assert_eq!(app.post_events(&p.key, &json!(batch)).await.status(), 202);
        }
        release(lock).await;
        let s = app.assert_accounted(p.id).await;
        assert_eq!(s.stored, 200, "{s:?}");
        let sizes = batch_sizes(&app.db, p.id).await;
        // The first batch left when 10 were buffered (and waited for the lock); the backlog
        // behind it went in batches of the cap, the last one what was left.
        assert!(
            sizes.iter().all(|&n| n <= 50),
            "copy {copy_events}: {sizes:?}"
        );
        assert!(sizes.len() <= 6, "copy {copy_events}: {sizes:?}");
        assert_eq!(
            sizes[1..sizes.len() - 1],
            vec![50; sizes.len() - 2],
            "{sizes:?}"
        );

        // Quiet again: three events are one small batch, on the timer.
        let quiet: Vec<_> = (0..3).map(|i| event(&format!("quiet {i}"))).collect();
        assert_eq!(app.post_events(&p.key, &json!(quiet)).await.status(), 202);
        let s = app.assert_accounted(p.id).await;
        assert_eq!(s.stored, 203, "{s:?}");
        assert_eq!(batch_sizes(&app.db, p.id).await.last(), Some(&3));
    }
}

/// Locks the rows of `project`'s issues (`SELECT … FOR UPDATE` in a transaction left open):
/// that project's next issue upsert waits on them, and nobody else's does.
async fn hold_issues(db: &TestDb, project: mesher::domain::ProjectId) -> AsyncPgConnection {
    let mut conn = db.conn().await;
    conn.batch_execute(&format!(
        "BEGIN; SELECT id FROM issues WHERE project_id = '{project}' FOR UPDATE"
    ))
    .await
    .unwrap();
    conn
}

/// Issue 11 item 5: a project whose writes are blocked (a lock only its flush needs, held by
/// the test) does not slow the others. Project B keeps being accepted at once and stored
/// while A's events stay buffered behind A's one stuck batch; once the lock goes, A's are
/// stored too, and both accounts are exact. By COPY (the default) and by INSERT alike.
#[actix_web::test]
async fn a_blocked_project_does_not_slow_the_others() {
    for copy_events in [true, false] {
        let app = spawn_app_with(
            |s| {
                s.writer.batch_size = 5;
                s.writer.buffer_capacity = 1000;
                s.writer.copy_events = copy_events;
            },
            None,
        )
        .await;
        let a = app.project("blocked").await;
        let b = app.project("bystander").await;
        // A's first event creates its issue; the test then locks that row.
        assert_eq!(app.post_events(&a.key, &event("held")).await.status(), 202);
        assert_eq!(app.assert_accounted(a.id).await.stored, 1);
        let lock = hold_issues(&app.db, a.id).await;
        let same_issue = json!((0..5).map(|_| event("held")).collect::<Vec<_>>());
        assert_eq!(app.post_events(&a.key, &same_issue).await.status(), 202);
        wait_for_blocked_flush(&app.db).await;

        // A steady stream to B (and more to A), 5 events a request every 20 ms.
        let (mut sent_b, mut slowest) = (0, Duration::ZERO);
        let started = Instant::now();
        for round in 0..50 {
            let batch: Vec<_> = (0..5).map(|i| event(&format!("b {round} {i}"))).collect();
            let t = Instant::now();
            assert_eq!(app.post_events(&b.key, &json!(batch)).await.status(), 202);
            assert_eq!(app.post_events(&a.key, &same_issue).await.status(), 202);
            slowest = slowest.max(t.elapsed());
            sent_b += 5;
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        let streamed = started.elapsed();
        // Generous bounds for a loaded machine; blocked, B would store nothing until release.
        let sb = app.settle(b.id, 5).await;
        assert_eq!(
            (sb.accepted, sb.stored, sb.buffered),
            (sent_b, sent_b, 0),
            "copy {copy_events}: {sb:?}"
        );
        assert_eq!(app.stored_count(b.id).await, sent_b as i64);
        assert!(
            slowest < Duration::from_secs(2),
            "slowest accept {slowest:?}"
        );
        assert!(
            streamed < Duration::from_secs(10),
            "the stream took {streamed:?}"
        );

        // A: nothing more stored, nothing dropped; all of it buffered or in flight.
        let sa = app.registry.snapshot(a.id);
        assert_eq!(sa.accepted, 1 + 5 * 51, "{sa:?}");
        assert_eq!(
            (sa.stored, sa.dropped(), sa.buffered),
            (1, 0, 5 * 51),
            "copy {copy_events}: {sa:?}"
        );
        assert_eq!(app.stored_count(a.id).await, 1);

        release(lock).await;
        let sa = app.assert_accounted(a.id).await;
        assert_eq!((sa.stored, sa.dropped()), (1 + 5 * 51, 0), "{sa:?}");
        app.assert_accounted(b.id).await;
    }
}

/// Waiting for a connection behind other writers' flushes is not the database failing: with
/// the pool's one connection held by a flush blocked on a lock for longer than
/// `database.acquire_timeout_ms`, another project's flush waits its turn (no retries allowed,
/// so a timeout counted as a failure would drop its batch) and is stored once the lock goes.
#[actix_web::test]
async fn a_flush_behind_a_busy_pool_waits_its_turn_and_drops_nothing() {
    let app = spawn_app_with(
        |s| {
            s.database.pool_size = 1;
            s.database.acquire_timeout_ms = 100;
            s.writer.max_retries = 0;
            s.writer.batch_size = 5;
        },
        None,
    )
    .await;
    let a = app.project("holder").await;
    let b = app.project("waiter").await;
    let five = |m: &str| json!((0..5).map(|_| event(m)).collect::<Vec<_>>());
    assert_eq!(app.post_events(&a.key, &five("held")).await.status(), 202);
    app.assert_accounted(a.id).await;
    let lock = hold_issues(&app.db, a.id).await;
    assert_eq!(app.post_events(&a.key, &five("held")).await.status(), 202);
    wait_for_blocked_flush(&app.db).await;

    assert_eq!(app.post_events(&b.key, &five("waits")).await.status(), 202);
    actix_web::rt::time::sleep(Duration::from_millis(600)).await;
    let sb = app.registry.snapshot(b.id);
    assert_eq!((sb.stored, sb.dropped()), (0, 0), "{sb:?}");

    release(lock).await;
    let sb = app.assert_accounted(b.id).await;
    assert_eq!((sb.stored, sb.dropped()), (5, 0), "{sb:?}");
    let sa = app.assert_accounted(a.id).await;
    assert_eq!((sa.stored, sa.dropped()), (10, 0), "{sa:?}");
}

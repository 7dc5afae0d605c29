//! Small batches of many projects written in one transaction (`ingest::group`,
//! `db::copy::write_batches`): each project's issues, values and facts kept apart; a group
//! that fails leaves every batch to its own writer, losing nothing.

use std::time::Duration;

use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use futures_util::future::join_all;
use mesher::db::copy as db_copy;
use mesher::db::events::ProjectBatch;
use mesher::db::partitions;
use mesher::domain::{PendingEvent, ProjectId, parse_event};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestDb, TestProject, create_project, event, lock_todays_partition, release, spawn_app,
    wait_for_blocked_flush,
};

fn pending(messages: &[&str]) -> Vec<PendingEvent> {
    let now = chrono::Utc::now();
    messages
        .iter()
        .map(|m| PendingEvent::new(parse_event(event(m).to_string().as_bytes()).unwrap(), now))
        .collect()
}

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct IssueRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    project_id: ProjectId,
    #[diesel(sql_type = diesel::sql_types::Text)]
    title: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    times_seen: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    events: i64,
}

/// Every issue with its project, title, count and stored events.
async fn issue_rows(db: &TestDb) -> Vec<IssueRow> {
    let mut conn = db.conn().await;
    let mut rows: Vec<IssueRow> = diesel::sql_query(
        "SELECT i.project_id, i.title, i.times_seen,
                (SELECT count(*) FROM events e WHERE e.issue_id = i.id AND e.project_id = i.project_id) AS events
         FROM issues i",
    )
    .load(&mut conn)
    .await
    .unwrap();
    rows.sort_by(|a, b| (a.project_id, &a.title).cmp(&(b.project_id, &b.title)));
    rows
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Transactions the stored events were committed in (events of one share their `xmin`).
async fn transactions(db: &TestDb) -> i64 {
    let mut conn = db.conn().await;
    diesel::sql_query("SELECT count(DISTINCT xmin::text) AS n FROM events")
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

/// A migrated database with today's partition, projects named `slugs`, and a connection to
/// write batches through.
async fn database_with(slugs: &[&str]) -> (TestDb, Vec<ProjectId>, tokio_postgres::Client) {
    let db = TestDb::migrated().await;
    let mut projects = Vec::new();
    for slug in slugs {
        projects.push(create_project(&db, slug).await.id);
    }
    let today = chrono::Utc::now().date_naive();
    partitions::ensure_range(&mut db.conn().await, today, today)
        .await
        .unwrap();
    let client = db_copy::connect(&db.url).await.unwrap();
    (db, projects, client)
}

#[actix_web::test]
async fn one_transaction_keeps_each_projects_issues_and_facts_apart() {
    let (db, projects, mut client) = database_with(&["a", "b", "c"]).await;
    let (a, b, c) = (projects[0], projects[1], projects[2]);
    for round in 1..=2i64 {
        let (ea, eb, ec) = (
            pending(&["same", "same", "only a"]),
            pending(&["same"]),
            pending(&[]),
        );
        let batches = [
            ProjectBatch {
                project_id: a,
                events: &ea,
            },
            ProjectBatch {
                project_id: c,
                events: &ec,
            },
            ProjectBatch {
                project_id: b,
                events: &eb,
            },
        ];
        let facts = db_copy::write_batches(&mut client, &batches, None)
            .await
            .unwrap();
        // One fact set per batch, in order, each with its own project's issues only.
        let seen: Vec<_> = facts
            .iter()
            .map(|f| {
                let mut issues: Vec<_> =
                    f.issues.iter().map(|i| (i.times_seen, i.created)).collect();
                issues.sort();
                (f.project_id, f.event_count(), issues)
            })
            .collect();
        let first = round == 1;
        assert_eq!(
            seen,
            vec![
                (a, 3, vec![(round, first), (2 * round, first)]),
                (c, 0, vec![]),
                (b, 1, vec![(round, first)]),
            ]
        );
    }
    // The same fingerprint in two projects is two issues; each counts its own events.
    let row = |project_id, title: &str, n| IssueRow {
        project_id,
        title: title.to_owned(),
        times_seen: n,
        events: n,
    };
    let mut expected = vec![row(a, "only a", 2), row(a, "same", 4), row(b, "same", 2)];
    expected.sort_by(|x, y| (x.project_id, &x.title).cmp(&(y.project_id, &y.title)));
    assert_eq!(issue_rows(&db).await, expected);
    assert_eq!(transactions(&db).await, 2, "one transaction per write");
}

#[actix_web::test]
async fn a_group_gives_up_on_a_locked_row_within_its_lock_timeout() {
    let (db, projects, mut client) = database_with(&["a", "b"]).await;
    let (a, b) = (projects[0], projects[1]);
    let (ea, eb) = (pending(&["held"]), pending(&["free"]));
    db_copy::write_batches(
        &mut client,
        &[ProjectBatch {
            project_id: a,
            events: &ea,
        }],
        None,
    )
    .await
    .unwrap();
    let mut lock = db.conn().await;
    lock.batch_execute("BEGIN; SELECT id FROM issues FOR UPDATE")
        .await
        .unwrap();

    let ea = pending(&["held"]);
    let started = std::time::Instant::now();
    let written = db_copy::write_batches(
        &mut client,
        &[
            ProjectBatch {
                project_id: a,
                events: &ea,
            },
            ProjectBatch {
                project_id: b,
                events: &eb,
            },
        ],
        Some(Duration::from_millis(200)),
    )
    .await;
    assert!(
        written.is_err(),
        "the locked row held the group: {written:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    release(lock).await;
    // All or nothing: b's event was not stored either.
    assert_eq!(transactions(&db).await, 1);
    assert_eq!(issue_rows(&db).await.len(), 1);
}

/// Sends each project its body at once while today's partition is locked, so the writers'
/// flushes queue up behind it, then lets them go (well within the group's lock timeout, so
/// the first groups wait rather than give up).
async fn burst_behind_a_lock(app: &TestApp, posts: &[(&TestProject, Value)]) {
    let lock = lock_todays_partition(&app.db).await;
    let posts = posts.iter().map(|(p, body)| app.post_events(&p.key, body));
    for res in join_all(posts).await {
        assert_eq!(res.status(), 202);
    }
    wait_for_blocked_flush(&app.db).await;
    // Every writer's timer (100 ms in the tests) has fired and queued its batch.
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    release(lock).await;
}

#[actix_web::test]
async fn many_quiet_projects_share_transactions_and_lose_nothing() {
    let app = spawn_app().await;
    let mut projects = Vec::new();
    for i in 0..20 {
        projects.push(app.project(&format!("quiet-{i}")).await);
    }
    let body = json!([event("one"), event("two"), event("one")]);
    let posts: Vec<_> = projects.iter().map(|p| (p, body.clone())).collect();
    burst_behind_a_lock(&app, &posts).await;

    for p in &projects {
        let s = app.assert_accounted(p.id).await;
        assert_eq!((s.accepted, s.stored, s.dropped()), (3, 3, 0), "{s:?}");
    }
    let issues = issue_rows(&app.db).await;
    assert_eq!(issues.len(), 40, "two issues per project");
    assert!(issues.iter().all(|i| i.times_seen == i.events));
    let txs = transactions(&app.db).await;
    assert!(txs <= 10, "20 projects' batches took {txs} transactions");
    let g = app.registry.group_counters().expect("a group writer");
    let load = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(load(&g.batches), 20);
    assert_eq!(load(&g.handed_back), 0);
    assert!(load(&g.commits) <= 10, "{g:?}");
}

#[actix_web::test]
async fn a_bad_row_in_a_group_costs_only_itself() {
    let app = spawn_app().await;
    app.db
        .conn()
        .await
        .batch_execute("ALTER TABLE events ADD CONSTRAINT no_poison CHECK (message <> 'poison')")
        .await
        .unwrap();
    let mut projects = Vec::new();
    for i in 0..10 {
        projects.push(app.project(&format!("p-{i}")).await);
    }
    let (poisoned, fine) = projects.split_at(1);
    let mut posts: Vec<_> = fine
        .iter()
        .map(|p| (p, json!([event("a"), event("b")])))
        .collect();
    posts.push((&poisoned[0], json!([event("a"), event("poison")])));
    burst_behind_a_lock(&app, &posts).await;

    for p in fine {
        let s = app.assert_accounted(p.id).await;
        assert_eq!((s.stored, s.dropped()), (2, 0), "{s:?}");
    }
    let s = app.assert_accounted(poisoned[0].id).await;
    assert_eq!(
        (s.stored, s.dropped_invalid, s.dropped_flush_failed),
        (1, 1, 0),
        "{s:?}"
    );
}

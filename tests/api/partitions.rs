use std::sync::Arc;

use actix::Actor;
use chrono::{Days, NaiveDate, Utc};
use diesel_async::RunQueryDsl;
use mesher::config::PartitionSettings;
use mesher::db::partitions::{self, partition_name};
use mesher::jobs::partitions::{Maintain, PartitionMaintainer};

use crate::helpers::{TestDb, spawn_app, test_settings};

fn names(first: NaiveDate, last: NaiveDate) -> Vec<String> {
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(partition_name)
        .collect()
}

async fn existing(db: &TestDb) -> Vec<String> {
    let mut conn = db.conn().await;
    partitions::list(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

#[actix_web::test]
async fn after_start_partitions_cover_yesterday_to_a_week_ahead() {
    let app = spawn_app().await;
    let today = Utc::now().date_naive();
    let expected = names(today - Days::new(1), today + Days::new(7));
    assert_eq!(existing(&app.db).await, expected);

    // A row received now lands in today's partition.
    let mut conn = app.db.conn().await;
    #[derive(diesel::QueryableByName)]
    struct Part {
        #[diesel(sql_type = diesel::sql_types::Text)]
        part: String,
    }
    let rows: Vec<Part> = diesel::sql_query(
        "INSERT INTO events (id, received_at, project_id, issue_id, timestamp, level, message) \
         VALUES (gen_random_uuid(), now(), gen_random_uuid(), gen_random_uuid(), now(), 'error', 'x') \
         RETURNING tableoid::regclass::text AS part",
    )
    .load(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows[0].part, partition_name(Utc::now().date_naive()));
}

#[actix_web::test]
async fn the_job_creates_missing_and_prunes_old_partitions_for_its_clock() {
    let db = TestDb::migrated().await;
    let settings = test_settings(&db);
    let pool = mesher::db::build_pool(&settings.database).await.unwrap();
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();

    // Partitions as an earlier run might have left them: two past retention, one inside it.
    let mut conn = db.conn().await;
    partitions::ensure_range(&mut conn, day("2030-01-01"), day("2030-01-02"))
        .await
        .unwrap();
    partitions::ensure_range(&mut conn, day("2030-03-20"), day("2030-03-20"))
        .await
        .unwrap();

    let today = day("2030-04-10");
    let now = today.and_hms_opt(12, 0, 0).unwrap().and_utc();
    let job = PartitionMaintainer::new(
        pool,
        PartitionSettings {
            days_ahead: 3,
            retention_days: 30,
            check_interval_secs: 3600,
        },
        Arc::new(move || now),
    )
    .start();
    let report = job.send(Maintain).await.unwrap().unwrap();
    assert_eq!(report.created, names(day("2030-04-09"), day("2030-04-13")));
    assert_eq!(report.dropped, names(day("2030-01-01"), day("2030-01-02")));

    let mut expected = names(day("2030-03-20"), day("2030-03-20"));
    expected.extend(names(day("2030-04-09"), day("2030-04-13")));
    assert_eq!(existing(&db).await, expected);

    // Idempotent: a second pass changes nothing.
    let again = job.send(Maintain).await.unwrap().unwrap();
    assert!(
        again.created.is_empty() && again.dropped.is_empty(),
        "{again:?}"
    );
}

#[actix_web::test]
async fn concurrent_runs_do_not_fail() {
    let db = TestDb::migrated().await;
    let today = NaiveDate::from_ymd_opt(2031, 6, 1).unwrap();
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(db.conn().await);
    }
    let runs = conns
        .iter_mut()
        .map(|conn| partitions::maintain(conn, today, 14, 30));
    let reports = futures_util::future::join_all(runs).await;
    let mut created: Vec<String> = Vec::new();
    for report in reports {
        created.extend(report.expect("concurrent maintenance succeeds").created);
    }
    created.sort();
    // Each partition was created by exactly one of the runs.
    let expected = names(today - Days::new(1), today + Days::new(14));
    assert_eq!(created, expected);
    assert_eq!(existing(&db).await, expected);

    // Inserting into a day that has a partition works; one without a partition fails.
    let mut conn = db.conn().await;
    let insert = |at: &str| {
        format!(
            "INSERT INTO events (id, received_at, project_id, issue_id, timestamp, level, message) \
             VALUES (gen_random_uuid(), '{at}', gen_random_uuid(), gen_random_uuid(), now(), 'info', 'x')"
        )
    };
    diesel::sql_query(insert("2031-06-05 12:00:00+00"))
        .execute(&mut conn)
        .await
        .unwrap();
    let err = diesel::sql_query(insert("2035-01-01 00:00:00+00"))
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no partition"), "{err}");
}

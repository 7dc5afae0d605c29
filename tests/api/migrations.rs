use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use mesher::db;

use crate::helpers::{TestDb, seed, spawn_app};

const TABLES: [&str; 15] = [
    "alert_deliveries",
    "alert_rules",
    "alert_throttle",
    "api_keys",
    "audit_log",
    "events",
    "issue_values",
    "issues",
    "memberships",
    "node_runs",
    "organizations",
    "projects",
    "sessions",
    "user_tokens",
    "users",
];

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// The application's tables in `public` (partitions excluded), sorted.
async fn tables(conn: &mut AsyncPgConnection) -> Vec<String> {
    let rows: Vec<Name> = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
           AND c.relname <> '__diesel_schema_migrations' ORDER BY 1",
    )
    .load(conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.name).collect()
}

#[actix_web::test]
async fn up_is_complete_then_a_no_op_and_down_up_round_trips() {
    let test_db = TestDb::empty().await;
    let mut conn = test_db.conn().await;
    assert!(tables(&mut conn).await.is_empty());
    assert!(!db::migrations_applied(&mut conn).await.unwrap());

    let applied = db::run_migrations(&test_db.url).await.unwrap();
    assert_eq!(applied, db::embedded_versions());
    assert_eq!(tables(&mut conn).await, TABLES);
    assert!(db::migrations_applied(&mut conn).await.unwrap());

    assert!(db::run_migrations(&test_db.url).await.unwrap().is_empty());
    assert_eq!(tables(&mut conn).await, TABLES);

    for _ in db::embedded_versions() {
        db::revert_last_migration(&test_db.url).await.unwrap();
    }
    assert!(tables(&mut conn).await.is_empty());
    assert!(!db::migrations_applied(&mut conn).await.unwrap());

    assert_eq!(
        db::run_migrations(&test_db.url).await.unwrap(),
        db::embedded_versions()
    );
    assert_eq!(tables(&mut conn).await, TABLES);
}

#[actix_web::test]
async fn events_is_partitioned_by_range_on_received_at() {
    let test_db = TestDb::migrated().await;
    let mut conn = test_db.conn().await;
    let rows: Vec<Name> = diesel::sql_query("SELECT pg_get_partkeydef('events'::regclass) AS name")
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows[0].name, "RANGE (received_at)");
}

/// Each `issue_values` row as text: key, value, issue title, first seen.
async fn issue_values(conn: &mut AsyncPgConnection) -> Vec<String> {
    let rows: Vec<Name> = diesel::sql_query(
        "SELECT v.key || '=' || v.value || ' ' || i.title || ' ' || v.first_seen AS name \
         FROM issue_values v JOIN issues i ON i.id = v.issue_id ORDER BY 1",
    )
    .load(conn)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.name).collect()
}

#[actix_web::test]
async fn the_issue_values_migration_fills_in_what_the_writer_would_have() {
    let app = spawn_app().await;
    let project = app.project("shop").await;
    let now = chrono::Utc::now();
    let events = [
        ("a", Some("production"), Some("1.0"), 3),
        ("a", Some("staging"), Some("1.0"), 2),
        ("a", Some("production"), Some("1.1"), 1),
        ("b", None, Some("2.0"), 1),
        ("c", None, None, 1),
    ]
    .map(|(title, environment, release, minutes_ago)| {
        let mut e = serde_json::json!({ "message": title, "level": "error",
            "timestamp": now.to_rfc3339(), "fingerprint": [title] });
        e["environment"] = environment.into();
        e["release"] = release.into();
        (e, now - chrono::Duration::minutes(minutes_ago))
    });
    seed(&app, project.id, events.to_vec()).await;
    let mut conn = app.db.conn().await;
    let written = issue_values(&mut conn).await;
    // One row per pair, with the earliest receive time of the pair's events.
    let first = |minutes_ago| (now - chrono::Duration::minutes(minutes_ago)).timestamp();
    let expected = [
        ("environment=production a", first(3)),
        ("environment=staging a", first(2)),
        ("release=1.0 a", first(3)),
        ("release=1.1 a", first(1)),
        ("release=2.0 b", first(1)),
    ];
    assert_eq!(written.len(), expected.len(), "{written:?}");
    for ((row, at), w) in expected.iter().zip(&written) {
        let seen = chrono::DateTime::parse_from_str(&w[row.len() + 1..], "%Y-%m-%d %H:%M:%S%.f%#z")
            .unwrap_or_else(|e| panic!("{w}: {e}"));
        assert_eq!((&w[..row.len()], seen.timestamp()), (*row, *at), "{w}");
    }

    // The migration run again on these events records exactly the same.
    db::revert_last_migration(&app.db.url).await.unwrap();
    assert!(!tables(&mut conn).await.contains(&"issue_values".to_owned()));
    db::run_migrations(&app.db.url).await.unwrap();
    assert_eq!(issue_values(&mut conn).await, written);
}

use diesel::sql_types::Text;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use mesher::db;

use crate::helpers::TestDb;

const TABLES: [&str; 14] = [
    "alert_deliveries",
    "alert_rules",
    "alert_throttle",
    "api_keys",
    "audit_log",
    "events",
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

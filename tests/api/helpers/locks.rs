//! Locks a test holds to keep the storage writers from writing: an exclusive lock on today's
//! events partition, held in a transaction left open until [`release`] commits it (or the
//! connection is dropped), and a wait until a flush really waits on a lock.

use std::time::{Duration, Instant};

use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use mesher::db::partitions::partition_name;

use super::TestDb;

/// Locks today's events partition (`ACCESS EXCLUSIVE`): every flush blocks until the lock
/// goes.
pub async fn lock_todays_partition(db: &TestDb) -> AsyncPgConnection {
    let mut conn = db.conn().await;
    let today = partition_name(chrono::Utc::now().date_naive());
    conn.batch_execute(&format!(
        "BEGIN; LOCK TABLE {today} IN ACCESS EXCLUSIVE MODE"
    ))
    .await
    .unwrap();
    conn
}

/// Ends the transaction a lock was taken in (a lock taken with [`lock_todays_partition`] or
/// any other left open): the blocked flushes go on.
pub async fn release(mut lock: AsyncPgConnection) {
    lock.batch_execute("COMMIT").await.unwrap();
}

/// Waits (up to 10 s) until a server connection to `db` waits on a lock: a flush is in
/// flight and blocked.
pub async fn wait_for_blocked_flush(db: &TestDb) {
    let mut conn = db.conn().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let blocked: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'mesher' \
               AND wait_event_type = 'Lock'",
        )
        .get_result(&mut conn)
        .await
        .unwrap();
        if blocked > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "no flush blocked on the lock");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

//! A project key's use reaches `last_used_at` about a second after its lookup, the keys of a
//! burst in one statement, and a write that fails is done again with the next round
//! (docs/architecture.md, "At the edge").

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use mesher::db::schema::api_keys;
use mesher::domain::KeyId;

use crate::helpers::{TestApp, event, spawn_app};

/// The keys' `last_used_at` (`None`: never used), in no particular order.
async fn last_used(app: &TestApp, ids: &[KeyId]) -> Vec<Option<DateTime<Utc>>> {
    let mut conn = app.db.conn().await;
    api_keys::table
        .filter(api_keys::id.eq_any(ids))
        .select(api_keys::last_used_at)
        .load(&mut conn)
        .await
        .unwrap()
}

/// Waits up to `within` until every key has a `last_used_at`; answers them then.
async fn all_used_within(
    app: &TestApp,
    ids: &[KeyId],
    within: Duration,
) -> Vec<Option<DateTime<Utc>>> {
    let deadline = Instant::now() + within;
    loop {
        let used = last_used(app, ids).await;
        if used.iter().all(Option::is_some) || Instant::now() > deadline {
            return used;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post(app: &TestApp, key: &str) {
    let res = app.post_events(key, &event("key use")).await;
    assert_eq!(res.status(), 202);
}

#[actix_web::test]
async fn the_uses_of_many_keys_are_written_together_within_two_seconds() {
    const KEYS: usize = 30;
    let app = spawn_app().await;
    let mut projects = Vec::new();
    for i in 0..KEYS {
        projects.push(app.project(&format!("p{i}")).await);
    }
    let ids: Vec<KeyId> = projects.iter().map(|p| p.key_id).collect();
    assert!(last_used(&app, &ids).await.iter().all(Option::is_none));

    let started = Instant::now();
    for p in &projects {
        post(&app, &p.key).await;
    }
    let posting = started.elapsed();
    let used = all_used_within(&app, &ids, Duration::from_secs(2)).await;
    let missing = used.iter().filter(|u| u.is_none()).count();
    assert_eq!(
        missing, 0,
        "2 s after the last request ({posting:?} of requests)"
    );
    // One statement stamps all its keys with its transaction's `now()`: a burst costs one
    // write a second, not one per key.
    let writes: HashSet<_> = used.into_iter().flatten().collect();
    assert!(
        writes.len() as u64 <= posting.as_secs() + 2,
        "{} writes for {KEYS} keys used within {posting:?}",
        writes.len()
    );
}

#[actix_web::test]
async fn a_failed_write_is_done_again_with_the_next_round() {
    let app = spawn_app().await;
    let project = app.project("web").await;
    let mut conn = app.db.conn().await;
    for sql in [
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
        "CREATE TRIGGER refuse BEFORE UPDATE ON api_keys \
         FOR EACH STATEMENT EXECUTE FUNCTION refuse()",
    ] {
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }

    post(&app, &project.key).await;
    // Two rounds at least, each refused.
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(last_used(&app, &[project.key_id]).await, [None]);

    diesel::sql_query("DROP TRIGGER refuse ON api_keys")
        .execute(&mut conn)
        .await
        .unwrap();
    let used = all_used_within(&app, &[project.key_id], Duration::from_secs(2)).await;
    assert!(used[0].is_some(), "the use kept was written once allowed");
}

/// `mesher_key_lookups_total{kind}` from the node's metrics.
async fn key_lookups(app: &TestApp, kind: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    let line = format!("mesher_key_lookups_total{{kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(line.as_str()))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line} in the metrics"))
}

/// Keys in steady use are looked up once each, then kept fresh by refresh rounds (one query
/// for all of them every half TTL) instead of one lookup per key each time its entry expires
/// (the tests' TTL is 500 ms: 2.5 s of traffic would cost about five lookups per key).
#[actix_web::test]
async fn keys_in_steady_use_are_refreshed_together_not_one_by_one() {
    const KEYS: u64 = 20;
    let app = spawn_app().await;
    let mut projects = Vec::new();
    for i in 0..KEYS {
        projects.push(app.project(&format!("p{i}")).await);
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        for p in &projects {
            post(&app, &p.key).await;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let (one, rounds) = (
        key_lookups(&app, "one").await,
        key_lookups(&app, "refresh").await,
    );
    assert!(one <= 2 * KEYS, "{one} lookups of one key for {KEYS} keys");
    assert!(rounds >= 3, "{rounds} refresh rounds");
}

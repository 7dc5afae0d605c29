//! Ingestion rides out a database outage (docs/architecture.md, "When the database is
//! down"): a key seen before the outage keeps being accepted from the cache after its TTL
//! has run out, its events wait in the buffer and are all stored after the restart; a key
//! the node cannot vouch for is a fast 503 with `Retry-After`.

use std::time::{Duration, Instant};

use actix_web::rt::time::{interval, sleep};
use mesher::domain::keys;

use crate::helpers::{PrivateCluster, TestApp, event, spawn_app_on};

/// How long PostgreSQL is down, and the known key's rate meanwhile (events per second).
const OUTAGE: Duration = Duration::from_secs(15);
const PER_SEC: u64 = 10;
/// The longest an unknown key may wait for its 503 during the outage.
const FAST: Duration = Duration::from_millis(250);

/// Posts one event with `key`: (status, Retry-After, time taken).
async fn post(app: &TestApp, key: &str) -> (u16, Option<String>, Duration) {
    let started = Instant::now();
    let res = app.post_events(key, &event("during the outage")).await;
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (res.status().as_u16(), retry_after, started.elapsed())
}

#[actix_web::test]
async fn known_keys_are_accepted_and_stored_through_an_outage() {
    let cluster = PrivateCluster::start().await;
    let app = spawn_app_on(&cluster, |s| {
        // The key's cache entry expires many times during the outage.
        s.auth.key_cache_ttl_ms = 500;
        // A batch in flight keeps retrying for longer than the outage: at least 13.75 s of
        // backoff (equal jitter) plus 40 waits for a connection.
        s.writer.max_retries = 40;
        s.writer.retry_max_ms = 1000;
    })
    .await;
    let project = app.project("outage").await;
    // Asked (and answered "unknown") before the outage: a negative answer is not kept.
    let asked_before = keys::generate_project_key();
    assert_eq!(post(&app, &asked_before).await.0, 401);
    assert_eq!(post(&app, &project.key).await.0, 202);

    cluster.stop().await;
    let down = Instant::now();
    let mut tick = interval(Duration::from_millis(1000 / PER_SEC));
    let (mut sent, mut refused) = (1u64, Vec::new());
    while down.elapsed() < OUTAGE {
        tick.tick().await;
        let (status, _, took) = post(&app, &project.key).await;
        sent += 1;
        if status != 202 {
            refused.push((down.elapsed(), status, took));
        }
    }
    assert!(refused.is_empty(), "refused during the outage: {refused:?}");
    assert!(sent > OUTAGE.as_secs() * PER_SEC * 9 / 10, "{sent} sent");

    // Keys the node cannot vouch for while the database is down (the known key's TTL has
    // long run out too): (key, status, with Retry-After, within FAST).
    let unknown = keys::generate_project_key();
    let cases = [
        (unknown.as_str(), 503, true),
        (asked_before.as_str(), 503, true),
        ("mshr_not-a-key", 401, false),
        ("", 401, false),
    ];
    for (i, (key, status, retry)) in cases.into_iter().enumerate() {
        let (got, retry_after, took) = post(&app, key).await;
        assert_eq!(
            (got, retry_after.is_some()),
            (status, retry),
            "case {i}: {retry_after:?}"
        );
        assert!(took <= FAST, "case {i}: answered in {took:?}");
    }

    cluster.restart().await;
    let s = app.assert_accounted(project.id).await;
    assert_eq!((s.accepted, s.stored), (sent, sent), "{s:?}");

    // The database answers again: the TTL applies as before, and a key revoked elsewhere
    // stops within it.
    revoke_elsewhere(&app, &project).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while post(&app, &project.key).await.0 != 401 {
        assert!(Instant::now() < deadline, "the revoked key still works");
        sleep(Duration::from_millis(100)).await;
    }
}

/// Revokes the project's key straight in the database, as another node would.
async fn revoke_elsewhere(app: &TestApp, project: &crate::helpers::TestProject) {
    let mut conn = app.db.conn().await;
    let revoked = mesher::db::projects::revoke_api_key(&mut conn, project.id, project.key_id)
        .await
        .unwrap();
    assert!(revoked.is_some());
}

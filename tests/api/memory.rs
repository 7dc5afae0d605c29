//! The node's memory cap (`writer.max_buffered_bytes`, docs/architecture.md, "Memory"):
//! while nothing can be written, every project's buffer together stays under the cap, the
//! largest buffers drop their oldest events, every drop is counted, and once writes resume
//! `accepted = stored + dropped + buffered` holds exactly.

use std::collections::HashSet;

use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use mesher::db::schema::events;
use mesher::domain::ProjectId;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestDb, lock_todays_partition, spawn_app_with};

const CAP: u64 = 1 << 20;

/// An event of about 4 KB.
fn fat_event(message: &str) -> Value {
    json!({
        "message": message,
        "level": "error",
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "extra": { "pad": "x".repeat(4000) },
    })
}

async fn post_fat(app: &TestApp, key: &str, n: usize, prefix: &str) -> Vec<Uuid> {
    let batch: Vec<Value> = (0..n)
        .map(|i| fat_event(&format!("{prefix} {i}")))
        .collect();
    let res = app.post_events(key, &json!(batch)).await;
    assert_eq!(res.status(), 202, "{prefix}");
    let body: Value = res.json().await.unwrap();
    body["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().parse().unwrap())
        .collect()
}

async fn stored_ids(db: &TestDb, project: ProjectId) -> HashSet<Uuid> {
    let mut conn = db.conn().await;
    events::table
        .filter(events::project_id.eq(project))
        .select(events::id)
        .load(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// Asserts that what is stored of `ids` (in accepted order) is a prefix (the batch that was
/// in flight) and a suffix (the newest, which stayed buffered): the dropped ones are the
/// oldest of what was buffered.
fn assert_oldest_dropped(name: &str, ids: &[Uuid], stored: &HashSet<Uuid>) {
    let kept: Vec<bool> = ids.iter().map(|id| stored.contains(id)).collect();
    let prefix = kept.iter().take_while(|k| **k).count();
    let suffix = kept.iter().rev().take_while(|k| **k).count();
    assert_eq!(
        prefix + suffix.min(ids.len() - prefix),
        stored.len(),
        "{name}: stored events are not the in-flight batch plus the newest: {kept:?}"
    );
}

/// Three projects (large, medium and small events rates) post 4 KB events while a lock
/// keeps every flush waiting: the node's buffered bytes never exceed the cap, the two large
/// buffers shed their oldest events (the largest the most), the small one loses nothing,
/// and after the release every accepted event is stored or counted as `memory_cap`.
#[actix_web::test]
async fn the_memory_cap_bounds_every_buffer_together_and_counts_what_it_drops() {
    let app = spawn_app_with(
        |s| {
            s.writer.max_buffered_bytes = CAP;
            s.writer.buffer_capacity = 10_000;
            s.writer.batch_size = 50;
            s.database.pool_size = 8;
        },
        None,
    )
    .await;
    let mut projects = Vec::new();
    for (name, per_round) in [("large", 60), ("medium", 30), ("small", 5)] {
        projects.push((name, app.project(name).await, per_round));
    }

    let lock = lock_todays_partition(&app.db).await;
    let mut ids: Vec<Vec<Uuid>> = vec![Vec::new(); projects.len()];
    for round in 0..8 {
        for (i, (name, p, per_round)) in projects.iter().enumerate() {
            ids[i].extend(post_fat(&app, &p.key, *per_round, &format!("{name} {round}")).await);
            let bytes = app.registry.buffered_bytes();
            assert!(bytes <= CAP, "round {round}: {bytes} bytes buffered");
        }
    }
    let held: Vec<_> = projects
        .iter()
        .map(|(_, p, _)| app.registry.snapshot(p.id))
        .collect();
    for s in &held {
        assert_eq!(s.stored, 0, "nothing gets past the lock: {s:?}");
    }
    let (large, medium, small) = (
        held[0].dropped_memory_cap,
        held[1].dropped_memory_cap,
        held[2].dropped_memory_cap,
    );
    assert!(large > medium && medium > 0, "{held:?}");
    assert_eq!(small, 0, "the smallest buffer keeps everything: {held:?}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("reason=\"memory_cap\""), "{metrics}");
    assert!(metrics.contains("mesher_buffered_bytes "), "{metrics}");

    drop(lock);
    for (i, (name, p, per_round)) in projects.iter().enumerate() {
        let s = app.assert_accounted(p.id).await;
        assert_eq!(s.accepted, 8 * *per_round as u64, "{s:?}");
        assert_eq!(
            (
                s.dropped_buffer_full,
                s.dropped_flush_failed,
                s.dropped_invalid
            ),
            (0, 0, 0),
            "{s:?}"
        );
        assert_eq!(s.stored + s.dropped_memory_cap, s.accepted, "{s:?}");
        assert_eq!(s.dropped_memory_cap, held[i].dropped_memory_cap, "{s:?}");
        let stored = stored_ids(&app.db, p.id).await;
        assert_oldest_dropped(name, &ids[i], &stored);
    }
    assert_eq!(app.registry.buffered_bytes(), 0);
}

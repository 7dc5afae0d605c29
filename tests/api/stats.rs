//! `GET .../projects/{project}/stats`: the writer counters (docs/architecture.md, "Accounting")
//! and the database totals.

use serde_json::{Value, json};

use crate::helpers::{event, join, spawn_app};

const STATS: &str = "/api/v1/orgs/test-org/projects/shop/stats";

fn u(stats: &Value, key: &str) -> u64 {
    stats[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {stats}"))
}

#[actix_web::test]
async fn stats_count_what_was_accepted_stored_and_rejected() {
    let app = spawn_app().await;
    let project = app.project("shop").await;
    let member = app.user("member@example.com").await;
    join(&app, &member, "member").await;

    // Nothing received yet: zeros.
    let (status, stats) = app.get_as(&member, STATS).await;
    assert_eq!(status, 200, "{stats}");
    for key in [
        "accepted",
        "stored",
        "dropped_buffer_full",
        "dropped_memory_cap",
        "dropped_flush_failed",
        "dropped_invalid",
        "dropped_project_deleted",
        "dropped_spool_full",
        "rejected",
        "buffered",
        "spilled",
        "writer_restarts",
        "issues",
        "events_stored_total",
    ] {
        assert_eq!(u(&stats, key), 0, "{key}");
    }

    // 3 valid single events, a batch of 2 valid and 2 invalid, 1 invalid single event.
    for _ in 0..3 {
        assert_eq!(
            app.post_events(&project.key, &event("checkout failed"))
                .await
                .status(),
            202
        );
    }
    let no_message = json!({"level": "error", "timestamp": 1_790_000_000});
    let mut bad_level = event("x");
    bad_level["level"] = json!("loud");
    let batch = json!([
        event("cart empty"),
        no_message,
        event("cart empty"),
        bad_level
    ]);
    let res = app.post_events(&project.key, &batch).await;
    assert_eq!(res.status(), 202);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["rejected"].as_array().unwrap().len(), 2);
    let mut invalid = event("y");
    invalid["timestamp"] = json!("yesterday-ish");
    assert_eq!(app.post_events(&project.key, &invalid).await.status(), 400);

    app.assert_accounted(project.id).await;
    let (status, stats) = app.get_as(&member, STATS).await;
    assert_eq!(status, 200, "{stats}");
    // Two messages, two issues; every stored event counted once.
    for (key, expected) in [
        ("accepted", 5),
        ("stored", 5),
        ("rejected", 3),
        ("buffered", 0),
        ("dropped_buffer_full", 0),
        ("dropped_memory_cap", 0),
        ("dropped_flush_failed", 0),
        ("dropped_invalid", 0),
        ("dropped_project_deleted", 0),
        ("dropped_spool_full", 0),
        ("spilled", 0),
        ("writer_restarts", 0),
        ("issues", 2),
        ("events_stored_total", 5),
    ] {
        assert_eq!(u(&stats, key), expected, "{key}: {stats}");
    }
    assert_eq!(
        u(&stats, "accepted"),
        u(&stats, "stored")
            + u(&stats, "dropped_buffer_full")
            + u(&stats, "dropped_memory_cap")
            + u(&stats, "dropped_flush_failed")
            + u(&stats, "dropped_invalid")
            + u(&stats, "dropped_project_deleted")
            + u(&stats, "dropped_spool_full")
            + u(&stats, "buffered")
            + u(&stats, "spilled"),
        "{stats}"
    );

    // Another project's numbers are its own.
    app.project("other").await;
    let (status, other) = app
        .get_as(&member, "/api/v1/orgs/test-org/projects/other/stats")
        .await;
    assert_eq!(status, 200);
    assert_eq!((u(&other, "accepted"), u(&other, "issues")), (0, 0));
}

#[actix_web::test]
async fn stats_are_for_members_only() {
    let app = spawn_app().await;
    app.project("shop").await;
    let outsider = app.user("outsider@example.com").await;
    let (status, err) = app.get_as(&outsider, STATS).await;
    assert_eq!((status, &err["error"]["code"]), (404, &json!("not_found")));
    assert_eq!(app.get(STATS).await.status(), 401);

    let member = app.user("member@example.com").await;
    join(&app, &member, "member").await;
    let (status, _) = app
        .get_as(&member, "/api/v1/orgs/test-org/projects/nope/stats")
        .await;
    assert_eq!(status, 404);
}

//! Deleting a project, or its organization, on this server (docs/architecture.md,
//! "Accounting"): its writer stops, what it still buffers is counted as dropped
//! `project_deleted` (never as a failed flush), and its keys stop working at once.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, create_org, event, post_n, spawn_app_with};

/// A project of `org` created over the API with a key: (project id, key).
async fn project_with_key(
    app: &TestApp,
    user: &TestUser,
    org: &str,
    slug: &str,
) -> (mesher::domain::ProjectId, String) {
    let projects = format!("/api/v1/orgs/{org}/projects");
    let (status, project) = app
        .post_as(user, &projects, json!({ "name": slug, "slug": slug }))
        .await;
    assert_eq!(status, 201, "{project}");
    let (status, key) = app
        .post_as(
            user,
            &format!("{projects}/{slug}/keys"),
            json!({ "label": "k" }),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    (
        project["id"].as_str().unwrap().parse().unwrap(),
        key["key"].as_str().unwrap().to_owned(),
    )
}

#[actix_web::test]
async fn a_deleted_projects_buffer_is_dropped_and_counted_and_its_key_refused() {
    // Nothing flushes by itself: what is sent stays buffered. The longest key cache: only
    // the invalidation makes the key's refusal immediate.
    let app = spawn_app_with(
        |s| {
            s.writer.flush_interval_ms = 600_000;
            s.writer.retry_base_ms = 10;
            s.auth.key_cache_ttl_ms = 4000;
        },
        None,
    )
    .await;
    let alice = app.user("alice@x.io").await;
    create_org(&app, &alice, "acme").await;
    create_org(&app, &alice, "gone").await;
    let (alone, alone_key) = project_with_key(&app, &alice, "acme", "alone").await;
    let (kept, kept_key) = project_with_key(&app, &alice, "acme", "kept").await;
    let (in_org, in_org_key) = project_with_key(&app, &alice, "gone", "in-org").await;
    post_n(&app, &alone_key, 7, "buffered").await;
    post_n(&app, &kept_key, 2, "kept").await;
    post_n(&app, &in_org_key, 3, "buffered").await;
    assert_eq!(app.registry.snapshot(alone).buffered, 7);

    let cases = [
        ("/api/v1/orgs/acme/projects/alone", alone, &alone_key, 7),
        ("/api/v1/orgs/gone", in_org, &in_org_key, 3),
    ];
    for (path, project, key, buffered) in cases {
        let (status, body) = app.delete_as(&alice, path).await;
        assert_eq!(status, 204, "{path}: {body}");
        let res = app.post_events(key, &event("too late")).await;
        assert_eq!(res.status(), 401, "{path}: its key still ingests");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_key");
        let s = app.assert_accounted(project).await;
        assert_eq!(
            (
                s.accepted,
                s.dropped_project_deleted,
                s.dropped_flush_failed,
                s.stored
            ),
            (buffered, buffered, 0, 0),
            "{path}: {s:?}"
        );
    }

    // The other project is untouched, and shutdown drains only writers that still exist:
    // nothing is written (or retried, or failed) for the deleted projects.
    let drained = tokio::time::timeout(Duration::from_secs(10), app.registry.drain()).await;
    assert!(drained.is_ok(), "drain hangs");
    let s = app.assert_accounted(kept).await;
    assert_eq!((s.accepted, s.stored), (2, 2), "{s:?}");
    for project in [alone, in_org] {
        let s = app.registry.snapshot(project);
        assert_eq!(
            (s.dropped_flush_failed, s.buffered, s.writer_restarts),
            (0, 0, 0),
            "{s:?}"
        );
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    let line = format!(
        "mesher_events_dropped_total{{project_id=\"{alone}\",reason=\"project_deleted\"}} 7"
    );
    assert!(
        text.is_empty() || text.contains(&line),
        "missing {line} in\n{text}"
    );
}

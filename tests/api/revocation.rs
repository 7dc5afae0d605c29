//! A project key stops working at once on the node that revokes it or deletes its project
//! (docs/api.md, "Authentication"); other nodes follow within `auth.key_cache_ttl_ms`.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, create_org, event, spawn_app_with};

const PROJECTS: &str = "/api/v1/orgs/acme/projects";

/// A key of `project` created over the API: (id, secret).
async fn create_key(app: &TestApp, user: &TestUser, project: &str) -> (String, String) {
    let (status, body) = app
        .post_as(
            user,
            &format!("{PROJECTS}/{project}/keys"),
            json!({ "label": "k" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["key"].as_str().unwrap().to_owned(),
    )
}

#[actix_web::test]
async fn a_revoked_key_is_refused_at_once_on_this_node() {
    // The longest cache allowed: only the invalidation can make the refusal immediate.
    let app = spawn_app_with(|s| s.auth.key_cache_ttl_ms = 4000, None).await;
    let alice = app.user("alice@x.io").await;
    create_org(&app, &alice, "acme").await;
    let (status, body) = app
        .post_as(&alice, PROJECTS, json!({ "name": "Web", "slug": "web" }))
        .await;
    assert_eq!(status, 201, "{body}");
    let (revoked_id, revoked) = create_key(&app, &alice, "web").await;
    let (_, kept) = create_key(&app, &alice, "web").await;
    for key in [&revoked, &kept] {
        // Both keys are now in the cache as live.
        assert_eq!(app.post_events(key, &event("before")).await.status(), 202);
    }

    let (status, body) = app
        .delete_as(&alice, &format!("{PROJECTS}/web/keys/{revoked_id}"))
        .await;
    assert_eq!(status, 204, "{body}");
    let res = app.post_events(&revoked, &event("after")).await;
    assert_eq!(res.status(), 401, "the revoked key still ingests");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_key");
    // Only that key: the project's other key goes on working.
    assert_eq!(app.post_events(&kept, &event("after")).await.status(), 202);
}

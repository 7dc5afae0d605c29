//! Projects and their keys over the management API: CRUD with the DSN number, member reads
//! and admin writes, keys shown once, rotation and revocation as ingestion sees them, and
//! deletions taking the events with them.

use std::time::Duration;

use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use mesher::db::schema::projects;
use mesher::domain::ProjectId;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Case, TestApp, TestUser, add_member, check_cases, create_org, error_of, event, spawn_app,
};

const PROJECTS: &str = "/api/v1/orgs/acme/projects";

async fn create_project(app: &TestApp, user: &TestUser, slug: &str) -> Value {
    let (status, body) = app
        .post_as(
            user,
            PROJECTS,
            json!({ "name": format!("Project {slug}"), "slug": slug }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn create_key(app: &TestApp, user: &TestUser, project: &str, label: &str) -> Value {
    let (status, body) = app
        .post_as(
            user,
            &format!("{PROJECTS}/{project}/keys"),
            json!({ "label": label }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

fn id_of(body: &Value) -> uuid::Uuid {
    body["id"].as_str().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn project_crud_with_its_dsn_number() {
    let app = spawn_app().await;
    let alice = app.user("alice@x.io").await;
    create_org(&app, &alice, "acme").await;
    create_org(&app, &alice, "other").await;

    let (status, web) = app
        .post_as(
            &alice,
            PROJECTS,
            json!({ "name": "Web", "slug": "web", "platform": "javascript" }),
        )
        .await;
    assert_eq!(status, 201, "{web}");
    assert_eq!((&web["slug"], &web["name"]), (&json!("web"), &json!("Web")));
    assert_eq!(web["platform"], "javascript");
    assert!(web["number"].as_i64().unwrap() > 0);
    assert!(web["created_at"].is_string());
    let api = create_project(&app, &alice, "api").await;
    assert_eq!(api["platform"], Value::Null);
    assert_ne!(api["number"], web["number"]);

    // The same slug in another org is fine; twice in one org is not.
    let (status, _) = app
        .post_as(
            &alice,
            "/api/v1/orgs/other/projects",
            json!({ "name": "Web", "slug": "web" }),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = app
        .post_as(&alice, PROJECTS, json!({ "name": "Web 2", "slug": "web" }))
        .await;
    assert_eq!((status, error_of(&body)), (409, ("slug_taken", "slug")));

    let cases = [
        (json!({ "name": "X", "slug": "Bad Slug" }), "slug"),
        (json!({ "name": "X" }), "slug"),
        (json!({ "name": "", "slug": "x" }), "name"),
        (
            json!({ "name": "X", "slug": "x", "platform": "p".repeat(65) }),
            "platform",
        ),
    ];
    for (body, field) in cases {
        let (status, res) = app.post_as(&alice, PROJECTS, body).await;
        assert_eq!(
            (status, error_of(&res)),
            (400, ("invalid_field", field)),
            "{res}"
        );
    }

    let (status, page) = app.get_as(&alice, &format!("{PROJECTS}?limit=1")).await;
    assert_eq!(status, 200);
    assert_eq!(page["data"][0]["slug"], "api");
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let (_, page) = app
        .get_as(&alice, &format!("{PROJECTS}?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(page["data"][0]["slug"], "web");
    assert_eq!(page["next_cursor"], Value::Null);

    let (status, got) = app.get_as(&alice, &format!("{PROJECTS}/web")).await;
    assert_eq!(
        (status, &got["id"], &got["number"]),
        (200, &web["id"], &web["number"])
    );

    // Each patch changes what it names and keeps the rest.
    let web_path = format!("{PROJECTS}/web");
    for (patch, name, platform) in [
        (json!({ "name": "Website" }), "Website", json!("javascript")),
        (json!({ "platform": null }), "Website", Value::Null),
        (json!({ "platform": "node" }), "Website", json!("node")),
    ] {
        let (status, res) = app.patch_as(&alice, &web_path, patch.clone()).await;
        assert_eq!(
            (status, &res["name"], &res["platform"]),
            (200, &json!(name), &platform),
            "{patch}"
        );
    }
    let (status, res) = app
        .patch_as(&alice, &web_path, json!({ "name": " " }))
        .await;
    assert_eq!((status, error_of(&res)), (400, ("invalid_field", "name")));

    let nosuch = format!("{PROJECTS}/nosuch");
    #[rustfmt::skip]
    let gone: &[Case] = &[
        (&alice, Method::GET,    &nosuch,   None, 404, "not_found"),
        (&alice, Method::DELETE, &web_path, None, 204, ""),
        (&alice, Method::GET,    &web_path, None, 404, "not_found"),
        (&alice, Method::DELETE, &web_path, None, 404, "not_found"),
    ];
    check_cases(&app, gone).await;
}

#[actix_web::test]
async fn members_read_projects_and_admins_write_them() {
    let app = spawn_app().await;
    let alice = app.user("alice@x.io").await;
    let bob = app.user("bob@x.io").await;
    create_org(&app, &alice, "acme").await;
    create_project(&app, &alice, "web").await;
    let key = create_key(&app, &alice, "web", "main").await;
    add_member(&app, &alice, "acme", &bob, "member").await;

    assert_eq!(app.get_as(&bob, PROJECTS).await.0, 200);
    assert_eq!(app.get_as(&bob, &format!("{PROJECTS}/web")).await.0, 200);
    let body = json!({ "name": "X", "slug": "x", "label": "x" });
    let forbidden = [
        app.post_as(&bob, PROJECTS, body.clone()).await,
        app.patch_as(&bob, &format!("{PROJECTS}/web"), body.clone())
            .await,
        app.delete_as(&bob, &format!("{PROJECTS}/web")).await,
        app.get_as(&bob, &format!("{PROJECTS}/web/keys")).await,
        app.post_as(&bob, &format!("{PROJECTS}/web/keys"), body.clone())
            .await,
        app.delete_as(&bob, &format!("{PROJECTS}/web/keys/{}", id_of(&key)))
            .await,
    ];
    for (status, res) in forbidden {
        assert_eq!((status, error_of(&res).0), (403, "forbidden"), "{res}");
    }

    // As an admin, bob writes.
    let bob_path = format!("/api/v1/orgs/acme/members/{}", bob.id);
    assert_eq!(
        app.patch_as(&alice, &bob_path, json!({ "role": "admin" }))
            .await
            .0,
        200
    );
    create_project(&app, &bob, "api").await;
    create_key(&app, &bob, "api", "ci").await;
    assert_eq!(app.delete_as(&bob, &format!("{PROJECTS}/api")).await.0, 204);
}

#[actix_web::test]
async fn keys_are_shown_once_ingest_rotate_and_revoke() {
    let app = spawn_app().await;
    let alice = app.user("alice@x.io").await;
    create_org(&app, &alice, "acme").await;
    let project = create_project(&app, &alice, "web").await;
    let number = project["number"].as_i64().unwrap();

    let first = create_key(&app, &alice, "web", "first").await;
    let secret = first["key"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("mshr_") && secret.len() >= 37,
        "{secret}"
    );
    assert!(secret.starts_with(first["prefix"].as_str().unwrap()));
    assert_eq!(first["label"], "first");
    let dsn = first["dsn"].as_str().unwrap();
    assert!(dsn.contains(&format!("://{secret}@")), "{dsn}");
    assert!(dsn.ends_with(&format!("/{number}")), "{dsn}");

    let (status, body) = app
        .post_as(
            &alice,
            &format!("{PROJECTS}/web/keys"),
            json!({ "label": "" }),
        )
        .await;
    assert_eq!((status, error_of(&body)), (400, ("invalid_field", "label")));

    // The new key ingests; so does a second one, at the same time.
    assert_eq!(app.post_events(&secret, &event("one")).await.status(), 202);
    let second = create_key(&app, &alice, "web", "second").await;
    let second_secret = second["key"].as_str().unwrap().to_owned();
    assert_eq!(
        app.post_events(&second_secret, &event("two"))
            .await
            .status(),
        202
    );
    assert_eq!(
        app.post_events(&secret, &event("three")).await.status(),
        202
    );

    // The list never shows a secret or its hash.
    let (status, list) = app.get_as(&alice, &format!("{PROJECTS}/web/keys")).await;
    assert_eq!(status, 200);
    let keys = list["data"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(
        (&keys[0]["id"], &keys[1]["id"]),
        (&first["id"], &second["id"])
    );
    for k in keys {
        assert!(k.get("key").is_none() && k.get("key_hash").is_none(), "{k}");
        assert_eq!(k["revoked_at"], Value::Null);
        assert!(k["prefix"].as_str().unwrap().starts_with("mshr_"));
    }
    let text = list.to_string();
    assert!(!text.contains(&secret) && !text.contains(&second_secret));
    assert!(!text.contains(&mesher::domain::keys::hash_secret(&secret)));

    // Revoked: refused by ingestion once the key cache (500 ms in tests) has expired.
    let first_path = format!("{PROJECTS}/web/keys/{}", id_of(&first));
    assert_eq!(app.delete_as(&alice, &first_path).await.0, 204);
    actix_web::rt::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.post_events(&secret, &event("late")).await.status(), 401);
    assert_eq!(
        app.post_events(&second_secret, &event("on")).await.status(),
        202
    );
    assert_eq!(
        app.delete_as(&alice, &first_path).await.0,
        204,
        "idempotent"
    );
    let (_, list) = app.get_as(&alice, &format!("{PROJECTS}/web/keys")).await;
    assert!(list["data"][0]["revoked_at"].is_string());
    assert_eq!(list["data"][1]["revoked_at"], Value::Null);

    // Unknown keys, and keys of another project, are 404.
    create_project(&app, &alice, "api").await;
    let other = create_key(&app, &alice, "api", "api").await;
    for path in [
        format!("{PROJECTS}/web/keys/{}", id_of(&other)),
        format!("{PROJECTS}/web/keys/{}", uuid::Uuid::now_v7()),
        format!("{PROJECTS}/nosuch/keys/{}", id_of(&other)),
    ] {
        assert_eq!(app.delete_as(&alice, &path).await.0, 404, "{path}");
    }
    let other_secret = other["key"].as_str().unwrap();
    assert_eq!(
        app.post_events(other_secret, &event("api")).await.status(),
        202
    );
}

#[actix_web::test]
async fn deleting_an_org_or_a_project_deletes_its_events() {
    let app = spawn_app().await;
    let alice = app.user("alice@x.io").await;
    create_org(&app, &alice, "acme").await;
    let web = create_project(&app, &alice, "web").await;
    let api = create_project(&app, &alice, "api").await;
    let (web_id, api_id) = (ProjectId(id_of(&web)), ProjectId(id_of(&api)));
    let web_key = create_key(&app, &alice, "web", "k").await;
    let api_key = create_key(&app, &alice, "api", "k").await;
    let batch = json!([event("a"), event("b"), event("c")]);
    for key in [&web_key, &api_key] {
        let res = app.post_events(key["key"].as_str().unwrap(), &batch).await;
        assert_eq!(res.status(), 202);
    }
    app.settle(web_id, 5).await;
    app.settle(api_id, 5).await;
    assert_eq!(app.stored_count(web_id).await, 3);
    assert_eq!(app.stored_count(api_id).await, 3);

    assert_eq!(
        app.delete_as(&alice, &format!("{PROJECTS}/web")).await.0,
        204
    );
    assert_eq!(app.stored_count(web_id).await, 0);
    assert_eq!(app.stored_count(api_id).await, 3);

    assert_eq!(app.delete_as(&alice, "/api/v1/orgs/acme").await.0, 204);
    assert_eq!(app.stored_count(api_id).await, 0);
    let mut conn = app.db.conn().await;
    let left: i64 = projects::table
        .filter(projects::id.eq(api_id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

//! Organizations and members: CRUD, slug rules, pagination, who may do what (404 for
//! outsiders, 403 without the role, owners only by owners), and the last owner staying.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Case, add_member, check_cases, create_org, error_of, send_json, spawn_app};

#[actix_web::test]
async fn create_get_rename_and_delete_an_org() {
    let app = spawn_app().await;
    let alice = app.user("alice@x.io").await;

    let org = create_org(&app, &alice, "acme").await;
    assert_eq!(org["slug"], "acme");
    assert_eq!(org["name"], "Org acme");
    assert_eq!(org["role"], "owner");
    assert!(org["id"].as_str().unwrap().parse::<uuid::Uuid>().is_ok());

    let (status, got) = app.get_as(&alice, "/api/v1/orgs/acme").await;
    assert_eq!(
        (status, &got["id"], &got["role"]),
        (200, &org["id"], &json!("owner"))
    );

    let (status, list) = app.get_as(&alice, "/api/v1/orgs").await;
    assert_eq!(status, 200);
    assert_eq!(list["data"][0]["slug"], "acme");
    assert_eq!(list["data"][0]["role"], "owner");
    assert_eq!(list["next_cursor"], Value::Null);

    let (status, renamed) = app
        .patch_as(
            &alice,
            "/api/v1/orgs/acme",
            json!({ "name": "  Acme Inc " }),
        )
        .await;
    assert_eq!((status, &renamed["name"]), (200, &json!("Acme Inc")));
    let (status, body) = app
        .patch_as(&alice, "/api/v1/orgs/acme", json!({ "name": "" }))
        .await;
    assert_eq!((status, error_of(&body)), (400, ("invalid_field", "name")));

    // The creator is in the members list as owner.
    let (_, members) = app.get_as(&alice, "/api/v1/orgs/acme/members").await;
    assert_eq!(members["data"][0]["email"], "alice@x.io");
    assert_eq!(members["data"][0]["role"], "owner");
    assert_eq!(members["data"][0]["user_id"], alice.id.to_string());
    assert!(members["data"][0]["joined_at"].is_string());

    let (status, body) = app.delete_as(&alice, "/api/v1/orgs/acme").await;
    assert_eq!((status, body), (204, Value::Null));
    assert_eq!(app.get_as(&alice, "/api/v1/orgs/acme").await.0, 404);
    let (_, list) = app.get_as(&alice, "/api/v1/orgs").await;
    assert_eq!(list["data"], json!([]));
    // The slug is free again.
    create_org(&app, &alice, "acme").await;
}

#[actix_web::test]
async fn org_input_is_validated_and_slugs_are_unique() {
    let app = spawn_app().await;
    let alice = app.user("alice@x.io").await;
    let bob = app.user("bob@x.io").await;

    let long = "a".repeat(51);
    for slug in ["", "Acme", "ac me", "ac_me", "acmé", long.as_str()] {
        let (status, body) = app
            .post_as(
                &alice,
                "/api/v1/orgs",
                json!({ "name": "Acme", "slug": slug }),
            )
            .await;
        assert_eq!(
            (status, error_of(&body)),
            (400, ("invalid_field", "slug")),
            "{slug:?}"
        );
    }
    for body in [
        json!({ "slug": "acme" }),
        json!({ "name": " ", "slug": "acme" }),
        json!({ "name": "n".repeat(201), "slug": "acme" }),
    ] {
        let (status, res) = app.post_as(&alice, "/api/v1/orgs", body).await;
        assert_eq!((status, error_of(&res)), (400, ("invalid_field", "name")));
    }
    let (status, body) = app
        .post_as(
            &alice,
            "/api/v1/orgs",
            json!({ "name": "Acme", "slug": "a".repeat(50) }),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    create_org(&app, &alice, "acme").await;
    let (status, body) = app
        .post_as(
            &bob,
            "/api/v1/orgs",
            json!({ "name": "Other", "slug": "acme" }),
        )
        .await;
    assert_eq!((status, error_of(&body)), (409, ("slug_taken", "slug")));

    // Not logged in.
    let res = app
        .client
        .post(format!("{}/api/v1/orgs", app.address))
        .json(&json!({ "name": "Acme", "slug": "anon" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[actix_web::test]
async fn the_org_list_is_paginated_and_private() {
    let app = spawn_app().await;
    let alice = app.user("alice@x.io").await;
    let bob = app.user("bob@x.io").await;
    for slug in ["c-org", "a-org", "b-org"] {
        create_org(&app, &alice, slug).await;
    }
    create_org(&app, &bob, "bobs").await;

    let (status, page) = app.get_as(&alice, "/api/v1/orgs?limit=2").await;
    assert_eq!(status, 200);
    let slugs: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["a-org", "b-org"]);
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let (_, page) = app
        .get_as(&alice, &format!("/api/v1/orgs?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["slug"], "c-org");
    assert_eq!(page["next_cursor"], Value::Null);

    let (_, page) = app.get_as(&bob, "/api/v1/orgs").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["slug"], "bobs");

    let (status, body) = app.get_as(&alice, "/api/v1/orgs?limit=0").await;
    assert_eq!((status, error_of(&body)), (400, ("invalid_field", "limit")));
    let (status, body) = app.get_as(&alice, "/api/v1/orgs?cursor=%21%21").await;
    assert_eq!(
        (status, error_of(&body)),
        (400, ("invalid_field", "cursor"))
    );
}

#[actix_web::test]
async fn outsiders_get_404_for_everything_under_an_org() {
    let app = spawn_app().await;
    let alice = app.user("alice@x.io").await;
    let eve = app.user("eve@x.io").await;
    create_org(&app, &alice, "acme").await;
    let (status, _) = app
        .post_as(
            &alice,
            "/api/v1/orgs/acme/projects",
            json!({ "name": "Web", "slug": "web" }),
        )
        .await;
    assert_eq!(status, 201);
    let (_, key) = app
        .post_as(
            &alice,
            "/api/v1/orgs/acme/projects/web/keys",
            json!({ "label": "k" }),
        )
        .await;
    let key_path = format!(
        "/api/v1/orgs/acme/projects/web/keys/{}",
        key["id"].as_str().unwrap()
    );
    let member_path = format!("/api/v1/orgs/acme/members/{}", alice.id);

    // Reads, then writes, then deletions (the org last): 404 for every one of them.
    let any =
        json!({ "name": "x", "slug": "x", "email": "eve@x.io", "role": "owner", "label": "x" });
    let not_found = |method: Method, path| {
        let body = matches!(method, Method::POST | Method::PATCH).then(|| any.clone());
        (&eve, method, path, body, 404, "not_found")
    };
    check_cases(
        &app,
        &[
            not_found(Method::GET, "/api/v1/orgs/acme"),
            not_found(Method::GET, "/api/v1/orgs/acme/members"),
            not_found(Method::GET, "/api/v1/orgs/acme/projects"),
            not_found(Method::GET, "/api/v1/orgs/acme/projects/web"),
            not_found(Method::GET, "/api/v1/orgs/acme/projects/web/keys"),
            not_found(Method::GET, "/api/v1/orgs/nosuch"),
            not_found(Method::POST, "/api/v1/orgs/acme/members"),
            not_found(Method::POST, "/api/v1/orgs/acme/projects"),
            not_found(Method::POST, "/api/v1/orgs/acme/projects/web/keys"),
            not_found(Method::PATCH, "/api/v1/orgs/acme"),
            not_found(Method::PATCH, "/api/v1/orgs/acme/projects/web"),
            not_found(Method::PATCH, &member_path),
            not_found(Method::DELETE, &key_path),
            not_found(Method::DELETE, &member_path),
            not_found(Method::DELETE, "/api/v1/orgs/acme/projects/web"),
            not_found(Method::DELETE, "/api/v1/orgs/acme"),
        ],
    )
    .await;
    // Nothing changed.
    let (status, org) = app.get_as(&alice, "/api/v1/orgs/acme").await;
    assert_eq!((status, &org["name"]), (200, &json!("Org acme")));
    let (_, list) = app.get_as(&eve, "/api/v1/orgs").await;
    assert_eq!(list["data"], json!([]));
}

#[actix_web::test]
async fn admins_manage_members_and_members_may_only_leave() {
    let app = spawn_app().await;
    let alice = app.user("alice@x.io").await;
    let bob = app.user("bob@x.io").await;
    let carol = app.user("carol@x.io").await;
    create_org(&app, &alice, "acme").await;

    // Added by email (case-insensitively), as a member.
    let (status, member) = app
        .post_as(
            &alice,
            "/api/v1/orgs/acme/members",
            json!({ "email": "Bob@X.io", "role": "member" }),
        )
        .await;
    assert_eq!(status, 201, "{member}");
    assert_eq!(member["user_id"], bob.id.to_string());
    assert_eq!(
        (&member["email"], &member["role"]),
        (&json!("bob@x.io"), &json!("member"))
    );
    let (_, list) = app.get_as(&bob, "/api/v1/orgs").await;
    assert_eq!(list["data"][0]["role"], "member");

    // Bad input.
    let cases = [
        (
            json!({ "email": "bob@x.io", "role": "member" }),
            409,
            ("already_member", "email"),
        ),
        (
            json!({ "email": "nobody@x.io", "role": "member" }),
            400,
            ("invalid_field", "email"),
        ),
        (
            json!({ "email": "carol@x.io", "role": "king" }),
            400,
            ("invalid_field", "role"),
        ),
        (
            json!({ "email": "carol@x.io" }),
            400,
            ("invalid_field", "role"),
        ),
    ];
    for (body, want_status, want) in cases {
        let (status, res) = app.post_as(&alice, "/api/v1/orgs/acme/members", body).await;
        assert_eq!((status, error_of(&res)), (want_status, want), "{res}");
    }

    let org = "/api/v1/orgs/acme";
    let members = "/api/v1/orgs/acme/members";
    let alice_path = format!("{members}/{}", alice.id);
    let bob_path = format!("{members}/{}", bob.id);
    let carol_path = format!("{members}/{}", carol.id);
    let carol_body = json!({ "email": "carol@x.io", "role": "member" });
    let role = |role: &str| Some(json!({ "role": role }));

    // A member reads but may not administer: 403, and nothing changes.
    let (status, list) = app.get_as(&bob, members).await;
    assert_eq!((status, list["data"].as_array().unwrap().len()), (200, 2));
    #[rustfmt::skip]
    let as_member: &[Case] = &[
        (&bob, Method::POST,   members,     Some(carol_body.clone()),       403, "forbidden"),
        (&bob, Method::PATCH,  &bob_path,   role("admin"),                  403, "forbidden"),
        (&bob, Method::PATCH,  org,         Some(json!({ "name": "x" })),   403, "forbidden"),
        (&bob, Method::DELETE, org,         None,                           403, "forbidden"),
        (&bob, Method::DELETE, &alice_path, None,                           403, "forbidden"),
    ];
    check_cases(&app, as_member).await;

    // Promoted to admin, bob manages members but not owners.
    let (status, res) = app
        .patch_as(&alice, &bob_path, json!({ "role": "admin" }))
        .await;
    assert_eq!((status, &res["role"]), (200, &json!("admin")));
    let (status, body) = app
        .patch_as(&alice, &bob_path, json!({ "role": "boss" }))
        .await;
    assert_eq!((status, error_of(&body)), (400, ("invalid_field", "role")));
    let carol_as_owner = json!({ "email": "carol@x.io", "role": "owner" });
    #[rustfmt::skip]
    let as_admin: &[Case] = &[
        (&bob, Method::POST,   members,     Some(carol_as_owner),     403, "forbidden"),
        (&bob, Method::POST,   members,     Some(carol_body.clone()), 201, ""),
        (&bob, Method::PATCH,  &carol_path, role("owner"),            403, "forbidden"),
        (&bob, Method::PATCH,  &alice_path, role("member"),           403, "forbidden"),
        (&bob, Method::DELETE, &alice_path, None,                     403, "forbidden"),
        (&bob, Method::DELETE, org,         None,                     403, "forbidden"),
    ];
    check_cases(&app, as_admin).await;
    let (status, res) = app
        .patch_as(&bob, &carol_path, json!({ "role": "admin" }))
        .await;
    assert_eq!((status, &res["role"]), (200, &json!("admin")));
    assert_eq!(app.delete_as(&bob, &carol_path).await.0, 204);
    assert_eq!(app.get_as(&carol, org).await.0, 404);

    // Members that do not exist, by a well-formed or a malformed id: 404.
    let unknown = format!("{members}/{}", uuid::Uuid::now_v7());
    let malformed = format!("{members}/not-a-uuid");
    #[rustfmt::skip]
    let missing: &[Case] = &[
        (&bob, Method::DELETE, &unknown,   None,           404, "not_found"),
        (&bob, Method::PATCH,  &unknown,   role("member"), 404, "not_found"),
        (&bob, Method::DELETE, &malformed, None,           404, "not_found"),
    ];
    check_cases(&app, missing).await;

    // A plain member may leave.
    let (status, _) = app.post_as(&alice, members, carol_body).await;
    assert_eq!(status, 201);
    assert_eq!(app.delete_as(&carol, &carol_path).await.0, 204);
    let (_, list) = app.get_as(&carol, "/api/v1/orgs").await;
    assert_eq!(list["data"], json!([]));
}

#[actix_web::test]
async fn the_last_owner_cannot_leave_or_be_demoted() {
    let app = spawn_app().await;
    let alice = app.user("alice@x.io").await;
    let bob = app.user("bob@x.io").await;
    create_org(&app, &alice, "acme").await;
    let alice_path = format!("/api/v1/orgs/acme/members/{}", alice.id);
    let bob_path = format!("/api/v1/orgs/acme/members/{}", bob.id);

    let role = |role: &str| Some(json!({ "role": role }));
    let org = "/api/v1/orgs/acme";

    #[rustfmt::skip]
    let alone: &[Case] = &[
        (&alice, Method::PATCH,  &alice_path, role("admin"), 409, "last_owner"),
        (&alice, Method::DELETE, &alice_path, None,          409, "last_owner"),
        // Re-stating the role is fine.
        (&alice, Method::PATCH,  &alice_path, role("owner"), 200, ""),
    ];
    check_cases(&app, alone).await;

    // With a second owner, the first may step down; then the second is the last one.
    add_member(&app, &alice, "acme", &bob, "owner").await;
    let (status, res) = app
        .patch_as(&alice, &alice_path, json!({ "role": "admin" }))
        .await;
    assert_eq!((status, &res["role"]), (200, &json!("admin")));
    #[rustfmt::skip]
    let two_owners: &[Case] = &[
        (&bob,   Method::DELETE, &bob_path,   None,           409, "last_owner"),
        (&bob,   Method::PATCH,  &bob_path,   role("member"), 409, "last_owner"),
        // An admin cannot remove (or demote) the owner at all.
        (&alice, Method::DELETE, &bob_path,   None,           403, "forbidden"),
        (&alice, Method::PATCH,  &bob_path,   role("member"), 403, "forbidden"),
        (&alice, Method::DELETE, org,         None,           403, "forbidden"),
        // An owner removes another owner when one remains.
        (&bob,   Method::PATCH,  &alice_path, role("owner"),  200, ""),
        (&alice, Method::DELETE, &bob_path,   None,           204, ""),
    ];
    check_cases(&app, two_owners).await;
    let (_, members) = app.get_as(&alice, "/api/v1/orgs/acme/members").await;
    assert_eq!(members["data"].as_array().unwrap().len(), 1);
    assert_eq!(members["data"][0]["role"], "owner");
}

#[actix_web::test]
async fn concurrent_demotions_leave_an_owner() {
    let app = spawn_app().await;
    let alice = app.user("alice@x.io").await;
    let bob = app.user("bob@x.io").await;
    for round in 0..3 {
        let org = format!("org-{round}");
        create_org(&app, &alice, &org).await;
        add_member(&app, &alice, &org, &bob, "owner").await;
        let alice_path = format!("/api/v1/orgs/{org}/members/{}", alice.id);
        let bob_path = format!("/api/v1/orgs/{org}/members/{}", bob.id);
        let demote = json!({ "role": "member" });
        let ((a, _), (b, _)) = tokio::join!(
            app.patch_as(&alice, &alice_path, demote.clone()),
            app.patch_as(&bob, &bob_path, demote.clone()),
        );
        let mut got = [a, b];
        got.sort();
        assert_eq!(got, [200, 409], "round {round}");
        let (_, members) = app
            .get_as(&alice, &format!("/api/v1/orgs/{org}/members"))
            .await;
        let owners = members["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "owner")
            .count();
        assert_eq!(owners, 1, "round {round}: {members}");
    }
}

#[actix_web::test]
async fn the_openapi_document_lists_the_management_routes() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    for path in [
        "/api/v1/orgs",
        "/api/v1/orgs/{org}",
        "/api/v1/orgs/{org}/members",
        "/api/v1/orgs/{org}/members/{user_id}",
        "/api/v1/orgs/{org}/projects",
        "/api/v1/orgs/{org}/projects/{project}",
        "/api/v1/orgs/{org}/projects/{project}/keys",
        "/api/v1/orgs/{org}/projects/{project}/keys/{key_id}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
}

#[actix_web::test]
async fn a_session_cookie_works_under_the_csrf_rules() {
    let app = spawn_app().await;
    let alice = app.user("alice@x.io").await;
    let cookie = format!(
        "mesher_session={}",
        app.login_cookie(&alice.email, &alice.password).await
    );
    let post = |origin: Option<&str>| {
        let mut req = app
            .client
            .post(format!("{}/api/v1/orgs", app.address))
            .header("cookie", &cookie)
            .json(&json!({ "name": "Acme", "slug": "acme" }));
        if let Some(origin) = origin {
            req = req.header("origin", origin);
        }
        send_json(req)
    };
    let (status, body) = post(Some("https://evil.example")).await;
    assert_eq!((status, error_of(&body).0), (403, "csrf"));
    let (status, body) = post(None).await;
    assert_eq!((status, &body["role"]), (201, &json!("owner")));
}

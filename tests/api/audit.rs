//! The audit log (docs/api.md, "Audit log"): every change of the table below leaves one
//! entry naming its actor, target, client address (from `X-Forwarded-For` only behind a
//! trusted proxy) and user agent, with details that never hold a secret; failed logins are
//! recorded; a change whose transaction fails leaves no entry; the lists filter, page, and
//! follow the access rules (admins read an organization's log, members 403, outsiders 404).

use diesel_async::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestUser, add_member, error_of, send_json, spawn_app, spawn_app_with, walk,
};
use crate::web::Browser;

const UA: &str = "audit-test/1.0";
const CLIENT: &str = "198.51.100.9";

/// `method path` as `user` through a proxy naming [`CLIENT`], with [`UA`].
async fn call(
    app: &TestApp,
    user: &TestUser,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app
        .as_user(user, method, path)
        .header("x-forwarded-for", CLIENT)
        .header("user-agent", UA);
    if let Some(body) = body {
        req = req.json(&body);
    }
    send_json(req).await
}

/// Every row of the audit table as JSON text (what a leak would show up in).
async fn raw_rows(app: &TestApp) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        row: String,
    }
    let mut conn = app.db.conn().await;
    let rows: Vec<Row> =
        diesel::sql_query("SELECT row_to_json(a)::text AS row FROM audit_log a ORDER BY id")
            .load(&mut conn)
            .await
            .unwrap();
    rows.into_iter().map(|r| r.row).collect()
}

/// How many rows of the audit table have `action` and `target_label`.
async fn count(app: &TestApp, action: &str, label: &str) -> usize {
    raw_rows(app)
        .await
        .iter()
        .map(|r| serde_json::from_str::<Value>(r).unwrap())
        .filter(|r| r["action"] == action && r["target_label"] == label)
        .count()
}

fn find<'a>(rows: &'a [Value], action: &str, label: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["action"] == action && r["target_label"] == label)
        .unwrap_or_else(|| panic!("no {action} of {label} in {rows:#?}"))
}

#[actix_web::test]
async fn every_change_is_recorded_with_its_actor_origin_and_no_secret() {
    let app = spawn_app_with(
        |s| s.http.trusted_proxies = vec!["127.0.0.1/32".into()],
        None,
    )
    .await;
    let owner = app.user("owner@audit.io").await;
    let bob = app.user("bob@audit.io").await;
    let org = "/api/v1/orgs/acme";
    let p = "/api/v1/orgs/acme/projects/web";
    let rule = json!({ "name": "rule-1", "condition": { "kind": "new_issue" },
                       "action": { "kind": "log" } });
    let mut secrets = Vec::new();
    let mut ids: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    // (method, path, body): each must succeed.
    let steps: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/v1/orgs".into(),
            Some(json!({ "name": "Acme", "slug": "acme" })),
        ),
        (
            Method::PATCH,
            org.into(),
            Some(json!({ "name": "Acme Inc" })),
        ),
        (
            Method::POST,
            format!("{org}/members"),
            Some(json!({ "email": bob.email, "role": "member" })),
        ),
        (
            Method::PATCH,
            format!("{org}/members/{}", bob.id),
            Some(json!({ "role": "admin" })),
        ),
        (
            Method::POST,
            format!("{org}/projects"),
            Some(json!({ "name": "Web", "slug": "web" })),
        ),
        (
            Method::POST,
            format!("{p}/keys"),
            Some(json!({ "label": "sdk-key" })),
        ),
        (Method::DELETE, format!("{p}/keys/{{key}}"), None),
        (Method::POST, format!("{p}/alert-rules"), Some(rule)),
        (
            Method::PATCH,
            format!("{p}/alert-rules/{{rule}}"),
            Some(json!({ "enabled": false })),
        ),
        (Method::DELETE, format!("{p}/alert-rules/{{rule}}"), None),
        (
            Method::POST,
            "/api/v1/auth/tokens".into(),
            Some(json!({ "label": "ci-token", "current_password": owner.password })),
        ),
        (Method::DELETE, "/api/v1/auth/tokens/{token}".into(), None),
        (
            Method::POST,
            "/api/v1/auth/password".into(),
            Some(json!({
            "current_password": owner.password, "new_password": "a new long password" })),
        ),
        (Method::DELETE, format!("{org}/members/{}", bob.id), None),
        (Method::DELETE, p.into(), None),
    ];
    for (method, path, body) in steps {
        let mut path = path;
        for (name, id) in &ids {
            path = path.replace(&format!("{{{name}}}"), id);
        }
        let (status, out) = call(&app, &owner, method.clone(), &path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {out}"
        );
        for (field, name) in [("key", "key"), ("token", "token")] {
            if let Some(secret) = out[field].as_str() {
                secrets.push(secret.to_owned());
                ids.insert(name, out["id"].as_str().unwrap().to_owned());
            }
        }
        if path.ends_with("/alert-rules") {
            ids.insert("rule", out["id"].as_str().unwrap().to_owned());
        }
    }
    let (status, page) = app.get_as(&owner, &format!("{org}/audit?limit=1000")).await;
    assert_eq!(status, 200, "{page}");
    let rows = page["data"].as_array().unwrap().clone();
    // (action, target type, target label, details expected to include)
    let expected: &[(&str, &str, &str, Value)] = &[
        (
            "org_created",
            "organization",
            "acme",
            json!({ "name": "Acme" }),
        ),
        (
            "org_renamed",
            "organization",
            "acme",
            json!({ "from": "Acme", "to": "Acme Inc" }),
        ),
        (
            "member_added",
            "member",
            &bob.email,
            json!({ "role": "member" }),
        ),
        (
            "member_role_changed",
            "member",
            &bob.email,
            json!({ "from": "member", "to": "admin" }),
        ),
        (
            "project_created",
            "project",
            "web",
            json!({ "name": "Web" }),
        ),
        ("key_created", "key", "sdk-key", json!({ "project": "web" })),
        ("key_revoked", "key", "sdk-key", json!({ "project": "web" })),
        (
            "alert_rule_created",
            "alert_rule",
            "rule-1",
            json!({ "project": "web" }),
        ),
        (
            "alert_rule_changed",
            "alert_rule",
            "rule-1",
            json!({ "fields": ["enabled"] }),
        ),
        (
            "alert_rule_deleted",
            "alert_rule",
            "rule-1",
            json!({ "project": "web" }),
        ),
        (
            "member_removed",
            "member",
            &bob.email,
            json!({ "role": "admin", "left": false }),
        ),
        (
            "project_deleted",
            "project",
            "web",
            json!({ "name": "Web" }),
        ),
    ];
    assert_eq!(rows.len(), expected.len(), "{rows:#?}");
    for (action, target_type, label, details) in expected {
        let row = find(&rows, action, label);
        assert_eq!(row["target_type"], *target_type, "{row}");
        assert_eq!(row["actor"], owner.email.as_str(), "{row}");
        assert_eq!(row["actor_user_id"], owner.id.to_string(), "{row}");
        assert_eq!(row["ip"], CLIENT, "{row}");
        assert_eq!(row["user_agent"], UA, "{row}");
        for (k, v) in details.as_object().unwrap() {
            assert_eq!(&row["details"][k], v, "{action}.{k}: {row}");
        }
    }
    // Newest first.
    assert_eq!(rows[0]["action"], "project_deleted");
    assert_eq!(rows.last().unwrap()["action"], "org_created");

    // The account's own entries: tokens and the password change, with the same origin.
    let (status, mine) = app.get_as(&owner, "/api/v1/auth/audit?limit=1000").await;
    assert_eq!(status, 200, "{mine}");
    let mine = mine["data"].as_array().unwrap().clone();
    for (action, label) in [
        ("token_created", "ci-token"),
        ("token_revoked", "ci-token"),
        ("password_changed", owner.email.as_str()),
    ] {
        let row = find(&mine, action, label);
        assert_eq!(
            (row["ip"].as_str(), row["user_agent"].as_str()),
            (Some(CLIENT), Some(UA))
        );
    }
    assert!(mine.iter().all(|r| r["org_id"].is_null()), "{mine:#?}");

    // The organization's deletion outlives it, with its slug and name.
    let (status, _) = call(&app, &owner, Method::DELETE, org, None).await;
    assert_eq!(status, 204);
    let all = raw_rows(&app).await;
    let deleted: Value = all
        .iter()
        .map(|r| serde_json::from_str::<Value>(r).unwrap())
        .find(|r| r["action"] == "org_deleted")
        .expect("org_deleted kept");
    assert_eq!(
        deleted["details"],
        json!({ "slug": "acme", "name": "Acme Inc" })
    );
    // No secret anywhere: not the key, not the tokens, not a password, not a hash.
    assert!(secrets.len() == 2, "{secrets:?}");
    for row in &all {
        for secret in secrets
            .iter()
            .chain([&owner.password, &owner.token, &bob.token])
        {
            assert!(!row.contains(secret.as_str()), "a secret in {row}");
        }
        assert!(
            !row.contains("a new long password") && !row.contains("$argon2"),
            "{row}"
        );
    }
}

#[actix_web::test]
async fn logins_are_recorded_and_forwarded_for_counts_only_from_a_trusted_proxy() {
    let app = spawn_app().await;
    let user = app.user("login@audit.io").await;
    let login = |email: &str, password: &str| {
        app.client
            .post(format!("{}/api/v1/auth/login", app.address))
            .header("x-forwarded-for", CLIENT)
            .header("user-agent", UA)
            .json(&json!({ "email": email, "password": password }))
    };
    let (status, _) = send_json(login(&user.email, "wrong password")).await;
    assert_eq!(status, 401);
    let (status, _) = send_json(login("nobody@audit.io", "wrong password")).await;
    assert_eq!(status, 401);
    let res = login(&user.email, &user.password).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let res = app
        .client
        .post(format!("{}/api/v1/auth/logout", app.address))
        .header("cookie", cookie)
        .header("content-type", "application/json")
        .header("user-agent", UA)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    let (status, page) = app.get_as(&user, "/api/v1/auth/audit").await;
    assert_eq!(status, 200, "{page}");
    let rows = page["data"].as_array().unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r["action"].as_str().unwrap()).collect();
    // Newest first: the helper's own login and token come before this test's calls.
    assert_eq!(
        actions,
        [
            "logout",
            "login_succeeded",
            "login_failed",
            "token_created",
            "login_succeeded"
        ],
        "{rows:#?}"
    );
    for row in &rows[..3] {
        // No trusted proxy: the header is ignored, the peer is the client.
        assert_eq!(row["ip"], "127.0.0.1", "{row}");
        assert_eq!(row["user_agent"], UA, "{row}");
    }
    let failed = &rows[2];
    assert_eq!(
        (failed["actor"].as_str(), failed["actor_user_id"].as_str()),
        (Some(user.email.as_str()), None)
    );
    assert_eq!(failed["user_id"], user.id.to_string());
    // An unknown email's failure is recorded too, for no account.
    let unknown: Vec<Value> = raw_rows(&app)
        .await
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .filter(|r: &Value| r["actor_label"] == "nobody@audit.io")
        .collect();
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    assert_eq!(
        (
            unknown[0]["action"].as_str(),
            unknown[0]["user_id"].as_str()
        ),
        (Some("login_failed"), None)
    );
    assert!(
        !raw_rows(&app)
            .await
            .iter()
            .any(|r| r.contains("wrong password"))
    );
}

#[actix_web::test]
async fn a_change_that_fails_leaves_no_entry() {
    let app = spawn_app().await;
    let owner = app.user("fail-owner@audit.io").await;
    let other = app.user("fail-other@audit.io").await;
    // (who, method, path, body, status): each refused in or before its transaction.
    let cases: &[(&TestUser, Method, &str, Value, u16)] = &[
        (
            &owner,
            Method::POST,
            "/api/v1/orgs",
            json!({ "name": "Dup", "slug": "dup" }),
            201,
        ),
        (
            &other,
            Method::POST,
            "/api/v1/orgs",
            json!({ "name": "Dup 2", "slug": "dup" }),
            409,
        ),
        (
            &owner,
            Method::POST,
            "/api/v1/orgs/dup/projects",
            json!({ "name": "P", "slug": "p" }),
            201,
        ),
        (
            &owner,
            Method::POST,
            "/api/v1/orgs/dup/projects",
            json!({ "name": "P2", "slug": "p" }),
            409,
        ),
        (
            &owner,
            Method::PATCH,
            &format!("/api/v1/orgs/dup/members/{}", owner.id),
            json!({ "role": "member" }),
            409,
        ),
        (
            &owner,
            Method::POST,
            "/api/v1/orgs/dup/members",
            json!({ "email": "nobody@audit.io", "role": "member" }),
            400,
        ),
    ];
    for (who, method, path, body, status) in cases {
        let (got, out) = app.call_as(who, method.clone(), path, Some(body)).await;
        assert_eq!(got, *status, "{method} {path}: {out}");
    }
    assert_eq!(count(&app, "org_created", "dup").await, 1);
    assert_eq!(count(&app, "project_created", "p").await, 1);
    let (_, page) = app.get_as(&owner, "/api/v1/orgs/dup/audit").await;
    let actions: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["project_created", "org_created"], "{page}");
    let created = &page["data"][1];
    assert_eq!(
        (
            created["details"]["name"].as_str(),
            created["actor"].as_str()
        ),
        (Some("Dup"), Some(owner.email.as_str()))
    );
}

#[actix_web::test]
async fn the_log_filters_pages_and_follows_the_access_rules() {
    let app = spawn_app().await;
    let owner = app.user("o@audit.io").await;
    let admin = app.user("a@audit.io").await;
    let member = app.user("m@audit.io").await;
    let outsider = app.user("x@audit.io").await;
    crate::helpers::create_org(&app, &owner, "acme").await;
    crate::helpers::create_org(&app, &outsider, "other").await;
    add_member(&app, &owner, "acme", &admin, "admin").await;
    add_member(&app, &owner, "acme", &member, "member").await;
    for slug in ["p1", "p2", "p3"] {
        let (status, _) = app
            .post_as(
                &admin,
                "/api/v1/orgs/acme/projects",
                json!({ "name": slug, "slug": slug }),
            )
            .await;
        assert_eq!(status, 201);
    }
    let base = "/api/v1/orgs/acme/audit";
    // (who, query, status, error field, actions expected newest first)
    type Case<'a> = (&'a TestUser, String, u16, &'a str, &'a [&'a str]);
    let cases: Vec<Case> = vec![
        (
            &owner,
            String::new(),
            200,
            "",
            &[
                "project_created",
                "project_created",
                "project_created",
                "member_added",
                "member_added",
                "org_created",
            ],
        ),
        (
            &admin,
            "?action=member_added".into(),
            200,
            "",
            &["member_added", "member_added"],
        ),
        (
            &owner,
            format!("?actor={}", admin.email.to_uppercase()),
            200,
            "",
            &["project_created"; 3],
        ),
        (
            &owner,
            format!("?actor={}", owner.id),
            200,
            "",
            &["member_added", "member_added", "org_created"],
        ),
        (&owner, "?action=login_succeeded".into(), 200, "", &[]),
        (&owner, "?action=everything".into(), 400, "action", &[]),
        (&owner, "?actor=a%00b".into(), 400, "actor", &[]),
        (&owner, "?cursor=nonsense".into(), 400, "cursor", &[]),
        (&owner, "?limit=0".into(), 400, "limit", &[]),
        (&member, String::new(), 403, "", &[]),
        (&outsider, String::new(), 404, "", &[]),
    ];
    for (i, (who, query, status, field, actions)) in cases.iter().enumerate() {
        let (got, body) = app.get_as(who, &format!("{base}{query}")).await;
        assert_eq!(got, *status, "case {i} {query}: {body}");
        if *status == 200 {
            let seen: Vec<&str> = body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["action"].as_str().unwrap())
                .collect();
            assert_eq!(seen, *actions, "case {i} {query}");
        } else if !field.is_empty() {
            assert_eq!(error_of(&body), ("invalid_field", *field), "case {i}");
        }
    }
    // Pages of two walk the same rows as one page of all, with the filters kept.
    let (_, all) = app.get_as(&owner, &format!("{base}?limit=1000")).await;
    let walked = walk(&app, &owner, &format!("{base}?limit=2"), 2).await;
    assert_eq!(walked, all["data"].as_array().unwrap().clone());
    let filtered = walk(
        &app,
        &owner,
        &format!("{base}?limit=1&action=project_created"),
        1,
    )
    .await;
    assert_eq!(filtered.len(), 3);
    // Account entries are the user's own: none of another account's, none of an org's.
    let (_, mine) = app.get_as(&admin, "/api/v1/auth/audit?limit=1000").await;
    for row in mine["data"].as_array().unwrap() {
        assert_eq!(row["user_id"], admin.id.to_string(), "{row}");
    }
    // The web page: admins see it (with its filter), members get the 403 page.
    let mut a = Browser::signed_in(&app, &admin).await;
    let page = a.get("/acme/settings/audit?action=member_added").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("<code>member_added</code>"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("<code>project_created</code>"),
        "{}",
        page.body
    );
    let settings = a.get("/acme/settings").await;
    assert!(settings.body.contains("href=\"/acme/settings/audit\""));
    let mut m = Browser::signed_in(&app, &member).await;
    assert_eq!(
        m.get("/acme/settings/audit").await.status,
        StatusCode::FORBIDDEN
    );
    let mut x = Browser::signed_in(&app, &outsider).await;
    assert_eq!(
        x.get("/acme/settings/audit").await.status,
        StatusCode::NOT_FOUND
    );
}

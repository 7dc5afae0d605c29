//! Alert rules: CRUD, roles (member reads, admin writes, outsiders see nothing), validation
//! naming the exact field, and rules scoped to their project.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Case, TestApp, TestUser, check_cases, join, send_json, spawn_app};

/// An app with projects `web` and `api` in `test-org`, an admin, a member and an outsider.
struct Setup {
    app: TestApp,
    admin: TestUser,
    member: TestUser,
    outsider: TestUser,
}

async fn setup() -> Setup {
    let app = spawn_app().await;
    app.project("web").await;
    app.project("api").await;
    let admin = app.user("admin@example.com").await;
    let member = app.user("member@example.com").await;
    let outsider = app.user("outsider@example.com").await;
    join(&app, &admin, "admin").await;
    join(&app, &member, "member").await;
    Setup {
        app,
        admin,
        member,
        outsider,
    }
}

const WEB: &str = "/api/v1/orgs/test-org/projects/web/alert-rules";
const API: &str = "/api/v1/orgs/test-org/projects/api/alert-rules";

fn rule_body(name: &str) -> Value {
    json!({
        "name": name,
        "condition": {"kind": "event_frequency", "threshold": 10, "window_secs": 300},
        "action": {"kind": "webhook", "url": "https://hooks.example.com/mesher"}
    })
}

/// Creates a rule as `admin` under `base`; answers it as `GET` shows it: without its
/// signing secret, which only the creation's answer carries (checked here).
async fn create(app: &TestApp, admin: &TestUser, base: &str, name: &str) -> Value {
    let (status, mut body) = app.post_as(admin, base, rule_body(name)).await;
    assert_eq!(status, 201, "{body}");
    let secret = body
        .as_object_mut()
        .and_then(|o| o.remove("secret"))
        .expect("the secret, in the creation's answer");
    assert!(
        secret.as_str().is_some_and(|s| s.starts_with("whsec_")),
        "{secret}"
    );
    body
}

#[actix_web::test]
async fn crud_round_trip_as_admin() {
    let Setup { app, admin, .. } = setup().await;

    let created = create(&app, &admin, WEB, "  Too many errors ").await;
    assert_eq!(created["filters"], json!({}));
    assert_eq!(created["name"], "Too many errors");
    assert_eq!(created["enabled"], true);
    assert_eq!(
        created["condition"],
        json!({"kind": "event_frequency", "threshold": 10, "window_secs": 300})
    );
    assert_eq!(
        created["action"],
        json!({"kind": "webhook", "url": "https://hooks.example.com/mesher"})
    );
    assert_eq!(created["created_at"], created["updated_at"]);
    let id = created["id"].as_str().unwrap();
    let one = format!("{WEB}/{id}");

    let (status, got) = app.get_as(&admin, &one).await;
    assert_eq!((status, &got), (200, &created));

    // Pagination by id: three rules, two per page.
    create(&app, &admin, WEB, "second").await;
    create(&app, &admin, WEB, "third").await;
    let (status, page1) = app.get_as(&admin, &format!("{WEB}?limit=2")).await;
    assert_eq!(status, 200, "{page1}");
    let names = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&page1), ["Too many errors", "second"]);
    let cursor = page1["next_cursor"].as_str().expect("a next page");
    let (_, page2) = app
        .get_as(&admin, &format!("{WEB}?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(names(&page2), ["third"]);
    assert!(page2["next_cursor"].is_null());
    let (status, err) = app.get_as(&admin, &format!("{WEB}?cursor=garbage")).await;
    assert_eq!((status, &err["error"]["field"]), (400, &json!("cursor")));

    // Patch: only what is sent changes; updated_at moves, created_at does not.
    let (status, patched) = app
        .patch_as(
            &admin,
            &one,
            json!({"enabled": false, "condition": {"kind": "regression"}, "action": {"kind": "log"}}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["name"], "Too many errors");
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["condition"], json!({"kind": "regression"}));
    assert_eq!(patched["action"], json!({"kind": "log"}));
    assert_eq!(patched["created_at"], created["created_at"]);
    let ts = |v: &Value| {
        v.as_str()
            .unwrap()
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    };
    assert!(ts(&patched["updated_at"]) > ts(&created["updated_at"]));
    let (_, got) = app.get_as(&admin, &one).await;
    assert_eq!(got, patched);

    // An empty patch changes nothing, not even updated_at.
    let (status, same) = app.patch_as(&admin, &one, json!({})).await;
    assert_eq!((status, &same), (200, &patched));

    let (status, body) = app.delete_as(&admin, &one).await;
    assert_eq!((status, body), (204, Value::Null));
    #[rustfmt::skip]
    let gone: &[Case] = &[
        (&admin, Method::GET,    &one, None,                      404, "not_found"),
        (&admin, Method::DELETE, &one, None,                      404, "not_found"),
        (&admin, Method::PATCH,  &one, Some(json!({"name": "x"})), 404, "not_found"),
    ];
    check_cases(&app, gone).await;
    let (_, list) = app.get_as(&admin, WEB).await;
    assert_eq!(names(&list), ["second", "third"]);

    // Owners may do what admins may.
    join(&app, &admin, "owner").await;
    create(&app, &admin, WEB, "by the owner").await;
}

#[actix_web::test]
async fn members_read_but_cannot_write() {
    let Setup {
        app, admin, member, ..
    } = setup().await;
    let rule = create(&app, &admin, WEB, "watched").await;
    let one = format!("{WEB}/{}", rule["id"].as_str().unwrap());

    let (status, list) = app.get_as(&member, WEB).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"][0], rule);
    assert_eq!(app.get_as(&member, &one).await, (200, rule.clone()));

    let refusals = [
        app.post_as(&member, WEB, rule_body("mine")).await,
        app.patch_as(&member, &one, json!({"enabled": false})).await,
        app.delete_as(&member, &one).await,
    ];
    for (status, err) in refusals {
        assert_eq!(status, 403, "{err}");
        assert_eq!(err["error"]["code"], "forbidden");
        assert!(err["error"]["message"].as_str().unwrap().contains("admin"));
    }
    // Nothing changed.
    let (_, list) = app.get_as(&member, WEB).await;
    assert_eq!(list["data"], json!([rule]));
}

#[actix_web::test]
async fn outsiders_get_404_on_every_route() {
    let Setup {
        app,
        admin,
        member,
        outsider,
    } = setup().await;
    let rule = create(&app, &admin, WEB, "secret").await;
    let one = format!("{WEB}/{}", rule["id"].as_str().unwrap());
    let stats = "/api/v1/orgs/test-org/projects/web/stats";

    let answers = [
        app.get_as(&outsider, WEB).await,
        app.post_as(&outsider, WEB, rule_body("x")).await,
        app.get_as(&outsider, &one).await,
        app.patch_as(&outsider, &one, json!({"enabled": false}))
            .await,
        app.delete_as(&outsider, &one).await,
        app.get_as(&outsider, stats).await,
    ];
    for (status, err) in answers {
        assert_eq!(status, 404, "{err}");
        assert_eq!(err["error"]["code"], "not_found");
    }
    // Members and admins of the org get 404 for a project or org that does not exist.
    let missing = [
        app.get_as(&member, "/api/v1/orgs/test-org/projects/nope/alert-rules")
            .await,
        app.get_as(&admin, "/api/v1/orgs/nope/projects/web/alert-rules")
            .await,
        app.post_as(
            &admin,
            "/api/v1/orgs/test-org/projects/nope/alert-rules",
            rule_body("x"),
        )
        .await,
    ];
    for (status, err) in missing {
        assert_eq!(status, 404, "{err}");
    }
    // Without credentials: 401.
    let res = app.get(WEB).await;
    assert_eq!(res.status(), 401);
    // The rule is untouched.
    assert_eq!(app.get_as(&admin, &one).await, (200, rule));
}

#[actix_web::test]
async fn invalid_rules_are_400_naming_the_field() {
    let Setup { app, admin, .. } = setup().await;
    let with = |key: &str, value: Value| {
        let mut body = rule_body("r");
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = rule_body("r");
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let freq = |threshold: Value, window: Value| json!({"kind": "event_frequency", "threshold": threshold, "window_secs": window});
    let hook = |url: &str| json!({"kind": "webhook", "url": url});
    let cases = [
        (without("name"), "name", "missing_field"),
        (with("name", json!("")), "name", "invalid_field"),
        (with("name", json!("  ")), "name", "invalid_field"),
        (
            with("name", json!("n".repeat(201))),
            "name",
            "invalid_field",
        ),
        (with("name", json!(7)), "name", "invalid_field"),
        (with("enabled", json!("yes")), "enabled", "invalid_field"),
        (
            with("project_id", json!("x")),
            "project_id",
            "unknown_field",
        ),
        (without("condition"), "condition", "missing_field"),
        (
            with("condition", json!("new_issue")),
            "condition",
            "invalid_field",
        ),
        (
            with("condition", json!({})),
            "condition.kind",
            "missing_field",
        ),
        (
            with("condition", json!({"kind": "often"})),
            "condition.kind",
            "invalid_field",
        ),
        (
            with(
                "condition",
                json!({"kind": "event_frequency", "window_secs": 60}),
            ),
            "condition.threshold",
            "missing_field",
        ),
        (
            with("condition", freq(json!(0), json!(60))),
            "condition.threshold",
            "invalid_field",
        ),
        (
            with("condition", freq(json!(1_000_001), json!(60))),
            "condition.threshold",
            "invalid_field",
        ),
        (
            with("condition", freq(json!(2.5), json!(60))),
            "condition.threshold",
            "invalid_field",
        ),
        (
            with("condition", freq(json!("5"), json!(60))),
            "condition.threshold",
            "invalid_field",
        ),
        (
            with("condition", freq(json!(5), json!(59))),
            "condition.window_secs",
            "invalid_field",
        ),
        (
            with("condition", freq(json!(5), json!(604_801))),
            "condition.window_secs",
            "invalid_field",
        ),
        (
            with("condition", json!({"kind": "new_issue", "threshold": 5})),
            "condition.threshold",
            "unknown_field",
        ),
        (without("action"), "action", "missing_field"),
        (
            with("action", json!({"kind": "sms"})),
            "action.kind",
            "invalid_field",
        ),
        (
            with("action", json!({"kind": "email", "to": ["not an address"]})),
            "action.to",
            "invalid_field",
        ),
        (
            with("filters", json!({"min_level": "loud"})),
            "filters.min_level",
            "invalid_field",
        ),
        (
            with("filters", json!({"release": "1.0"})),
            "filters.release",
            "unknown_field",
        ),
        (
            with("action", json!({"kind": "webhook"})),
            "action.url",
            "missing_field",
        ),
        (
            with("action", hook("ftp://example.com/")),
            "action.url",
            "invalid_field",
        ),
        (
            with("action", hook("example.com/hook")),
            "action.url",
            "invalid_field",
        ),
        (
            with("action", hook("https://")),
            "action.url",
            "invalid_field",
        ),
        (
            with("action", hook("https://exa mple.com")),
            "action.url",
            "invalid_field",
        ),
        (
            with(
                "action",
                hook(&format!("https://e.com/{}", "a".repeat(2048))),
            ),
            "action.url",
            "invalid_field",
        ),
        (
            with(
                "action",
                json!({"kind": "webhook", "url": "https://e.com", "secret": "s"}),
            ),
            "action.secret",
            "unknown_field",
        ),
        (
            with("action", json!({"kind": "log", "level": "error"})),
            "action.level",
            "unknown_field",
        ),
    ];
    for (body, field, code) in cases {
        let (status, err) = app.post_as(&admin, WEB, body.clone()).await;
        assert_eq!(status, 400, "{body} → {err}");
        assert_eq!(err["error"]["field"], field, "{body} → {err}");
        assert_eq!(err["error"]["code"], code, "{body} → {err}");
        assert!(!err["error"]["message"].as_str().unwrap().is_empty());
    }
    // Not an object at all.
    let (status, err) = app.post_as(&admin, WEB, json!([1, 2])).await;
    assert_eq!(
        (status, &err["error"]["code"]),
        (400, &json!("invalid_body"))
    );
    // Not JSON.
    let res = app
        .as_user(&admin, reqwest::Method::POST, WEB)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Nothing was created.
    let (_, list) = app.get_as(&admin, WEB).await;
    assert_eq!(list["data"], json!([]));
}

#[actix_web::test]
async fn patches_are_validated_and_failed_ones_change_nothing() {
    let Setup { app, admin, .. } = setup().await;
    let rule = create(&app, &admin, WEB, "steady").await;
    let one = format!("{WEB}/{}", rule["id"].as_str().unwrap());
    let cases = [
        (json!({"name": ""}), "name"),
        (json!({"name": "n".repeat(201)}), "name"),
        (json!({"enabled": "no"}), "enabled"),
        (json!({"condition": {"kind": "nope"}}), "condition.kind"),
        (
            json!({"condition": {"kind": "event_frequency", "threshold": 5}}),
            "condition.window_secs",
        ),
        (
            json!({"action": {"kind": "webhook", "url": "mailto:a@b.c"}}),
            "action.url",
        ),
        // A valid change next to an invalid one is not applied either.
        (
            json!({"name": "renamed", "action": {"kind": "sms"}}),
            "action.kind",
        ),
        (json!({"id": "00000000-0000-0000-0000-000000000000"}), "id"),
    ];
    for (patch, field) in cases {
        let (status, err) = app.patch_as(&admin, &one, patch.clone()).await;
        assert_eq!(status, 400, "{patch} → {err}");
        assert_eq!(err["error"]["field"], field, "{patch} → {err}");
    }
    assert_eq!(app.get_as(&admin, &one).await, (200, rule.clone()));

    // A valid patch of one field keeps the others.
    let (status, patched) = app
        .patch_as(
            &admin,
            &one,
            json!({"condition": {"kind": "event_frequency", "threshold": 1, "window_secs": 604800}}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["condition"]["window_secs"], 604_800);
    assert_eq!(patched["name"], rule["name"]);
    assert_eq!(patched["action"], rule["action"]);
}

#[actix_web::test]
async fn a_rule_of_another_project_is_404() {
    let Setup {
        app, admin, member, ..
    } = setup().await;
    let rule = create(&app, &admin, WEB, "web only").await;
    let id = rule["id"].as_str().unwrap();
    let elsewhere = format!("{API}/{id}");

    let answers = [
        app.get_as(&member, &elsewhere).await,
        app.get_as(&admin, &elsewhere).await,
        app.patch_as(&admin, &elsewhere, json!({"enabled": false}))
            .await,
        app.delete_as(&admin, &elsewhere).await,
        // Malformed and unknown ids answer the same.
        app.get_as(&admin, &format!("{WEB}/not-a-uuid")).await,
        app.get_as(&admin, &format!("{WEB}/{}", uuid::Uuid::now_v7()))
            .await,
    ];
    for (status, err) in answers {
        assert_eq!(status, 404, "{err}");
        assert_eq!(err["error"]["code"], "not_found");
    }
    let (_, list) = app.get_as(&admin, API).await;
    assert_eq!(list["data"], json!([]));
    assert_eq!(
        app.get_as(&admin, &format!("{WEB}/{id}")).await,
        (200, rule)
    );
}

#[actix_web::test]
async fn alert_routes_are_in_the_openapi_document() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let paths = &doc["paths"];
    let list = &paths["/api/v1/orgs/{org}/projects/{project}/alert-rules"];
    let one = &paths["/api/v1/orgs/{org}/projects/{project}/alert-rules/{rule_id}"];
    for (item, method) in [
        (list, "get"),
        (list, "post"),
        (one, "get"),
        (one, "patch"),
        (one, "delete"),
    ] {
        assert_eq!(item[method]["tags"][0], "alerts", "{method} {item}");
    }
    assert!(
        paths["/api/v1/orgs/{org}/projects/{project}/stats"]["get"]["responses"]["200"].is_object()
    );
    assert!(doc["components"]["schemas"]["ProjectStats"].is_object());
}

#[actix_web::test]
async fn session_cookies_work_and_follow_the_csrf_rules() {
    let Setup { app, admin, .. } = setup().await;
    let cookie = app.login_cookie(&admin.email, &admin.password).await;
    let url = format!("{}{WEB}", app.address);
    let with_cookie =
        |req: reqwest::RequestBuilder| req.header("cookie", format!("mesher_session={cookie}"));

    let res = with_cookie(app.client.post(&url))
        .json(&rule_body("from the browser"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // A form post cannot change anything: refused by the CSRF check (403) or, when the body
    // extractor looks first, for its content type (415).
    let res = with_cookie(app.client.post(&url))
        .header("content-type", "text/plain")
        .body(rule_body("forged").to_string())
        .send()
        .await
        .unwrap();
    assert!(
        [403, 415].contains(&res.status().as_u16()),
        "{}",
        res.status()
    );
    let (status, list) = send_json(with_cookie(app.client.get(&url))).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

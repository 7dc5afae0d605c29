//! Tenant isolation over EVERY management route, taken from the server's own OpenAPI document
//! (which is built from the routes table: a handler cannot be registered undocumented).
//! For each route under an organization: a user of another org gets 404, a member without
//! the role gets 403, the right role succeeds (docs/api.md, "Access rules"). A route this
//! file does not classify fails the test, so a route added later without thinking about
//! access cannot slip through.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, event, send_json, spawn_app};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Needs {
    Member,
    Admin,
    Owner,
}

/// Routes that are not under an organization, and why they need no org check.
const NOT_ORG_SCOPED: &[(&str, &str)] = &[
    ("GET /health/live", "public probe"),
    ("GET /health/ready", "public probe"),
    ("GET /metrics", "operator scrape"),
    ("GET /api/openapi.json", "public document"),
    ("POST /api/v1/events", "project key"),
    (
        "POST /api/{number}/store/",
        "project key, checked against the number",
    ),
    (
        "POST /api/{number}/envelope/",
        "project key, checked against the number",
    ),
    ("POST /api/v1/auth/register", "anyone"),
    ("POST /api/v1/auth/login", "anyone"),
    ("POST /api/v1/auth/logout", "own session"),
    ("GET /api/v1/auth/me", "own account"),
    ("GET /api/v1/auth/audit", "own account's entries only"),
    ("POST /api/v1/auth/password", "own account"),
    ("POST /api/v1/auth/tokens", "own account"),
    ("GET /api/v1/auth/tokens", "own account"),
    (
        "DELETE /api/v1/auth/tokens/{token_id}",
        "own tokens only (checked by owner id)",
    ),
    ("POST /api/v1/orgs", "any user creates their own org"),
    (
        "GET /api/v1/orgs",
        "lists only the caller's orgs (checked below)",
    ),
];

/// Every org-scoped route: the role it needs and, for writes, a body that succeeds.
fn org_routes() -> BTreeMap<&'static str, (Needs, Option<Value>)> {
    let rule =
        json!({ "name": "r2", "condition": { "kind": "new_issue" }, "action": { "kind": "log" } });
    BTreeMap::from([
        ("GET /api/v1/orgs/{org}", (Needs::Member, None)),
        (
            "PATCH /api/v1/orgs/{org}",
            (Needs::Admin, Some(json!({ "name": "Renamed" }))),
        ),
        ("DELETE /api/v1/orgs/{org}", (Needs::Owner, None)),
        ("GET /api/v1/orgs/{org}/members", (Needs::Member, None)),
        ("GET /api/v1/orgs/{org}/audit", (Needs::Admin, None)),
        (
            "POST /api/v1/orgs/{org}/members",
            (
                Needs::Admin,
                Some(json!({ "email": "newbie@a.io", "role": "member" })),
            ),
        ),
        (
            "PATCH /api/v1/orgs/{org}/members/{user_id}",
            (Needs::Admin, Some(json!({ "role": "admin" }))),
        ),
        (
            "DELETE /api/v1/orgs/{org}/members/{user_id}",
            (Needs::Admin, None),
        ),
        ("GET /api/v1/orgs/{org}/projects", (Needs::Member, None)),
        (
            "POST /api/v1/orgs/{org}/projects",
            (
                Needs::Admin,
                Some(json!({ "name": "Second", "slug": "second" })),
            ),
        ),
        (
            "GET /api/v1/orgs/{org}/projects/{project}",
            (Needs::Member, None),
        ),
        (
            "PATCH /api/v1/orgs/{org}/projects/{project}",
            (Needs::Admin, Some(json!({ "name": "Renamed" }))),
        ),
        (
            "DELETE /api/v1/orgs/{org}/projects/{project}",
            (Needs::Admin, None),
        ),
        (
            "GET /api/v1/orgs/{org}/projects/{project}/keys",
            (Needs::Admin, None),
        ),
        (
            "POST /api/v1/orgs/{org}/projects/{project}/keys",
            (Needs::Admin, Some(json!({ "label": "k2" }))),
        ),
        (
            "DELETE /api/v1/orgs/{org}/projects/{project}/keys/{key_id}",
            (Needs::Admin, None),
        ),
        (
            "GET /api/v1/orgs/{org}/projects/{project}/events",
            (Needs::Member, None),
        ),
        (
            "GET /api/v1/orgs/{org}/projects/{project}/events/{event_id}",
            (Needs::Member, None),
        ),
        (
            "GET /api/v1/orgs/{org}/projects/{project}/issues",
            (Needs::Member, None),
        ),
        (
            "GET /api/v1/orgs/{org}/projects/{project}/issues/{issue_id}",
            (Needs::Member, None),
        ),
        (
            "PATCH /api/v1/orgs/{org}/projects/{project}/issues/{issue_id}",
            (Needs::Member, Some(json!({ "status": "resolved" }))),
        ),
        (
            "GET /api/v1/orgs/{org}/projects/{project}/issues/{issue_id}/events",
            (Needs::Member, None),
        ),
        (
            "GET /api/v1/orgs/{org}/projects/{project}/alert-rules",
            (Needs::Member, None),
        ),
        (
            "POST /api/v1/orgs/{org}/projects/{project}/alert-rules",
            (Needs::Admin, Some(rule)),
        ),
        (
            "GET /api/v1/orgs/{org}/projects/{project}/alert-rules/{rule_id}",
            (Needs::Member, None),
        ),
        (
            "PATCH /api/v1/orgs/{org}/projects/{project}/alert-rules/{rule_id}",
            (Needs::Admin, Some(json!({ "enabled": false }))),
        ),
        (
            "DELETE /api/v1/orgs/{org}/projects/{project}/alert-rules/{rule_id}",
            (Needs::Admin, None),
        ),
        (
            "GET /api/v1/orgs/{org}/projects/{project}/alert-rules/{rule_id}/deliveries",
            (Needs::Member, None),
        ),
        (
            "POST /api/v1/orgs/{org}/projects/{project}/alert-rules/{rule_id}/test",
            (Needs::Admin, None),
        ),
        (
            "GET /api/v1/orgs/{org}/projects/{project}/stats",
            (Needs::Member, None),
        ),
        (
            "GET /api/v1/orgs/{org}/projects/{project}/stream",
            (Needs::Member, None),
        ),
    ])
}

/// The ids the path templates are filled with.
struct Fixture {
    ids: BTreeMap<&'static str, String>,
}

impl Fixture {
    fn fill(&self, template: &str) -> String {
        let mut path = template.to_owned();
        for (name, value) in &self.ids {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        assert!(
            !path.contains('{'),
            "no fixture for a parameter of {template}"
        );
        path
    }
}

async fn ok(app: &TestApp, user: &TestUser, method: Method, path: &str, body: Value) -> Value {
    let (status, value) = app.call_as(user, method.clone(), path, Some(&body)).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {value}"
    );
    value
}

/// Org "acme" with an owner, an admin, a member, a member to be managed, a project with a
/// key, an event (so an issue) and an alert rule; org "other" owned by an outsider.
async fn fixture(app: &TestApp) -> (Fixture, [TestUser; 4]) {
    let owner = app.user("owner@a.io").await;
    let admin = app.user("admin@a.io").await;
    let member = app.user("member@a.io").await;
    let outsider = app.user("outsider@b.io").await;
    let target = app.user("target@a.io").await;
    app.user("newbie@a.io").await;

    ok(
        app,
        &owner,
        Method::POST,
        "/api/v1/orgs",
        json!({ "name": "Acme", "slug": "acme" }),
    )
    .await;
    ok(
        app,
        &outsider,
        Method::POST,
        "/api/v1/orgs",
        json!({ "name": "Other", "slug": "other" }),
    )
    .await;
    for (who, role) in [(&admin, "admin"), (&member, "member"), (&target, "member")] {
        ok(
            app,
            &owner,
            Method::POST,
            "/api/v1/orgs/acme/members",
            json!({ "email": who.email, "role": role }),
        )
        .await;
    }
    ok(
        app,
        &owner,
        Method::POST,
        "/api/v1/orgs/acme/projects",
        json!({ "name": "Web", "slug": "web" }),
    )
    .await;
    let key = ok(
        app,
        &owner,
        Method::POST,
        "/api/v1/orgs/acme/projects/web/keys",
        json!({ "label": "k" }),
    )
    .await;
    let rule = ok(
        app,
        &owner,
        Method::POST,
        "/api/v1/orgs/acme/projects/web/alert-rules",
        json!({ "name": "r", "condition": { "kind": "new_issue" }, "action": { "kind": "log" } }),
    )
    .await;
    let res = app
        .post_events(key["key"].as_str().unwrap(), &event("isolation"))
        .await;
    assert_eq!(res.status(), 202);
    let event_id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut issue_id = None;
    for _ in 0..100 {
        let (_, issues) = app
            .get_as(&member, "/api/v1/orgs/acme/projects/web/issues")
            .await;
        if let Some(id) = issues["data"][0]["id"].as_str() {
            issue_id = Some(id.to_owned());
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let ids = BTreeMap::from([
        ("org", "acme".to_owned()),
        ("project", "web".to_owned()),
        ("user_id", target.id.to_string()),
        ("key_id", key["id"].as_str().unwrap().to_owned()),
        ("rule_id", rule["id"].as_str().unwrap().to_owned()),
        ("event_id", event_id),
        ("issue_id", issue_id.expect("the event formed an issue")),
    ]);
    (Fixture { ids }, [owner, admin, member, outsider])
}

#[actix_web::test]
async fn every_route_is_isolated_by_org_and_role() {
    let app = spawn_app().await;
    let (_, doc) = send_json(app.client.get(format!("{}/api/openapi.json", app.address))).await;
    let mut documented = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                documented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    let routes = org_routes();
    for route in &documented {
        let known =
            routes.contains_key(route.as_str()) || NOT_ORG_SCOPED.iter().any(|(r, _)| r == route);
        assert!(
            known,
            "route {route} has no isolation expectation in tests/api/isolation.rs"
        );
    }
    for route in routes.keys() {
        assert!(
            documented.iter().any(|r| r == route),
            "{route} is expected but not served"
        );
    }

    let (fixture, [owner, admin, member, outsider]) = fixture(&app).await;
    let by_role = |needs: Needs| match needs {
        Needs::Member => &member,
        Needs::Admin => &admin,
        Needs::Owner => &owner,
    };

    // (a) Another org's user: 404 everywhere, nothing in their lists.
    for (route, (_, body)) in &routes {
        let (method, template) = route.split_once(' ').unwrap();
        let method: Method = method.parse().unwrap();
        let path = fixture.fill(template);
        let (status, value) = app.call_as(&outsider, method, &path, body.as_ref()).await;
        assert_eq!(status, 404, "outsider {route}: {value}");
        assert_eq!(value["error"]["code"], "not_found", "{route}");
    }
    let (_, orgs) = app.get_as(&outsider, "/api/v1/orgs").await;
    assert!(!orgs.to_string().contains("acme"), "{orgs}");

    // (b) A member without the role: 403.
    for (route, (needs, body)) in &routes {
        let below = match needs {
            Needs::Member => continue,
            Needs::Admin => &member,
            Needs::Owner => &admin,
        };
        let (method, template) = route.split_once(' ').unwrap();
        let method: Method = method.parse().unwrap();
        let (status, value) = app
            .call_as(below, method, &fixture.fill(template), body.as_ref())
            .await;
        assert_eq!(status, 403, "{route} below its role: {value}");
    }

    // (c) The right role: success. Reads and writes first, deletions after, the org last.
    let mut ordered: Vec<_> = routes.iter().collect();
    ordered.sort_by_key(|(route, _)| {
        let rank = match route.split_once(' ').unwrap().0 {
            "GET" => 0,
            "POST" => 1,
            "PATCH" => 2,
            _ => 3,
        };
        (
            rank,
            route.ends_with("/{org}"),
            std::cmp::Reverse(route.len()),
        )
    });
    for (route, (needs, body)) in ordered {
        let (method, template) = route.split_once(' ').unwrap();
        let method: Method = method.parse().unwrap();
        if template.ends_with("/stream") {
            // A live stream never ends: its head is the answer.
            let res = app
                .as_user(by_role(*needs), method, &fixture.fill(template))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{route} as {needs:?}");
            continue;
        }
        let (status, value) = app
            .call_as(
                by_role(*needs),
                method,
                &fixture.fill(template),
                body.as_ref(),
            )
            .await;
        assert!(
            (200..300).contains(&status),
            "{route} as {needs:?}: {status} {value}"
        );
    }
}

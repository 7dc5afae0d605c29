//! Common calls over HTTP that several test files make: each one does a request the way a
//! client would and asserts the status it must get, so a test reads as its scenario. Plus the
//! payloads and readers that go with them (docs/api.md, "Errors" and "Pagination").

use reqwest::Method;
use serde_json::{Value, json};

use super::app::TestApp;
use super::users::TestUser;

/// A valid event for the native endpoint, timestamped now.
pub fn event(message: &str) -> Value {
    json!({ "message": message, "level": "error", "timestamp": chrono::Utc::now().to_rfc3339() })
}

/// Posts `n` single events one request at a time (each must be 202); returns their ids.
pub async fn post_n(app: &TestApp, key: &str, n: usize, prefix: &str) -> Vec<uuid::Uuid> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let res = app.post_events(key, &event(&format!("{prefix} {i}"))).await;
        assert_eq!(res.status(), 202);
        let body: Value = res.json().await.unwrap();
        ids.push(body["id"].as_str().unwrap().parse().unwrap());
    }
    ids
}

/// Creates org `slug` as `user` (who becomes its owner); answers it.
pub async fn create_org(app: &TestApp, user: &TestUser, slug: &str) -> Value {
    let (status, body) = app
        .post_as(
            user,
            "/api/v1/orgs",
            json!({ "name": format!("Org {slug}"), "slug": slug }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

/// Adds `member` to `org` with `role`, as `by`.
pub async fn add_member(app: &TestApp, by: &TestUser, org: &str, member: &TestUser, role: &str) {
    let (status, body) = app
        .post_as(
            by,
            &format!("/api/v1/orgs/{org}/members"),
            json!({ "email": member.email, "role": role }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// The `(code, field)` of an error body, empty strings where absent.
pub fn error_of(body: &Value) -> (&str, &str) {
    (
        body["error"]["code"].as_str().unwrap_or_default(),
        body["error"]["field"].as_str().unwrap_or_default(),
    )
}

/// Follows `next_cursor` from `path` (which has a `?limit=`) until it is null; every page
/// holds at most `limit` rows. Returns all rows in the order served.
pub async fn walk(app: &TestApp, user: &TestUser, path: &str, limit: usize) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_owned(),
        };
        let (status, body) = app.get_as(user, &url).await;
        assert_eq!(status, 200, "{url}: {body}");
        let data = body["data"].as_array().unwrap();
        assert!(data.len() <= limit, "{url}: {} rows", data.len());
        rows.extend(data.iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => {
                assert!(!data.is_empty(), "a cursor after an empty page");
                cursor = Some(c.to_owned());
            }
            None => return rows,
        }
    }
    panic!("pagination of {path} does not end");
}

/// The ids of `rows`.
pub fn ids(rows: &[Value]) -> Vec<uuid::Uuid> {
    rows.iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// One row of a table of requests: who calls, the method, the path, the JSON body if any,
/// then the status and the error code expected (`""`: no error body).
pub type Case<'a> = (&'a TestUser, Method, &'a str, Option<Value>, u16, &'a str);

/// Makes the calls of `cases` in order, asserting each one's status and error code; a
/// failure names the row.
pub async fn check_cases(app: &TestApp, cases: &[Case<'_>]) {
    for (i, (who, method, path, body, status, code)) in cases.iter().enumerate() {
        let (got, res) = app.call_as(who, method.clone(), path, body.as_ref()).await;
        assert_eq!(
            (got, error_of(&res).0),
            (*status, *code),
            "case {i}: {method} {path} as {}: {res}",
            who.email
        );
    }
}

//! CORS (docs/api.md, "Sentry SDK endpoints"): only the two Sentry routes answer browsers from
//! any origin; no management route answers a cross-origin preflight, whatever its path.

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

/// Sends a preflight for `method path` from a foreign origin; answers its
/// `access-control-allow-origin`, if any.
async fn preflight(app: &TestApp, method: &str, path: &str) -> Option<String> {
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}{path}", app.address))
        .header("Origin", "http://evil.example")
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap();
    res.headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// `path` of the OpenAPI document with its parameters filled in.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{number}" => "7",
            s if s.starts_with('{') => "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[actix_web::test]
async fn no_management_route_answers_a_cross_origin_preflight() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let sentry = path.starts_with("/api/{number}/");
        for method in item.as_object().unwrap().keys() {
            let method = method.to_ascii_uppercase();
            let url = concrete(path);
            let allowed = preflight(&app, &method, &url).await;
            if sentry {
                assert_eq!(
                    allowed.as_deref(),
                    Some("http://evil.example"),
                    "{method} {url}"
                );
            } else {
                assert_eq!(allowed, None, "{method} {url} answers CORS");
                checked += 1;
            }
        }
    }
    // Every route family is in the document, so was checked above.
    let paths = doc["paths"].as_object().unwrap();
    for family in [
        "/auth/",
        "/orgs",
        "/projects",
        "/keys",
        "/events",
        "/issues",
        "/alert-rules",
        "/stats",
        "/metrics",
        "/health/",
        "/openapi.json",
    ] {
        assert!(
            paths.keys().any(|p| p.contains(family)),
            "{family} not in the document"
        );
    }
    assert!(checked > 30, "{checked} management routes checked");

    // Paths no route has, under /api/ too, and the examples of the report.
    for path in [
        "/api/v1/orgs",
        "/api/v1/nope",
        "/api/v1/store/",
        "/api/x/envelope/",
    ] {
        assert_eq!(preflight(&app, "POST", path).await, None, "{path}");
    }
}

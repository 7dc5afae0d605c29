//! The official Python `sentry-sdk`, unmodified, against the running server: installed with
//! pip into a virtualenv under `target/` (once; reused), pointed at the project's DSN.

use serde_json::{Value, json};

use crate::helpers::venv::run_python_sdk;
use crate::helpers::{TestApp, TestUser, join, spawn_app, spawn_app_with};

async fn member_view(app: &TestApp, user: &TestUser, path: &str) -> Value {
    let (status, body) = app.get_as(user, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[actix_web::test]
async fn the_python_sdk_reports_into_mesher() {
    let app = spawn_app_with(|s| s.http.public_url = "http://127.0.0.1:1".into(), None).await;
    let owner = app.user("sdk@example.com").await;
    let (status, _) = app
        .post_as(
            &owner,
            "/api/v1/orgs",
            json!({ "name": "Shop", "slug": "shop" }),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = app
        .post_as(
            &owner,
            "/api/v1/orgs/shop/projects",
            json!({ "name": "Web", "slug": "web", "platform": "python" }),
        )
        .await;
    assert_eq!(status, 201);
    let (status, key) = app
        .post_as(
            &owner,
            "/api/v1/orgs/shop/projects/web/keys",
            json!({ "label": "sdk" }),
        )
        .await;
    assert_eq!(status, 201);
    // The DSN as Mesher printed it, with this test server's address.
    let dsn = key["dsn"]
        .as_str()
        .unwrap()
        .replace("127.0.0.1:1", app.address.trim_start_matches("http://"));

    let stdout = run_python_sdk("python_app.py", dsn).await;
    let sdk_ids: Vec<String> = stdout.lines().map(str::to_owned).collect();
    assert_eq!(sdk_ids.len(), 2);

    // Through the management API: three events (exception, message, logging.error).
    let base = "/api/v1/orgs/shop/projects/web";
    let mut events = Value::Null;
    for _ in 0..100 {
        events = member_view(&app, &owner, &format!("{base}/events")).await;
        if events["data"].as_array().is_some_and(|d| d.len() == 3) {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let list = events["data"].as_array().expect("events");
    assert_eq!(list.len(), 3, "{events}");
    let exception = list
        .iter()
        .find(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("PaymentError"))
        })
        .expect("the exception event");
    let id = exception["id"].as_str().unwrap();
    let detail = member_view(&app, &owner, &format!("{base}/events/{id}")).await;
    let text = detail.to_string();
    let client_id: uuid::Uuid = detail["event_id"].as_str().unwrap().parse().unwrap();
    assert!(
        sdk_ids
            .iter()
            .any(|i| i.parse::<uuid::Uuid>().ok() == Some(client_id)),
        "the SDK's event_id is kept: {client_id} not in {sdk_ids:?}"
    );
    let values = detail["exception"]["values"]
        .as_array()
        .expect("exception values");
    assert_eq!(values.len(), 2, "the chained ValueError and PaymentError");
    let frames = values[1]["stacktrace"]["frames"]
        .as_array()
        .expect("a stack trace");
    assert!(
        frames.iter().any(|f| f["function"] == "checkout"),
        "{frames:?}"
    );
    for (pointer, expected) in [
        ("/release", json!("shop@9.9.9")),
        ("/environment", json!("staging")),
        ("/tags/region", json!("eu-west")),
        ("/user/email", json!("jane@example.com")),
        ("/contexts/cart/items", json!(3)),
    ] {
        assert_eq!(detail.pointer(pointer), Some(&expected), "{pointer}");
    }
    assert!(text.contains("GET /cart"), "the breadcrumb");
    assert!(
        list.iter()
            .any(|e| e["message"] == "sdk message" && e["level"] == "warning")
    );
    assert!(list.iter().any(|e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("order 1234"))
    }));

    let issues = member_view(&app, &owner, &format!("{base}/issues")).await;
    let titles: Vec<&str> = issues["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["title"].as_str())
        .collect();
    assert!(
        titles.iter().any(|t| t.starts_with("PaymentError")),
        "{titles:?}"
    );
}

/// The official Rust `sentry` crate (reqwest transport), in its own blocking thread.
fn report_with_the_rust_sdk(dsn: String) -> Vec<uuid::Uuid> {
    let mut options = sentry::ClientOptions::default();
    options.release = Some("api@3.1.0".into());
    options.environment = Some("production".into());
    options.attach_stacktrace = true;
    let guard = sentry::init((dsn, options));
    assert!(guard.is_enabled(), "the DSN was refused by the SDK");
    sentry::configure_scope(|scope| {
        scope.set_tag("service", "billing");
        scope.set_user(Some(sentry::User {
            id: Some("7".into()),
            email: Some("rust@example.com".into()),
            ..Default::default()
        }));
    });
    sentry::add_breadcrumb(sentry::Breadcrumb {
        category: Some("db".into()),
        message: Some("SELECT invoices".into()),
        ..Default::default()
    });
    let error = "twelve".parse::<u32>().unwrap_err();
    let ids = vec![
        sentry::capture_error(&error),
        sentry::capture_message("rust message", sentry::Level::Warning),
    ];
    assert!(guard.flush(Some(std::time::Duration::from_secs(10))));
    ids
}

#[actix_web::test]
async fn the_rust_sdk_reports_into_mesher() {
    let app = spawn_app().await;
    let project = app.project("rust-sdk").await;
    let owner = app.user("rust-owner@example.com").await;
    join(&app, &owner, "member").await;
    let dsn = format!(
        "http://{}@{}/{}",
        project.key,
        app.address.trim_start_matches("http://"),
        project.number
    );
    let ids = actix_web::rt::task::spawn_blocking(move || report_with_the_rust_sdk(dsn))
        .await
        .unwrap();
    let s = app.assert_accounted(project.id).await;
    assert_eq!(s.stored, 2, "{s:?}");

    let base = "/api/v1/orgs/test-org/projects/rust-sdk";
    let events = member_view(&app, &owner, &format!("{base}/events")).await;
    let list = events["data"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let error = list
        .iter()
        .find(|e| e["level"] == "error")
        .expect("the error event");
    let detail = member_view(
        &app,
        &owner,
        &format!("{base}/events/{}", error["id"].as_str().unwrap()),
    )
    .await;
    let client_id: uuid::Uuid = detail["event_id"].as_str().unwrap().parse().unwrap();
    assert!(ids.contains(&client_id), "{client_id} not in {ids:?}");
    for (pointer, expected) in [
        ("/release", "api@3.1.0"),
        ("/environment", "production"),
        ("/tags/service", "billing"),
        ("/user/email", "rust@example.com"),
    ] {
        assert_eq!(detail.pointer(pointer), Some(&json!(expected)), "{pointer}");
    }
    assert!(
        detail.to_string().contains("SELECT invoices"),
        "the breadcrumb"
    );
    let exception = &detail["exception"]["values"][0];
    assert_eq!(exception["type"], "ParseIntError");
    assert!(
        detail.to_string().contains("\"frames\""),
        "a stack trace is attached: {detail}"
    );
    assert!(
        list.iter()
            .any(|e| e["message"] == "rust message" && e["level"] == "warning")
    );
}

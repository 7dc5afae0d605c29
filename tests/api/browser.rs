//! The web UI in a real browser (headless Chromium through WebDriver, `helpers::browser`):
//! signing in through the form, an error from the official Python SDK arriving on the open
//! issues page without a reload, the issue page's stack and breadcrumbs, resolving, a key's
//! DSN shown once, role and CSRF refusals as a person meets them, and axe-core on the main
//! pages in light and dark and at 375 px. Plus the screenshot generator (`#[ignore]`, run by
//! `scripts/screenshots`).
//!
//! Without Chromium these tests fail and say what to install; `MESHER_SKIP_BROWSER=1` skips
//! them.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::helpers::browser::{Browser, program, skipped};
use crate::helpers::venv::run_python_sdk;
use crate::helpers::{TestApp, TestProject, TestUser, join, member, spawn_app};

/// The DSN of `project`'s fixture key on `app`.
fn dsn(app: &TestApp, project: &TestProject) -> String {
    let host = app.address.trim_start_matches("http://");
    format!("http://{}@{host}/{}", project.key, project.number)
}

/// Signs in through the login form (the browser is on it, or gets sent to it).
async fn sign_in(b: &Browser, user: &TestUser) {
    b.find("#email").await;
    b.type_into("#email", &user.email).await;
    b.type_into("#password", &user.password).await;
    b.click_on("form[action='/login'] button[type=submit]")
        .await;
    for _ in 0..100 {
        if !b.path().await.starts_with("/login") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("still on the login page: {}", b.text().await);
}

/// A browser signed in as `user`, on `path`.
async fn browser_as(app: &TestApp, user: &TestUser, path: &str) -> Option<Browser> {
    let b = Browser::launch(&app.address).await?;
    b.goto(path).await;
    sign_in(&b, user).await;
    Some(b)
}

/// Submits a form built in the page (as a tampered or replayed post would be): `csrf` is
/// the page's own token or none.
async fn post_form(b: &Browser, action: &str, with_csrf: bool) {
    b.js(
        "const f = document.createElement('form');
         f.method = 'post'; f.action = arguments[0];
         const token = document.querySelector('input[name=csrf]');
         if (arguments[1] && token) f.appendChild(token.cloneNode());
         const label = document.createElement('input');
         label.name = 'label'; label.value = 'forged'; f.appendChild(label);
         document.body.appendChild(f); f.submit();",
        json!([action, with_csrf]),
    )
    .await;
}

#[actix_web::test]
async fn an_sdk_error_arrives_live_and_is_resolved_in_the_browser() {
    if skipped() {
        return;
    }
    let app = spawn_app().await;
    let project = app.project("shop").await;
    let owner = app.user("browser-owner@example.com").await;
    join(&app, &owner, "owner").await;
    // Signed out, the issues page sends the browser to the form and back.
    let Some(b) = browser_as(&app, &owner, "/test-org/shop/issues").await else {
        return;
    };
    assert_eq!(b.path().await, "/test-org/shop/issues");
    b.wait_for_text("No unresolved issues", 5).await;
    // The live stream is open before the SDK sends.
    b.wait_for_text("Live: new issues appear here", 10).await;
    b.js("window.stillTheSamePage = true;", json!([])).await;

    let ids = run_python_sdk("python_app.py", dsn(&app, &project)).await;
    assert_eq!(ids.lines().count(), 2, "{ids}");
    let text = b.wait_for_text("PaymentError", 20).await;
    assert!(text.contains("New issue"), "{text}");
    // The same error again: its count rises in place.
    let count = "return [...document.querySelectorAll('#issues tbody tr')]
        .find(r => r.textContent.includes('PaymentError'))
        .querySelector('td.count').textContent;";
    assert_eq!(b.js(count, json!([])).await, json!("1"));
    run_python_sdk("python_app.py", dsn(&app, &project)).await;
    let mut seen = json!(null);
    for _ in 0..100 {
        seen = b.js(count, json!([])).await;
        if seen == json!("2") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen, json!("2"), "the count did not rise live");
    assert_eq!(
        b.js("return window.stillTheSamePage === true;", json!([]))
            .await,
        json!(true),
        "the page was reloaded"
    );

    // Open it: the frame's function, a context line, a breadcrumb.
    let link = b
        .js(
            "return [...document.querySelectorAll('#issues a')]
                .find(a => a.textContent.includes('PaymentError'));",
            json!([]),
        )
        .await;
    assert!(link.is_object(), "a link to the issue");
    b.js("arguments[0].click();", json!([link])).await;
    let text = b.wait_for_text("Breadcrumbs", 10).await;
    assert!(b.path().await.starts_with("/test-org/shop/issues/"));
    for needle in [
        "checkout",
        "raise PaymentError(\"payment declined\") from e",
        "GET /cart",
        "eu-west",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} not on the issue page:\n{text}"
        );
    }
    let issue_page = b.path().await;

    // Resolve it: it leaves the unresolved tab and is on the resolved one.
    b.click_on("form.actions button[value=resolved]").await;
    b.wait_for_text("resolved", 5).await;
    b.goto("/test-org/shop/issues").await;
    let unresolved = b.text_of("main").await;
    assert!(!unresolved.contains("PaymentError"), "{unresolved}");
    b.click_on("nav.tabs a[href*='status=resolved']").await;
    b.wait_for_text("PaymentError", 5).await;
    b.goto(&issue_page).await;
    assert!(b.text_of("p.badges").await.contains("resolved"));
}

#[actix_web::test]
async fn keys_roles_outsiders_and_csrf_in_the_browser() {
    if skipped() {
        return;
    }
    let app = spawn_app().await;
    let project = app.project("shop").await;
    let admin = app.user("browser-admin@example.com").await;
    join(&app, &admin, "admin").await;
    let plain = member(&app, "browser-member@example.com").await;
    let outsider = app.user("browser-outsider@example.com").await;
    let settings = "/test-org/shop/settings";

    // An admin creates a key: the page after the post shows its DSN, once.
    let Some(a) = browser_as(&app, &admin, settings).await else {
        return;
    };
    a.type_into("input[name=label]", "from the browser").await;
    a.click_on("form[action$='/settings/keys'] button[type=submit]")
        .await;
    let dsn = a.text_of("#new-dsn").await;
    assert!(dsn.starts_with("http://mshr_"), "{dsn}");
    // With JavaScript, the copy buttons are shown.
    assert_eq!(a.count("button[data-copy]:not([hidden])").await, 2);
    let shown = a.path().await;
    assert!(shown.contains("?created="), "{shown}");
    assert!(a.text().await.contains(&dsn));
    a.reload().await;
    let again = a.wait_for_text("shown once", 5).await;
    assert!(!again.contains(&dsn), "the DSN is shown again:\n{again}");
    assert_eq!(a.count("#new-dsn").await, 0);
    // A form post without its token is refused.
    post_form(&a, "/test-org/shop/settings/keys", false).await;
    let refused = a.wait_for_text("Form expired", 5).await;
    assert!(refused.contains("Error 403"), "{refused}");

    // A member sees no revoke button, and posting the form anyway is a 403 page.
    let Some(m) = browser_as(&app, &plain, settings).await else {
        return;
    };
    m.find("h1").await;
    assert_eq!(m.count("form[action$='/revoke']").await, 0);
    assert_eq!(m.count("form[action$='/settings/keys']").await, 0);
    let revoke = format!("{settings}/keys/{}/revoke", project.key_id);
    post_form(&m, &revoke, true).await;
    let refused = m.wait_for_text("Not allowed", 5).await;
    assert!(refused.contains("Error 403"), "{refused}");

    // An outsider gets the 404 page.
    let Some(x) = browser_as(&app, &outsider, "/test-org/shop/issues").await else {
        return;
    };
    let missing = x.wait_for_text("Not found", 5).await;
    assert!(missing.contains("Error 404"), "{missing}");
    assert!(!missing.contains("shop"), "{missing}");
}

/// The main pages of a project with one SDK error: (name, path).
async fn main_pages(app: &TestApp, owner: &TestUser) -> Vec<(&'static str, String)> {
    let (status, issues) = app
        .get_as(owner, "/api/v1/orgs/test-org/projects/shop/issues")
        .await;
    assert_eq!(status, 200);
    let issue = issues["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"].as_str().unwrap_or("").contains("PaymentError"))
        .expect("the SDK's exception issue")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, events) = app
        .get_as(owner, "/api/v1/orgs/test-org/projects/shop/events")
        .await;
    let event = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["message"].as_str().unwrap_or("").contains("PaymentError"))
        .expect("the SDK's exception event")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, rule) = app
        .post_as(
            owner,
            "/api/v1/orgs/test-org/projects/shop/alert-rules",
            json!({"name": "Busy", "condition": {"kind": "event_frequency", "threshold": 10, "window_secs": 300},
                   "action": {"kind": "log"}, "filters": {"min_level": "error"}}),
        )
        .await;
    assert_eq!(status, 201, "{rule}");
    let rule = rule["id"].as_str().unwrap().to_owned();
    // A test notification, so that the rule's page lists one.
    let (status, sent) = app
        .post_as(
            owner,
            &format!("/api/v1/orgs/test-org/projects/shop/alert-rules/{rule}/test"),
            json!({}),
        )
        .await;
    assert_eq!(status, 202, "{sent}");
    vec![
        ("orgs", "/".into()),
        ("projects", "/test-org".into()),
        ("issues", "/test-org/shop/issues".into()),
        ("issue", format!("/test-org/shop/issues/{issue}")),
        ("event", format!("/test-org/shop/events/{event}")),
        ("project-settings", "/test-org/shop/settings".into()),
        ("alert-rules", "/test-org/shop/settings/alerts".into()),
        (
            "alert-rule",
            format!("/test-org/shop/settings/alerts/{rule}"),
        ),
        ("org-settings", "/test-org/settings".into()),
        ("account", "/account".into()),
    ]
}

/// A project `shop` with the Python SDK's three events, stored; and its owner.
async fn app_with_an_sdk_error() -> (TestApp, TestUser) {
    let app = spawn_app().await;
    let project = app.project("shop").await;
    app.project("api").await;
    let owner = app.user("axe-owner@example.com").await;
    join(&app, &owner, "owner").await;
    run_python_sdk("python_app.py", dsn(&app, &project)).await;
    app.settle(project.id, 10).await;
    (app, owner)
}

#[actix_web::test]
async fn the_main_pages_pass_axe_in_light_and_dark_and_at_375_px() {
    if skipped() {
        return;
    }
    let (app, owner) = app_with_an_sdk_error().await;
    let Some(b) = Browser::launch(&app.address).await else {
        return;
    };
    let mut failures = Vec::new();
    let mut check = async |b: &Browser, name: &str| {
        for dark in [false, true] {
            b.dark(dark).await;
            for v in b.axe_violations().await {
                failures.push(format!(
                    "{name} ({}): {v}",
                    if dark { "dark" } else { "light" }
                ));
            }
        }
        b.dark(false).await;
        b.viewport(375, 740).await;
        for v in b.axe_violations().await {
            failures.push(format!("{name} (375 px): {v}"));
        }
        let overflow = b
            .js(
                "return document.documentElement.scrollWidth - window.innerWidth;",
                json!([]),
            )
            .await;
        if overflow.as_i64().unwrap_or(0) > 0 {
            failures.push(format!("{name}: {overflow} px wider than a 375 px screen"));
        }
        b.viewport(1280, 800).await;
    };
    b.goto("/login").await;
    b.find("#email").await;
    check(&b, "login").await;
    // The first Tab reaches the skip link, shown on screen with a visible focus ring.
    b.press("\u{E004}").await;
    let focused = b
        .js(
            "const a = document.activeElement, r = a.getBoundingClientRect();
             return [a.className, r.left >= 0 && r.top >= 0, getComputedStyle(a).outlineStyle];",
            json!([]),
        )
        .await;
    assert_eq!(focused, json!(["skip", true, "solid"]), "focus after Tab");
    sign_in(&b, &owner).await;
    for (name, path) in main_pages(&app, &owner).await {
        b.goto(&path).await;
        b.find("main h1").await;
        check(&b, name).await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Regenerates `docs/screenshots/` (or `$MESHER_SCREENSHOTS_DIR`): the main pages at
/// 1280×800 in light and dark, and the issues page at 375 px, of a project filled by
/// `tests/sdk/demo_app.py`; only those named in `$MESHER_SCREENSHOTS_ONLY` when set. Run by
/// `scripts/screenshots`.
#[actix_web::test]
#[ignore = "writes docs/screenshots/: run by scripts/screenshots"]
async fn screenshots() {
    let app = spawn_app().await;
    let project = app.project("shop").await;
    app.project("checkout-api").await;
    app.project("mobile").await;
    let owner = app.user("jane@example.com").await;
    join(&app, &owner, "owner").await;
    for (i, email) in ["sam@example.com", "ada@example.com"].iter().enumerate() {
        let u = app.user(email).await;
        join(&app, &u, if i == 0 { "admin" } else { "member" }).await;
    }
    run_python_sdk("demo_app.py", dsn(&app, &project)).await;
    run_python_sdk("python_app.py", dsn(&app, &project)).await;
    app.settle(project.id, 20).await;
    let dir = std::env::var("MESHER_SCREENSHOTS_DIR").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).unwrap();
    let b = Browser::launch(&app.address)
        .await
        .expect("a browser (unset MESHER_SKIP_BROWSER)");
    // `MESHER_SCREENSHOTS_ONLY=alert-rules,alert-rule`: only those (names as the files').
    let only = std::env::var("MESHER_SCREENSHOTS_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|n| n.trim() == name);
    b.goto("/login").await;
    b.find("#email").await;
    if wanted("login") {
        b.screenshot(&dir.join("login.png")).await;
    }
    sign_in(&b, &owner).await;
    let pages = main_pages(&app, &owner).await;
    for (name, path) in &pages {
        if matches!(*name, "orgs" | "event" | "account") || !wanted(name) {
            continue;
        }
        b.goto(path).await;
        b.find("main h1").await;
        for dark in [false, true] {
            b.dark(dark).await;
            let file = format!("{name}{}.png", if dark { "-dark" } else { "" });
            b.screenshot(&dir.join(file)).await;
        }
        if *name == "issue" {
            // The stack and breadcrumbs, below the fold.
            b.js(
                "document.querySelector('.exception').scrollIntoView();",
                json!([]),
            )
            .await;
            for dark in [false, true] {
                b.dark(dark).await;
                let file = format!("issue-stack{}.png", if dark { "-dark" } else { "" });
                b.screenshot(&dir.join(file)).await;
            }
        }
        b.dark(false).await;
    }
    if wanted("issues-375") {
        b.viewport(375, 740).await;
        b.goto("/test-org/shop/issues").await;
        b.find("main h1").await;
        b.screenshot(&dir.join("issues-375.png")).await;
    }
}

#[test]
fn a_missing_browser_says_what_to_install() {
    let missing = program("/nonexistent/chromedriver", "chromium-driver").unwrap_err();
    assert!(
        missing.contains("apt-get install chromium chromium-driver")
            && missing.contains("MESHER_SKIP_BROWSER=1"),
        "{missing}"
    );
    assert!(program("/bin/sh", "dash").is_ok());
}

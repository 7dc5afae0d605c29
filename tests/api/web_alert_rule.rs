//! A rule's page in the web UI over real HTTP: admins edit the rule there (the form filled
//! from the rule; the edit goes through the API's validation, so a refused one names its
//! field, keeps what was sent and changes nothing); members see no form and get 403 when
//! posting anyway, outsiders 404, and the form needs its CSRF token. The notifications are
//! listed a page at a time, newest first, with a link to the older ones.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, join, member, spawn_app_with};
use crate::web::Browser;
use crate::web_alerts::audited;

const PAGE: &str = "/test-org/web/settings/alerts";
const API: &str = "/api/v1/orgs/test-org/projects/web/alert-rules";

/// A rule of `web` created through the API: its id.
async fn new_rule(app: &TestApp, admin: &TestUser, name: &str) -> String {
    let body = json!({"name": name, "condition": {"kind": "new_issue"}, "action": {"kind": "log"}});
    let (status, rule) = app.post_as(admin, API, body).await;
    assert_eq!(status, 201, "{rule}");
    rule["id"].as_str().unwrap().to_owned()
}

/// The rule as the API reads it, without `updated_at`.
async fn stored(app: &TestApp, admin: &TestUser, id: &str) -> Value {
    let (status, mut rule) = app.get_as(admin, &format!("{API}/{id}")).await;
    assert_eq!(status, 200, "{rule}");
    rule.as_object_mut().unwrap().remove("updated_at");
    rule
}

#[actix_web::test]
async fn admins_edit_a_rule_on_its_page_members_only_read() {
    let app = spawn_app_with(|s| s.alerts.allow_private_targets = true, None).await;
    app.project("web").await;
    let admin = app.user("rule-admin@example.com").await;
    join(&app, &admin, "admin").await;
    let plain = member(&app, "rule-member@example.com").await;
    let outsider = app.user("rule-outsider@example.com").await;
    let mut a = Browser::signed_in(&app, &admin).await;
    let mut m = Browser::signed_in(&app, &plain).await;
    let mut x = Browser::signed_in(&app, &outsider).await;
    let id = new_rule(&app, &admin, "Busy").await;
    let one = format!("{PAGE}/{id}");
    let edit = format!("{one}/edit");

    // The admin's page: the edit form, filled from the rule; the list links to it.
    let page = a.get(&one).await;
    assert_eq!(page.status, StatusCode::OK);
    for html in [
        format!("action=\"{edit}\""),
        "value=\"Busy\"".into(),
        "value=\"new_issue\" selected".into(),
        "value=\"log\" selected".into(),
        "name=\"enabled\" value=\"true\" checked".into(),
    ] {
        assert!(page.body.contains(&html), "{html}: {}", page.body);
    }
    assert!(a.get(PAGE).await.body.contains(&format!("{one}#edit")));
    let csrf = page.csrf();
    let before = stored(&app, &admin, &id).await;

    // Refused edits: the page again (400), the error by its input, what was sent kept, the
    // rule unchanged. (fields, the input whose error is shown)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str);
    let refused: &[Case] = &[
        (
            &[("name", " "), ("condition", "new_issue"), ("action", "log")],
            "name",
        ),
        (
            &[
                ("name", "kept"),
                ("condition", "event_frequency"),
                ("threshold", "0"),
                ("window_secs", "60"),
                ("action", "log"),
            ],
            "threshold",
        ),
        (
            &[
                ("name", "kept"),
                ("condition", "event_frequency"),
                ("threshold", "10"),
                ("window_secs", "5"),
                ("action", "log"),
            ],
            "window_secs",
        ),
        (
            &[("name", "kept"), ("condition", "often"), ("action", "log")],
            "condition",
        ),
        (
            &[
                ("name", "kept"),
                ("condition", "new_issue"),
                ("action", "webhook"),
                ("url", "ftp://x.example/"),
            ],
            "url",
        ),
        (
            &[
                ("name", "kept"),
                ("condition", "new_issue"),
                ("action", "email"),
                ("to", "not-an-address"),
            ],
            "to",
        ),
        (
            &[
                ("name", "kept"),
                ("condition", "new_issue"),
                ("action", "log"),
                ("min_level", "loud"),
            ],
            "min_level",
        ),
    ];
    for (fields, input) in refused {
        let mut form = vec![("csrf", csrf.as_str()), ("enabled", "true")];
        form.extend_from_slice(fields);
        let res = a.post(&edit, &form).await;
        assert_eq!(res.status, 400, "{fields:?}: {}", res.body);
        let error = format!("id=\"err-edit-{input}\"");
        assert!(
            res.body.contains(&error),
            "{fields:?} → {input}: {}",
            res.body
        );
        assert!(
            res.body
                .contains(&format!("aria-describedby=\"err-edit-{input}\""))
        );
        assert!(res.body.contains("The rule was not saved"));
        assert!(res.body.contains("value=\"kept\"") || *input == "name");
        assert_eq!(stored(&app, &admin, &id).await, before, "{fields:?}");
    }

    // Members see no form; posting it anyway is 403, outsiders 404, no token 403.
    let member_page = m.get(&one).await;
    assert_eq!(member_page.status, 200);
    assert!(!member_page.body.contains(&format!("action=\"{edit}\"")));
    assert_eq!(x.get(&one).await.status, 404);
    let (m_csrf, x_csrf) = (
        m.get("/account").await.csrf(),
        x.get("/account").await.csrf(),
    );
    let fields: &[(&str, &str)] = &[
        ("name", "mine"),
        ("condition", "new_issue"),
        ("action", "log"),
    ];
    let mut browsers = [a, m, x];
    // (browser: 0 admin, 1 member, 2 outsider; its token or none; status; page says)
    let posts: &[(usize, Option<&str>, u16, &str)] = &[
        (1, Some(&m_csrf), 403, "Not allowed"),
        (2, Some(&x_csrf), 404, "<h1>Not found</h1>"),
        (0, None, 403, "Form expired"),
        (1, None, 403, "Form expired"),
    ];
    for &(who, token, status, says) in posts {
        let mut form: Vec<(&str, &str)> = token.map(|t| ("csrf", t)).into_iter().collect();
        form.extend_from_slice(fields);
        let res = browsers[who].post(&edit, &form).await;
        assert_eq!(
            res.status.as_u16(),
            status,
            "#{who} {token:?}: {}",
            res.body
        );
        assert!(res.body.contains(says), "#{who}: {}", res.body);
    }
    assert_eq!(stored(&app, &admin, &id).await, before);
    assert_eq!(audited(&app, "alert_rule_changed", "mine").await, 0);

    // Saved: every field, the box unchecked (disabled); the page says so and shows it.
    let a = &mut browsers[0];
    let res = a
        .post(
            &edit,
            &[
                ("csrf", &csrf),
                ("name", "Busy checkout"),
                ("condition", "event_frequency"),
                ("threshold", "25"),
                ("window_secs", "900"),
                ("action", "webhook"),
                ("url", "https://hooks.example.com/mesher"),
                ("min_level", "error"),
                ("environment", "production"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location, format!("{one}?saved=1"));
    let saved = a.get(&res.location).await;
    for html in [
        "The rule was saved.",
        "Busy checkout",
        "An issue is seen 25 times or more within 15 min",
        "Webhook to https://hooks.example.com/mesher",
        "level error or worse, environment production",
        "<dd>disabled</dd>",
        "value=\"900\" selected",
        "value=\"25\"",
        "name=\"enabled\" value=\"true\">",
    ] {
        assert!(saved.body.contains(html), "{html}: {}", saved.body);
    }
    let rule = stored(&app, &admin, &id).await;
    assert_eq!(rule["name"], "Busy checkout");
    assert_eq!(rule["enabled"], false);
    assert_eq!(
        rule["condition"],
        json!({"kind": "event_frequency", "threshold": 25, "window_secs": 900})
    );
    assert_eq!(
        rule["action"],
        json!({"kind": "webhook", "url": "https://hooks.example.com/mesher"})
    );
    assert_eq!(
        rule["filters"],
        json!({"min_level": "error", "environment": "production"})
    );
    assert_eq!(
        audited(&app, "alert_rule_changed", "Busy checkout").await,
        1
    );

    // And back: enabled, e-mail, the filters emptied (cleared).
    let res = a
        .post(
            &edit,
            &[
                ("csrf", &csrf),
                ("name", "Busy checkout"),
                ("enabled", "true"),
                ("condition", "regression"),
                ("action", "email"),
                ("to", "a@example.com, b@example.com"),
                ("min_level", ""),
                ("environment", ""),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let rule = stored(&app, &admin, &id).await;
    assert_eq!(rule["enabled"], true);
    assert_eq!(rule["condition"], json!({"kind": "regression"}));
    assert_eq!(
        rule["action"],
        json!({"kind": "email", "to": ["a@example.com", "b@example.com"]})
    );
    assert_eq!(rule["filters"], json!({}));
    // A rule that is gone, or an id that is none, is 404.
    for path in [
        format!("{PAGE}/0190e000-0000-7000-8000-000000000000/edit"),
        format!("{PAGE}/not-a-uuid/edit"),
    ] {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        assert_eq!(a.post(&path, &form).await.status, 404, "{path}");
    }
}

/// How many notifications the page lists (test notifications: no issue).
fn rows(body: &str) -> usize {
    body.matches("<td>test</td>").count()
}

#[actix_web::test]
async fn a_rules_notifications_are_paged_newest_first() {
    let app = spawn_app_with(|s| s.alerts.allow_private_targets = true, None).await;
    app.project("web").await;
    let admin = app.user("pager@example.com").await;
    join(&app, &admin, "admin").await;
    let mut a = Browser::signed_in(&app, &admin).await;
    let id = new_rule(&app, &admin, "Chatty").await;
    let one = format!("{PAGE}/{id}");
    for _ in 0..53 {
        let (status, body) = app
            .post_as(&admin, &format!("{API}/{id}/test"), json!({}))
            .await;
        assert_eq!(status, 202, "{body}");
    }
    // The page's cursor is the API's (the same keyset: newest first, 50 a page).
    let (_, api) = app
        .get_as(&admin, &format!("{API}/{id}/deliveries?limit=50"))
        .await;
    let cursor = api["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let older = format!("{one}?cursor={cursor}");

    // (path, rows, heading, links shown, links not shown)
    let cases = [
        (
            one.clone(),
            50,
            "Recent notifications",
            vec![format!("rel=\"next\" href=\"{older}\"")],
            vec!["← Newest".to_owned()],
        ),
        (
            older.clone(),
            3,
            "Older notifications",
            vec![format!("href=\"{one}\">← Newest")],
            vec!["rel=\"next\"".to_owned()],
        ),
    ];
    for (path, count, heading, shown, hidden) in cases {
        let page = a.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert_eq!(rows(&page.body), count, "{path}");
        assert!(page.body.contains(heading), "{path}");
        for html in shown {
            assert!(page.body.contains(&html), "{path} {html}: {}", page.body);
        }
        for html in hidden {
            assert!(!page.body.contains(&html), "{path} {html}");
        }
    }
    // A cursor this server did not issue is refused.
    let res = a.get(&format!("{one}?cursor=garbage")).await;
    assert_eq!(res.status, 400, "{}", res.body);
}

//! The alert rules pages of the web UI over real HTTP: a rule created by the form is listed
//! and its signing secret shown once, with its audit entry; a refused form names its field
//! and creates nothing; enable/disable, delete and "send test" (then the delivery log);
//! members see no forms and get 403 when posting anyway, outsiders 404, and every form
//! needs its CSRF token.

use diesel_async::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, TestUser, join, member, spawn_app_with};
use crate::web::Browser;

const PAGE: &str = "/test-org/web/settings/alerts";
const API: &str = "/api/v1/orgs/test-org/projects/web/alert-rules";

/// The rules of `web` as the API lists them.
async fn rules(app: &TestApp, by: &TestUser) -> Vec<Value> {
    let (status, body) = app.get_as(by, API).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

/// How many audit entries have `action` for the rule named `name`.
pub(crate) async fn audited(app: &TestApp, action: &str, name: &str) -> usize {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.db.conn().await;
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT count(*) AS n FROM audit_log WHERE action = $1 AND target_label = $2",
    )
    .bind::<diesel::sql_types::Text, _>(action)
    .bind::<diesel::sql_types::Text, _>(name)
    .load(&mut conn)
    .await
    .unwrap();
    rows[0].n as usize
}

/// The text of `<code id="new-secret">…</code>`, if the page shows it.
fn secret_of(body: &str) -> Option<String> {
    let at = body.find("<code id=\"new-secret\">")? + 22;
    Some(body[at..].split('<').next().unwrap().to_owned())
}

#[actix_web::test]
async fn admins_manage_rules_from_the_page_members_only_read() {
    let app = spawn_app_with(|s| s.alerts.allow_private_targets = true, None).await;
    app.project("web").await;
    let admin = app.user("ui-admin@example.com").await;
    join(&app, &admin, "admin").await;
    let plain = member(&app, "ui-member@example.com").await;
    let outsider = app.user("ui-outsider@example.com").await;
    let mut a = Browser::signed_in(&app, &admin).await;
    let mut m = Browser::signed_in(&app, &plain).await;
    let mut x = Browser::signed_in(&app, &outsider).await;

    // The project settings page links to the rules.
    let settings = a.get("/test-org/web/settings").await;
    assert!(settings.body.contains(&format!("href=\"{PAGE}\"")));
    let page = a.get(PAGE).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!("action=\"{PAGE}\"")));
    let csrf = page.csrf();

    // Refused forms: the page again, the error by its field, nothing created.
    // (fields, the input whose error is shown)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str);
    let refused: &[Case] = &[
        (
            &[
                ("name", "  "),
                ("condition", "new_issue"),
                ("action", "log"),
            ],
            "name",
        ),
        (
            &[
                ("name", "r"),
                ("condition", "event_frequency"),
                ("threshold", "0"),
                ("window_secs", "60"),
                ("action", "log"),
            ],
            "threshold",
        ),
        (
            &[
                ("name", "r"),
                ("condition", "event_frequency"),
                ("threshold", "many"),
                ("window_secs", "60"),
                ("action", "log"),
            ],
            "threshold",
        ),
        (
            &[("name", "r"), ("condition", "often"), ("action", "log")],
            "condition",
        ),
        (
            &[
                ("name", "r"),
                ("condition", "new_issue"),
                ("action", "webhook"),
                ("url", "ftp://x.example/"),
            ],
            "url",
        ),
        (
            &[
                ("name", "r"),
                ("condition", "new_issue"),
                ("action", "email"),
                ("to", "not-an-address"),
            ],
            "to",
        ),
        (
            &[("name", "r"), ("condition", "new_issue"), ("action", "sms")],
            "action",
        ),
        (
            &[
                ("name", "r"),
                ("condition", "new_issue"),
                ("action", "log"),
                ("min_level", "loud"),
            ],
            "min_level",
        ),
    ];
    for (fields, input) in refused {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend_from_slice(fields);
        let res = a.post(PAGE, &form).await;
        assert_eq!(res.status, 400, "{fields:?}: {}", res.body);
        assert!(
            res.body.contains(&format!("id=\"err-{input}\"")),
            "{fields:?} → {input}: {}",
            res.body
        );
        assert!(res.body.contains("class=\"error\""));
        // What was typed is kept.
        assert!(res.body.contains("value=\"r\"") || *input == "name");
    }
    assert!(rules(&app, &admin).await.is_empty());

    // Created: redirected to the page showing the secret once; listed; audited.
    let res = a
        .post(
            PAGE,
            &[
                ("csrf", &csrf),
                ("name", "Busy checkout"),
                ("condition", "event_frequency"),
                ("threshold", "100"),
                ("window_secs", "3600"),
                ("action", "log"),
                ("min_level", "error"),
                ("environment", "production"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert!(
        res.location.starts_with(&format!("{PAGE}?created=")),
        "{}",
        res.location
    );
    let shown = a.get(&res.location).await;
    let secret = secret_of(&shown.body).expect("the secret, once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    for words in [
        "Busy checkout",
        "An issue is seen 100 times or more within 1 h",
        "Write to the server log",
        "level error or worse, environment production",
        "enabled",
    ] {
        assert!(shown.body.contains(words), "{words}: {}", shown.body);
    }
    let again = a.get(&res.location).await;
    assert!(secret_of(&again.body).is_none(), "shown only once");
    assert!(!again.body.contains(&secret));
    assert!(again.body.contains("shown once and is not shown again"));
    let list = rules(&app, &admin).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["filters"]["environment"], "production");
    let id = list[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        audited(&app, "alert_rule_created", "Busy checkout").await,
        1
    );
    // A webhook rule reads as one.
    let res = a
        .post(
            PAGE,
            &[
                ("csrf", &csrf),
                ("name", "Hook"),
                ("condition", "new_issue"),
                ("action", "webhook"),
                ("url", "https://hooks.example.com/mesher"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let hook_page = a.get(PAGE).await;
    assert!(
        hook_page
            .body
            .contains("Webhook to https://hooks.example.com/mesher")
    );
    assert!(hook_page.body.contains("A new issue is created"));

    // What members see: the list and the delivery log, no forms.
    let one = format!("{PAGE}/{id}");
    let forms = [
        format!("action=\"{PAGE}\""),
        format!("action=\"{one}/toggle\""),
        format!("action=\"{one}/test\""),
        format!("action=\"{one}/delete\""),
    ];
    let member_page = m.get(PAGE).await;
    assert_eq!(member_page.status, 200);
    assert!(member_page.body.contains("Busy checkout"));
    let member_log = m.get(&one).await;
    assert_eq!(member_log.status, 200);
    let admin_page = a.get(PAGE).await;
    for f in &forms {
        assert!(!member_page.body.contains(f.as_str()), "member sees {f}");
        assert!(
            !member_log.body.contains(f.as_str()),
            "member log shows {f}"
        );
        if f.as_str() != format!("action=\"{PAGE}\"") {
            assert!(admin_page.body.contains(f.as_str()), "admin misses {f}");
        }
    }

    // Posts by role: members 403, outsiders 404, admins change things.
    let (m_csrf, x_csrf) = (
        m.get("/account").await.csrf(),
        x.get("/account").await.csrf(),
    );
    let toggle = format!("{one}/toggle");
    let test = format!("{one}/test");
    let delete = format!("{one}/delete");
    let create_fields: &[(&str, &str)] = &[
        ("name", "mine"),
        ("condition", "new_issue"),
        ("action", "log"),
    ];
    let mut browsers = [a, m, x];
    let tokens = [csrf.clone(), m_csrf, x_csrf];
    // (browser: 0 admin, 1 member, 2 outsider; path; fields; status)
    type Post<'a> = (usize, &'a str, &'a [(&'a str, &'a str)], u16);
    let posts: &[Post] = &[
        (1, PAGE, create_fields, 403),
        (1, &toggle, &[("enabled", "false")], 403),
        (1, &test, &[], 403),
        (1, &delete, &[], 403),
        (2, PAGE, create_fields, 404),
        (2, &toggle, &[("enabled", "false")], 404),
        (2, &delete, &[], 404),
        (0, &toggle, &[("enabled", "maybe")], 400),
        (0, &toggle, &[("enabled", "false")], 303),
    ];
    for &(who, path, fields, status) in posts {
        let mut form = vec![("csrf", tokens[who].as_str())];
        form.extend_from_slice(fields);
        let res = browsers[who].post(path, &form).await;
        assert_eq!(res.status.as_u16(), status, "#{who} {path}: {}", res.body);
        match status {
            403 => assert!(res.body.contains("Not allowed"), "{}", res.body),
            404 => assert!(res.body.contains("<h1>Not found</h1>")),
            303 => assert_eq!(res.location, PAGE),
            _ => {}
        }
    }
    assert_eq!(x_get(&mut browsers[2], PAGE).await, 404);
    assert_eq!(x_get(&mut browsers[2], &one).await, 404);
    let list = rules(&app, &admin).await;
    assert_eq!(list.len(), 2, "the member created nothing");
    assert_eq!(list[0]["enabled"], false, "disabled by the admin");
    assert!(
        browsers[0]
            .get(PAGE)
            .await
            .body
            .contains("aria-label=\"Enable Busy checkout\"")
    );
    assert_eq!(
        audited(&app, "alert_rule_changed", "Busy checkout").await,
        1
    );

    // Every form refuses a post without its token, and changes nothing.
    for path in [PAGE, toggle.as_str(), test.as_str(), delete.as_str()] {
        let res = browsers[0]
            .post(
                path,
                &[
                    ("enabled", "true"),
                    ("name", "x"),
                    ("condition", "new_issue"),
                    ("action", "log"),
                ],
            )
            .await;
        assert_eq!(res.status, 403, "{path}");
        assert!(res.body.contains("Form expired"), "{path}");
    }
    assert_eq!(rules(&app, &admin).await, list);

    // Send test: the delivery log lists the test notification.
    let res = browsers[0].post(&test, &[("csrf", &csrf)]).await;
    assert_eq!(
        (res.status.as_u16(), res.location.as_str()),
        (303, one.as_str())
    );
    let log = browsers[0].get(&one).await;
    assert_eq!(log.status, 200);
    assert!(log.body.contains("Recent notifications"));
    assert!(log.body.contains("<td>test</td>"), "{}", log.body);
    assert!(log.body.contains("class=\"badge delivery-"), "{}", log.body);
    let (_, deliveries) = app.get_as(&admin, &format!("{API}/{id}/deliveries")).await;
    assert_eq!(deliveries["data"].as_array().unwrap().len(), 1);

    // Delete.
    let res = browsers[0].post(&delete, &[("csrf", &csrf)]).await;
    assert_eq!((res.status.as_u16(), res.location.as_str()), (303, PAGE));
    assert!(!browsers[0].get(PAGE).await.body.contains("Busy checkout"));
    assert_eq!(browsers[0].get(&one).await.status, 404);
    assert_eq!(rules(&app, &admin).await.len(), 1);
    assert_eq!(
        audited(&app, "alert_rule_deleted", "Busy checkout").await,
        1
    );
    // Gone or malformed ids name nothing.
    for path in [delete.clone(), format!("{PAGE}/not-a-uuid/delete")] {
        let res = browsers[0].post(&path, &[("csrf", &csrf)]).await;
        assert_eq!(res.status, 404, "{path}");
    }
}

async fn x_get(b: &mut Browser<'_>, path: &str) -> u16 {
    b.get(path).await.status.as_u16()
}

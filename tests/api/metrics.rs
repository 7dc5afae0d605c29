//! `GET /metrics` (docs/api.md, "Authentication"): open without `metrics.token`, only for
//! `Authorization: Bearer <token>` with it.

use secrecy::SecretString;

use crate::helpers::{spawn_app, spawn_app_with};

const TOKEN: &str = "metrics-token-for-the-tests-0123";

#[actix_web::test]
async fn with_a_token_only_the_right_bearer_scrapes() {
    let app = spawn_app_with(|s| s.metrics.token = Some(SecretString::from(TOKEN)), None).await;
    let p = app.project("scraped").await;
    crate::helpers::post_n(&app, &p.key, 1, "counted").await;
    let wrong_case = TOKEN.to_ascii_uppercase();
    let cases: &[(Option<String>, u16, &str)] = &[
        (None, 401, "unauthenticated"),
        (
            Some("Bearer wrong-token-0123456789".into()),
            401,
            "invalid_token",
        ),
        (Some(format!("Bearer {wrong_case}")), 401, "invalid_token"),
        (Some(format!("Basic {TOKEN}")), 401, "unauthenticated"),
        (Some(format!("Bearer {TOKEN}x")), 401, "invalid_token"),
        (Some(format!("Bearer {TOKEN}")), 200, ""),
    ];
    for (authorization, status, code) in cases {
        let mut req = app.client.get(format!("{}/metrics", app.address));
        if let Some(value) = authorization {
            req = req.header("authorization", value);
        }
        let res = req.send().await.unwrap();
        let got = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(got, *status, "{authorization:?}: {text}");
        if *status == 200 {
            assert!(
                text.contains("mesher_events_accepted_total{project_id="),
                "{text}"
            );
        } else {
            let body: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(body["error"]["code"], *code, "{authorization:?}");
            assert!(!text.contains("mesher_events"), "{text}");
        }
    }
}

#[actix_web::test]
async fn without_a_token_metrics_stay_open() {
    let app = spawn_app().await;
    let p = app.project("open").await;
    crate::helpers::post_n(&app, &p.key, 1, "counted").await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("mesher_events_accepted_total{project_id="),
        "{text}"
    );
}

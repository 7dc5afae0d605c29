//! Login throttling under concurrency, behind proxies, and on every check of a password
//! (docs/api.md, "Authentication" → "Login throttling"; README, "Running behind a proxy").

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_of, send_json, spawn_app, spawn_app_with};

/// Request headers, as (name, value) pairs.
type Headers<'a> = &'a [(&'a str, &'a str)];

/// `POST /auth/login` with extra headers; answers (status, body).
async fn login(
    app: &TestApp,
    email: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut req = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({ "email": email, "password": password }));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    send_json(req).await
}

#[actix_web::test]
async fn parallel_wrong_passwords_are_verified_at_most_the_limit() {
    let app = spawn_app().await;
    let user = app.user("parallel@example.com").await;
    let guesses = (0..48).map(|i| format!("guess number {i}"));
    let answers = join_all(guesses.map(|g| {
        let app = &app;
        let email = user.email.clone();
        async move { login(app, &email, &g, &[]).await }
    }))
    .await;
    let count = |status: u16| answers.iter().filter(|(s, _)| *s == status).count();
    // login_max_failures = 5: five password verifications, every other attempt refused.
    assert_eq!(
        (count(401), count(429)),
        (5, 43),
        "{:?}",
        answers.iter().map(|(s, _)| s).collect::<Vec<_>>()
    );
    for (status, body) in &answers {
        let code = if *status == 401 {
            "invalid_credentials"
        } else {
            "too_many_attempts"
        };
        assert_eq!(error_of(body).0, code);
    }
    let (status, body) = login(&app, &user.email, &user.password, &[]).await;
    assert_eq!((status, error_of(&body).0), (429, "too_many_attempts"));
}

/// 20+ failed logins for made-up emails, each "from" `forwarded` as a proxy would say.
async fn spray(app: &TestApp, header: &str, forwarded: &str) {
    for i in 0..21 {
        let (status, _) = login(
            app,
            &format!("nobody{i}@example.com"),
            "a wrong password",
            &[(header, forwarded)],
        )
        .await;
        assert!(status == 401 || status == 429, "{status}");
    }
}

#[actix_web::test]
async fn without_trusted_proxies_forwarded_headers_are_ignored() {
    let app = spawn_app().await;
    let user = app.user("direct@example.com").await;
    spray(&app, "x-forwarded-for", "203.0.113.7").await;
    // The peer (127.0.0.1) made the failures, whatever the header said.
    for header in ["x-forwarded-for", "forwarded"] {
        let value = if header == "forwarded" {
            "for=198.51.100.9"
        } else {
            "198.51.100.9"
        };
        let (status, body) = login(&app, &user.email, &user.password, &[(header, value)]).await;
        assert_eq!(
            (status, error_of(&body).0),
            (429, "too_many_attempts"),
            "{header}"
        );
    }
}

#[actix_web::test]
async fn behind_a_trusted_proxy_each_client_address_is_throttled_on_its_own() {
    let app = spawn_app_with(
        |s| s.http.trusted_proxies = vec!["127.0.0.1/32".into()],
        None,
    )
    .await;
    let user = app.user("proxied@example.com").await;
    spray(&app, "x-forwarded-for", "203.0.113.7").await;

    // (headers, made-up email or the real user, status expected)
    let xff = "x-forwarded-for";
    let cases: &[(Headers, bool, u16)] = &[
        // The real user, from another address: not locked out.
        (&[(xff, "198.51.100.9")], true, 200),
        // The sprayer's address is locked, however it dresses up its header: the right-most
        // hop not itself a trusted proxy is what counts.
        (&[(xff, "203.0.113.7")], false, 429),
        (&[(xff, "198.51.100.9, 203.0.113.7")], false, 429),
        (&[(xff, "198.51.100.9"), (xff, "203.0.113.7")], false, 429),
        (&[(xff, "203.0.113.7, 127.0.0.1")], false, 429),
        (&[("forwarded", "for=203.0.113.7;proto=https")], false, 429),
        (&[("forwarded", "for=\"[2001:db8::1]:4711\"")], false, 401),
        // No header: the proxy itself, which has not failed.
        (&[], false, 401),
    ];
    for (i, (headers, real, status)) in cases.iter().enumerate() {
        let (email, password) = if *real {
            (user.email.clone(), user.password.clone())
        } else {
            (
                format!("case{i}@example.com"),
                "a wrong password".to_owned(),
            )
        };
        let (got, body) = login(&app, &email, &password, headers).await;
        assert_eq!(got, *status, "case {i}: {headers:?}: {body}");
    }
}

#[actix_web::test]
async fn wrong_current_passwords_count_as_failed_logins() {
    let app = spawn_app().await;
    let user = app.user("changer@example.com").await;
    let mut answers = Vec::new();
    for _ in 0..12 {
        let (status, body) = app
            .post_as(
                &user,
                "/api/v1/auth/password",
                json!({ "current_password": "not it at all", "new_password": "a new password" }),
            )
            .await;
        answers.push((
            status,
            error_of(&body).0.to_owned(),
            error_of(&body).1.to_owned(),
        ));
    }
    let wrong = (
        400,
        "invalid_field".to_owned(),
        "current_password".to_owned(),
    );
    let locked = (429, "too_many_attempts".to_owned(), String::new());
    let mut expected = vec![wrong; 5];
    expected.extend(vec![locked; 7]);
    assert_eq!(answers, expected);
    // Locked: the right one is refused too, and so is a login.
    let (status, _) = app
        .post_as(
            &user,
            "/api/v1/auth/password",
            json!({ "current_password": user.password, "new_password": "a new password" }),
        )
        .await;
    assert_eq!(status, 429);
    assert_eq!(login(&app, &user.email, &user.password, &[]).await.0, 429);
}

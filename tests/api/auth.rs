//! Accounts, sessions, tokens, throttling, CSRF and secrets (docs/api.md, "Authentication").

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    ServerProcess, TestApp, TestDb, create_project, error_of, event, send_json, spawn_app,
    spawn_app_with,
};

fn cookie_header(cookie: &str) -> String {
    format!("mesher_session={cookie}")
}

async fn me_with_cookie(app: &TestApp, cookie: &str) -> (u16, Value) {
    send_json(
        app.client
            .get(format!("{}/api/v1/auth/me", app.address))
            .header("cookie", cookie_header(cookie)),
    )
    .await
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn register_login_me_and_cookie_flags() {
    let app = spawn_app().await;
    let user = app.user("Ada@Example.com").await;
    assert_eq!(user.email, "Ada@Example.com");

    let res = login(&app, "ada@example.COM", &user.password).await;
    assert_eq!(res.status(), 200);
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(flag), "{flag} missing: {set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["email"], "ada@example.com");
    assert!(body.get("password_hash").is_none());

    let cookie = app.login_cookie(&user.email, &user.password).await;
    let (status, me) = me_with_cookie(&app, &cookie).await;
    assert_eq!(status, 200);
    assert_eq!(me["id"], user.id.to_string());
    assert_eq!(me["memberships"], json!([]));

    // A new token at every login.
    assert_ne!(cookie, app.login_cookie(&user.email, &user.password).await);

    // Secure cookies when configured.
    let secure = spawn_app_with(|s| s.http.secure_cookies = true, None).await;
    let u = secure.user("s@example.com").await;
    let res = login(&secure, &u.email, &u.password).await;
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
}

#[actix_web::test]
async fn bad_registrations_name_the_field() {
    let app = spawn_app().await;
    let post = |body: Value| {
        send_json(
            app.client
                .post(format!("{}/api/v1/auth/register", app.address))
                .json(&body),
        )
    };
    app.user("taken@b.io").await;
    // (body, status, error code, field named or "")
    for (body, status, code, field) in [
        (
            json!({ "email": "nope", "password": "long enough" }),
            400,
            "invalid_field",
            "email",
        ),
        (
            json!({ "email": "a@b.io", "password": "short" }),
            400,
            "invalid_field",
            "password",
        ),
        (
            json!({ "email": "a@b.io", "password": "x".repeat(1025) }),
            400,
            "invalid_field",
            "password",
        ),
        (json!({ "email": "a@b.io" }), 400, "invalid_json", ""),
        (
            json!({ "email": "TAKEN@b.io", "password": "long enough" }),
            409,
            "email_taken",
            "email",
        ),
    ] {
        let (got, err) = post(body.clone()).await;
        assert_eq!((got, error_of(&err)), (status, (code, field)), "{body}");
    }

    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);

    let closed = spawn_app_with(|s| s.auth.allow_registration = false, None).await;
    let (status, err) = send_json(
        closed
            .client
            .post(format!("{}/api/v1/auth/register", closed.address))
            .json(&json!({ "email": "a@b.io", "password": "long enough" })),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("registration_disabled"))
    );
}

#[actix_web::test]
async fn wrong_password_and_unknown_email_look_the_same_and_get_throttled() {
    let app = spawn_app().await;
    let user = app.user("victim@example.com").await;
    let wrong = login(&app, &user.email, "not the password").await;
    let unknown = login(&app, "nobody@example.com", "not the password").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.status(), unknown.status());
    assert_eq!(wrong.text().await.unwrap(), unknown.text().await.unwrap());

    for _ in 0..4 {
        assert_eq!(login(&app, &user.email, "guess").await.status(), 401);
    }
    // Five failures for the account: even the right password is now refused, with 429.
    let res = login(&app, &user.email, &user.password).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_attempts");
}

#[actix_web::test]
async fn logout_and_password_change_revoke_sessions() {
    let app = spawn_app().await;
    let user = app.user("rev@example.com").await;
    let a = app.login_cookie(&user.email, &user.password).await;
    let b = app.login_cookie(&user.email, &user.password).await;

    let (status, _) = send_json(
        app.client
            .post(format!("{}/api/v1/auth/password", app.address))
            .header("cookie", cookie_header(&a))
            .json(&json!({ "current_password": user.password, "new_password": "a brand new one" })),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        me_with_cookie(&app, &a).await.0,
        200,
        "the changing session stays"
    );
    assert_eq!(
        me_with_cookie(&app, &b).await.0,
        401,
        "other sessions are revoked"
    );
    assert_eq!(login(&app, &user.email, &user.password).await.status(), 401);
    assert_eq!(
        login(&app, &user.email, "a brand new one").await.status(),
        200
    );

    let res = app
        .client
        .post(format!("{}/api/v1/auth/logout", app.address))
        .header("cookie", cookie_header(&a))
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, err) = me_with_cookie(&app, &a).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("unauthenticated"))
    );
}

#[actix_web::test]
async fn sessions_expire_when_idle_and_at_their_absolute_limit() {
    let offset = Arc::new(AtomicI64::new(0));
    let clock_offset = offset.clone();
    let clock: mesher::clock::Clock =
        Arc::new(move || Utc::now() + Duration::seconds(clock_offset.load(Ordering::SeqCst)));
    let app = spawn_app_with(|_| {}, Some(clock)).await;
    let user = app.user("clock@example.com").await;
    let day = 86_400;

    // Idle: 7 days without a request.
    let idle = app.login_cookie(&user.email, &user.password).await;
    offset.store(6 * day, Ordering::SeqCst);
    assert_eq!(me_with_cookie(&app, &idle).await.0, 200);
    offset.store(6 * day + 7 * day + 60, Ordering::SeqCst);
    let (status, err) = me_with_cookie(&app, &idle).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("session_expired"))
    );

    // Absolute: used every 6 days, it still ends 30 days after login.
    let start = offset.load(Ordering::SeqCst);
    let busy = app.login_cookie(&user.email, &user.password).await;
    for step in 1..=4 {
        offset.store(start + step * 6 * day, Ordering::SeqCst);
        assert_eq!(me_with_cookie(&app, &busy).await.0, 200, "day {}", step * 6);
    }
    offset.store(start + 30 * day + 1, Ordering::SeqCst);
    let (status, err) = me_with_cookie(&app, &busy).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("session_expired"))
    );
}

#[actix_web::test]
async fn user_tokens_are_shown_once_and_revocable() {
    let app = spawn_app().await;
    let user = app.user("tok@example.com").await;
    let (status, created) = app
        .post_as(
            &user,
            "/api/v1/auth/tokens",
            json!({ "label": "ci", "current_password": user.password }),
        )
        .await;
    assert_eq!(status, 201);
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mshu_"));
    let (status, list) = app.get_as(&user, "/api/v1/auth/tokens").await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&token));

    let id = created["id"].as_str().unwrap();
    let (status, _) = app
        .delete_as(&user, &format!("/api/v1/auth/tokens/{id}"))
        .await;
    assert_eq!(status, 204);
    let (status, err) = send_json(
        app.client
            .get(format!("{}/api/v1/auth/me", app.address))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("invalid_token"))
    );
    let (status, _) = app
        .delete_as(&user, &format!("/api/v1/auth/tokens/{id}"))
        .await;
    assert_eq!(status, 404);
    let (status, err) = app
        .post_as(
            &user,
            "/api/v1/auth/tokens",
            json!({ "label": "", "current_password": user.password }),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (400, Some("label"))
    );
}

#[actix_web::test]
async fn cookie_requests_that_change_state_need_json_and_our_origin() {
    let app = spawn_app().await;
    let user = app.user("csrf@example.com").await;
    let cookie = app.login_cookie(&user.email, &user.password).await;
    let post = |ct: Option<&str>, origin: Option<&str>, site: Option<&str>| {
        let mut req = app
            .client
            .request(Method::POST, format!("{}/api/v1/auth/tokens", app.address))
            .header("cookie", cookie_header(&cookie))
            .body(json!({ "label": "x", "current_password": user.password }).to_string());
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        send_json(req)
    };
    for (ct, origin, site) in [
        (Some("application/x-www-form-urlencoded"), None, None),
        (Some("text/plain"), None, None),
        (None, None, None),
        (Some("application/json"), Some("https://evil.example"), None),
        (Some("application/json"), None, Some("cross-site")),
    ] {
        let (status, err) = post(ct, origin, site).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (403, Some("csrf")),
            "{ct:?} {origin:?} {site:?}"
        );
    }
    let (status, _) = post(
        Some("application/json"),
        Some("http://127.0.0.1:8080"),
        Some("same-origin"),
    )
    .await;
    assert_eq!(status, 201);
    // Bearer tokens are not cookie-borne: no CSRF rules.
    let (status, _) = send_json(
        app.as_user(&user, Method::POST, "/api/v1/auth/tokens")
            .header("content-type", "text/plain")
            .body(json!({ "label": "y", "current_password": user.password }).to_string()),
    )
    .await;
    assert_eq!(status, 415, "the JSON extractor still wants JSON");
}

/// Only `Authorization: Bearer` (which then authenticates alone, never the cookie) waives
/// the CSRF rules; any other scheme next to the cookie is a cookie request.
#[actix_web::test]
async fn csrf_is_waived_only_for_bearer_tokens() {
    let app = spawn_app().await;
    let user = app.user("scheme@example.com").await;
    let cookie = app.login_cookie(&user.email, &user.password).await;
    let bearer = format!("Bearer {}", user.token);
    // (Authorization, status, code) of a form-encoded logout that carries the cookie
    let cases = [
        ("Basic dXNlcjpwYXNzd29yZA==", 403, "csrf"),
        ("Sentry sentry_key=mshr_x", 403, "csrf"),
        ("Bearer", 403, "csrf"),
        ("", 403, "csrf"),
        (bearer.as_str(), 400, "not_a_session"),
    ];
    for (authorization, status, code) in cases {
        let (got, err) = send_json(
            app.client
                .post(format!("{}/api/v1/auth/logout", app.address))
                .header("cookie", cookie_header(&cookie))
                .header("authorization", authorization)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("a=b"),
        )
        .await;
        assert_eq!(
            (got, error_of(&err).0),
            (status, code),
            "{authorization}: {err}"
        );
    }
    assert_eq!(
        me_with_cookie(&app, &cookie).await.0,
        200,
        "still logged in"
    );
}

#[derive(diesel::QueryableByName)]
struct Dump {
    #[diesel(sql_type = diesel::sql_types::Text)]
    row: String,
}

async fn dump(db: &TestDb, table: &str) -> String {
    use diesel_async::RunQueryDsl;
    let mut conn = db.conn().await;
    let rows: Vec<Dump> = diesel::sql_query(format!("SELECT t::text AS row FROM {table} t"))
        .load(&mut conn)
        .await
        .unwrap();
    rows.into_iter()
        .map(|r| r.row)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs a real `mesher serve` with debug JSON logs, exercises every kind of secret, then
/// checks that none of them is in the database or in the log output.
#[actix_web::test]
async fn no_secret_in_clear_in_the_database_or_the_logs() {
    let db = TestDb::migrated().await;
    let log_path = std::env::temp_dir().join(format!("mesher-log-{}.json", uuid::Uuid::now_v7()));
    let server = ServerProcess::start_logging(
        &db,
        &[("RUST_LOG", "debug"), ("MESHER__LOG__FORMAT", "json")],
        &log_path,
    )
    .await;
    let client = reqwest::Client::new();
    let url = server.url.clone();
    let password = "correct horse battery staple";
    let (status, _) = send_json(
        client
            .post(format!("{url}/api/v1/auth/register"))
            .json(&json!({ "email": "sec@example.com", "password": password })),
    )
    .await;
    assert_eq!(status, 201);
    let _ = client
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({ "email": "sec@example.com", "password": "a wrong password" }))
        .send()
        .await
        .unwrap();
    let res = client
        .post(format!("{url}/api/v1/auth/login"))
        .json(&json!({ "email": "sec@example.com", "password": password }))
        .send()
        .await
        .unwrap();
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let session = set_cookie["mesher_session=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let (_, created) = send_json(
        client
            .post(format!("{url}/api/v1/auth/tokens"))
            .header("cookie", cookie_header(&session))
            .json(&json!({ "label": "t", "current_password": password })),
    )
    .await;
    let user_token = created["token"].as_str().unwrap().to_owned();
    let _ = client
        .get(format!("{url}/api/v1/auth/me"))
        .bearer_auth(&user_token)
        .send()
        .await
        .unwrap();
    let project = create_project(&db, "secrets").await;
    let res = client
        .post(format!("{url}/api/v1/events?key={}", project.key))
        .json(&event("hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert!(server.sigterm_and_wait().success());

    let logs = std::fs::read_to_string(&log_path).unwrap();
    std::fs::remove_file(&log_path).ok();
    assert!(
        logs.contains("/api/v1/events"),
        "the log captured the requests"
    );
    let secrets = [
        password,
        "a wrong password",
        &session,
        &user_token,
        &project.key,
    ];
    for secret in secrets {
        assert!(!logs.contains(secret), "a secret is in the logs");
    }
    for table in ["users", "sessions", "user_tokens", "api_keys"] {
        let rows = dump(&db, table).await;
        assert!(!rows.is_empty(), "{table} is empty");
        for secret in secrets {
            assert!(!rows.contains(secret), "a secret is in {table}");
        }
    }
    assert!(
        dump(&db, "users")
            .await
            .contains("$argon2id$v=19$m=19456,t=2,p=1$")
    );
}

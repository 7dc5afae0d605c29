//! User tokens need the current password, and a password change can revoke them all
//! (docs/api.md, "Authentication" → "User tokens").

use serde_json::json;

use crate::helpers::{TestApp, error_of, send_json, spawn_app};

/// `GET /auth/me` with a bearer token: (status, error code).
async fn me_with_token(app: &TestApp, token: &str) -> (u16, String) {
    let (status, body) = send_json(
        app.client
            .get(format!("{}/api/v1/auth/me", app.address))
            .bearer_auth(token),
    )
    .await;
    (status, error_of(&body).0.to_owned())
}

#[actix_web::test]
async fn creating_a_token_needs_the_current_password() {
    let app = spawn_app().await;
    let user = app.user("minter@example.com").await;
    // (body, status, code, field)
    let cases = [
        (
            json!({ "label": "ci" }),
            400,
            "missing_field",
            "current_password",
        ),
        (
            json!({ "label": "ci", "current_password": null }),
            400,
            "missing_field",
            "current_password",
        ),
        (
            json!({ "label": "ci", "current_password": "not the one" }),
            400,
            "invalid_field",
            "current_password",
        ),
        (
            json!({ "label": "", "current_password": user.password }),
            400,
            "invalid_field",
            "label",
        ),
        (
            json!({ "label": "ci", "current_password": user.password }),
            201,
            "",
            "",
        ),
    ];
    for (body, status, code, field) in cases {
        let (got, res) = app
            .post_as(&user, "/api/v1/auth/tokens", body.clone())
            .await;
        assert_eq!(
            (got, error_of(&res)),
            (status, (code, field)),
            "{body}: {res}"
        );
        if got == 201 {
            let token = res["token"].as_str().unwrap();
            assert_eq!(me_with_token(&app, token).await.0, 200);
        }
    }
}

#[actix_web::test]
async fn wrong_passwords_at_token_creation_lock_the_account() {
    let app = spawn_app().await;
    let user = app.user("guesser@example.com").await;
    let body = json!({ "label": "stolen", "current_password": "a guess" });
    for i in 0..5 {
        let (status, res) = app
            .post_as(&user, "/api/v1/auth/tokens", body.clone())
            .await;
        assert_eq!(
            (status, error_of(&res).1),
            (400, "current_password"),
            "try {i}"
        );
    }
    let right = json!({ "label": "stolen", "current_password": user.password });
    let (status, res) = app.post_as(&user, "/api/v1/auth/tokens", right).await;
    assert_eq!((status, error_of(&res).0), (429, "too_many_attempts"));
    let (status, _) = send_json(
        app.client
            .post(format!("{}/api/v1/auth/login", app.address))
            .json(&json!({ "email": user.email, "password": user.password })),
    )
    .await;
    assert_eq!(status, 429, "the same account throttle as logins");
}

#[actix_web::test]
async fn a_password_change_revokes_tokens_only_when_asked() {
    let app = spawn_app().await;
    let user = app.user("rotate@example.com").await;
    let (status, created) = app
        .post_as(
            &user,
            "/api/v1/auth/tokens",
            json!({ "label": "script", "current_password": user.password }),
        )
        .await;
    assert_eq!(status, 201);
    let script = created["token"].as_str().unwrap().to_owned();
    let cookie = app.login_cookie(&user.email, &user.password).await;
    let change = |current: &str, new: &str, revoke: Option<bool>| {
        let mut body = json!({ "current_password": current, "new_password": new });
        if let Some(revoke) = revoke {
            body["revoke_tokens"] = json!(revoke);
        }
        send_json(
            app.client
                .post(format!("{}/api/v1/auth/password", app.address))
                .header("cookie", format!("mesher_session={cookie}"))
                .json(&body),
        )
    };

    // Default (and false): the tokens live on.
    assert_eq!(change(&user.password, "second password", None).await.0, 204);
    assert_eq!(
        change("second password", "third password", Some(false))
            .await
            .0,
        204
    );
    assert_eq!(me_with_token(&app, &script).await.0, 200);

    // revoke_tokens: every token of the user stops, the session that asked stays.
    assert_eq!(
        change("third password", "fourth password", Some(true))
            .await
            .0,
        204
    );
    for token in [&script, &user.token] {
        assert_eq!(
            me_with_token(&app, token).await,
            (401, "invalid_token".to_owned())
        );
    }
    let (status, list) = send_json(
        app.client
            .get(format!("{}/api/v1/auth/tokens", app.address))
            .header("cookie", format!("mesher_session={cookie}")),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| !t["revoked_at"].is_null()),
        "{list}"
    );
}

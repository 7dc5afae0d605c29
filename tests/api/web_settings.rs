//! The web UI's organization settings and account pages over real HTTP (the cookie-keeping
//! browser of `web.rs`): the API's role rules on every member control, the last owner kept,
//! password change, session revocation, user tokens shown once, and CSRF on every form.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, TestUser, join, member, spawn_app};
use crate::web::Browser;

/// The members of `test-org` as the API lists them: email → role.
async fn roles(app: &TestApp, by: &TestUser) -> Vec<(String, String)> {
    let (status, body) = app.get_as(by, "/api/v1/orgs/test-org/members").await;
    assert_eq!(status, 200, "{body}");
    let mut rows: Vec<(String, String)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn role_of<'a>(rows: &'a [(String, String)], email: &str) -> Option<&'a str> {
    rows.iter()
        .find(|(e, _)| e == email)
        .map(|(_, r)| r.as_str())
}

#[actix_web::test]
async fn org_settings_follow_the_api_role_rules() {
    let app = spawn_app().await;
    app.project("shop").await;
    let owner = app.user("os-owner@example.com").await;
    join(&app, &owner, "owner").await;
    let admin = app.user("os-admin@example.com").await;
    join(&app, &admin, "admin").await;
    let plain = member(&app, "os-member@example.com").await;
    let target = member(&app, "os-target@example.com").await;
    let outsider = app.user("os-outsider@example.com").await;
    // The fixture's org may have other owners; this test wants `owner` to be the last one.
    for (email, role) in roles(&app, &owner).await {
        if role == "owner" && email != owner.email {
            panic!("unexpected owner {email}");
        }
    }
    let mut o = Browser::signed_in(&app, &owner).await;
    let mut a = Browser::signed_in(&app, &admin).await;
    let mut m = Browser::signed_in(&app, &plain).await;
    let mut x = Browser::signed_in(&app, &outsider).await;

    let role_form = |u: &TestUser| format!("/test-org/settings/members/{}/role", u.id);
    let remove_form = |u: &TestUser| format!("/test-org/settings/members/{}/remove", u.id);
    // What each role sees: (page, drawn, not drawn).
    let admin_page = a.get("/test-org/settings").await;
    let member_page = m.get("/test-org/settings").await;
    let owner_page = o.get("/test-org/settings").await;
    assert_eq!(
        (admin_page.status, member_page.status, owner_page.status),
        (StatusCode::OK, StatusCode::OK, StatusCode::OK)
    );
    let add = "action=\"/test-org/settings/members\"";
    let rename = "action=\"/test-org/settings/rename\"";
    let delete = "action=\"/test-org/settings/delete\"";
    let views: [(&str, &str, Vec<String>, Vec<String>); 3] = [
        (
            "owner",
            &owner_page.body,
            vec![
                role_form(&owner),
                role_form(&target),
                add.into(),
                rename.into(),
                delete.into(),
            ],
            vec![],
        ),
        (
            "admin",
            &admin_page.body,
            vec![
                role_form(&target),
                remove_form(&target),
                add.into(),
                rename.into(),
            ],
            vec![role_form(&owner), remove_form(&owner), delete.into()],
        ),
        (
            "member",
            &member_page.body,
            vec![
                target.email.clone(),
                owner.email.clone(),
                remove_form(&plain),
            ],
            vec![
                role_form(&target),
                remove_form(&target),
                add.into(),
                rename.into(),
                delete.into(),
            ],
        ),
    ];
    for (who, body, drawn, hidden) in &views {
        for s in drawn {
            assert!(body.contains(s.as_str()), "{who} should see {s}");
        }
        for s in hidden {
            assert!(!body.contains(s.as_str()), "{who} should not see {s}");
        }
    }
    assert_eq!(x.get("/test-org/settings").await.status, 404);
    // The org page links to its settings.
    assert!(
        m.get("/test-org")
            .await
            .body
            .contains("href=\"/test-org/settings\"")
    );

    // Posts, in order.
    let tokens = [
        o.get("/account").await.csrf(),
        a.get("/account").await.csrf(),
        m.get("/account").await.csrf(),
        x.get("/account").await.csrf(),
    ];
    let (owner_role, target_role) = (role_form(&owner), role_form(&target));
    let (owner_remove, target_remove) = (remove_form(&owner), remove_form(&target));
    // (browser: 0 owner, 1 admin, 2 member, 3 outsider; path; fields; status)
    type Case<'a> = (usize, &'a str, &'a [(&'a str, &'a str)], u16);
    let cases: &[Case] = &[
        (2, &target_role, &[("role", "admin")], 403),
        (2, &target_remove, &[], 403),
        (
            2,
            "/test-org/settings/members",
            &[("email", &outsider.email), ("role", "member")],
            403,
        ),
        (2, "/test-org/settings/rename", &[("name", "Mine")], 403),
        (
            2,
            "/test-org/settings/delete",
            &[("confirm", "test-org")],
            403,
        ),
        (3, &target_role, &[("role", "admin")], 404),
        (3, "/test-org/settings/rename", &[("name", "Mine")], 404),
        (1, &owner_role, &[("role", "member")], 403),
        (1, &owner_remove, &[], 403),
        (1, &target_role, &[("role", "owner")], 403),
        (
            1,
            "/test-org/settings/delete",
            &[("confirm", "test-org")],
            403,
        ),
        (1, &target_role, &[("role", "boss")], 400),
        (1, &target_role, &[("role", "admin")], 303),
        (
            1,
            "/test-org/settings/members",
            &[("email", "nobody@example.com"), ("role", "member")],
            400,
        ),
        (
            1,
            "/test-org/settings/members",
            &[("email", &outsider.email), ("role", "member")],
            303,
        ),
        (
            1,
            "/test-org/settings/members",
            &[("email", &outsider.email), ("role", "member")],
            409,
        ),
        (1, "/test-org/settings/rename", &[("name", "  ")], 400),
        (
            1,
            "/test-org/settings/rename",
            &[("name", "Renamed Org")],
            303,
        ),
        (0, &owner_role, &[("role", "admin")], 409),
        (0, &owner_remove, &[], 409),
        (0, "/test-org/settings/delete", &[("confirm", "nope")], 400),
    ];
    let mut browsers = [o, a, m, x];
    for &(who, path, fields, status) in cases {
        let mut form = vec![("csrf", tokens[who].as_str())];
        form.extend_from_slice(fields);
        let res = browsers[who].post(path, &form).await;
        assert_eq!(
            res.status.as_u16(),
            status,
            "#{who} {path} {fields:?}: {}",
            res.body
        );
        match status {
            303 => assert_eq!(res.location, "/test-org/settings"),
            403 => assert!(res.body.contains("Not allowed"), "{}", res.body),
            404 => assert!(res.body.contains("<h1>Not found</h1>")),
            _ => assert!(res.body.contains("class=\"error\""), "{}", res.body),
        }
    }
    let after = roles(&app, &owner).await;
    for (u, role) in [
        (&owner, "owner"),
        (&admin, "admin"),
        (&plain, "member"),
        (&target, "admin"),
        (&outsider, "member"),
    ] {
        assert_eq!(role_of(&after, &u.email), Some(role), "{}", u.email);
    }
    let (_, org) = app.get_as(&owner, "/api/v1/orgs/test-org").await;
    assert_eq!(org["name"], "Renamed Org");

    // Every form refuses a post without its token, and changes nothing.
    for path in [
        target_role.as_str(),
        target_remove.as_str(),
        "/test-org/settings/members",
        "/test-org/settings/rename",
        "/test-org/settings/delete",
    ] {
        let res = browsers[0]
            .post(
                path,
                &[
                    ("role", "member"),
                    ("name", "X"),
                    ("confirm", "test-org"),
                    ("email", "a@b.c"),
                ],
            )
            .await;
        assert_eq!(res.status, 403, "{path}");
        assert!(res.body.contains("Form expired"), "{path}");
    }
    assert_eq!(roles(&app, &owner).await, after);

    // A member leaves; the owner deletes the organization by typing its slug.
    let leave = remove_form(&plain);
    let res = browsers[2].post(&leave, &[("csrf", &tokens[2])]).await;
    assert_eq!((res.status.as_u16(), res.location.as_str()), (303, "/"));
    assert_eq!(browsers[2].get("/test-org/settings").await.status, 404);
    let res = browsers[0]
        .post(
            "/test-org/settings/delete",
            &[("csrf", &tokens[0]), ("confirm", "test-org")],
        )
        .await;
    assert_eq!((res.status.as_u16(), res.location.as_str()), (303, "/"));
    assert_eq!(app.get_as(&owner, "/api/v1/orgs/test-org").await.0, 404);
}

/// The ids in `…/{prefix}{id}/revoke` form actions of a page.
fn revoke_ids(body: &str, prefix: &str) -> Vec<String> {
    body.match_indices(prefix)
        .filter_map(|(at, _)| {
            let rest = &body[at + prefix.len()..];
            rest.split_once("/revoke").map(|(id, _)| id.to_owned())
        })
        .collect()
}

/// A request to the API with a bearer token: its status.
async fn bearer(app: &TestApp, token: &str, path: &str) -> u16 {
    app.client
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Logs in over the API: its status.
async fn api_login(app: &TestApp, email: &str, password: &str) -> u16 {
    app.client
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn account_page_changes_password_revokes_sessions_and_shows_a_token_once() {
    let app = spawn_app().await;
    let user = app.user("acct@example.com").await;
    let mut a = Browser::signed_in(&app, &user).await;
    let mut b = Browser::signed_in(&app, &user).await;
    // The shell links to the account page.
    let page = a.get("/account").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("href=\"/account\""));
    assert!(page.body.contains("This session"));
    let csrf = page.csrf();

    // Every form refuses a post without its token.
    let some_id = uuid::Uuid::now_v7().to_string();
    for path in [
        "/account/name".to_owned(),
        "/account/password".to_owned(),
        "/account/tokens".to_owned(),
        format!("/account/sessions/{some_id}/revoke"),
        format!("/account/tokens/{some_id}/revoke"),
    ] {
        let res = a
            .post(
                &path,
                &[
                    ("name", "X"),
                    ("label", "x"),
                    ("current_password", &user.password),
                    ("new_password", "a-new-password-1"),
                ],
            )
            .await;
        assert_eq!(res.status, 403, "{path}");
        assert!(res.body.contains("Form expired"), "{path}");
    }
    assert_eq!(api_login(&app, &user.email, &user.password).await, 200);

    // The name.
    let res = a
        .post("/account/name", &[("csrf", &csrf), ("name", "Ada L.")])
        .await;
    assert_eq!(
        (res.status.as_u16(), res.location.as_str()),
        (303, "/account")
    );
    assert!(a.get("/account").await.body.contains("Ada L."));

    // A token: the password is required; shown once; works as a Bearer; revoked.
    for (password, status) in [("wrong-password", 400), ("", 400)] {
        let res = a
            .post(
                "/account/tokens",
                &[
                    ("csrf", &csrf),
                    ("label", "cli"),
                    ("current_password", password),
                ],
            )
            .await;
        assert_eq!(res.status, status, "{password:?}");
        assert!(!res.body.contains("id=\"new-token\""));
    }
    let res = a
        .post(
            "/account/tokens",
            &[
                ("csrf", &csrf),
                ("label", "cli"),
                ("current_password", &user.password),
            ],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let at = res.body.find("<code id=\"new-token\">").unwrap() + 21;
    let token = res.body[at..].split('<').next().unwrap().to_owned();
    assert!(token.starts_with("mshu_"), "{token}");
    assert!(res.body.contains("data-copy=\"new-token\""));
    assert_eq!(bearer(&app, &token, "/api/v1/auth/me").await, 200);
    let page = a.get("/account").await;
    assert!(!page.body.contains(&token), "shown only once");
    let (_, list) = app.get_as(&user, "/api/v1/auth/tokens").await;
    let id = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t: &&Value| t["label"] == "cli")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(revoke_ids(&page.body, "/account/tokens/").contains(&id));
    let res = a
        .post(&format!("/account/tokens/{id}/revoke"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(bearer(&app, &token, "/api/v1/auth/me").await, 401);

    // Sessions: each browser lists the other's with a revoke button, never its own.
    let mine = revoke_ids(&a.get("/account").await.body, "/account/sessions/");
    let theirs = revoke_ids(&b.get("/account").await.body, "/account/sessions/");
    let b_session: Vec<&String> = mine.iter().filter(|id| !theirs.contains(id)).collect();
    assert_eq!(b_session.len(), 1, "{mine:?} / {theirs:?}");
    let res = a
        .post(
            &format!("/account/sessions/{}/revoke", b_session[0]),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.status, 303);
    let gone = b.get("/account").await;
    assert_eq!(
        (gone.status.as_u16(), gone.location.as_str()),
        (303, "/login?next=%2Faccount")
    );
    assert_eq!(a.get("/account").await.status, 200);

    // The password: the current one is required (and counted), the new one checked; the
    // old one stops working, this session stays.
    let new = "a-brand-new-password";
    for (current, next, status) in [
        ("wrong-password", new, 400),
        (user.password.as_str(), "short", 400),
        (user.password.as_str(), new, 200),
    ] {
        let res = a
            .post(
                "/account/password",
                &[
                    ("csrf", &csrf),
                    ("current_password", current),
                    ("new_password", next),
                ],
            )
            .await;
        assert_eq!(res.status, status, "{current} → {next}: {}", res.body);
    }
    assert_eq!(api_login(&app, &user.email, &user.password).await, 401);
    assert_eq!(api_login(&app, &user.email, new).await, 200);
    assert_eq!(a.get("/account").await.status, 200);

    // Revoking this session signs out.
    let own = {
        let mut c = Browser::signed_in(
            &app,
            &TestUser {
                id: user.id,
                email: user.email.clone(),
                password: new.into(),
                token: String::new(),
            },
        )
        .await;
        let theirs = revoke_ids(&c.get("/account").await.body, "/account/sessions/");
        let mine = revoke_ids(&a.get("/account").await.body, "/account/sessions/");
        theirs.into_iter().find(|id| !mine.contains(id)).unwrap()
    };
    let res = a
        .post(
            &format!("/account/sessions/{own}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        (res.status.as_u16(), res.location.as_str()),
        (303, "/login")
    );
    assert!(!a.has_cookie("mesher_session"));
}

//! Users of the management API: registered over HTTP like any client, with a bearer token,
//! and requests made as them.

use serde_json::{Value, json};

use super::app::{TestApp, send_json};

/// A registered user with a user token for the management API.
pub struct TestUser {
    pub id: mesher::domain::UserId,
    pub email: String,
    pub password: String,
    pub token: String,
}

impl TestApp {
    /// Registers `email` over HTTP, logs in and creates a user token (which takes the
    /// password, like a login: one throttled password check, and a successful one).
    pub async fn user(&self, email: &str) -> TestUser {
        let password = format!("pw-{}", uuid::Uuid::now_v7().simple());
        let res = self
            .client
            .post(format!("{}/api/v1/auth/register", self.address))
            .json(&json!({ "email": email, "password": password, "name": email }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            201,
            "register {email}: {}",
            res.text().await.unwrap()
        );
        let user: Value = res.json().await.unwrap();
        let cookie = self.login_cookie(email, &password).await;
        let res = self
            .client
            .post(format!("{}/api/v1/auth/tokens", self.address))
            .header("cookie", format!("mesher_session={cookie}"))
            .json(&json!({ "label": "tests", "current_password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let token: Value = res.json().await.unwrap();
        TestUser {
            id: user["id"].as_str().unwrap().parse().unwrap(),
            email: email.to_owned(),
            password,
            token: token["token"].as_str().unwrap().to_owned(),
        }
    }

    /// Logs in and returns the session cookie's value.
    pub async fn login_cookie(&self, email: &str, password: &str) -> String {
        let res = self
            .client
            .post(format!("{}/api/v1/auth/login", self.address))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login {email}");
        let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        set_cookie
            .strip_prefix("mesher_session=")
            .and_then(|rest| rest.split(';').next())
            .expect("a mesher_session cookie")
            .to_owned()
    }

    /// A management API request as `user` (bearer token).
    pub fn as_user(
        &self,
        user: &TestUser,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(&user.token)
    }

    /// `GET path` as `user`, answering (status, JSON body or Null).
    pub async fn get_as(&self, user: &TestUser, path: &str) -> (u16, Value) {
        send_json(self.as_user(user, reqwest::Method::GET, path)).await
    }

    /// `POST path` with a JSON body as `user`.
    pub async fn post_as(&self, user: &TestUser, path: &str, body: Value) -> (u16, Value) {
        send_json(self.as_user(user, reqwest::Method::POST, path).json(&body)).await
    }

    /// `PATCH path` with a JSON body as `user`.
    pub async fn patch_as(&self, user: &TestUser, path: &str, body: Value) -> (u16, Value) {
        send_json(self.as_user(user, reqwest::Method::PATCH, path).json(&body)).await
    }

    /// `DELETE path` as `user`.
    pub async fn delete_as(&self, user: &TestUser, path: &str) -> (u16, Value) {
        send_json(self.as_user(user, reqwest::Method::DELETE, path)).await
    }

    /// `method path` as `user`, with a JSON body when there is one: for tables of cases that
    /// mix methods.
    pub async fn call_as(
        &self,
        user: &TestUser,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self.as_user(user, method, path);
        if let Some(body) = body {
            req = req.json(body);
        }
        send_json(req).await
    }
}

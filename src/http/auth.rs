//! Accounts and sessions: register, login, logout, me, password change (user tokens are in
//! `http::tokens`).

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::extractors::{CurrentUser, SESSION_COOKIE};
use crate::auth::password;
use crate::auth::session;
use crate::db::accounts::{self, NewUser, User};
use crate::db::audit;
use crate::domain::{AuditAction, AuditEntry, TargetType};
use crate::domain::{ErrorCode, OrgId, Role, UserId};
use crate::error::ApiError;
use crate::http::client_ip::{ClientIp, Origin};
use crate::http::validate::check_email;
use diesel::QueryResult;
use diesel_async::AsyncConnection;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            created_at: u.created_at,
        }
    }
}

/// An organization the user belongs to, with the user's role.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipOut {
    pub org_id: OrgId,
    pub org_slug: String,
    pub org_name: String,
    pub role: Role,
}

/// The logged-in user and their organizations.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    #[serde(flatten)]
    pub user: UserOut,
    pub memberships: Vec<MembershipOut>,
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterBody {
    #[schema(
        min_length = 3,
        max_length = 320,
        pattern = r"^[\s\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\s\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@\x00]+@[^\s\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00]*\.[^\s\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00]*[\s\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub email: String,
    #[schema(value_type = String, min_length = 8, max_length = 1024)]
    pub password: SecretString,
    #[serde(default)]
    #[schema(max_length = 200, pattern = r"^[^\x00]*$")]
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    pub email: String,
    #[schema(value_type = String)]
    pub password: SecretString,
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordBody {
    #[schema(value_type = String)]
    pub current_password: SecretString,
    #[schema(value_type = String, min_length = 8, max_length = 1024)]
    pub new_password: SecretString,
    /// Also revoke every user token of the account (they keep working otherwise).
    #[serde(default)]
    pub revoke_tokens: bool,
}

/// Register a user.
#[utoipa::path(tag = "auth", request_body = RegisterBody,
    responses((status = 201, body = UserOut), (status = 400), (status = 403), (status = 409)))]
#[post("/api/v1/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    body: crate::http::validate::JsonObject<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    if !state.settings.auth.allow_registration {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            ErrorCode::RegistrationDisabled,
            "registration is disabled on this server",
        ));
    }
    let body = body.into_inner();
    let user = register_user(&state, &body.email, body.password, &body.name).await?;
    Ok(HttpResponse::Created().json(UserOut::from(user)))
}

/// Creates an account (the checks and the hashing of `POST /api/v1/auth/register`, shared
/// with the web UI's form): 400 naming a bad field, 409 `email_taken`.
pub(crate) async fn register_user(
    state: &AppState,
    email: &str,
    password: SecretString,
    name: &str,
) -> Result<User, ApiError> {
    check_email(email)?;
    let name = check_user_name(name)?;
    password::check_length(&password)
        .map_err(|e| ApiError::invalid_field("password", e.to_string()))?;
    let hash = password::hash(password).await.map_err(ApiError::internal)?;
    let email = accounts::normalize_email(email);
    let mut conn = state.pool.get().await?;
    let new = NewUser {
        id: UserId::new(),
        email: &email,
        password_hash: &hash,
        name,
    };
    match accounts::create_user(&mut conn, &new).await {
        Ok(user) => Ok(user),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Err(
            ApiError::conflict(ErrorCode::EmailTaken, "an account with this email exists")
                .with_field("email"),
        ),
        Err(e) => Err(e.into()),
    }
}

/// A user's display name, trimmed: at most 200 characters, no NUL (empty is allowed).
pub(crate) fn check_user_name(name: &str) -> Result<&str, ApiError> {
    crate::http::validate::no_nul("name", name)?;
    if name.chars().count() > 200 {
        return Err(ApiError::invalid_field(
            "name",
            "name must be at most 200 characters",
        ));
    }
    Ok(name.trim())
}

async fn me_of(state: &AppState, user: User) -> Result<MeOut, ApiError> {
    let mut conn = state.pool.get().await?;
    let memberships = accounts::memberships_of(&mut conn, user.id)
        .await?
        .into_iter()
        .map(|(org, role)| MembershipOut {
            org_id: org.id,
            org_slug: org.slug,
            org_name: org.name,
            role,
        })
        .collect();
    Ok(MeOut {
        user: user.into(),
        memberships,
    })
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized(ErrorCode::InvalidCredentials, "wrong email or password")
}

/// 429: the throttle refused to check a password.
pub(crate) fn too_many_attempts(retry_after_secs: u64) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooManyAttempts,
        "too many failed password attempts; try again later",
    )
    .with_retry_after(retry_after_secs)
}

/// Checks the signed-in user's `current_password`, counted by the login throttle like a
/// login of that account: 429 while it is locked, 400 naming `current_password` when wrong.
pub(crate) async fn confirm_password(
    state: &AppState,
    user: &User,
    ip: &ClientIp,
    password: SecretString,
) -> Result<(), ApiError> {
    let email = accounts::normalize_email(&user.email);
    let attempt = state
        .throttle
        .begin(&email, &ip.key())
        .map_err(too_many_attempts)?;
    if !password::verify(password, user.password_hash.clone()).await {
        return Err(ApiError::invalid_field(
            "current_password",
            "current_password is wrong",
        ));
    }
    attempt.succeeded();
    Ok(())
}

/// Log in: sets the `mesher_session` cookie.
#[utoipa::path(tag = "auth", request_body = LoginBody,
    responses((status = 200, body = MeOut), (status = 401), (status = 429)))]
#[post("/api/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    origin: Origin,
    body: crate::http::validate::JsonObject<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (user, token) = sign_in(&state, &origin, &body.email, body.password).await?;
    let cookie = session_cookie(&state, token);
    let body = me_of(&state, user).await?;
    Ok(HttpResponse::Ok().cookie(cookie).json(body))
}

/// Checks an email and password under the login throttle and opens a session: the user
/// and the new session's cookie token. 401 `invalid_credentials` (the same, and as slow,
/// for an unknown email), 429 while throttled. Shared by the API's login and the web form.
/// A wrong password or an unknown email is recorded as `login_failed` (a throttled attempt,
/// whose password is not looked at, is not), a success as `login_succeeded` in the
/// transaction that opens the session.
pub(crate) async fn sign_in(
    state: &AppState,
    origin: &Origin,
    email: &str,
    password: SecretString,
) -> Result<(User, String), ApiError> {
    let email = accounts::normalize_email(email);
    let ip = origin.ip.key();
    // Counted before the password is looked at, so parallel guesses cannot outrun the limit.
    let attempt = state
        .throttle
        .begin(&email, &ip)
        .map_err(too_many_attempts)?;
    let mut conn = state.pool.get().await?;
    // No account's email contains NUL (PostgreSQL could not even compare it).
    let user = match email.contains('\0') {
        true => None,
        false => accounts::find_user_by_email(&mut conn, &email).await?,
    };
    drop(conn);
    // Unknown emails are checked against a dummy hash, so they take as long as a wrong
    // password and get the same answer.
    let hash = user
        .as_ref()
        .map_or_else(|| state.dummy_hash.clone(), |u| u.password_hash.clone());
    let ok = password::verify(password, hash).await;
    let found = user.as_ref().map(|u| (u.id, u.email.clone()));
    let mut conn = state.pool.get().await?;
    let Some(user) = user.filter(|_| ok) else {
        let label = email.replace('\0', "\u{fffd}");
        let entry = AuditEntry::account(
            found.as_ref().map(|(id, _)| *id),
            AuditAction::LoginFailed,
            TargetType::User,
        );
        let entry = match found {
            Some((id, email)) => entry.target(id, email),
            None => entry,
        };
        audit::record(&mut conn, &origin.acting(None, &label), &entry).await?;
        return Err(invalid_credentials());
    };
    attempt.succeeded();
    let now = (state.clock)();
    let actor = origin.actor(&user);
    let token = conn
        .transaction(async |conn| {
            let (token, session_id) = session::create_session(
                conn,
                &state.settings.auth,
                now,
                user.id,
                origin.user_agent.as_deref(),
                Some(&ip),
            )
            .await?;
            let entry = AuditEntry::account(
                Some(user.id),
                AuditAction::LoginSucceeded,
                TargetType::Session,
            )
            .target(session_id, &user.email);
            audit::record(conn, &actor, &entry).await?;
            QueryResult::Ok(token)
        })
        .await?;
    Ok((user, token))
}

/// The `mesher_session` cookie carrying `token`.
pub(crate) fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(state.settings.http.secure_cookies)
        .max_age(CookieDuration::seconds(
            state.settings.auth.session_absolute_timeout_secs as i64,
        ))
        .finish()
}

/// The cookie that removes `mesher_session` from the browser.
pub(crate) fn session_cookie_removal() -> Cookie<'static> {
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    gone.make_removal();
    gone
}

/// Log out: revokes the session server-side and clears the cookie.
#[utoipa::path(tag = "auth", responses((status = 204), (status = 400), (status = 401)))]
#[post("/api/v1/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    current: CurrentUser,
    origin: Origin,
) -> Result<HttpResponse, ApiError> {
    let Some(session_id) = current.session_id() else {
        return Err(ApiError::bad_request(
            ErrorCode::NotASession,
            "logout ends a session; revoke a user token with DELETE /api/v1/auth/tokens/{id}",
        ));
    };
    sign_out(&state, &current.user, session_id, &origin).await?;
    Ok(HttpResponse::NoContent()
        .cookie(session_cookie_removal())
        .finish())
}

/// Ends the session `session_id` of `user` and records the `logout`, in one transaction.
/// Shared by the API and the web UI.
pub(crate) async fn sign_out(
    state: &AppState,
    user: &User,
    session_id: crate::domain::SessionId,
    origin: &Origin,
) -> Result<(), ApiError> {
    let now = (state.clock)();
    let actor = origin.actor(user);
    let entry = AuditEntry::account(Some(user.id), AuditAction::Logout, TargetType::Session)
        .target(session_id, &user.email);
    let mut conn = state.pool.get().await?;
    conn.transaction(async |conn| {
        session::revoke_session(conn, now, session_id).await?;
        audit::record(conn, &actor, &entry).await
    })
    .await?;
    Ok(())
}

/// The logged-in user and their organizations.
#[utoipa::path(tag = "auth", responses((status = 200, body = MeOut), (status = 401)))]
#[get("/api/v1/auth/me")]
pub async fn me(
    state: web::Data<AppState>,
    current: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(me_of(&state, current.user).await?))
}

/// Change the password; every other session of the user is revoked, and with
/// `revoke_tokens` every user token too.
#[utoipa::path(tag = "auth", request_body = PasswordBody,
    responses((status = 204), (status = 400), (status = 401), (status = 429)))]
#[post("/api/v1/auth/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    current: CurrentUser,
    origin: Origin,
    body: crate::http::validate::JsonObject<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    set_password(
        &state,
        &current.user,
        current.session_id(),
        &origin,
        body.current_password,
        body.new_password,
        body.revoke_tokens,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Checks `current` (counted like a login, [`confirm_password`]) and sets `new`, ending
/// every other session of the user (all but `keep`) and, with `revoke_tokens`, every user
/// token, and records `password_changed` in the same transaction. Shared by the API and the
/// web UI's account page.
pub(crate) async fn set_password(
    state: &AppState,
    user: &User,
    keep: Option<crate::domain::SessionId>,
    origin: &Origin,
    current: SecretString,
    new: SecretString,
    revoke_tokens: bool,
) -> Result<(), ApiError> {
    password::check_length(&new)
        .map_err(|e| ApiError::invalid_field("new_password", e.to_string()))?;
    confirm_password(state, user, &origin.ip, current).await?;
    let hash = password::hash(new).await.map_err(ApiError::internal)?;
    let now = (state.clock)();
    let actor = origin.actor(user);
    let entry = AuditEntry::account(
        Some(user.id),
        AuditAction::PasswordChanged,
        TargetType::User,
    )
    .target(user.id, &user.email)
    .details(serde_json::json!({ "revoke_tokens": revoke_tokens }));
    let mut conn = state.pool.get().await?;
    conn.transaction(async |conn| {
        session::change_password(conn, now, user.id, &hash, keep, revoke_tokens).await?;
        audit::record(conn, &actor, &entry).await
    })
    .await?;
    Ok(())
}

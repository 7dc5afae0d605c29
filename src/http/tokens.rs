//! User tokens (`mshu_…`) for scripts: create (with the current password), list, revoke.

use actix_web::{HttpResponse, delete, get, post, web};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::auth::session::{self, UserToken};
use crate::db::accounts::User;
use crate::db::audit;
use crate::domain::TokenId;
use crate::domain::{AuditAction, AuditEntry, TargetType};
use crate::error::ApiError;
use crate::http::auth::confirm_password;
use crate::http::client_ip::Origin;
use crate::http::pagination::Page;
use crate::http::validate::{check_label, required_secret};
use diesel::QueryResult;
use diesel_async::AsyncConnection;

#[derive(Deserialize, ToSchema)]
pub struct TokenBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00][^\x00]*$"
    )]
    pub label: String,
    /// The account's password, checked (and throttled) like a login.
    #[schema(value_type = String, required = true)]
    pub current_password: Option<SecretString>,
}

/// A new user token: the secret `token` is shown this once.
#[derive(Serialize, ToSchema)]
pub struct TokenCreated {
    #[serde(flatten)]
    pub info: UserToken,
    pub token: String,
}

/// Create a user token for scripts (`Authorization: Bearer mshu_…`); shown once. Needs the
/// account's `current_password`, so a stolen session cannot mint lasting access.
#[utoipa::path(tag = "auth", request_body = TokenBody,
    responses((status = 201, body = TokenCreated), (status = 400), (status = 401), (status = 429)))]
#[post("/api/v1/auth/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    current: CurrentUser,
    origin: Origin,
    body: crate::http::validate::JsonObject<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let created = mint(
        &state,
        &current.user,
        &origin,
        &body.label,
        body.current_password,
    )
    .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Checks the label and the account's current password (counted like a login) and creates
/// a token, recording `token_created` (its id and label, never the token) in the same
/// transaction. Shared by the API and the web UI's account page.
pub(crate) async fn mint(
    state: &AppState,
    user: &User,
    origin: &Origin,
    label: &str,
    current_password: Option<SecretString>,
) -> Result<TokenCreated, ApiError> {
    let label = check_label(label)?;
    let current_password = required_secret("current_password", current_password)?;
    confirm_password(state, user, &origin.ip, current_password).await?;
    let actor = origin.actor(user);
    let mut conn = state.pool.get().await?;
    let (info, token) = conn
        .transaction(async |conn| {
            let (info, token) = session::create_token(conn, user.id, label).await?;
            let entry =
                AuditEntry::account(Some(user.id), AuditAction::TokenCreated, TargetType::Token)
                    .target(info.id, &info.label);
            audit::record(conn, &actor, &entry).await?;
            QueryResult::Ok((info, token))
        })
        .await?;
    Ok(TokenCreated { info, token })
}

/// Revokes the user's token `id` and records `token_revoked` in the same transaction; 404
/// when the user has no such token. Shared by the API and the web UI's account page.
pub(crate) async fn revoke(
    state: &AppState,
    user: &User,
    origin: &Origin,
    id: TokenId,
) -> Result<(), ApiError> {
    let now = (state.clock)();
    let actor = origin.actor(user);
    let entry = AuditEntry::account(Some(user.id), AuditAction::TokenRevoked, TargetType::Token);
    let mut conn = state.pool.get().await?;
    conn.transaction(async |conn| {
        let Some(label) = session::revoke_token(conn, now, user.id, id).await? else {
            return Err(ApiError::not_found("no such token"));
        };
        audit::record(conn, &actor, &entry.target(id, label)).await?;
        Ok(())
    })
    .await
}

/// The user's tokens (without their secrets).
#[utoipa::path(tag = "auth", responses((status = 200, body = Page<UserToken>), (status = 401)))]
#[get("/api/v1/auth/tokens")]
pub async fn list_tokens(
    state: web::Data<AppState>,
    current: CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let tokens = session::list_tokens(&mut conn, current.id()).await?;
    Ok(HttpResponse::Ok().json(Page {
        data: tokens,
        next_cursor: None,
    }))
}

/// Revoke one of the user's tokens.
#[utoipa::path(tag = "auth", params(("token_id" = Uuid, Path)),
    responses((status = 204), (status = 401), (status = 404)))]
#[delete("/api/v1/auth/tokens/{token_id}")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    current: CurrentUser,
    origin: Origin,
    path: web::Path<TokenId>,
) -> Result<HttpResponse, ApiError> {
    revoke(&state, &current.user, &origin, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

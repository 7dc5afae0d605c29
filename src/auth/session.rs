//! Browser sessions and script tokens: created with a fresh random secret, stored only as its
//! SHA-256 hash, resolved back to their user on every request.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::config::AuthSettings;
use crate::db::accounts::User;
use crate::db::schema::{sessions, user_tokens, users};
use crate::domain::keys;

/// `last_seen_at` / `last_used_at` are written at most this often per session or token, so
/// an active user costs one UPDATE a minute, not one per request.
const TOUCH_EVERY_SECS: i64 = 60;

/// A row of `user_tokens` as listed to its owner (never the token itself).
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = user_tokens)]
pub struct UserToken {
    pub id: Uuid,
    pub label: String,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Why a session or token does not authenticate.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    Unknown,
    Expired,
}

/// Creates a session for `user_id` and returns the cookie token (shown only here).
pub async fn create_session(
    conn: &mut AsyncPgConnection,
    settings: &AuthSettings,
    now: DateTime<Utc>,
    user_id: Uuid,
    user_agent: Option<&str>,
    ip: Option<&str>,
) -> QueryResult<String> {
    let token = keys::generate_session_token();
    let absolute = Duration::seconds(settings.session_absolute_timeout_secs as i64);
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(Uuid::now_v7()),
            sessions::user_id.eq(user_id),
            sessions::token_hash.eq(keys::hash_secret(&token)),
            sessions::created_at.eq(now),
            sessions::last_seen_at.eq(now),
            sessions::expires_at.eq(now + absolute),
            sessions::user_agent.eq(user_agent.map(|ua| truncate(ua, 512))),
            sessions::ip.eq(ip),
        ))
        .execute(conn)
        .await?;
    Ok(token)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The user and session id of a session token that is neither revoked, nor idle longer than
/// the idle timeout, nor past its absolute expiry.
pub async fn resolve_session(
    conn: &mut AsyncPgConnection,
    settings: &AuthSettings,
    now: DateTime<Utc>,
    token: &str,
) -> QueryResult<Result<(User, Uuid), Rejection>> {
    if !keys::is_valid_session_token_format(token) {
        return Ok(Err(Rejection::Unknown));
    }
    let found: Option<(Uuid, DateTime<Utc>, DateTime<Utc>, User)> = sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(keys::hash_secret(token)))
        .filter(sessions::revoked_at.is_null())
        .select((
            sessions::id,
            sessions::last_seen_at,
            sessions::expires_at,
            User::as_select(),
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((id, last_seen, expires_at, user)) = found else {
        return Ok(Err(Rejection::Unknown));
    };
    let idle = Duration::seconds(settings.session_idle_timeout_secs as i64);
    if now >= expires_at || now - last_seen >= idle {
        return Ok(Err(Rejection::Expired));
    }
    if now - last_seen >= Duration::seconds(TOUCH_EVERY_SECS) {
        diesel::update(sessions::table.find(id))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)
            .await?;
    }
    Ok(Ok((user, id)))
}

/// Revokes one session.
pub async fn revoke_session(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    session_id: Uuid,
) -> QueryResult<()> {
    diesel::update(sessions::table.find(session_id))
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
        .await
        .map(drop)
}

/// Revokes every live session of `user_id` except `keep` (after a password change).
pub async fn revoke_other_sessions(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> QueryResult<usize> {
    let keep = keep.unwrap_or(Uuid::nil());
    diesel::update(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::id.ne(keep)),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)
    .await
}

/// Creates a `mshu_` token for `user_id`; returns its row and the token (shown only here).
pub async fn create_token(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    label: &str,
) -> QueryResult<(UserToken, String)> {
    let token = keys::generate_user_token();
    let row = diesel::insert_into(user_tokens::table)
        .values((
            user_tokens::id.eq(Uuid::now_v7()),
            user_tokens::user_id.eq(user_id),
            user_tokens::label.eq(label),
            user_tokens::prefix.eq(keys::display_prefix(&token)),
            user_tokens::token_hash.eq(keys::hash_secret(&token)),
        ))
        .returning(UserToken::as_returning())
        .get_result(conn)
        .await?;
    Ok((row, token))
}

/// The user's tokens, newest first.
pub async fn list_tokens(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> QueryResult<Vec<UserToken>> {
    user_tokens::table
        .filter(user_tokens::user_id.eq(user_id))
        .order(user_tokens::id.desc())
        .select(UserToken::as_select())
        .load(conn)
        .await
}

/// Revokes one of the user's tokens; false when the user has no such live token.
pub async fn revoke_token(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    user_id: Uuid,
    token_id: Uuid,
) -> QueryResult<bool> {
    let n = diesel::update(
        user_tokens::table
            .filter(user_tokens::id.eq(token_id))
            .filter(user_tokens::user_id.eq(user_id))
            .filter(user_tokens::revoked_at.is_null()),
    )
    .set(user_tokens::revoked_at.eq(now))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

/// The user and token id of a live `mshu_` token.
pub async fn resolve_token(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    token: &str,
) -> QueryResult<Option<(User, Uuid)>> {
    if !keys::is_valid_user_token_format(token) {
        return Ok(None);
    }
    let found: Option<(Uuid, Option<DateTime<Utc>>, User)> = user_tokens::table
        .inner_join(users::table)
        .filter(user_tokens::token_hash.eq(keys::hash_secret(token)))
        .filter(user_tokens::revoked_at.is_null())
        .select((
            user_tokens::id,
            user_tokens::last_used_at,
            User::as_select(),
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((id, last_used, user)) = found else {
        return Ok(None);
    };
    if last_used.is_none_or(|t| now - t >= Duration::seconds(TOUCH_EVERY_SECS)) {
        diesel::update(user_tokens::table.find(id))
            .set(user_tokens::last_used_at.eq(now))
            .execute(conn)
            .await?;
    }
    Ok(Some((user, id)))
}

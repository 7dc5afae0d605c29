//! Browser sessions and user (script) tokens. Only SHA-256 hashes of their secrets are
//! stored; the policy (expiry, how often `last_seen_at` is written) is `auth::session`'s.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::accounts::User;
use super::schema::{sessions, user_tokens, users};
use crate::domain::{SessionId, TokenId, UserId};

/// A row of `user_tokens` as listed to its owner (never the token itself).
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = user_tokens)]
pub struct UserToken {
    pub id: TokenId,
    pub label: String,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Insert form of a session.
#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub id: SessionId,
    pub user_id: UserId,
    pub token_hash: &'a str,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// A live (unrevoked) session found by its token hash, with its user.
#[derive(Debug, Clone, Queryable)]
pub struct LiveSession {
    pub id: SessionId,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// Inserts a session.
pub async fn insert_session(conn: &mut AsyncPgConnection, new: &NewSession<'_>) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(new)
        .execute(conn)
        .await
        .map(drop)
}

/// The unrevoked session with this token hash, if any.
pub async fn find_live_session(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
) -> QueryResult<Option<LiveSession>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(token_hash))
        .filter(sessions::revoked_at.is_null())
        .select((
            sessions::id,
            sessions::last_seen_at,
            sessions::expires_at,
            User::as_select(),
        ))
        .first(conn)
        .await
        .optional()
}

/// Records activity on a session.
pub async fn touch_session(
    conn: &mut AsyncPgConnection,
    id: SessionId,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(sessions::table.find(id))
        .set(sessions::last_seen_at.eq(now))
        .execute(conn)
        .await
        .map(drop)
}

/// Revokes one session.
pub async fn revoke_session(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    id: SessionId,
) -> QueryResult<()> {
    diesel::update(sessions::table.find(id))
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
        .await
        .map(drop)
}

/// Revokes every live session of `user_id` except `keep`; answers how many.
pub async fn revoke_other_sessions(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    user_id: UserId,
    keep: Option<SessionId>,
) -> QueryResult<usize> {
    let mut query = diesel::update(sessions::table)
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .into_boxed();
    if let Some(keep) = keep {
        query = query.filter(sessions::id.ne(keep));
    }
    query.set(sessions::revoked_at.eq(now)).execute(conn).await
}

/// Inserts a user token row (its hash and display prefix, never the token).
pub async fn insert_token(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
    label: &str,
    prefix: &str,
    token_hash: &str,
) -> QueryResult<UserToken> {
    diesel::insert_into(user_tokens::table)
        .values((
            user_tokens::id.eq(TokenId::new()),
            user_tokens::user_id.eq(user_id),
            user_tokens::label.eq(label),
            user_tokens::prefix.eq(prefix),
            user_tokens::token_hash.eq(token_hash),
        ))
        .returning(UserToken::as_returning())
        .get_result(conn)
        .await
}

/// The user's tokens, newest first.
pub async fn list_tokens(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
) -> QueryResult<Vec<UserToken>> {
    user_tokens::table
        .filter(user_tokens::user_id.eq(user_id))
        .order(user_tokens::id.desc())
        .select(UserToken::as_select())
        .load(conn)
        .await
}

/// Revokes one of the user's live tokens and answers its label; `None` when the user has no
/// such live token.
pub async fn revoke_token(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    user_id: UserId,
    token_id: TokenId,
) -> QueryResult<Option<String>> {
    diesel::update(
        user_tokens::table
            .filter(user_tokens::id.eq(token_id))
            .filter(user_tokens::user_id.eq(user_id))
            .filter(user_tokens::revoked_at.is_null()),
    )
    .set(user_tokens::revoked_at.eq(now))
    .returning(user_tokens::label)
    .get_result(conn)
    .await
    .optional()
}

/// Revokes every live token of `user_id`; answers how many.
pub async fn revoke_all_tokens(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    user_id: UserId,
) -> QueryResult<usize> {
    diesel::update(
        user_tokens::table
            .filter(user_tokens::user_id.eq(user_id))
            .filter(user_tokens::revoked_at.is_null()),
    )
    .set(user_tokens::revoked_at.eq(now))
    .execute(conn)
    .await
}

/// The unrevoked token with this hash: its id, when it was last used, and its user.
pub async fn find_live_token(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
) -> QueryResult<Option<(TokenId, Option<DateTime<Utc>>, User)>> {
    user_tokens::table
        .inner_join(users::table)
        .filter(user_tokens::token_hash.eq(token_hash))
        .filter(user_tokens::revoked_at.is_null())
        .select((
            user_tokens::id,
            user_tokens::last_used_at,
            User::as_select(),
        ))
        .first(conn)
        .await
        .optional()
}

/// Records that a token was used just now.
pub async fn touch_token(
    conn: &mut AsyncPgConnection,
    id: TokenId,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::update(user_tokens::table.find(id))
        .set(user_tokens::last_used_at.eq(now))
        .execute(conn)
        .await
        .map(drop)
}

/// A session as its user sees it listed (never its token).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionInfo {
    pub id: SessionId,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// The user's unrevoked sessions that are before `now`'s expiry and were seen after
/// `seen_after` (the idle cutoff), most recently seen first.
pub async fn live_sessions(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
    now: DateTime<Utc>,
    seen_after: DateTime<Utc>,
) -> QueryResult<Vec<SessionInfo>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_seen_at.gt(seen_after))
        .order((sessions::last_seen_at.desc(), sessions::id.desc()))
        .select(SessionInfo::as_select())
        .load(conn)
        .await
}

/// Revokes one of the user's live sessions; false when the user has no such live session.
pub async fn revoke_user_session(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    user_id: UserId,
    id: SessionId,
) -> QueryResult<bool> {
    let n = diesel::update(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

//! Browser sessions and script tokens: created with a fresh random secret, stored only as its
//! SHA-256 hash (`db::sessions`), resolved back to their user on every request. This module
//! holds the policy: formats, expiry, and how often activity is written.

use chrono::{DateTime, Duration, Utc};
use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};

use crate::config::AuthSettings;
use crate::db::accounts::{self, User};
use crate::db::sessions::{self as db, NewSession};
pub use crate::db::sessions::{
    SessionInfo, UserToken, list_tokens, revoke_session, revoke_token, revoke_user_session,
};
use crate::domain::{SessionId, TokenId, UserId, keys};

/// `last_seen_at` / `last_used_at` are written at most this often per session or token, so
/// an active user costs one UPDATE a minute, not one per request.
const TOUCH_EVERY_SECS: i64 = 60;

/// Why a session or token does not authenticate.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    Unknown,
    Expired,
}

/// Creates a session for `user_id` and returns the cookie token (shown only here) and the
/// session's id.
pub async fn create_session(
    conn: &mut AsyncPgConnection,
    settings: &AuthSettings,
    now: DateTime<Utc>,
    user_id: UserId,
    user_agent: Option<&str>,
    ip: Option<&str>,
) -> QueryResult<(String, SessionId)> {
    let token = keys::generate_session_token();
    let id = SessionId::new();
    let absolute = Duration::seconds(settings.session_absolute_timeout_secs as i64);
    let token_hash = keys::hash_secret(&token);
    db::insert_session(
        conn,
        &NewSession {
            id,
            user_id,
            token_hash: &token_hash,
            created_at: now,
            last_seen_at: now,
            expires_at: now + absolute,
            user_agent: user_agent.map(|ua| truncate(ua, 512)),
            ip,
        },
    )
    .await?;
    Ok((token, id))
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
) -> QueryResult<Result<(User, SessionId), Rejection>> {
    if !keys::is_valid_session_token_format(token) {
        return Ok(Err(Rejection::Unknown));
    }
    let Some(session) = db::find_live_session(conn, &keys::hash_secret(token)).await? else {
        return Ok(Err(Rejection::Unknown));
    };
    let idle = Duration::seconds(settings.session_idle_timeout_secs as i64);
    if now >= session.expires_at || now - session.last_seen_at >= idle {
        return Ok(Err(Rejection::Expired));
    }
    if now - session.last_seen_at >= Duration::seconds(TOUCH_EVERY_SECS) {
        db::touch_session(conn, session.id, now).await?;
    }
    Ok(Ok((session.user, session.id)))
}

/// The user's sessions that still authenticate (unrevoked, unexpired, not idle too long).
pub async fn active_sessions(
    conn: &mut AsyncPgConnection,
    settings: &AuthSettings,
    now: DateTime<Utc>,
    user_id: UserId,
) -> QueryResult<Vec<db::SessionInfo>> {
    let idle = Duration::seconds(settings.session_idle_timeout_secs as i64);
    db::live_sessions(conn, user_id, now, now - idle).await
}

/// Sets a new password hash and ends what the old password opened, in one transaction: every
/// session of the user but `keep` (the one that asked, if any), and, when `revoke_tokens`,
/// every user token too.
pub async fn change_password(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    user_id: UserId,
    hash: &str,
    keep: Option<SessionId>,
    revoke_tokens: bool,
) -> QueryResult<()> {
    conn.transaction(async |conn| {
        accounts::set_password_hash(conn, user_id, hash).await?;
        db::revoke_other_sessions(conn, now, user_id, keep).await?;
        if revoke_tokens {
            db::revoke_all_tokens(conn, now, user_id).await?;
        }
        Ok(())
    })
    .await
}

/// Creates a `mshu_` token for `user_id`; returns its row and the token (shown only here).
pub async fn create_token(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
    label: &str,
) -> QueryResult<(UserToken, String)> {
    let token = keys::generate_user_token();
    let row = db::insert_token(
        conn,
        user_id,
        label,
        &keys::display_prefix(&token),
        &keys::hash_secret(&token),
    )
    .await?;
    Ok((row, token))
}

/// The user and token id of a live `mshu_` token.
pub async fn resolve_token(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    token: &str,
) -> QueryResult<Option<(User, TokenId)>> {
    if !keys::is_valid_user_token_format(token) {
        return Ok(None);
    }
    let Some((id, last_used, user)) = db::find_live_token(conn, &keys::hash_secret(token)).await?
    else {
        return Ok(None);
    };
    if last_used.is_none_or(|t| now - t >= Duration::seconds(TOUCH_EVERY_SECS)) {
        db::touch_token(conn, id, now).await?;
    }
    Ok(Some((user, id)))
}

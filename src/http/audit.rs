//! The audit log's routes: an organization's log (owners and admins; members 403,
//! outsiders 404) and the signed-in user's own account entries (logins, logout, password,
//! tokens). Newest first, keyset-paginated on (time, id), filtered by `action` and `actor`.
//! The entries are written by the changes themselves (`db::audit::record`, in their
//! transactions).

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::db::accounts::normalize_email;
use crate::db::audit::{self, ActorFilter, AuditFilter, AuditRow, AuditScope};
use crate::domain::{AuditAction, AuditId, Role};
use crate::error::ApiError;
use crate::http::access::org_with_role;
use crate::http::pagination::{Page, PageParams, cursor_time};
use crate::http::validate::no_nul;

/// Query of an audit log page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditListParams {
    /// Only this action (`login_succeeded`, `org_created`, `key_revoked`, …; see docs/api.md).
    pub action: Option<String>,
    /// Only what this person did: their user id, or their email.
    pub actor: Option<String>,
    /// Rows per page, 1..=1000 (default 50).
    #[param(value_type = Option<i64>)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Where a page starts: after the entry of this time and id.
type AuditCursor = (DateTime<Utc>, AuditId);

/// The filters, limit and start of a page, checked: 400 naming `action`, `actor`, `limit`
/// or `cursor`.
pub(crate) fn parse_params(
    p: AuditListParams,
) -> Result<(AuditFilter, i64, Option<AuditCursor>), ApiError> {
    let given = |v: Option<String>| v.filter(|v| !v.is_empty());
    let action = given(p.action)
        .map(|a| {
            a.parse::<AuditAction>()
                .map_err(|e| ApiError::invalid_field("action", e.to_string()))
        })
        .transpose()?;
    let actor = match given(p.actor).filter(|a| !a.trim().is_empty()) {
        None => None,
        Some(a) => {
            no_nul("actor", &a)?;
            Some(match a.trim().parse() {
                Ok(id) => ActorFilter::User(id),
                Err(_) => ActorFilter::Label(normalize_email(&a)),
            })
        }
    };
    let page = PageParams::from_raw(p.limit, p.cursor)?;
    let limit = page.limit()?;
    let after = match page.cursor::<AuditCursor>()? {
        Some((at, id)) => Some((cursor_time(at)?, id)),
        None => None,
    };
    Ok((AuditFilter { action, actor }, limit, after))
}

/// One page of `scope`'s log.
pub(crate) async fn audit_page(
    conn: &mut diesel_async::AsyncPgConnection,
    scope: AuditScope,
    params: AuditListParams,
) -> Result<Page<AuditRow>, ApiError> {
    let (filter, limit, after) = parse_params(params)?;
    let rows = audit::page(conn, scope, &filter, after, limit + 1).await?;
    Ok(Page::from_rows(rows, limit, |r: &AuditRow| {
        (r.created_at, r.id)
    }))
}

/// The organization's audit log, newest first (owners and admins).
#[utoipa::path(tag = "audit",
    params(("org" = String, Path, description = "organization slug"), AuditListParams),
    responses((status = 200, body = Page<AuditRow>), (status = 400), (status = 401),
        (status = 403), (status = 404)))]
#[get("/api/v1/orgs/{org}/audit")]
pub async fn org_audit(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
    query: web::Query<AuditListParams>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let access = org_with_role(&mut conn, current.id(), &path, Role::Admin).await?;
    let page = audit_page(
        &mut conn,
        AuditScope::Org(access.org.id),
        query.into_inner(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// The signed-in user's own account entries, newest first: logins (failed ones too),
/// logouts, password changes, tokens created and revoked.
#[utoipa::path(tag = "auth", params(AuditListParams),
    responses((status = 200, body = Page<AuditRow>), (status = 400), (status = 401)))]
#[get("/api/v1/auth/audit")]
pub async fn account_audit(
    state: web::Data<AppState>,
    current: CurrentUser,
    query: web::Query<AuditListParams>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let scope = AuditScope::Account(current.id());
    let page = audit_page(&mut conn, scope, query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_checked_by_name() {
        let field = |p: AuditListParams| parse_params(p).err().and_then(|e| e.field);
        let bad_action = AuditListParams {
            action: Some("deleted_everything".into()),
            ..Default::default()
        };
        assert_eq!(field(bad_action).as_deref(), Some("action"));
        let nul = AuditListParams {
            actor: Some("a\0b".into()),
            ..Default::default()
        };
        assert_eq!(field(nul).as_deref(), Some("actor"));
        let ok = AuditListParams {
            action: Some("org_created".into()),
            actor: Some(" Ann@Example.COM ".into()),
            limit: Some("".into()),
            cursor: Some("".into()),
        };
        let (filter, limit, after) = parse_params(ok).unwrap();
        assert_eq!(filter.action, Some(AuditAction::OrgCreated));
        assert!(matches!(filter.actor, Some(ActorFilter::Label(l)) if l == "ann@example.com"));
        assert_eq!((limit, after), (50, None));
    }
}

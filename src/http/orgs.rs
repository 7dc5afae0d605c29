//! Organizations and their members (SPEC §6): any user creates an org and becomes its owner;
//! members read, admins manage, owners alone touch owners; an org never loses its last owner.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::db::accounts::{self, AddMember, LockedRoles, Member, NewOrganization, Organization};
use crate::error::ApiError;
use crate::http::access::{OrgAccess, Role, org_with_role};
use crate::http::pagination::{Page, PageParams};

/// One page of a list, as documented: `{"data":[...],"next_cursor":...}`.
#[derive(ToSchema)]
pub struct PageOf<T> {
    pub data: Vec<T>,
    /// Pass it back as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// An organization, with the caller's role in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgOut {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    /// The caller's role: `owner`, `admin` or `member`.
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrgOut {
    fn new(org: Organization, role: Role) -> Self {
        Self {
            id: org.id,
            slug: org.slug,
            name: org.name,
            role,
            created_at: org.created_at,
            updated_at: org.updated_at,
        }
    }
}

/// `POST /api/v1/orgs`.
#[derive(Deserialize, ToSchema)]
pub struct NewOrgBody {
    /// 1 to 200 characters.
    #[serde(default)]
    pub name: String,
    /// `[a-z0-9-]{1,50}`, unique.
    #[serde(default)]
    pub slug: String,
}

/// `PATCH /api/v1/orgs/{org}`.
#[derive(Deserialize, ToSchema)]
pub struct OrgPatch {
    /// 1 to 200 characters.
    #[serde(default)]
    pub name: String,
}

/// `POST /api/v1/orgs/{org}/members`.
#[derive(Deserialize, ToSchema)]
pub struct NewMemberBody {
    /// The email of a registered user.
    #[serde(default)]
    pub email: String,
    /// `owner` (by owners only), `admin` or `member`.
    #[serde(default)]
    pub role: String,
}

/// `PATCH /api/v1/orgs/{org}/members/{user_id}`.
#[derive(Deserialize, ToSchema)]
pub struct MemberPatch {
    /// `owner` (by owners only), `admin` or `member`.
    #[serde(default)]
    pub role: String,
}

/// A 400 naming the field at fault.
pub(crate) fn bad_field(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_field", message).with_field(field)
}

/// Checks a slug against `^[a-z0-9-]{1,50}$`.
pub(crate) fn check_slug(slug: &str) -> Result<(), ApiError> {
    let ok = (1..=50).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(bad_field(
            "slug",
            "slug must be 1 to 50 characters among a-z, 0-9 and -",
        ))
    }
}

/// The trimmed name, 1 to 200 characters.
pub(crate) fn check_name(name: &str) -> Result<&str, ApiError> {
    let name = name.trim();
    if (1..=200).contains(&name.chars().count()) {
        Ok(name)
    } else {
        Err(bad_field("name", "name must be 1 to 200 characters"))
    }
}

/// A 409 `slug_taken` for a unique violation, any other error as it is.
pub(crate) fn slug_conflict(e: diesel::result::Error, what: &str) -> ApiError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => ApiError::new(
            StatusCode::CONFLICT,
            "slug_taken",
            format!("this slug is already used by another {what}"),
        )
        .with_field("slug"),
        other => other.into(),
    }
}

fn parse_role(role: &str) -> Result<Role, ApiError> {
    Role::parse(role).ok_or_else(|| bad_field("role", "role must be owner, admin or member"))
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

fn last_owner() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "last_owner",
        "the organization's last owner cannot leave or be demoted; make another member owner first",
    )
}

/// Whether the actor may give the target `new` (`None`: remove them), judged on the locked
/// roles: admins manage members, only owners touch owners or grant ownership, anyone may
/// leave, and the last owner stays.
pub(crate) fn check_member_change(
    locked: &LockedRoles,
    is_self: bool,
    new: Option<Role>,
) -> Result<(), ApiError> {
    let actor = locked
        .actor
        .as_deref()
        .and_then(Role::parse)
        .ok_or_else(|| ApiError::not_found("no such organization"))?;
    let leaving = is_self && new.is_none();
    if !leaving && actor < Role::Admin {
        return Err(forbidden(
            "managing members needs the admin role in the organization",
        ));
    }
    let target = locked
        .target
        .as_deref()
        .and_then(Role::parse)
        .ok_or_else(|| ApiError::not_found("no such member"))?;
    if (target == Role::Owner || new == Some(Role::Owner)) && actor < Role::Owner {
        return Err(forbidden(
            "only owners can change or remove owners, or grant ownership",
        ));
    }
    if target == Role::Owner && new != Some(Role::Owner) && locked.owners <= 1 {
        return Err(last_owner());
    }
    Ok(())
}

/// Create an organization; the caller becomes its owner.
#[utoipa::path(tag = "orgs", request_body = NewOrgBody,
    responses((status = 201, body = OrgOut), (status = 400), (status = 401), (status = 409)))]
#[post("/api/v1/orgs")]
pub async fn create_org(
    state: web::Data<AppState>,
    current: CurrentUser,
    body: web::Json<NewOrgBody>,
) -> Result<HttpResponse, ApiError> {
    let name = check_name(&body.name)?;
    check_slug(&body.slug)?;
    let new = NewOrganization {
        id: Uuid::now_v7(),
        slug: &body.slug,
        name,
    };
    let mut conn = state.pool.get().await.map_err(ApiError::unavailable)?;
    let org = accounts::create_org_with_owner(&mut conn, &new, current.id())
        .await
        .map_err(|e| slug_conflict(e, "organization"))?;
    Ok(HttpResponse::Created().json(OrgOut::new(org, Role::Owner)))
}

/// The caller's organizations with the caller's role, by slug.
#[utoipa::path(tag = "orgs", params(PageParams),
    responses((status = 200, body = PageOf<OrgOut>), (status = 400), (status = 401)))]
#[get("/api/v1/orgs")]
pub async fn list_orgs(
    state: web::Data<AppState>,
    current: CurrentUser,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let after: Option<String> = page.cursor()?;
    let mut conn = state.pool.get().await.map_err(ApiError::unavailable)?;
    let rows = accounts::orgs_page(&mut conn, current.id(), after.as_deref(), limit).await?;
    let rows = rows
        .into_iter()
        .filter_map(|(org, role)| Role::parse(&role).map(|role| OrgOut::new(org, role)))
        .collect();
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |o: &OrgOut| o.slug.clone())))
}

/// An organization (members).
#[utoipa::path(tag = "orgs", params(("org" = String, Path, description = "organization slug")),
    responses((status = 200, body = OrgOut), (status = 401), (status = 404)))]
#[get("/api/v1/orgs/{org}")]
pub async fn get_org(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await.map_err(ApiError::unavailable)?;
    let access = OrgAccess::load(&mut conn, current.id(), &path).await?;
    Ok(HttpResponse::Ok().json(OrgOut::new(access.org, access.role)))
}

/// Rename an organization (admins).
#[utoipa::path(tag = "orgs", params(("org" = String, Path, description = "organization slug")),
    request_body = OrgPatch,
    responses((status = 200, body = OrgOut), (status = 400), (status = 401), (status = 403),
        (status = 404)))]
#[patch("/api/v1/orgs/{org}")]
pub async fn update_org(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
    body: web::Json<OrgPatch>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await.map_err(ApiError::unavailable)?;
    let access = org_with_role(&mut conn, current.id(), &path, Role::Admin).await?;
    let name = check_name(&body.name)?;
    let org = accounts::rename_org(&mut conn, access.org.id, name).await?;
    Ok(HttpResponse::Ok().json(OrgOut::new(org, access.role)))
}

/// Delete an organization with its projects, their events, keys and rules (owners).
#[utoipa::path(tag = "orgs", params(("org" = String, Path, description = "organization slug")),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
#[delete("/api/v1/orgs/{org}")]
pub async fn delete_org(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await.map_err(ApiError::unavailable)?;
    let access = org_with_role(&mut conn, current.id(), &path, Role::Owner).await?;
    accounts::delete_org(&mut conn, access.org.id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The organization's members, by email (members).
#[utoipa::path(tag = "orgs",
    params(("org" = String, Path, description = "organization slug"), PageParams),
    responses((status = 200, body = PageOf<Member>), (status = 400), (status = 401),
        (status = 404)))]
#[get("/api/v1/orgs/{org}/members")]
pub async fn list_members(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let after: Option<String> = page.cursor()?;
    let mut conn = state.pool.get().await.map_err(ApiError::unavailable)?;
    let access = OrgAccess::load(&mut conn, current.id(), &path).await?;
    let rows = accounts::members_page(&mut conn, access.org.id, after.as_deref(), limit).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |m: &Member| m.email.clone())))
}

/// Add a registered user to the organization by email (admins; owners only by owners).
#[utoipa::path(tag = "orgs", params(("org" = String, Path, description = "organization slug")),
    request_body = NewMemberBody,
    responses((status = 201, body = Member), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409)))]
#[post("/api/v1/orgs/{org}/members")]
pub async fn add_member(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
    body: web::Json<NewMemberBody>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await.map_err(ApiError::unavailable)?;
    let access = org_with_role(&mut conn, current.id(), &path, Role::Admin).await?;
    let role = parse_role(&body.role)?;
    if role == Role::Owner {
        access.require(Role::Owner)?;
    }
    match accounts::add_member(&mut conn, access.org.id, &body.email, role.as_str()).await? {
        AddMember::Added(member) => Ok(HttpResponse::Created().json(member)),
        AddMember::NoSuchUser => Err(bad_field(
            "email",
            "no user has registered with this email; they must sign up before being added",
        )),
        AddMember::AlreadyMember => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_member",
            "this user is already a member of the organization",
        )
        .with_field("email")),
    }
}

/// Change a member's role (admins; owners only by owners; not the last owner's).
#[utoipa::path(tag = "orgs",
    params(("org" = String, Path, description = "organization slug"),
        ("user_id" = Uuid, Path, description = "the member's user id")),
    request_body = MemberPatch,
    responses((status = 200, body = Member), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409)))]
#[patch("/api/v1/orgs/{org}/members/{user_id}")]
pub async fn update_member(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, Uuid)>,
    body: web::Json<MemberPatch>,
) -> Result<HttpResponse, ApiError> {
    let (org, user_id) = path.into_inner();
    let mut conn = state.pool.get().await.map_err(ApiError::unavailable)?;
    let access = org_with_role(&mut conn, current.id(), &org, Role::Admin).await?;
    let role = parse_role(&body.role)?;
    let is_self = user_id == current.id();
    let member = accounts::set_member_role(
        &mut conn,
        access.org.id,
        current.id(),
        user_id,
        role.as_str(),
        |locked| check_member_change(locked, is_self, Some(role)),
    )
    .await?;
    Ok(HttpResponse::Ok().json(member))
}

/// Remove a member (admins; owners only by owners), or leave (any member, for themself);
/// the last owner cannot leave.
#[utoipa::path(tag = "orgs",
    params(("org" = String, Path, description = "organization slug"),
        ("user_id" = Uuid, Path, description = "the member's user id")),
    responses((status = 204), (status = 401), (status = 403), (status = 404), (status = 409)))]
#[delete("/api/v1/orgs/{org}/members/{user_id}")]
pub async fn remove_member(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (org, user_id) = path.into_inner();
    let mut conn = state.pool.get().await.map_err(ApiError::unavailable)?;
    let access = OrgAccess::load(&mut conn, current.id(), &org).await?;
    let is_self = user_id == current.id();
    accounts::remove_member(&mut conn, access.org.id, current.id(), user_id, |locked| {
        check_member_change(locked, is_self, None)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(actor: &str, target: &str, owners: usize) -> LockedRoles {
        LockedRoles {
            actor: Some(actor.into()),
            target: Some(target.into()),
            owners,
        }
    }

    fn status(r: Result<(), ApiError>) -> u16 {
        r.map_or_else(|e| e.status.as_u16(), |()| 200)
    }

    #[test]
    fn member_change_rules() {
        // Admins manage members and admins, not owners, and cannot grant ownership.
        assert_eq!(
            status(check_member_change(
                &locked("admin", "member", 1),
                false,
                Some(Role::Admin)
            )),
            200
        );
        assert_eq!(
            status(check_member_change(
                &locked("admin", "admin", 1),
                false,
                None
            )),
            200
        );
        assert_eq!(
            status(check_member_change(
                &locked("admin", "owner", 2),
                false,
                Some(Role::Member)
            )),
            403
        );
        assert_eq!(
            status(check_member_change(
                &locked("admin", "member", 1),
                false,
                Some(Role::Owner)
            )),
            403
        );
        assert_eq!(
            status(check_member_change(
                &locked("admin", "owner", 2),
                false,
                None
            )),
            403
        );
        // Members manage nobody but may leave.
        assert_eq!(
            status(check_member_change(
                &locked("member", "member", 1),
                false,
                None
            )),
            403
        );
        assert_eq!(
            status(check_member_change(
                &locked("member", "member", 1),
                true,
                None
            )),
            200
        );
        assert_eq!(
            status(check_member_change(
                &locked("member", "member", 1),
                true,
                Some(Role::Admin)
            )),
            403
        );
        // The last owner stays an owner and stays.
        assert_eq!(
            status(check_member_change(
                &locked("owner", "owner", 1),
                true,
                Some(Role::Admin)
            )),
            409
        );
        assert_eq!(
            status(check_member_change(
                &locked("owner", "owner", 1),
                true,
                None
            )),
            409
        );
        assert_eq!(
            status(check_member_change(
                &locked("owner", "owner", 1),
                true,
                Some(Role::Owner)
            )),
            200
        );
        assert_eq!(
            status(check_member_change(
                &locked("owner", "owner", 2),
                false,
                None
            )),
            200
        );
        assert_eq!(
            status(check_member_change(
                &locked("owner", "member", 1),
                false,
                Some(Role::Owner)
            )),
            200
        );
        // Gone actor or target.
        let gone = LockedRoles {
            actor: None,
            target: Some("member".into()),
            owners: 1,
        };
        assert_eq!(status(check_member_change(&gone, false, None)), 404);
        let nobody = LockedRoles {
            actor: Some("owner".into()),
            target: None,
            owners: 1,
        };
        assert_eq!(status(check_member_change(&nobody, false, None)), 404);
    }

    #[test]
    fn slugs_and_names() {
        for ok in ["a", "my-org-2", &"a".repeat(50)] {
            assert!(check_slug(ok).is_ok(), "{ok}");
        }
        for bad in ["", "My-Org", "a_b", "a b", "é", &"a".repeat(51)] {
            assert_eq!(
                check_slug(bad).unwrap_err().field.as_deref(),
                Some("slug"),
                "{bad}"
            );
        }
        assert_eq!(check_name("  Acme ").unwrap(), "Acme");
        assert!(check_name("   ").is_err());
        assert!(check_name(&"é".repeat(200)).is_ok());
        assert!(check_name(&"é".repeat(201)).is_err());
    }
}

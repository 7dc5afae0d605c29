//! Organizations and their members (docs/api.md, “Access rules”): any user creates an org and
//! becomes its owner;
//! members read, admins manage, owners alone touch owners; an org never loses its last owner.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::db::accounts::{self, Member, Organization};
use crate::domain::{OrgId, Role, UserId};
use crate::error::ApiError;
use crate::http::access::OrgAccess;
use crate::http::client_ip::Origin;
use crate::http::pagination::{Page, PageParams};

mod changes;

pub(crate) use changes::{add, change_role, create, delete, remove, rename};

/// An organization, with the caller's role in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgOut {
    pub id: OrgId,
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
    #[schema(
        required = true,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00][^\x00]*$"
    )]
    pub name: String,
    /// `[a-z0-9-]{1,50}`, unique.
    #[serde(default)]
    #[schema(required = true, pattern = "^[a-z0-9-]{1,50}$")]
    pub slug: String,
}

/// `PATCH /api/v1/orgs/{org}`.
#[derive(Deserialize, ToSchema)]
pub struct OrgPatch {
    /// 1 to 200 characters.
    #[serde(default)]
    #[schema(
        required = true,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00][^\x00]*$"
    )]
    pub name: String,
}

/// `POST /api/v1/orgs/{org}/members`.
#[derive(Deserialize, ToSchema)]
pub struct NewMemberBody {
    /// The email of a registered user.
    #[serde(default)]
    #[schema(required = true, pattern = r"^[^\x00]*$")]
    pub email: String,
    /// `owner` (by owners only), `admin` or `member`.
    #[serde(default)]
    #[schema(required = true, value_type = crate::domain::Role)]
    pub role: String,
}

/// `PATCH /api/v1/orgs/{org}/members/{user_id}`.
#[derive(Deserialize, ToSchema)]
pub struct MemberPatch {
    /// `owner` (by owners only), `admin` or `member`.
    #[serde(default)]
    #[schema(required = true, value_type = crate::domain::Role)]
    pub role: String,
}

/// Create an organization; the caller becomes its owner.
#[utoipa::path(tag = "orgs", request_body = NewOrgBody,
    responses((status = 201, body = OrgOut), (status = 400), (status = 401), (status = 409)))]
#[post("/api/v1/orgs")]
pub async fn create_org(
    state: web::Data<AppState>,
    current: CurrentUser,
    origin: Origin,
    body: crate::http::validate::JsonObject<NewOrgBody>,
) -> Result<HttpResponse, ApiError> {
    let actor = origin.actor(&current.user);
    let mut conn = state.pool.get().await?;
    let org = create(&mut conn, &actor, current.id(), &body.name, &body.slug).await?;
    Ok(HttpResponse::Created().json(OrgOut::new(org, Role::Owner)))
}

/// The caller's organizations with the caller's role, by slug.
#[utoipa::path(tag = "orgs", params(PageParams),
    responses((status = 200, body = Page<OrgOut>), (status = 400), (status = 401)))]
#[get("/api/v1/orgs")]
pub async fn list_orgs(
    state: web::Data<AppState>,
    current: CurrentUser,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let after: Option<String> = page.cursor()?;
    let mut conn = state.pool.get().await?;
    let rows = accounts::orgs_page(&mut conn, current.id(), after.as_deref(), limit).await?;
    let rows = rows
        .into_iter()
        .map(|(org, role)| OrgOut::new(org, role))
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
    let mut conn = state.pool.get().await?;
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
    origin: Origin,
    path: web::Path<String>,
    body: crate::http::validate::JsonObject<OrgPatch>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let access = OrgAccess::load(&mut conn, current.id(), &path).await?;
    let org = rename(&mut conn, &origin.actor(&current.user), &access, &body.name).await?;
    Ok(HttpResponse::Ok().json(OrgOut::new(org, access.role)))
}

/// Delete an organization with its projects, their events, keys and rules (owners).
#[utoipa::path(tag = "orgs", params(("org" = String, Path, description = "organization slug")),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
#[delete("/api/v1/orgs/{org}")]
pub async fn delete_org(
    state: web::Data<AppState>,
    current: CurrentUser,
    origin: Origin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let access = OrgAccess::load(&mut conn, current.id(), &path).await?;
    delete(&state, &mut conn, &origin.actor(&current.user), &access).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The organization's members, by email (members).
#[utoipa::path(tag = "orgs",
    params(("org" = String, Path, description = "organization slug"), PageParams),
    responses((status = 200, body = Page<Member>), (status = 400), (status = 401),
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
    let mut conn = state.pool.get().await?;
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
    origin: Origin,
    path: web::Path<String>,
    body: crate::http::validate::JsonObject<NewMemberBody>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let access = OrgAccess::load(&mut conn, current.id(), &path).await?;
    let actor = origin.actor(&current.user);
    let member = add(&mut conn, &actor, &access, &body.email, &body.role).await?;
    Ok(HttpResponse::Created().json(member))
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
    origin: Origin,
    path: web::Path<(String, UserId)>,
    body: crate::http::validate::JsonObject<MemberPatch>,
) -> Result<HttpResponse, ApiError> {
    let (org, user_id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let access = OrgAccess::load(&mut conn, current.id(), &org).await?;
    let actor = origin.actor(&current.user);
    let member = change_role(
        &mut conn,
        &actor,
        &access,
        current.id(),
        user_id,
        &body.role,
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
    origin: Origin,
    path: web::Path<(String, UserId)>,
) -> Result<HttpResponse, ApiError> {
    let (org, user_id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let access = OrgAccess::load(&mut conn, current.id(), &org).await?;
    let actor = origin.actor(&current.user);
    remove(&mut conn, &actor, &access, current.id(), user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

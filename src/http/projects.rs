//! Projects of an organization: members read, admins create, change and delete.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::db::audit;
use crate::db::projects::{self, NewProject, Project, ProjectChanges};
use crate::domain::{Actor, AuditAction, AuditEntry, ProjectId, Role, TargetType};
use crate::error::ApiError;
use crate::http::access::{OrgAccess, org_with_role, project_for};
use crate::http::client_ip::Origin;
use crate::http::pagination::{Page, PageParams};
use crate::http::validate::{check_name, check_platform, check_project_slug, slug_conflict};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

/// A project as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectOut {
    pub id: ProjectId,
    pub slug: String,
    pub name: String,
    pub platform: Option<String>,
    /// The project's integer in Sentry DSNs (`http://<key>@host/<number>`).
    pub number: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Project> for ProjectOut {
    fn from(p: Project) -> Self {
        Self {
            id: p.id,
            slug: p.slug,
            name: p.name,
            platform: p.platform,
            number: p.number,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// `POST /api/v1/orgs/{org}/projects`.
#[derive(Deserialize, ToSchema)]
pub struct NewProjectBody {
    /// 1 to 200 characters.
    #[serde(default)]
    #[schema(
        required = true,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00][^\x00]*$"
    )]
    pub name: String,
    /// `[a-z0-9-]{1,50}`, unique within the organization.
    #[serde(default)]
    #[schema(required = true, pattern = "^[a-z0-9-]{1,50}$")]
    pub slug: String,
    /// At most 64 characters, e.g. `python`.
    #[schema(max_length = 64, pattern = r"^[^\x00]*$")]
    pub platform: Option<String>,
}

/// `PATCH .../projects/{project}`: absent fields are left as they are; `"platform": null`
/// clears the platform.
#[derive(Deserialize, ToSchema)]
pub struct ProjectPatch {
    /// 1 to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00][^\x00]*$"
    )]
    pub name: Option<String>,
    /// At most 64 characters; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 64, pattern = r"^[^\x00]*$")]
    pub platform: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from an absent one (`None`, by `default`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// The organization's projects, by slug (members).
#[utoipa::path(tag = "projects",
    params(("org" = String, Path, description = "organization slug"), PageParams),
    responses((status = 200, body = Page<ProjectOut>), (status = 400), (status = 401),
        (status = 404)))]
#[get("/api/v1/orgs/{org}/projects")]
pub async fn list_projects(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<String>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit()?;
    let after: Option<String> = page.cursor()?;
    let mut conn = state.pool.get().await?;
    let access = OrgAccess::load(&mut conn, current.id(), &path).await?;
    let rows = projects::projects_page(&mut conn, access.org.id, after.as_deref(), limit).await?;
    let rows = rows.into_iter().map(ProjectOut::from).collect();
    Ok(
        HttpResponse::Ok().json(Page::from_rows(rows, limit, |p: &ProjectOut| {
            p.slug.clone()
        })),
    )
}

/// Create a project (admins).
#[utoipa::path(tag = "projects", params(("org" = String, Path, description = "organization slug")),
    request_body = NewProjectBody,
    responses((status = 201, body = ProjectOut), (status = 400), (status = 401), (status = 403),
        (status = 404), (status = 409)))]
#[post("/api/v1/orgs/{org}/projects")]
pub async fn create_project(
    state: web::Data<AppState>,
    current: CurrentUser,
    origin: Origin,
    path: web::Path<String>,
    body: crate::http::validate::JsonObject<NewProjectBody>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let access = org_with_role(&mut conn, current.id(), &path, Role::Admin).await?;
    let actor = origin.actor(&current.user);
    let platform = body.platform.as_deref();
    let project = create(&mut conn, &actor, &access, &body.name, &body.slug, platform).await?;
    Ok(HttpResponse::Created().json(ProjectOut::from(project)))
}

/// Creates a project of the organization (admins): 400 naming a bad field, 409
/// `slug_taken`; `project_created` is recorded in the same transaction. Shared by the API
/// and the organization's page.
pub(crate) async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    access: &OrgAccess,
    name: &str,
    slug: &str,
    platform: Option<&str>,
) -> Result<Project, ApiError> {
    access.require(Role::Admin)?;
    let new = NewProject {
        id: ProjectId::new(),
        org_id: access.org.id,
        name: check_name(name)?,
        slug: check_project_slug(slug)?,
        platform: check_platform(platform)?,
    };
    let entry = AuditEntry::org(
        access.org.id,
        AuditAction::ProjectCreated,
        TargetType::Project,
    )
    .target(new.id, new.slug)
    .details(json!({ "name": new.name, "platform": new.platform }));
    conn.transaction(async |conn| {
        audit::record(conn, actor, &entry).await?;
        projects::create_project(conn, &new).await
    })
    .await
    .map_err(|e| slug_conflict(e, "project of this organization"))
}

/// Deletes the project with everything under it (admins), recording `project_deleted` in
/// the same transaction, then forgets it on this server ([`forget_project`]). Shared by the
/// API and the project's settings page.
pub(crate) async fn delete(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    project: &Project,
) -> Result<(), ApiError> {
    let entry = AuditEntry::org(
        project.org_id,
        AuditAction::ProjectDeleted,
        TargetType::Project,
    )
    .target(project.id, &project.slug)
    .details(json!({ "name": project.name }));
    conn.transaction(async |conn| {
        projects::delete_project(conn, project.id).await?;
        audit::record(conn, actor, &entry).await
    })
    .await?;
    forget_project(state, project.id);
    Ok(())
}

/// A project (members).
#[utoipa::path(tag = "projects",
    params(("org" = String, Path, description = "organization slug"),
        ("project" = String, Path, description = "project slug")),
    responses((status = 200, body = ProjectOut), (status = 401), (status = 404)))]
#[get("/api/v1/orgs/{org}/projects/{project}")]
pub async fn get_project(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, project) = path.into_inner();
    let (_conn, project) = project_for(&state, &current, &org, &project, Role::Member).await?;
    Ok(HttpResponse::Ok().json(ProjectOut::from(project)))
}

/// Change a project's name or platform (admins).
#[utoipa::path(tag = "projects",
    params(("org" = String, Path, description = "organization slug"),
        ("project" = String, Path, description = "project slug")),
    request_body = ProjectPatch,
    responses((status = 200, body = ProjectOut), (status = 400), (status = 401), (status = 403),
        (status = 404)))]
#[patch("/api/v1/orgs/{org}/projects/{project}")]
pub async fn update_project(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, String)>,
    body: crate::http::validate::JsonObject<ProjectPatch>,
) -> Result<HttpResponse, ApiError> {
    let (org, project) = path.into_inner();
    let (mut conn, project) = project_for(&state, &current, &org, &project, Role::Admin).await?;
    let changes = ProjectChanges {
        name: body.name.as_deref().map(check_name).transpose()?,
        platform: match &body.platform {
            Some(p) => Some(check_platform(p.as_deref())?),
            None => None,
        },
    };
    let project = projects::update_project(&mut conn, project.id, &changes).await?;
    Ok(HttpResponse::Ok().json(ProjectOut::from(project)))
}

/// Delete a project with its events, issues, keys and alert rules (admins). Events of the
/// project still buffered on this server are dropped (counted as `project_deleted`) and its
/// keys stop working here at once.
#[utoipa::path(tag = "projects",
    params(("org" = String, Path, description = "organization slug"),
        ("project" = String, Path, description = "project slug")),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
#[delete("/api/v1/orgs/{org}/projects/{project}")]
pub async fn delete_project(
    state: web::Data<AppState>,
    current: CurrentUser,
    origin: Origin,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, project) = path.into_inner();
    let (mut conn, project) = project_for(&state, &current, &org, &project, Role::Admin).await?;
    delete(&state, &mut conn, &origin.actor(&current.user), &project).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// After a project's deletion (alone or with its organization): this server stops its
/// writer, drops what it still buffers (counted as `dropped_project_deleted`) and stops
/// accepting its keys at once. Other servers stop accepting them within
/// `auth.key_cache_ttl_ms`; their writers' batches then fail and are counted as failed.
pub(crate) fn forget_project(state: &AppState, project_id: ProjectId) {
    state.keys.forget_project(project_id);
    let dropped = state.registry.forget(project_id);
    tracing::info!(%project_id, dropped, "project deleted; its writer stopped and its buffered events dropped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_tells_null_from_absent() {
        let absent: ProjectPatch = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.platform, None);
        let null: ProjectPatch = serde_json::from_str(r#"{"platform":null}"#).unwrap();
        assert_eq!(null.platform, Some(None));
        let set: ProjectPatch = serde_json::from_str(r#"{"platform":"go"}"#).unwrap();
        assert_eq!(set.platform, Some(Some("go".into())));
    }
}

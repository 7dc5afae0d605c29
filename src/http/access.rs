//! Who may do what under an organization (SPEC §6): non-members get 404 for everything under
//! an org (its existence is not revealed); members without the needed role get 403.

use actix_web::http::StatusCode;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::db::DbConn;
use crate::db::accounts::Organization;
use crate::db::projects::Project;
use crate::db::schema::{memberships, organizations, projects};
use crate::error::ApiError;

/// A member's role, ordered by power.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }
}

/// The caller's standing in one organization.
#[derive(Debug, Clone)]
pub struct OrgAccess {
    pub org: Organization,
    pub role: Role,
}

fn org_not_found() -> ApiError {
    ApiError::not_found("no such organization")
}

impl OrgAccess {
    /// The org with this slug if `user_id` is a member of it; 404 otherwise.
    pub async fn load(
        conn: &mut AsyncPgConnection,
        user_id: Uuid,
        slug: &str,
    ) -> Result<Self, ApiError> {
        let found: Option<(Organization, String)> = organizations::table
            .inner_join(memberships::table)
            .filter(organizations::slug.eq(slug))
            .filter(memberships::user_id.eq(user_id))
            .select((Organization::as_select(), memberships::role))
            .first(conn)
            .await
            .optional()?;
        let (org, role) = found.ok_or_else(org_not_found)?;
        let role = Role::parse(&role).ok_or_else(org_not_found)?;
        Ok(Self { org, role })
    }

    /// 403 unless the caller has at least `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this needs the {} role in the organization",
                    needed.as_str()
                ),
            ))
        }
    }

    /// The org's project with this slug; 404 when there is none.
    pub async fn project(
        &self,
        conn: &mut AsyncPgConnection,
        slug: &str,
    ) -> Result<Project, ApiError> {
        projects::table
            .filter(projects::org_id.eq(self.org.id))
            .filter(projects::slug.eq(slug))
            .select(Project::as_select())
            .first(conn)
            .await
            .optional()?
            .ok_or_else(|| ApiError::not_found("no such project"))
    }
}

/// Loads the caller's access to `org_slug`, requires `needed`, and returns it with a
/// connection for the rest of the handler.
pub async fn org_with_role(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    org_slug: &str,
    needed: Role,
) -> Result<OrgAccess, ApiError> {
    let access = OrgAccess::load(conn, user_id, org_slug).await?;
    access.require(needed)?;
    Ok(access)
}

/// The `{org}` and `{project}` slugs of a project route.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProjectPath {
    /// Organization slug.
    pub org: String,
    /// Project slug.
    pub project: String,
}

/// Checks the caller's role in `{org}` and finds `{project}`: 404 for a non-member or an
/// unknown project, 403 for a member without `needed`. Answers with the connection used.
pub async fn project_for<'a>(
    state: &'a AppState,
    current: &CurrentUser,
    org: &str,
    project: &str,
    needed: Role,
) -> Result<(DbConn<'a>, Project), ApiError> {
    let mut conn = state.pool.get().await.map_err(ApiError::unavailable)?;
    let access = org_with_role(&mut conn, current.id(), org, needed).await?;
    let project = access.project(&mut conn, project).await?;
    Ok((conn, project))
}

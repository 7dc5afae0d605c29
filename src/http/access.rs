//! Who may do what under an organization (docs/api.md, “Access rules”): non-members get 404 for
//! everything under an org (its existence is not revealed); members without the needed role
//! get 403. Every org- and project-scoped handler starts here.

use diesel_async::AsyncPgConnection;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::db::DbConn;
use crate::db::accounts::{self, Organization};
use crate::db::projects::{self, Project};
pub use crate::domain::Role;
use crate::domain::UserId;
use crate::error::ApiError;

/// The caller's standing in one organization.
#[derive(Debug, Clone)]
pub struct OrgAccess {
    pub org: Organization,
    pub role: Role,
}

impl OrgAccess {
    /// The org with this slug if `user_id` is a member of it; 404 otherwise.
    pub async fn load(
        conn: &mut AsyncPgConnection,
        user_id: UserId,
        slug: &str,
    ) -> Result<Self, ApiError> {
        let (org, role) = accounts::org_membership(conn, user_id, slug)
            .await?
            .ok_or_else(|| ApiError::not_found("no such organization"))?;
        Ok(Self { org, role })
    }

    /// 403 unless the caller has at least `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this needs the {needed} role in the organization"
            )))
        }
    }

    /// The org's project with this slug; 404 when there is none.
    pub async fn project(
        &self,
        conn: &mut AsyncPgConnection,
        slug: &str,
    ) -> Result<Project, ApiError> {
        projects::find_project(conn, self.org.id, slug)
            .await?
            .ok_or_else(|| ApiError::not_found("no such project"))
    }
}

/// Loads the caller's access to `org_slug` and requires `needed`.
pub async fn org_with_role(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
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
    let mut conn = state.pool.get().await?;
    let access = org_with_role(&mut conn, current.id(), org, needed).await?;
    let project = access.project(&mut conn, project).await?;
    Ok((conn, project))
}

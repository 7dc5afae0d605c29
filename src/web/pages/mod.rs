//! The pages: one module per page (its handlers and its template).

pub mod account;
pub mod alerts;
pub mod auth;
pub mod event;
pub mod home;
pub mod issue;
pub mod issues;
pub mod org;
pub mod org_audit;
pub mod org_settings;
pub mod settings;

use actix_web::HttpResponse;
use actix_web::http::header::LOCATION;

/// 303 to `to` (after a form post, so a reload does not post again).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .finish()
}

use crate::AppState;
use crate::db::DbConn;
use crate::db::projects::Project;
use crate::domain::Role;
use crate::http::access::OrgAccess;
use crate::web::WebError;
use crate::web::layout::Crumb;
use crate::web::session::WebUser;

/// The caller's access to `org` and its project `project`, by the API's rules (404 for an
/// outsider or an unknown project), with the connection used.
pub async fn project_access<'a>(
    state: &'a AppState,
    user: &WebUser,
    org: &str,
    project: &str,
) -> Result<(DbConn<'a>, OrgAccess, Project), WebError> {
    let mut conn = state.pool.get().await?;
    let access = OrgAccess::load(&mut conn, user.user.id, org).await?;
    let project = access.project(&mut conn, project).await?;
    Ok((conn, access, project))
}

/// [`project_access`] for a change only admins may make (a member gets the 403 page, as
/// in the API).
pub async fn admin_project<'a>(
    state: &'a AppState,
    user: &WebUser,
    org: &str,
    project: &str,
) -> Result<(DbConn<'a>, OrgAccess, Project), WebError> {
    let found = project_access(state, user, org, project).await?;
    found.1.require(Role::Admin)?;
    Ok(found)
}

/// Breadcrumbs of a project's pages: the organization, then the project.
pub fn project_crumbs(access: &OrgAccess, project: &Project) -> Vec<Crumb> {
    vec![
        (access.org.name.clone(), format!("/{}", access.org.slug)),
        (
            project.name.clone(),
            format!("/{}/{}/issues", access.org.slug, project.slug),
        ),
    ]
}

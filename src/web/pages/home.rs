//! `/`: the user's organizations (with one, straight to it) and a form to create one.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

use super::see_other;
use crate::AppState;
use crate::db::accounts::{self, Organization};
use crate::domain::Role;
use crate::http::client_ip::Origin;
use crate::http::orgs;
use crate::web::WebError;
use crate::web::csrf::FormData;
use crate::web::layout::{self, csrf_field};
use crate::web::post::FormPost;
use crate::web::session::WebUser;

/// Organizations one page lists (one screen).
const MAX_ORGS: i64 = 200;

fn template(
    user: &WebUser,
    orgs: &[(Organization, Role)],
    form: &FormData,
    error: Option<&str>,
) -> Markup {
    layout::page(
        "Organizations",
        Some(user),
        &[],
        html! {
            h1 { "Your organizations" }
            @if orgs.is_empty() {
                p { "You are not a member of any organization yet. Create one to add projects." }
            } @else {
                ul.cards {
                    @for (org, role) in orgs {
                        li {
                            a href={ "/" (org.slug) } { strong { (org.name) } }
                            " " span.muted { (org.slug) " · " (role.as_str()) }
                        }
                    }
                }
            }
            section aria-labelledby="h-new-org" {
                h2 #h-new-org { "Create an organization" }
                @if let Some(e) = error { p.error role="alert" { (e) } }
                form.inline method="post" action="/" {
                    (csrf_field(&user.csrf))
                    label { "Name" input type="text" name="name" required maxlength="200" value=(form.get("name")); }
                    label { "Slug" input type="text" name="slug" required pattern="[a-z0-9-]{1,50}" maxlength="50" value=(form.get("slug")); }
                    button type="submit" { "Create" }
                }
            }
        },
    )
}

/// `GET /`.
pub async fn index(state: web::Data<AppState>, user: WebUser) -> Result<HttpResponse, WebError> {
    let mut conn = state.pool.get().await?;
    let orgs = accounts::orgs_page(&mut conn, user.user.id, None, MAX_ORGS).await?;
    if let [(org, _)] = orgs.as_slice() {
        return Ok(see_other(&format!("/{}", org.slug)));
    }
    Ok(layout::ok(template(
        &user,
        &orgs,
        &FormData::default(),
        None,
    )))
}

/// `POST /`: creates an organization (the caller owns it) and opens it.
pub async fn create_org(
    state: web::Data<AppState>,
    FormPost { user, form }: FormPost,
    origin: Origin,
) -> Result<HttpResponse, WebError> {
    let mut conn = state.pool.get().await?;
    let actor = origin.actor(&user.user);
    let (name, slug) = (form.get("name"), form.get("slug"));
    let created = orgs::create(&mut conn, &actor, user.user.id, name, slug).await;
    match created {
        Ok(org) => Ok(see_other(&format!("/{}", org.slug))),
        Err(e) if e.status.is_client_error() => {
            let orgs = accounts::orgs_page(&mut conn, user.user.id, None, MAX_ORGS).await?;
            Ok(layout::html_response(
                StatusCode::BAD_REQUEST,
                template(&user, &orgs, &form, Some(&e.message)),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

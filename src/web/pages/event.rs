//! `/{org}/{project}/events/{id}`: one event in full, a link to its issue, and its raw JSON
//! (exactly what `GET /api/v1/…/events/{id}` answers).

use actix_web::{HttpResponse, web};
use maud::html;

use super::{project_access, project_crumbs};
use crate::AppState;
use crate::db::event_queries;
use crate::domain::EventId;
use crate::http::events::EventDetail;
use crate::web::layout;
use crate::web::session::WebUser;
use crate::web::{WebError, event_view, format};

/// `GET /{org}/{project}/events/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, WebError> {
    let (org, project, id) = path.into_inner();
    let id: EventId = id.parse().map_err(|_| WebError::NotFound)?;
    let (mut conn, access, project) = project_access(&state, &user, &org, &project).await?;
    let event = event_queries::find(&mut conn, project.id, id)
        .await?
        .ok_or(WebError::NotFound)?;
    let now = (state.clock)();
    let raw = serde_json::to_string_pretty(&EventDetail::from(event.clone()))
        .map_err(|_| WebError::Internal)?;
    let issue_link = format!(
        "/{}/{}/issues/{}?event={}",
        access.org.slug, project.slug, event.issue_id, event.id
    );
    Ok(layout::ok(layout::page(
        &event.message,
        Some(&user),
        &project_crumbs(&access, &project),
        html! {
            h1 { (event.message) }
            p { (format::level(event.level)) " " a href=(issue_link) { "Its issue" } }
            (event_view::event(&event, now))
            section aria-labelledby="h-raw" {
                h2 #h-raw { "Raw JSON" }
                // Focusable: a keyboard can scroll it sideways.
                pre.raw tabindex="0" aria-labelledby="h-raw" { code { (raw) } }
            }
        },
    )))
}

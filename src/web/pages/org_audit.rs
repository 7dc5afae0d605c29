//! `/{org}/settings/audit`: the organization's audit log (owners and admins; members get
//! the 403 page, as from the API): who did what, to what, from where and when, newest
//! first, filtered by action, a page at a time with the API's cursors.

use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use crate::AppState;
use crate::db::audit::{AuditRow, AuditScope};
use crate::domain::{AuditAction, Role};
use crate::http::access::OrgAccess;
use crate::http::audit::{AuditListParams, audit_page};
use crate::http::pagination::Page;
use crate::web::layout;
use crate::web::session::WebUser;
use crate::web::{WebError, format};

/// `?action=&cursor=` of the page.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    cursor: String,
}

impl AuditQuery {
    /// The query string of this view, at `cursor`.
    fn query(&self, cursor: Option<&str>) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if !self.action.is_empty() {
            s.append_pair("action", &self.action);
        }
        if let Some(c) = cursor {
            s.append_pair("cursor", c);
        }
        s.finish()
    }
}

fn target(row: &AuditRow) -> Markup {
    html! {
        span.muted { (row.target_type) " " }
        (row.target_label.as_deref().unwrap_or(""))
    }
}

fn template(
    user: &WebUser,
    access: &OrgAccess,
    view: &AuditQuery,
    page: &Page<AuditRow>,
    now: chrono::DateTime<chrono::Utc>,
) -> Markup {
    let org = &access.org;
    let settings = format!("/{}/settings", org.slug);
    let base = format!("{settings}/audit");
    layout::page(
        &format!("Audit log of {}", org.name),
        Some(user),
        &[
            (org.name.clone(), format!("/{}", org.slug)),
            ("Settings".into(), settings.clone()),
            ("Audit log".into(), base.clone()),
        ],
        html! {
            h1 { "Audit log" span.muted { " · " (org.name) } }
            form.inline method="get" action=(base) {
                label { "Action"
                    select name="action" {
                        option value="" selected[view.action.is_empty()] { "All actions" }
                        @for a in AuditAction::ALL {
                            option value=(a) selected[a.as_str() == view.action] { (a) }
                        }
                    }
                }
                button type="submit" { "Filter" }
            }
            @if page.data.is_empty() {
                p.muted { "Nothing recorded" @if !view.action.is_empty() { " for this action" } "." }
            } @else {
                table.list {
                    thead { tr {
                        th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "Action" }
                        th scope="col" { "Target" } th scope="col" { "Details" } th scope="col" { "From" }
                    } }
                    tbody {
                        @for row in &page.data {
                            tr {
                                td { (format::time(row.created_at, now)) }
                                td { (row.actor_label) }
                                td { code { (row.action) } }
                                td { (target(row)) }
                                td { code { (row.details) } }
                                td {
                                    (row.ip.as_deref().unwrap_or(""))
                                    @if let Some(ua) = &row.user_agent { br; span.muted { (ua) } }
                                }
                            }
                        }
                    }
                }
            }
            nav.pages aria-label="Pages" {
                @if !view.cursor.is_empty() {
                    a href={ (base) "?" (view.query(None)) } { "← First page" }
                }
                @if let Some(c) = &page.next_cursor {
                    a rel="next" href={ (base) "?" (view.query(Some(c))) } { "Next page →" }
                }
            }
        },
    )
}

/// `GET /{org}/settings/audit` (owners and admins).
pub async fn show(
    state: web::Data<AppState>,
    user: WebUser,
    path: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, WebError> {
    let view = query.into_inner();
    let mut conn = state.pool.get().await?;
    let access = OrgAccess::load(&mut conn, user.user.id, &path).await?;
    access.require(Role::Admin)?;
    let params = AuditListParams {
        action: Some(view.action.clone()),
        cursor: Some(view.cursor.clone()),
        ..AuditListParams::default()
    };
    let page = audit_page(&mut conn, AuditScope::Org(access.org.id), params).await?;
    let now = (state.clock)();
    Ok(layout::ok(template(&user, &access, &view, &page, now)))
}

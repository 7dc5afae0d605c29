//! The notifications of an alert rule: `GET …/alert-rules/{rule_id}/deliveries` (members; newest
//! first, keyset pages) and `POST …/alert-rules/{rule_id}/test` (admins; queues a test
//! notification, delivered like any other). See docs/alerts.md.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::access::project_for;
use super::alerts::RulePath;
use super::pagination::{Page, PageParams};
use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::db::alerts as rules_db;
use crate::db::deliveries::{self as db, Delivery};
use crate::domain::alerts::DeliveryStatus;
use crate::domain::{DeliveryId, EventId, IssueId, Role, RuleId};
use crate::error::ApiError;

/// One notification of a rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    pub id: DeliveryId,
    pub rule_id: RuleId,
    /// The issue that triggered it; null for a test notification.
    pub issue_id: Option<IssueId>,
    pub event_id: Option<EventId>,
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: i32,
    /// When it is (or was last) due.
    pub next_attempt_at: DateTime<Utc>,
    /// The HTTP status of the last webhook attempt, if it got one.
    pub last_status: Option<i32>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// What is sent: the webhook body.
    #[schema(value_type = Object)]
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryOut {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            rule_id: d.rule_id,
            issue_id: d.issue_id,
            event_id: d.event_id,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            payload: d.payload,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// The rule's notifications, newest first (member).
#[utoipa::path(tag = "alerts", params(RulePath, PageParams),
    responses((status = 200, body = Page<DeliveryOut>), (status = 400), (status = 401), (status = 404)))]
#[get("/api/v1/orgs/{org}/projects/{project}/alert-rules/{rule_id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<RulePath>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let (mut conn, project) =
        project_for(&state, &current, &path.org, &path.project, Role::Member).await?;
    let (limit, before) = (page.limit()?, page.cursor::<DeliveryId>()?);
    let rule = rules_db::find_rule(&mut conn, project.id, path.rule_id)
        .await?
        .ok_or_else(super::alerts::rule_not_found)?;
    let rows = db::list_for_rule(&mut conn, rule.id, before, limit + 1).await?;
    let rows = rows.into_iter().map(DeliveryOut::from).collect();
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |d| d.id)))
}

/// Queue a test notification of the rule (admin): delivered by its action like any other,
/// with `type` `alert.test` and no issue. Answers the queued notification.
#[utoipa::path(tag = "alerts", params(RulePath),
    responses((status = 202, body = DeliveryOut), (status = 401), (status = 403), (status = 404)))]
#[post("/api/v1/orgs/{org}/projects/{project}/alert-rules/{rule_id}/test")]
pub async fn test_alert_rule(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<RulePath>,
) -> Result<HttpResponse, ApiError> {
    let (mut conn, project) =
        project_for(&state, &current, &path.org, &path.project, Role::Admin).await?;
    let row = super::alerts::send_test(&state, &mut conn, &project, path.rule_id).await?;
    let now = row.created_at;
    let out = DeliveryOut {
        id: row.id,
        rule_id: row.rule_id,
        issue_id: None,
        event_id: None,
        status: row.status,
        attempts: 0,
        next_attempt_at: row.next_attempt_at,
        last_status: None,
        last_error: None,
        payload: row.payload,
        created_at: now,
        updated_at: now,
    };
    Ok(HttpResponse::Accepted().json(out))
}

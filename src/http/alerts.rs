//! Alert rules of a project: members read, admins write.
//!
//! Bodies are validated by [`crate::domain::alerts`], whose errors name the field at fault
//! (`name`, `condition.kind`, `condition.threshold`, `action.url`, …). Rules are only stored
//! here; they fire in `crate::alerts` (docs/alerts.md), and their notifications are listed
//! and tested in `super::alert_deliveries`.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::access::{ProjectPath, project_for};
use super::pagination::{Page, PageParams};
use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::db::alerts::{self as db, AlertRule};
use crate::domain::{Role, RuleId};
use crate::error::ApiError;
use crate::http::client_ip::Origin;

mod changes;

pub(crate) use changes::{create, delete, rule_not_found, send_test, update};

/// The path of one alert rule.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RulePath {
    /// Organization slug.
    pub org: String,
    /// Project slug.
    pub project: String,
    /// The rule's id.
    pub rule_id: RuleId,
}

/// An alert rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertRuleOut {
    pub id: RuleId,
    pub name: String,
    pub enabled: bool,
    /// `{"kind":"new_issue"}`, `{"kind":"regression"}` or
    /// `{"kind":"event_frequency","threshold":N,"window_secs":S}`.
    #[schema(value_type = Object, example = json!({"kind": "event_frequency", "threshold": 100, "window_secs": 3600}))]
    pub condition: Value,
    /// `{"kind":"webhook","url":"https://…"}`, `{"kind":"email","to":["…"]}` or
    /// `{"kind":"log"}`.
    #[schema(value_type = Object, example = json!({"kind": "webhook", "url": "https://hooks.example.com/mesher"}))]
    pub action: Value,
    /// `{"min_level":"error","environment":"production"}`, both optional; `{}`: every event.
    #[schema(value_type = Object, example = json!({"min_level": "error"}))]
    pub filters: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The webhook signing secret (`whsec_…`, Standard Webhooks): in the creation's answer
    /// only, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<AlertRule> for AlertRuleOut {
    fn from(r: AlertRule) -> Self {
        Self {
            id: r.id,
            name: r.name,
            enabled: r.enabled,
            condition: r.condition,
            action: r.action,
            filters: r.filters,
            created_at: r.created_at,
            updated_at: r.updated_at,
            secret: None,
        }
    }
}

/// A new rule. Unknown fields, here or inside `condition`/`action`, are refused by name.
#[derive(Debug, ToSchema)]
pub struct AlertRuleCreate {
    /// 1..=200 characters (trimmed).
    pub name: String,
    /// Default `true`.
    pub enabled: Option<bool>,
    /// `kind`: `new_issue` | `regression` | `event_frequency` (with `threshold` 1..=1000000
    /// and `window_secs` 60..=604800).
    #[schema(value_type = Object, example = json!({"kind": "new_issue"}))]
    pub condition: Value,
    /// `kind`: `webhook` (with `url`: http or https, a host, ≤ 2048 characters) | `email`
    /// (with `to`: up to 20 addresses; absent or empty: every member of the organization) |
    /// `log`.
    #[schema(value_type = Object, example = json!({"kind": "log"}))]
    pub action: Value,
    /// Optional: `min_level` (debug, info, warning, error, fatal) and `environment`.
    #[schema(value_type = Option<Object>, example = json!({"min_level": "error"}))]
    pub filters: Option<Value>,
}

/// Changes to a rule: only the fields sent change (`null` means unchanged); a condition or
/// action replaces the current one whole, validated as on creation.
#[derive(Debug, ToSchema)]
pub struct AlertRulePatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub condition: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub action: Option<Value>,
    #[schema(value_type = Option<Object>)]
    pub filters: Option<Value>,
}

/// The project's alert rules (member).
#[utoipa::path(tag = "alerts", params(ProjectPath, PageParams),
    responses((status = 200, body = Page<AlertRuleOut>), (status = 400), (status = 401), (status = 404)))]
#[get("/api/v1/orgs/{org}/projects/{project}/alert-rules")]
pub async fn list_alert_rules(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<ProjectPath>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let (mut conn, project) =
        project_for(&state, &current, &path.org, &path.project, Role::Member).await?;
    let (limit, after) = (page.limit()?, page.cursor::<RuleId>()?);
    let rows = db::list_rules(&mut conn, project.id, after, limit + 1).await?;
    let rows = rows.into_iter().map(AlertRuleOut::from).collect();
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |r| r.id)))
}

/// Create an alert rule (admin). The answer carries the rule's webhook signing `secret`,
/// shown this once.
#[utoipa::path(tag = "alerts", params(ProjectPath), request_body = AlertRuleCreate,
    responses((status = 201, body = AlertRuleOut), (status = 400), (status = 401), (status = 403),
        (status = 404)))]
#[post("/api/v1/orgs/{org}/projects/{project}/alert-rules")]
pub async fn create_alert_rule(
    state: web::Data<AppState>,
    current: CurrentUser,
    origin: Origin,
    path: web::Path<ProjectPath>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let (mut conn, project) =
        project_for(&state, &current, &path.org, &path.project, Role::Admin).await?;
    let actor = origin.actor(&current.user);
    let (row, secret) = create(&mut conn, &actor, &project, &body, (state.clock)()).await?;
    let out = AlertRuleOut {
        secret: Some(secret),
        ..AlertRuleOut::from(row)
    };
    Ok(HttpResponse::Created().json(out))
}

/// One alert rule (member).
#[utoipa::path(tag = "alerts", params(RulePath),
    responses((status = 200, body = AlertRuleOut), (status = 401), (status = 404)))]
#[get("/api/v1/orgs/{org}/projects/{project}/alert-rules/{rule_id}")]
pub async fn get_alert_rule(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<RulePath>,
) -> Result<HttpResponse, ApiError> {
    let (mut conn, project) =
        project_for(&state, &current, &path.org, &path.project, Role::Member).await?;
    let row = db::find_rule(&mut conn, project.id, path.rule_id)
        .await?
        .ok_or_else(rule_not_found)?;
    Ok(HttpResponse::Ok().json(AlertRuleOut::from(row)))
}

/// Change an alert rule (admin); `updated_at` is set when anything is sent.
#[utoipa::path(tag = "alerts", params(RulePath), request_body = AlertRulePatch,
    responses((status = 200, body = AlertRuleOut), (status = 400), (status = 401), (status = 403),
        (status = 404)))]
#[patch("/api/v1/orgs/{org}/projects/{project}/alert-rules/{rule_id}")]
pub async fn update_alert_rule(
    state: web::Data<AppState>,
    current: CurrentUser,
    origin: Origin,
    path: web::Path<RulePath>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let (mut conn, project) =
        project_for(&state, &current, &path.org, &path.project, Role::Admin).await?;
    let actor = origin.actor(&current.user);
    let now = (state.clock)();
    let row = update(&mut conn, &actor, &project, path.rule_id, &body, now).await?;
    Ok(HttpResponse::Ok().json(AlertRuleOut::from(row)))
}

/// Delete an alert rule (admin).
#[utoipa::path(tag = "alerts", params(RulePath),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
#[delete("/api/v1/orgs/{org}/projects/{project}/alert-rules/{rule_id}")]
pub async fn delete_alert_rule(
    state: web::Data<AppState>,
    current: CurrentUser,
    origin: Origin,
    path: web::Path<RulePath>,
) -> Result<HttpResponse, ApiError> {
    let (mut conn, project) =
        project_for(&state, &current, &path.org, &path.project, Role::Admin).await?;
    delete(
        &mut conn,
        &origin.actor(&current.user),
        &project,
        path.rule_id,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

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
use crate::db::alerts::{self as db, AlertRule, AlertRuleChanges, NewAlertRule};
use crate::db::audit;
use crate::db::projects::Project;
use crate::domain::alerts as rules;
use crate::domain::{AuditAction, AuditEntry, Role, RuleId, TargetType};
use crate::error::ApiError;
use crate::http::client_ip::Origin;
use diesel::QueryResult;
use diesel_async::AsyncConnection;
use serde_json::json;

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

fn to_json(value: &impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

fn rule_not_found() -> ApiError {
    ApiError::not_found("no such alert rule in this project")
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
    let rule = rules::parse_new_rule(&body)?;
    let now = (state.clock)();
    let secret = crate::alerts::webhook::new_secret();
    let new = NewAlertRule {
        id: RuleId::new(),
        project_id: project.id,
        name: &rule.name,
        enabled: rule.enabled,
        condition: to_json(&rule.condition)?,
        action: to_json(&rule.action)?,
        created_at: now,
        updated_at: now,
        secret: &secret,
        filters: to_json(&rule.filters)?,
    };
    let entry = rule_entry(&project, AuditAction::AlertRuleCreated, new.id, new.name);
    let actor = origin.actor(&current.user);
    let row = conn
        .transaction(async |conn| {
            let row = db::create_rule(conn, &new).await?;
            audit::record(conn, &actor, &entry).await?;
            QueryResult::Ok(row)
        })
        .await?;
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
    let patch = rules::parse_rule_patch(&body)?;
    let row = if patch.is_empty() {
        db::find_rule(&mut conn, project.id, path.rule_id).await?
    } else {
        let changes = AlertRuleChanges {
            name: patch.name.as_deref(),
            enabled: patch.enabled,
            condition: patch.condition.as_ref().map(to_json).transpose()?,
            action: patch.action.as_ref().map(to_json).transpose()?,
            filters: patch.filters.as_ref().map(to_json).transpose()?,
        };
        let now = (state.clock)();
        let actor = origin.actor(&current.user);
        let fields: Vec<&str> = [
            ("name", changes.name.is_some()),
            ("enabled", changes.enabled.is_some()),
            ("condition", changes.condition.is_some()),
            ("action", changes.action.is_some()),
            ("filters", changes.filters.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, sent)| sent.then_some(field))
        .collect();
        conn.transaction(async |conn| {
            let row = db::update_rule(conn, project.id, path.rule_id, &changes, now).await?;
            if let Some(row) = &row {
                let mut entry =
                    rule_entry(&project, AuditAction::AlertRuleChanged, row.id, &row.name);
                entry.details["fields"] = json!(fields);
                audit::record(conn, &actor, &entry).await?;
            }
            QueryResult::Ok(row)
        })
        .await?
    };
    Ok(HttpResponse::Ok().json(AlertRuleOut::from(row.ok_or_else(rule_not_found)?)))
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
    let actor = origin.actor(&current.user);
    conn.transaction(async |conn| {
        let Some(rule) = db::find_rule(conn, project.id, path.rule_id).await? else {
            return Err(rule_not_found());
        };
        db::delete_rule(conn, project.id, rule.id).await?;
        let entry = rule_entry(&project, AuditAction::AlertRuleDeleted, rule.id, &rule.name);
        audit::record(conn, &actor, &entry).await?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The audit entry of a change to the rule `id` named `name` (never its action: a webhook
/// address may carry a secret).
fn rule_entry(project: &Project, action: AuditAction, id: RuleId, name: &str) -> AuditEntry {
    AuditEntry::org(project.org_id, action, TargetType::AlertRule)
        .target(id, name)
        .details(json!({ "project": project.slug }))
}

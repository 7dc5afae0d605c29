//! The changes to a project's alert rules, shared by the API's handlers (`http::alerts`,
//! `http::alert_deliveries`) and the web UI's alert pages (`web::pages::alerts`): each takes
//! a rule body as JSON (the API's, or the one a page builds from its form), validates it with
//! [`crate::domain::alerts`] (errors name the field), and records the change in the audit log
//! in the change's own transaction (`db::audit`). The caller has checked the role.

use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Serialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::alerts::{evaluator, payload};
use crate::db::alerts::{self as db, AlertRule, AlertRuleChanges, NewAlertRule};
use crate::db::audit;
use crate::db::deliveries::{self, NewDelivery};
use crate::db::projects::Project;
use crate::domain::alerts as rules;
use crate::domain::{Actor, AuditAction, AuditEntry, RuleId, TargetType};
use crate::error::ApiError;

fn to_json(value: &impl Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(ApiError::internal)
}

/// 404 for a rule that is not the project's.
pub(crate) fn rule_not_found() -> ApiError {
    ApiError::not_found("no such alert rule in this project")
}

/// The audit entry of a change to the rule `id` named `name` (never its action: a webhook
/// address may carry a secret).
fn rule_entry(project: &Project, action: AuditAction, id: RuleId, name: &str) -> AuditEntry {
    AuditEntry::org(project.org_id, action, TargetType::AlertRule)
        .target(id, name)
        .details(json!({ "project": project.slug }))
}

/// Creates the rule `body` describes (400 naming the field when it is invalid), with a new
/// webhook signing secret; answers the row and that secret, to be shown once.
pub(crate) async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    project: &Project,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<(AlertRule, String), ApiError> {
    let rule = rules::parse_new_rule(body)?;
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
    let entry = rule_entry(project, AuditAction::AlertRuleCreated, new.id, new.name);
    let row = conn
        .transaction(async |conn| {
            let row = db::create_rule(conn, &new).await?;
            audit::record(conn, actor, &entry).await?;
            QueryResult::Ok(row)
        })
        .await?;
    Ok((row, secret))
}

/// Applies the patch `body` to the project's rule `rule_id` (only the fields sent; an empty
/// patch changes nothing, not even `updated_at`, and records nothing).
pub(crate) async fn update(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    project: &Project,
    rule_id: RuleId,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<AlertRule, ApiError> {
    let patch = rules::parse_rule_patch(body)?;
    if patch.is_empty() {
        return db::find_rule(conn, project.id, rule_id)
            .await?
            .ok_or_else(rule_not_found);
    }
    let changes = AlertRuleChanges {
        name: patch.name.as_deref(),
        enabled: patch.enabled,
        condition: patch.condition.as_ref().map(to_json).transpose()?,
        action: patch.action.as_ref().map(to_json).transpose()?,
        filters: patch.filters.as_ref().map(to_json).transpose()?,
    };
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
    let row = conn
        .transaction(async |conn| {
            let row = db::update_rule(conn, project.id, rule_id, &changes, now).await?;
            if let Some(row) = &row {
                let mut entry =
                    rule_entry(project, AuditAction::AlertRuleChanged, row.id, &row.name);
                entry.details["fields"] = json!(fields);
                audit::record(conn, actor, &entry).await?;
            }
            QueryResult::Ok(row)
        })
        .await?;
    row.ok_or_else(rule_not_found)
}

/// Deletes the project's rule `rule_id` (404 when there is none).
pub(crate) async fn delete(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    project: &Project,
    rule_id: RuleId,
) -> Result<(), ApiError> {
    conn.transaction(async |conn| {
        let Some(rule) = db::find_rule(conn, project.id, rule_id).await? else {
            return Err(rule_not_found());
        };
        db::delete_rule(conn, project.id, rule.id).await?;
        let entry = rule_entry(project, AuditAction::AlertRuleDeleted, rule.id, &rule.name);
        audit::record(conn, actor, &entry).await?;
        Ok::<_, ApiError>(())
    })
    .await
}

/// Queues a test notification of the project's rule `rule_id` (`type` `alert.test`, no
/// issue), delivered by its action like any other; answers the queued row.
pub(crate) async fn send_test(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    project: &Project,
    rule_id: RuleId,
) -> Result<NewDelivery, ApiError> {
    let rule = db::find_rule(conn, project.id, rule_id)
        .await?
        .ok_or_else(rule_not_found)?;
    let context = deliveries::project_context(conn, project.id)
        .await?
        .ok_or_else(rule_not_found)?;
    let now = (state.clock)();
    let body = payload::notification(
        &rule,
        &context,
        None,
        None,
        "test",
        &state.settings.http.public_url,
        now,
    );
    let row = evaluator::pending(&rule, None, body, now);
    deliveries::insert(conn, std::slice::from_ref(&row)).await?;
    state.alerts.queued(1);
    Ok(row)
}

//! Alert rules of a project.
//!
//! Every query of one rule is scoped by `project_id` as well as the rule id, so a rule of
//! another project is never found through this one. The evaluator's snapshot
//! ([`enabled_rules_by_project`]) reads every project's enabled rules and keys them by their
//! own `project_id`.

use std::collections::HashMap;

use super::schema::alert_rules;
use crate::domain::{ProjectId, RuleId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

/// A row of `alert_rules`. `condition` and `action` hold the JSON of
/// [`crate::domain::alerts::Condition`] and [`crate::domain::alerts::Action`].
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alert_rules)]
pub struct AlertRule {
    pub id: RuleId,
    pub project_id: ProjectId,
    pub name: String,
    pub enabled: bool,
    pub condition: Value,
    pub action: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The Standard Webhooks signing secret (`whsec_…`); shown once, at creation.
    pub secret: String,
    /// The JSON of [`crate::domain::alerts::Filters`].
    pub filters: Value,
}

/// Insert form of [`AlertRule`].
#[derive(Debug, Insertable)]
#[diesel(table_name = alert_rules)]
pub struct NewAlertRule<'a> {
    pub id: RuleId,
    pub project_id: ProjectId,
    pub name: &'a str,
    pub enabled: bool,
    pub condition: Value,
    pub action: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub secret: &'a str,
    pub filters: Value,
}

/// Changes to a rule; `None` keeps the column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = alert_rules)]
pub struct AlertRuleChanges<'a> {
    pub name: Option<&'a str>,
    pub enabled: Option<bool>,
    pub condition: Option<Value>,
    pub action: Option<Value>,
    pub filters: Option<Value>,
}

/// Up to `limit` rules of the project after the rule `after`, by id (creation order).
pub async fn list_rules(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    after: Option<RuleId>,
    limit: i64,
) -> QueryResult<Vec<AlertRule>> {
    let mut query = alert_rules::table
        .filter(alert_rules::project_id.eq(project_id))
        .order(alert_rules::id.asc())
        .limit(limit)
        .select(AlertRule::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(alert_rules::id.gt(after));
    }
    query.load(conn).await
}

/// The enabled rules of every project, grouped by project, each project's in id order: the
/// evaluator's node-wide snapshot. One query, whatever the number of projects, so the
/// evaluator's reads do not grow with the projects that send events.
pub async fn enabled_rules_by_project(
    conn: &mut AsyncPgConnection,
) -> QueryResult<HashMap<ProjectId, Vec<AlertRule>>> {
    let rules: Vec<AlertRule> = alert_rules::table
        .filter(alert_rules::enabled.eq(true))
        .order((alert_rules::project_id.asc(), alert_rules::id.asc()))
        .select(AlertRule::as_select())
        .load(conn)
        .await?;
    let mut by_project: HashMap<ProjectId, Vec<AlertRule>> = HashMap::new();
    for rule in rules {
        by_project.entry(rule.project_id).or_default().push(rule);
    }
    Ok(by_project)
}

/// Inserts a rule.
pub async fn create_rule(
    conn: &mut AsyncPgConnection,
    new: &NewAlertRule<'_>,
) -> QueryResult<AlertRule> {
    diesel::insert_into(alert_rules::table)
        .values(new)
        .returning(AlertRule::as_returning())
        .get_result(conn)
        .await
}

/// The project's rule with this id, if any.
pub async fn find_rule(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    rule_id: RuleId,
) -> QueryResult<Option<AlertRule>> {
    alert_rules::table
        .filter(alert_rules::project_id.eq(project_id))
        .filter(alert_rules::id.eq(rule_id))
        .select(AlertRule::as_select())
        .first(conn)
        .await
        .optional()
}

/// Applies `changes` to the project's rule and sets `updated_at`; `None` when there is no
/// such rule.
pub async fn update_rule(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    rule_id: RuleId,
    changes: &AlertRuleChanges<'_>,
    updated_at: DateTime<Utc>,
) -> QueryResult<Option<AlertRule>> {
    diesel::update(
        alert_rules::table
            .filter(alert_rules::project_id.eq(project_id))
            .filter(alert_rules::id.eq(rule_id)),
    )
    .set((changes, alert_rules::updated_at.eq(updated_at)))
    .returning(AlertRule::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Deletes the project's rule; false when there was no such rule.
pub async fn delete_rule(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    rule_id: RuleId,
) -> QueryResult<bool> {
    diesel::delete(
        alert_rules::table
            .filter(alert_rules::project_id.eq(project_id))
            .filter(alert_rules::id.eq(rule_id)),
    )
    .execute(conn)
    .await
    .map(|n| n > 0)
}

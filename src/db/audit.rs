//! The audit log: [`record`] inserts an entry with the connection of the change it records
//! (call it inside that change's transaction, so both commit or neither does), and
//! [`page`] reads an organization's or an account's entries, newest first.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use super::schema::audit_log;
use crate::domain::{Actor, AuditAction, AuditEntry, AuditId, OrgId, UserId};

/// A row of `audit_log`.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: AuditId,
    /// The organization of the change (`null` on account entries).
    #[schema(value_type = Option<uuid::Uuid>)]
    pub org_id: Option<OrgId>,
    /// The account an account entry is about (`null` on organization entries).
    #[schema(value_type = Option<uuid::Uuid>)]
    pub user_id: Option<UserId>,
    /// Who acted (`null`: nobody signed in, as in a failed login).
    #[schema(value_type = Option<uuid::Uuid>)]
    pub actor_user_id: Option<UserId>,
    /// The actor's email (for a failed login: the email tried).
    #[serde(rename = "actor")]
    pub actor_label: String,
    pub action: AuditAction,
    /// `user`, `session`, `token`, `organization`, `member`, `project`, `key` or `alert_rule`.
    pub target_type: String,
    pub target_id: Option<String>,
    /// The target's name, email or label at the time.
    pub target_label: Option<String>,
    /// The client address (behind `http.trusted_proxies`, the one they name).
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// What changed (e.g. `{"from":"member","to":"admin"}`); never a secret.
    #[schema(value_type = Object)]
    pub details: Value,
    pub created_at: DateTime<Utc>,
}

/// Records `entry`, done by `actor`, on `conn` (inside the change's transaction).
pub async fn record(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    entry: &AuditEntry,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(AuditId::new()),
            audit_log::org_id.eq(entry.org_id),
            audit_log::user_id.eq(entry.user_id),
            audit_log::actor_user_id.eq(actor.user_id),
            audit_log::actor_label.eq(&actor.label),
            audit_log::action.eq(entry.action),
            audit_log::target_type.eq(entry.target_type.as_str()),
            audit_log::target_id.eq(entry.target_id.as_deref()),
            audit_log::target_label.eq(entry.target_label.as_deref()),
            audit_log::ip.eq(actor.ip.as_deref()),
            audit_log::user_agent.eq(actor.user_agent.as_deref()),
            audit_log::details.eq(&entry.details),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// Whose log is read.
#[derive(Debug, Clone, Copy)]
pub enum AuditScope {
    /// An organization's entries.
    Org(OrgId),
    /// An account's own entries.
    Account(UserId),
}

/// Who acted, as the `actor` filter names them.
#[derive(Debug, Clone)]
pub enum ActorFilter {
    User(UserId),
    /// The actor's label (an email, lower-cased).
    Label(String),
}

/// The filters of a log page.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<AuditAction>,
    pub actor: Option<ActorFilter>,
}

/// Up to `limit` entries of `scope` matching `filter`, newest first, after the entry
/// `after` (its time and id) when given.
pub async fn page(
    conn: &mut AsyncPgConnection,
    scope: AuditScope,
    filter: &AuditFilter,
    after: Option<(DateTime<Utc>, AuditId)>,
    limit: i64,
) -> QueryResult<Vec<AuditRow>> {
    let mut query = audit_log::table
        .select(AuditRow::as_select())
        .order((audit_log::created_at.desc(), audit_log::id.desc()))
        .limit(limit)
        .into_boxed();
    query = match scope {
        AuditScope::Org(org_id) => query.filter(audit_log::org_id.eq(org_id)),
        AuditScope::Account(user_id) => query.filter(audit_log::user_id.eq(user_id)),
    };
    if let Some(action) = filter.action {
        query = query.filter(audit_log::action.eq(action));
    }
    query = match &filter.actor {
        None => query,
        Some(ActorFilter::User(id)) => query.filter(audit_log::actor_user_id.eq(*id)),
        Some(ActorFilter::Label(label)) => query.filter(audit_log::actor_label.eq(label.clone())),
    };
    if let Some((at, id)) = after {
        query = query.filter(
            audit_log::created_at
                .lt(at)
                .or(audit_log::created_at.eq(at).and(audit_log::id.lt(id))),
        );
    }
    query.load(conn).await
}

//! The audit log's vocabulary: what was done (`AuditAction`, stored as text with a CHECK
//! naming the same values), by whom and from where (`Actor`), to what (`AuditEntry`'s
//! target) and the details (never a secret: no password, token, key or hash goes in).

use serde_json::Value;

use super::ids::{OrgId, UserId};
use super::text_enum::text_enum;

text_enum! {
    /// What an audit entry records.
    pub enum AuditAction / UnknownAuditAction (
        "action must be one of login_succeeded, login_failed, logout, password_changed, \
         token_created, token_revoked, org_created, org_renamed, org_deleted, member_added, \
         member_removed, member_role_changed, project_created, project_deleted, key_created, \
         key_revoked, alert_rule_created, alert_rule_changed, alert_rule_deleted"
    ) {
        /// A password login opened a session (account).
        LoginSucceeded = "login_succeeded",
        /// A login with a wrong password or an unknown email (account, when the email is one).
        LoginFailed = "login_failed",
        /// A session was ended by signing out (account).
        Logout = "logout",
        /// The account's password was changed (account).
        PasswordChanged = "password_changed",
        /// A user token was created (account).
        TokenCreated = "token_created",
        /// A user token was revoked (account).
        TokenRevoked = "token_revoked",
        /// An organization was created.
        OrgCreated = "org_created",
        /// An organization was renamed.
        OrgRenamed = "org_renamed",
        /// An organization was deleted.
        OrgDeleted = "org_deleted",
        /// A user was added to an organization.
        MemberAdded = "member_added",
        /// A member was removed, or left.
        MemberRemoved = "member_removed",
        /// A member's role changed.
        MemberRoleChanged = "member_role_changed",
        /// A project was created.
        ProjectCreated = "project_created",
        /// A project was deleted.
        ProjectDeleted = "project_deleted",
        /// A project key was created.
        KeyCreated = "key_created",
        /// A project key was revoked.
        KeyRevoked = "key_revoked",
        /// An alert rule was created.
        AlertRuleCreated = "alert_rule_created",
        /// An alert rule was changed.
        AlertRuleChanged = "alert_rule_changed",
        /// An alert rule was deleted.
        AlertRuleDeleted = "alert_rule_deleted",
    }
}

/// Longest user agent kept (longer ones are cut).
pub const MAX_USER_AGENT_CHARS: usize = 512;
/// Longest actor label kept (an email tried at login may be anything).
pub const MAX_LABEL_CHARS: usize = 320;

/// Who acted, and from where.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actor {
    /// The signed-in user (`None`: nobody was signed in, as in a failed login).
    pub user_id: Option<UserId>,
    /// The user's email (or, for a failed login, the email tried).
    pub label: String,
    /// The client address (behind trusted proxies, the one they name).
    pub ip: Option<String>,
    /// The `User-Agent` sent, cut at [`MAX_USER_AGENT_CHARS`].
    pub user_agent: Option<String>,
}

impl Actor {
    /// `user` (with their email) acting from `ip` with `user_agent`.
    pub fn new(
        user_id: Option<UserId>,
        label: &str,
        ip: Option<String>,
        user_agent: Option<&str>,
    ) -> Self {
        Self {
            user_id,
            label: cut(label, MAX_LABEL_CHARS).to_owned(),
            ip,
            user_agent: user_agent.map(|ua| cut(ua, MAX_USER_AGENT_CHARS).to_owned()),
        }
    }

    /// The same origin, acted on by another identity (a login: the account found).
    pub fn as_user(&self, user_id: Option<UserId>, label: &str) -> Self {
        Self {
            user_id,
            label: cut(label, MAX_LABEL_CHARS).to_owned(),
            ..self.clone()
        }
    }
}

/// At most `max` characters of `s`.
fn cut(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// What the change touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetType {
    User,
    Session,
    Token,
    Org,
    Member,
    Project,
    Key,
    AlertRule,
}

impl TargetType {
    /// The name stored in `audit_log.target_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::User => "user",
            TargetType::Session => "session",
            TargetType::Token => "token",
            TargetType::Org => "organization",
            TargetType::Member => "member",
            TargetType::Project => "project",
            TargetType::Key => "key",
            TargetType::AlertRule => "alert_rule",
        }
    }
}

/// One entry to record: the scope (an organization, an account, or both unknown for a
/// failed login of an unknown email), the action, the target and the details.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// The organization the change belongs to (org entries).
    pub org_id: Option<OrgId>,
    /// The account the entry is about (account entries).
    pub user_id: Option<UserId>,
    pub action: AuditAction,
    pub target_type: TargetType,
    pub target_id: Option<String>,
    pub target_label: Option<String>,
    /// A JSON object; never a secret.
    pub details: Value,
}

impl AuditEntry {
    /// An entry of organization `org_id`.
    pub fn org(org_id: OrgId, action: AuditAction, target_type: TargetType) -> Self {
        Self::new(Some(org_id), None, action, target_type)
    }

    /// An entry of the account `user_id`.
    pub fn account(user_id: Option<UserId>, action: AuditAction, target_type: TargetType) -> Self {
        Self::new(None, user_id, action, target_type)
    }

    fn new(
        org_id: Option<OrgId>,
        user_id: Option<UserId>,
        action: AuditAction,
        target_type: TargetType,
    ) -> Self {
        Self {
            org_id,
            user_id,
            action,
            target_type,
            target_id: None,
            target_label: None,
            details: Value::Object(Default::default()),
        }
    }

    /// The target's id and its readable name.
    pub fn target(mut self, id: impl ToString, label: impl Into<String>) -> Self {
        self.target_id = Some(id.to_string());
        self.target_label = Some(label.into());
        self
    }

    /// The details (a JSON object).
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_and_actors_are_cut() {
        for &action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(action));
        }
        assert_eq!(AuditAction::ALL.len(), 19);
        assert_eq!("Logout".parse::<AuditAction>(), Err(UnknownAuditAction));
        let actor = Actor::new(None, &"é".repeat(400), None, Some(&"x".repeat(600)));
        assert_eq!(actor.label.chars().count(), MAX_LABEL_CHARS);
        assert_eq!(actor.user_agent.unwrap().len(), MAX_USER_AGENT_CHARS);
    }
}

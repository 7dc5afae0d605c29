//! What a notification says: the webhook body, also the source of an e-mail's text and of
//! the log line. Fixed when the rule fires (stored in the delivery row), so every attempt
//! sends the same bytes.
//!
//! ```json
//! {"type": "alert.triggered", "timestamp": "2026-12-03T08:00:00Z",
//!  "data": {"trigger": "new_issue",
//!           "rule": {"id": "…", "name": "…", "condition": {"kind": "new_issue"}},
//!           "project": {"id": "…", "org": "acme", "slug": "web", "name": "Web"},
//!           "issue": {"id": "…", "title": "…", "culprit": "…", "level": "error",
//!                     "status": "unresolved", "times_seen": 1, "first_seen": "…",
//!                     "last_seen": "…", "url": "https://mesher…/acme/web/issues/…",
//!                     "api_url": "https://mesher…/api/v1/orgs/acme/projects/web/issues/…"},
//!           "event_id": "…"}}
//! ```
//!
//! A test notification (`POST …/alert-rules/{id}/test`) has `type` `alert.test`, `trigger`
//! `test`, and `issue` and `event_id` null.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::db::alerts::AlertRule;
use crate::db::deliveries::ProjectContext;
use crate::db::issues::Issue;
use crate::domain::EventId;

/// The `type` of a notification a rule's condition triggered.
pub const TRIGGERED: &str = "alert.triggered";
/// The `type` of a test notification.
pub const TEST: &str = "alert.test";

/// The notification of `rule` firing on `trigger` for `issue` (none for a test).
pub fn notification(
    rule: &AlertRule,
    project: &ProjectContext,
    issue: Option<&Issue>,
    event_id: Option<EventId>,
    trigger: &str,
    public_url: &str,
    now: DateTime<Utc>,
) -> Value {
    let base = public_url.trim_end_matches('/');
    let (org, slug) = (&project.org_slug, &project.slug);
    let issue = issue.map(|i| {
        json!({
            "id": i.id,
            "title": i.title,
            "culprit": i.culprit,
            "level": i.level,
            "status": i.status,
            "times_seen": i.times_seen,
            "first_seen": i.first_seen,
            "last_seen": i.last_seen,
            "url": format!("{base}/{org}/{slug}/issues/{}", i.id),
            "api_url": format!("{base}/api/v1/orgs/{org}/projects/{slug}/issues/{}", i.id),
        })
    });
    json!({
        "type": if trigger == "test" { TEST } else { TRIGGERED },
        "timestamp": now,
        "data": {
            "trigger": trigger,
            "rule": {"id": rule.id, "name": rule.name, "condition": rule.condition},
            "project": {"id": project.id, "org": org, "slug": slug, "name": project.name},
            "issue": issue,
            "event_id": event_id,
        }
    })
}

/// A one-line summary: `[org/project] rule: issue title` (or `… test notification`).
pub fn subject(payload: &Value) -> String {
    let data = &payload["data"];
    let what = data["issue"]["title"]
        .as_str()
        .map_or_else(|| "test notification".to_owned(), str::to_owned);
    format!(
        "[{}/{}] {}: {}",
        data["project"]["org"].as_str().unwrap_or("?"),
        data["project"]["slug"].as_str().unwrap_or("?"),
        data["rule"]["name"].as_str().unwrap_or("alert"),
        what
    )
}

/// The plain-text body of an e-mail: the summary, the trigger, the issue's facts and link.
pub fn text(payload: &Value) -> String {
    let data = &payload["data"];
    let mut out = format!(
        "{}\n\nTrigger: {}\n",
        subject(payload),
        data["trigger"].as_str().unwrap_or("?")
    );
    let issue = &data["issue"];
    if issue.is_object() {
        for (label, key) in [
            ("Level", "level"),
            ("Status", "status"),
            ("Culprit", "culprit"),
            ("Times seen", "times_seen"),
            ("First seen", "first_seen"),
            ("Last seen", "last_seen"),
        ] {
            match &issue[key] {
                Value::Null => {}
                Value::String(s) => out.push_str(&format!("{label}: {s}\n")),
                v => out.push_str(&format!("{label}: {v}\n")),
            }
        }
        if let Some(event) = data["event_id"].as_str() {
            out.push_str(&format!("Event: {event}\n"));
        }
        if let Some(url) = issue["url"].as_str() {
            out.push_str(&format!("\n{url}\n"));
        }
    } else {
        out.push_str("\nThis is a test notification of the rule; no issue triggered it.\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IssueId, IssueStatus, Level, ProjectId, RuleId};

    #[test]
    fn a_notification_carries_the_issue_and_its_link() {
        let now = Utc::now();
        let rule = AlertRule {
            id: RuleId::new(),
            project_id: ProjectId::new(),
            name: "New errors".into(),
            enabled: true,
            condition: json!({"kind": "new_issue"}),
            action: json!({"kind": "log"}),
            created_at: now,
            updated_at: now,
            secret: "whsec_x".into(),
            filters: json!({}),
        };
        let project = ProjectContext {
            id: rule.project_id,
            org_slug: "acme".into(),
            slug: "web".into(),
            name: "Web".into(),
        };
        let issue = Issue {
            id: IssueId::new(),
            project_id: rule.project_id,
            fingerprint_hash: "0".repeat(64),
            fingerprint: json!([]),
            title: "ValueError: bad".into(),
            culprit: Some("app.views".into()),
            level: Level::Error,
            status: IssueStatus::Unresolved,
            first_seen: now,
            last_seen: now,
            times_seen: 3,
            created_at: now,
            updated_at: now,
        };
        let event = EventId::new();
        let p = notification(
            &rule,
            &project,
            Some(&issue),
            Some(event),
            "new_issue",
            "https://m.example/",
            now,
        );
        assert_eq!(p["type"], TRIGGERED);
        assert_eq!(
            p["data"]["issue"]["url"],
            format!("https://m.example/acme/web/issues/{}", issue.id)
        );
        assert_eq!(p["data"]["issue"]["times_seen"], 3);
        assert_eq!(p["data"]["event_id"], event.to_string());
        assert_eq!(subject(&p), "[acme/web] New errors: ValueError: bad");
        assert!(text(&p).contains("Culprit: app.views"));
        let t = notification(&rule, &project, None, None, "test", "http://h", now);
        assert_eq!(
            (t["type"].as_str(), &t["data"]["issue"]),
            (Some(TEST), &Value::Null)
        );
        assert!(text(&t).contains("test notification"));
    }
}

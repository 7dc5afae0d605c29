//! Which rules a committed batch triggers: plain values in, candidates out, no I/O.
//!
//! For every issue of the batch and every enabled rule of its project, the rule's filters
//! pick the batch's events that may trigger it (at least `min_level`, of `environment`); with
//! none, the rule is not triggered. Then:
//! - `new_issue`: the batch created the issue;
//! - `regression`: the batch reopened a resolved issue;
//! - `event_frequency`: the issue has been seen at least `threshold` times in all — the
//!   evaluator then counts its events within `window_secs` before firing.
//!
//! A candidate still has to win the throttle (one notification per rule per issue per
//! [`quiet_secs`]) before it becomes a notification.

use crate::domain::alerts::{Condition, Filters};
use crate::domain::{BatchFacts, EventId, IssueId, RuleId};

/// A rule as the evaluator needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleView {
    pub id: RuleId,
    pub condition: Condition,
    pub filters: Filters,
}

/// A rule the batch may trigger for one issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub rule_id: RuleId,
    pub issue_id: IssueId,
    /// The first of the batch's events of the issue that passed the rule's filters.
    pub event_id: EventId,
    /// `new_issue`, `regression` or `event_frequency`.
    pub trigger: &'static str,
    /// For `event_frequency`: (threshold, window_secs) to check against the stored events.
    pub frequency: Option<(u32, u32)>,
}

/// The candidates of `facts` under `rules`, issue by issue, rule by rule.
pub fn candidates(facts: &BatchFacts, rules: &[RuleView]) -> Vec<Candidate> {
    let mut out = Vec::new();
    for issue in &facts.issues {
        for rule in rules {
            let Some(event) = issue
                .events
                .iter()
                .find(|e| rule.filters.admit(e.level, e.environment.as_deref()))
            else {
                continue;
            };
            let (trigger, frequency) = match rule.condition {
                Condition::NewIssue if issue.created => ("new_issue", None),
                Condition::Regression if issue.regressed => ("regression", None),
                Condition::EventFrequency {
                    threshold,
                    window_secs,
                } if issue.times_seen >= i64::from(threshold) => {
                    ("event_frequency", Some((threshold, window_secs)))
                }
                _ => continue,
            };
            out.push(Candidate {
                rule_id: rule.id,
                issue_id: issue.issue_id,
                event_id: event.id,
                trigger,
                frequency,
            });
        }
    }
    out
}

/// How long after firing for an issue a rule stays quiet for it: the cooldown, or the
/// `event_frequency` window when that is longer (so it fires once per window).
pub fn quiet_secs(condition: &Condition, cooldown_secs: u64) -> i64 {
    let window = match condition {
        Condition::EventFrequency { window_secs, .. } => u64::from(*window_secs),
        _ => 0,
    };
    cooldown_secs.max(window) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventFact, IssueFact, IssueStatus, Level, ProjectId};

    fn event(level: Level, env: Option<&str>) -> EventFact {
        EventFact {
            id: EventId::new(),
            received_at: chrono::Utc::now(),
            level,
            environment: env.map(str::to_owned),
            message: "boom".into(),
        }
    }

    fn issue(created: bool, regressed: bool, times_seen: i64, events: Vec<EventFact>) -> IssueFact {
        IssueFact {
            issue_id: IssueId::new(),
            created,
            regressed,
            times_seen,
            status: IssueStatus::Unresolved,
            level: Level::Error,
            last_seen: chrono::Utc::now(),
            events,
        }
    }

    fn rule(condition: Condition, filters: Filters) -> RuleView {
        RuleView {
            id: RuleId::new(),
            condition,
            filters,
        }
    }

    #[test]
    fn each_condition_fires_on_its_fact_only() {
        let new = issue(true, false, 1, vec![event(Level::Error, None)]);
        let reopened = issue(false, true, 7, vec![event(Level::Error, None)]);
        let busy = issue(false, false, 50, vec![event(Level::Error, None)]);
        let facts = BatchFacts {
            project_id: ProjectId::new(),
            issues: vec![new.clone(), reopened.clone(), busy.clone()],
        };
        let frequency = Condition::EventFrequency {
            threshold: 10,
            window_secs: 60,
        };
        let rules = [
            rule(Condition::NewIssue, Filters::default()),
            rule(Condition::Regression, Filters::default()),
            rule(frequency, Filters::default()),
        ];
        type Fired<'a> = (IssueId, &'a str, Option<(u32, u32)>);
        let got: Vec<Fired> = candidates(&facts, &rules)
            .into_iter()
            .map(|c| (c.issue_id, c.trigger, c.frequency))
            .collect();
        assert_eq!(
            got,
            vec![
                (new.issue_id, "new_issue", None),
                (reopened.issue_id, "regression", None),
                (busy.issue_id, "event_frequency", Some((10, 60))),
            ]
        );
    }

    #[test]
    fn filters_pick_the_triggering_event_or_none() {
        let first = event(Level::Warning, Some("production"));
        let second = event(Level::Error, Some("production"));
        let staging = event(Level::Fatal, Some("staging"));
        let facts = BatchFacts {
            project_id: ProjectId::new(),
            issues: vec![issue(true, false, 3, vec![first, second.clone(), staging])],
        };
        let cases = [
            (None, None, true),
            (Some(Level::Error), Some("production"), true),
            (Some(Level::Fatal), Some("production"), false),
            (None, Some("development"), false),
        ];
        for (min_level, env, fires) in cases {
            let filters = Filters {
                min_level,
                environment: env.map(str::to_owned),
            };
            let found = candidates(&facts, &[rule(Condition::NewIssue, filters)]);
            assert_eq!(found.len() == 1, fires, "{min_level:?} {env:?}");
            if min_level == Some(Level::Error) {
                assert_eq!(found[0].event_id, second.id);
            }
        }
    }

    #[test]
    fn quiet_period_is_the_longer_of_cooldown_and_window() {
        let f = |w| Condition::EventFrequency {
            threshold: 1,
            window_secs: w,
        };
        assert_eq!(quiet_secs(&Condition::NewIssue, 600), 600);
        assert_eq!(quiet_secs(&f(3600), 600), 3600);
        assert_eq!(quiet_secs(&f(60), 600), 600);
        assert_eq!(quiet_secs(&Condition::Regression, 0), 0);
    }
}

//! The node's alert evaluator: one task per node, fed the facts of every committed batch by
//! the [`FactsBus`](crate::ingest::FactsBus) (a `try_send`: a writer never waits for it, and
//! facts it cannot take in time are counted as dropped, never the events). For each batch it
//! looks up the project's enabled rules, picks the [candidates](super::evaluate), checks
//! `event_frequency` counts against the stored events, and — for each candidate that wins
//! the cross-node throttle — queues a notification row, in one transaction.
//!
//! The rules come from a node-wide snapshot: the enabled rules of every project, read in one
//! query at most once per [`RULES_TTL`] and only when a batch arrives (a rule created,
//! changed or disabled applies within it). So the evaluator costs the pool one short query a
//! second at most, whatever the number of projects sending events and their batch rates; a
//! project without rules adds no query of its own. Each read is counted
//! (`mesher_alert_rules_reads_total`).
//!
//! Supervised: a batch whose evaluation fails (database error) or panics is counted and
//! logged, and the evaluator goes on with the next one.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel_async::AsyncConnection;
use futures_util::FutureExt;
use tokio::sync::mpsc;

use super::evaluate::{self, Candidate, RuleView};
use super::{AlertCounters, Alerts, payload};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::alerts::{self as rules_db, AlertRule};
use crate::db::deliveries::{self as db, NewDelivery};
use crate::db::{DbError, DbPool};
use crate::domain::alerts::{Condition, DeliveryStatus, Filters};
use crate::domain::{BatchFacts, DeliveryId, ProjectId};

/// How long the evaluator keeps its snapshot of the enabled rules.
pub const RULES_TTL: Duration = Duration::from_secs(1);

/// The enabled rules of every project that has any, as read at `read` (taken before the
/// query, so a change committed during it is read again within [`RULES_TTL`]).
struct RulesSnapshot {
    read: Instant,
    by_project: HashMap<ProjectId, Arc<Vec<AlertRule>>>,
}

/// The evaluator's tools.
#[derive(Clone)]
pub struct Evaluator {
    pub pool: DbPool,
    pub settings: Arc<Settings>,
    pub alerts: Alerts,
    pub clock: Clock,
}

impl Evaluator {
    /// Runs until the facts channel closes (the writers are gone).
    pub async fn run(self, mut facts: mpsc::Receiver<Arc<BatchFacts>>) {
        let mut snapshot = None;
        while let Some(batch) = facts.recv().await {
            let counters = &self.alerts.counters;
            let evaluated = AssertUnwindSafe(self.evaluate(&batch, &mut snapshot));
            match evaluated.catch_unwind().await {
                Ok(Ok(queued)) => self.alerts.queued(queued),
                Ok(Err(error)) => {
                    AlertCounters::add(&counters.evaluator_errors, 1);
                    crate::log_limited!(warn, %error, project = %batch.project_id, "alert evaluator: batch not evaluated");
                }
                Err(_) => {
                    AlertCounters::add(&counters.evaluator_panics, 1);
                    crate::log_limited!(error, project = %batch.project_id, "alert evaluator panicked on a batch; going on with the next");
                }
            }
        }
    }

    /// The enabled rules of `project`, from `snapshot`, read again first when it is missing
    /// or older than [`RULES_TTL`]. `None`: the project has no enabled rule.
    async fn rules_of(
        &self,
        project: ProjectId,
        snapshot: &mut Option<RulesSnapshot>,
    ) -> Result<Option<Arc<Vec<AlertRule>>>, DbError> {
        if snapshot
            .as_ref()
            .is_none_or(|s| s.read.elapsed() >= RULES_TTL)
        {
            *snapshot = Some(self.read_rules().await?);
        }
        Ok(snapshot
            .as_ref()
            .and_then(|s| s.by_project.get(&project).cloned()))
    }

    /// Reads the enabled rules of every project (one query), and counts the read.
    async fn read_rules(&self) -> Result<RulesSnapshot, DbError> {
        let read = Instant::now();
        let mut conn = self.pool.get().await?;
        let rules = rules_db::enabled_rules_by_project(&mut conn).await?;
        AlertCounters::add(&self.alerts.counters.rules_reads, 1);
        let by_project = rules
            .into_iter()
            .map(|(project, rules)| (project, Arc::new(rules)))
            .collect();
        Ok(RulesSnapshot { read, by_project })
    }

    /// Evaluates one batch; answers how many notifications it queued.
    async fn evaluate(
        &self,
        batch: &BatchFacts,
        snapshot: &mut Option<RulesSnapshot>,
    ) -> Result<u64, DbError> {
        if self.settings.alerts.crash_evaluator {
            panic!("alerts.crash_evaluator is on: the evaluator panics on purpose");
        }
        let Some(rules) = self.rules_of(batch.project_id, snapshot).await? else {
            return Ok(0);
        };
        let views: Vec<RuleView> = rules.iter().filter_map(view).collect();
        let candidates = evaluate::candidates(batch, &views);
        if candidates.is_empty() {
            return Ok(0);
        }
        let mut conn = self.pool.get().await?;
        let now = (self.clock)();
        let cooldown = self.settings.alerts.cooldown_secs;
        let mut due: Vec<Candidate> = Vec::new();
        for c in candidates {
            // Within the quiet period the throttle cannot be won: skip the count.
            let quiet = views
                .iter()
                .find(|v| v.id == c.rule_id)
                .map_or(0, |v| evaluate::quiet_secs(&v.condition, cooldown));
            if db::is_quiet(&mut conn, c.rule_id, c.issue_id, now, quiet).await? {
                continue;
            }
            if let Some((threshold, window_secs)) = c.frequency {
                let since = now - chrono::Duration::seconds(i64::from(window_secs));
                let seen =
                    db::recent_events(&mut conn, c.issue_id, since, i64::from(threshold)).await?;
                if seen < i64::from(threshold) {
                    continue;
                }
            }
            due.push(c);
        }
        if due.is_empty() {
            return Ok(0);
        }
        let Some(project) = db::project_context(&mut conn, batch.project_id).await? else {
            return Ok(0);
        };
        let issue_ids: Vec<_> = due.iter().map(|c| c.issue_id).collect();
        let issues: HashMap<_, _> = db::issues_by_id(&mut conn, &issue_ids)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        let by_id: HashMap<_, _> = rules.iter().map(|r| (r.id, r)).collect();
        let public_url = self.settings.http.public_url.as_str();
        let queued = conn
            .transaction(async |conn| {
                let mut rows = Vec::new();
                for c in &due {
                    let (Some(rule), Some(issue)) =
                        (by_id.get(&c.rule_id), issues.get(&c.issue_id))
                    else {
                        continue;
                    };
                    let condition = views
                        .iter()
                        .find(|v| v.id == c.rule_id)
                        .map_or(Condition::NewIssue, |v| v.condition.clone());
                    let quiet = evaluate::quiet_secs(&condition, cooldown);
                    if !db::claim_throttle(conn, c.rule_id, c.issue_id, now, quiet).await? {
                        continue;
                    }
                    let body = payload::notification(
                        rule,
                        &project,
                        Some(issue),
                        Some(c.event_id),
                        c.trigger,
                        public_url,
                        now,
                    );
                    rows.push(pending(rule, Some(c), body, now));
                }
                db::insert(conn, &rows).await.map(|n| n as u64)
            })
            .await?;
        Ok(queued)
    }
}

/// The rule as the evaluator reads it; a rule whose stored JSON does not parse is skipped.
fn view(rule: &AlertRule) -> Option<RuleView> {
    let condition = serde_json::from_value(rule.condition.clone()).ok()?;
    let filters: Filters = serde_json::from_value(rule.filters.clone()).unwrap_or_default();
    Some(RuleView {
        id: rule.id,
        condition,
        filters,
    })
}

/// A pending notification of `rule`, due at once.
pub fn pending(
    rule: &AlertRule,
    candidate: Option<&Candidate>,
    payload: serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> NewDelivery {
    NewDelivery {
        id: DeliveryId::new(),
        rule_id: rule.id,
        issue_id: candidate.map(|c| c.issue_id),
        event_id: candidate.map(|c| c.event_id),
        payload,
        next_attempt_at: now,
        status: DeliveryStatus::Pending,
        created_at: now,
        updated_at: now,
    }
}

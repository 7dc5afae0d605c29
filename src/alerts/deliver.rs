//! The node's delivery worker: claims due notifications (`FOR UPDATE SKIP LOCKED`, so the
//! workers of several nodes share them and none is sent twice at once), attempts them all
//! concurrently, and records each outcome: `delivered`; `pending` again after an exponential
//! backoff; or `failed` after `alerts.max_attempts` or when retrying cannot help. A claimed
//! row carries a lease: if its node dies mid-attempt the row is due again when it ends, so
//! queued notifications survive restarts.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;

use super::email::Mailer;
use super::webhook::{SendError, Webhooks};
use super::{AlertCounters, Alerts, payload};
use crate::clock::Clock;
use crate::config::AlertsSettings;
use crate::db::deliveries::{self as db, AttemptOutcome, Delivery};
use crate::db::{DbError, DbPool};
use crate::domain::alerts::{Action, DeliveryStatus};

/// Rows one claim takes at most.
const CLAIM_BATCH: i64 = 32;
/// How long a claimed row stays with its worker: longer than any attempt (10 s).
const LEASE: Duration = Duration::from_secs(60);

/// The wait before the attempt after failed attempt number `attempts` (1-based):
/// `base_ms` doubling, at most `max_ms`.
pub fn backoff(attempts: i32, base_ms: u64, max_ms: u64) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
    Duration::from_millis(base_ms.saturating_mul(1u64 << doublings).min(max_ms))
}

/// What an attempt that ended with `result` leaves the row as, after `attempts` attempts.
pub fn outcome(
    result: Result<Option<u16>, SendError>,
    attempts: i32,
    settings: &AlertsSettings,
    now: DateTime<Utc>,
) -> AttemptOutcome {
    match result {
        Ok(status) => AttemptOutcome {
            status: DeliveryStatus::Delivered,
            next_attempt_at: now,
            last_status: status.map(i32::from),
            last_error: None,
        },
        Err(e) => {
            let give_up = e.permanent || attempts >= settings.max_attempts as i32;
            let wait = backoff(attempts, settings.retry_base_ms, settings.retry_max_ms);
            AttemptOutcome {
                status: if give_up {
                    DeliveryStatus::Failed
                } else {
                    DeliveryStatus::Pending
                },
                next_attempt_at: if give_up {
                    now
                } else {
                    now + chrono::Duration::from_std(wait).unwrap_or_default()
                },
                last_status: e.status.map(i32::from),
                last_error: Some(e.message),
            }
        }
    }
}

/// The worker's tools.
#[derive(Clone)]
pub struct Worker {
    pub pool: DbPool,
    pub settings: AlertsSettings,
    pub webhooks: Webhooks,
    pub mailer: Mailer,
    pub alerts: Alerts,
    pub clock: Clock,
}

impl Worker {
    /// Runs forever: claims and attempts due rows, then waits for the poll interval or for
    /// this node to queue a notification.
    pub async fn run(self) {
        let poll = Duration::from_millis(self.settings.poll_interval_ms);
        loop {
            match self.round().await {
                Ok(n) if n as i64 >= CLAIM_BATCH => continue,
                Ok(_) => {}
                Err(error) => {
                    crate::log_limited!(warn, %error, "alert delivery worker: cannot claim notifications");
                }
            }
            let _ = tokio::time::timeout(poll, self.alerts.wake.notified()).await;
        }
    }

    /// Claims due rows and attempts them; answers how many were claimed.
    async fn round(&self) -> Result<usize, DbError> {
        let now = (self.clock)();
        let lease_until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let claimed = {
            let mut conn = self.pool.get().await?;
            db::claim_due(&mut conn, now, lease_until, CLAIM_BATCH).await?
        };
        let n = claimed.len();
        join_all(claimed.into_iter().map(|d| self.attempt(d))).await;
        Ok(n)
    }

    /// One attempt of a claimed row, its outcome recorded.
    async fn attempt(&self, delivery: Delivery) {
        let result = self.send(&delivery).await;
        let now = (self.clock)();
        let outcome = match result {
            Ok(result) => outcome(result, delivery.attempts, &self.settings, now),
            Err(error) => {
                // The database failed us: leave the row to its lease (it is tried again).
                crate::log_limited!(warn, %error, delivery = %delivery.id, "alert delivery: database error");
                return;
            }
        };
        let counters = &self.alerts.counters;
        match outcome.status {
            DeliveryStatus::Delivered => AlertCounters::add(&counters.delivered, 1),
            DeliveryStatus::Failed => {
                AlertCounters::add(&counters.failed, 1);
                tracing::warn!(delivery = %delivery.id, rule = %delivery.rule_id,
                    attempts = delivery.attempts, error = outcome.last_error.as_deref().unwrap_or(""),
                    "alert notification failed; not retried");
            }
            _ => AlertCounters::add(&counters.retried, 1),
        }
        let recorded = async {
            let mut conn = self.pool.get().await?;
            db::finish(&mut conn, delivery.id, &outcome, now).await?;
            Ok::<_, DbError>(())
        };
        if let Err(error) = recorded.await {
            crate::log_limited!(warn, %error, delivery = %delivery.id, "alert delivery: cannot record the outcome");
        }
    }

    /// Sends the notification by its rule's action. The outer error is the database's.
    async fn send(&self, d: &Delivery) -> Result<Result<Option<u16>, SendError>, DbError> {
        let rule = {
            let mut conn = self.pool.get().await?;
            db::rule_by_id(&mut conn, d.rule_id).await?
        };
        let Some(rule) = rule else {
            return Ok(Err(SendError {
                message: "the rule was deleted".into(),
                permanent: true,
                status: None,
            }));
        };
        let action: Action = match serde_json::from_value(rule.action.clone()) {
            Ok(action) => action,
            Err(e) => {
                return Ok(Err(SendError {
                    message: format!("the rule's action is unreadable: {e}"),
                    permanent: true,
                    status: None,
                }));
            }
        };
        Ok(match action {
            Action::Webhook { url } => {
                let body = serde_json::to_vec(&d.payload).unwrap_or_default();
                self.webhooks
                    .send(&url, &d.id.to_string(), &rule.secret, body)
                    .await
                    .map(Some)
            }
            Action::Email { to } => {
                let to = if to.is_empty() {
                    let mut conn = self.pool.get().await?;
                    db::member_emails(&mut conn, rule.project_id).await?
                } else {
                    to
                };
                let subject = payload::subject(&d.payload);
                self.mailer
                    .send(&to, &subject, payload::text(&d.payload))
                    .await
                    .map(|()| None)
            }
            Action::Log => {
                tracing::warn!(target: "mesher::alerts", rule = %rule.id, rule_name = %rule.name,
                    issue = ?d.issue_id.map(|i| i.to_string()), event = ?d.event_id.map(|e| e.to_string()),
                    url = d.payload["data"]["issue"]["url"].as_str().unwrap_or(""),
                    "alert: {}", payload::subject(&d.payload));
                Ok(None)
            }
        })
    }
}

/// Starts the node's delivery worker.
pub fn start(worker: Worker) {
    actix_rt::spawn(worker.run());
}

/// The settings a test of the backoff uses.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_adds_up_to_about_an_hour() {
        let s = AlertsSettings::default();
        let waits: Vec<u64> = (1..=5)
            .map(|a| backoff(a, 1000, 1_800_000).as_millis() as u64)
            .collect();
        assert_eq!(waits, [1000, 2000, 4000, 8000, 16000]);
        assert_eq!(backoff(40, 1000, 5000), Duration::from_millis(5000));
        let total: u64 = (1..s.max_attempts as i32)
            .map(|a| backoff(a, s.retry_base_ms, s.retry_max_ms).as_secs())
            .sum();
        assert!((3000..=5400).contains(&total), "{total} s");
    }

    #[test]
    fn outcomes_retry_until_the_last_attempt_or_a_permanent_error() {
        let s = AlertsSettings {
            max_attempts: 3,
            ..AlertsSettings::default()
        };
        let now = Utc::now();
        let err = |permanent| {
            Err(SendError {
                message: "no".into(),
                permanent,
                status: Some(500),
            })
        };
        let ok = outcome(Ok(Some(204)), 1, &s, now);
        assert_eq!(
            (ok.status, ok.last_status),
            (DeliveryStatus::Delivered, Some(204))
        );
        let retry = outcome(err(false), 1, &s, now);
        assert_eq!(retry.status, DeliveryStatus::Pending);
        assert_eq!(retry.next_attempt_at, now + chrono::Duration::seconds(1));
        assert_eq!(
            outcome(err(false), 3, &s, now).status,
            DeliveryStatus::Failed
        );
        assert_eq!(
            outcome(err(true), 1, &s, now).status,
            DeliveryStatus::Failed
        );
    }
}

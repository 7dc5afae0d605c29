//! Alerts that fire (docs/alerts.md): the writers' facts → this node's evaluator → rows of
//! `alert_deliveries` → the delivery worker of any node → a webhook, an e-mail or a log line.
//!
//! - [`evaluate`]: which rules a committed batch triggers (pure);
//! - [`evaluator`]: the node's evaluator, fed by the [`FactsBus`](crate::ingest::FactsBus)
//!   after each commit, never waited on by a writer; it checks `event_frequency` counts, takes
//!   the cross-node throttle and queues the notifications;
//! - [`payload`]: what a notification says (the webhook body);
//! - [`deliver`]: the delivery worker: claims due rows, sends, retries with backoff;
//! - [`webhook`]: signed POSTs (Standard Webhooks), refusing non-public targets;
//! - [`email`]: e-mail over SMTP.

pub mod deliver;
pub mod email;
pub mod evaluate;
pub mod evaluator;
pub mod payload;
pub mod webhook;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

/// The node's alert counters, exported on `/metrics`.
#[derive(Debug, Default)]
pub struct AlertCounters {
    /// Notifications queued (rules that fired, and test notifications).
    pub queued: AtomicU64,
    /// Attempts that reached their target.
    pub delivered: AtomicU64,
    /// Attempts that failed and will be tried again.
    pub retried: AtomicU64,
    /// Notifications given up (every attempt failed, or the target is refused).
    pub failed: AtomicU64,
    /// Batches of facts the evaluator could not evaluate (database error).
    pub evaluator_errors: AtomicU64,
    /// Batches of facts on which the evaluator panicked.
    pub evaluator_panics: AtomicU64,
    /// Reads of every project's enabled rules (the evaluator's snapshot, at most one per
    /// `RULES_TTL`): what the evaluator costs the pool whatever the number of projects.
    pub rules_reads: AtomicU64,
}

impl AlertCounters {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// This node's alerting: its counters, and the bell that wakes its delivery worker when a
/// notification is queued here. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Alerts {
    pub counters: Arc<AlertCounters>,
    pub wake: Arc<Notify>,
}

impl Alerts {
    /// Notifications were queued: the delivery worker looks at once.
    pub fn queued(&self, n: u64) {
        if n > 0 {
            AlertCounters::add(&self.counters.queued, n);
            self.wake.notify_one();
        }
    }
}

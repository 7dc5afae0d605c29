//! Where the writers' [`BatchFacts`] go after each commit: a fan-out to a few named consumers
//! (the live stream's publisher, the alert evaluator), each behind its own bounded
//! channel. Publishing is a `try_send` per consumer: it never waits and never fails the
//! flush. A consumer whose channel is full (slow, stuck) or gone (crashed) loses those facts,
//! counted per consumer; the events themselves are stored either way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::mpsc;

use crate::domain::BatchFacts;

/// One consumer of the facts.
struct Consumer {
    name: &'static str,
    tx: mpsc::Sender<Arc<BatchFacts>>,
    dropped: AtomicU64,
}

/// The node's facts fan-out. Cheap to clone.
#[derive(Clone, Default)]
pub struct FactsBus {
    consumers: Arc<RwLock<Vec<Arc<Consumer>>>>,
}

impl FactsBus {
    /// A bus with no consumers (publishing is then free).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a consumer named `name` whose channel holds at most `capacity` batches.
    pub fn subscribe(
        &self,
        name: &'static str,
        capacity: usize,
    ) -> mpsc::Receiver<Arc<BatchFacts>> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.consumers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::new(Consumer {
                name,
                tx,
                dropped: AtomicU64::new(0),
            }));
        rx
    }

    /// Hands `facts` to every consumer without waiting: a full or closed channel drops them
    /// for that consumer, counted.
    pub fn publish(&self, facts: BatchFacts) {
        if facts.issues.is_empty() {
            return;
        }
        let consumers = self.consumers.read().unwrap_or_else(|p| p.into_inner());
        if consumers.is_empty() {
            return;
        }
        let facts = Arc::new(facts);
        for c in consumers.iter() {
            if c.tx.try_send(facts.clone()).is_err() {
                c.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Batches of facts each consumer lost (its channel full or closed), by consumer name.
    pub fn dropped(&self) -> Vec<(&'static str, u64)> {
        self.consumers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|c| (c.name, c.dropped.load(Ordering::Relaxed)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IssueFact, IssueId, IssueStatus, Level, ProjectId};

    fn facts() -> BatchFacts {
        BatchFacts {
            project_id: ProjectId::new(),
            issues: vec![IssueFact {
                issue_id: IssueId::new(),
                created: true,
                regressed: false,
                times_seen: 1,
                status: IssueStatus::Unresolved,
                level: Level::Error,
                last_seen: chrono::Utc::now(),
                events: Vec::new(),
            }],
        }
    }

    #[test]
    fn a_full_or_gone_consumer_loses_facts_counted_and_the_others_get_them() {
        let bus = FactsBus::new();
        let mut fast = bus.subscribe("fast", 10);
        let _slow = bus.subscribe("slow", 1);
        let gone = bus.subscribe("gone", 10);
        drop(gone);
        for _ in 0..3 {
            bus.publish(facts());
        }
        let mut got = 0;
        while fast.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, 3);
        assert_eq!(bus.dropped(), vec![("fast", 0), ("slow", 2), ("gone", 3)]);
    }
}

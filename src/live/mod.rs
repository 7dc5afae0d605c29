//! The live stream's plumbing (docs/architecture.md, “The live stream”): after each commit a
//! writer's facts go to this node's [`publish`] task, which sends them as `NOTIFY`s on
//! [`CHANNEL`] from a connection of its own; every node's [`listen`] task `LISTEN`s on one
//! dedicated connection (reconnecting with backoff) and hands each notice for a project that
//! has subscribers here to the stream's loader, which reads what the notice names from the
//! database and sends it to the [`LiveHub`]; the hub broadcasts it to this node's stream
//! subscribers, each of which keeps only its own project's messages.
//!
//! Nothing here waits on a subscriber: a broadcast that a subscriber lags behind is its
//! problem (it is disconnected by the HTTP side), never the node's.

pub mod listen;
pub mod payload;
pub mod publish;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;
use dashmap::DashMap;
use tokio::sync::{broadcast, watch};

use crate::domain::ProjectId;

/// The `LISTEN`/`NOTIFY` channel of the live stream.
pub const CHANNEL: &str = "mesher_stream";

/// Batches of stream messages the node's broadcast keeps for subscribers that are behind.
const BROADCAST_CAPACITY: usize = 256;

/// Stream messages for one project, ready to send (Server-Sent Events text).
#[derive(Debug)]
pub struct LiveBatch {
    pub project_id: ProjectId,
    pub frames: Bytes,
}

/// Counters of the live stream on this node (served by `/metrics`).
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Notifications sent by this node's publisher.
    pub notices_sent: AtomicU64,
    /// Notifications the publisher could not send (database unreachable).
    pub notices_failed: AtomicU64,
    /// Notifications received by this node's listener.
    pub notices_received: AtomicU64,
    /// Received notifications for a project with subscribers here that were left out
    /// because the loader was behind.
    pub notices_dropped: AtomicU64,
    /// Times the listener (re)connected after losing its connection.
    pub listener_reconnects: AtomicU64,
    /// Stream clients disconnected for not keeping up.
    pub clients_dropped_slow: AtomicU64,
}

struct HubInner {
    tx: broadcast::Sender<Arc<LiveBatch>>,
    /// Open subscriptions per project.
    subscribers: DashMap<ProjectId, usize>,
    closed: watch::Sender<bool>,
    counters: LiveCounters,
}

/// This node's stream subscribers and the broadcast that feeds them. Cheap to clone.
#[derive(Clone)]
pub struct LiveHub {
    inner: Arc<HubInner>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self::new()
    }
}

impl LiveHub {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        Self {
            inner: Arc::new(HubInner {
                tx,
                subscribers: DashMap::new(),
                closed: watch::channel(false).0,
                counters: LiveCounters::default(),
            }),
        }
    }

    /// Subscribes to everything broadcast from now on (the caller keeps `project_id`'s).
    pub fn subscribe(&self, project_id: ProjectId) -> Subscription {
        let rx = self.inner.tx.subscribe();
        *self.inner.subscribers.entry(project_id).or_insert(0) += 1;
        Subscription {
            rx,
            project_id,
            closed: self.inner.closed.subscribe(),
            hub: self.inner.clone(),
        }
    }

    /// Whether anyone on this node follows `project_id`'s stream.
    pub fn wants(&self, project_id: ProjectId) -> bool {
        self.inner.subscribers.contains_key(&project_id)
    }

    /// Open subscriptions on this node.
    pub fn clients(&self) -> usize {
        self.inner.subscribers.iter().map(|e| *e.value()).sum()
    }

    /// Sends `batch` to every subscriber (those of other projects skip it).
    pub fn send(&self, batch: LiveBatch) {
        // An error only means nobody is subscribed right now.
        let _ = self.inner.tx.send(Arc::new(batch));
    }

    /// Ends every subscription (shutdown): their streams finish, so the HTTP server's
    /// graceful stop does not wait for them.
    pub fn close(&self) {
        self.inner.closed.send_replace(true);
    }

    /// Becomes `true` when [`Self::close`] is called.
    pub fn closed_signal(&self) -> watch::Receiver<bool> {
        self.inner.closed.subscribe()
    }

    /// Whether [`Self::close`] was called.
    pub fn is_closed(&self) -> bool {
        *self.inner.closed.borrow()
    }

    pub fn counters(&self) -> &LiveCounters {
        &self.inner.counters
    }
}

/// One stream subscriber's view of the broadcast; unsubscribes when dropped.
pub struct Subscription {
    pub rx: broadcast::Receiver<Arc<LiveBatch>>,
    pub project_id: ProjectId,
    /// Becomes `true` when the node shuts down.
    pub closed: watch::Receiver<bool>,
    hub: Arc<HubInner>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub
            .subscribers
            .remove_if_mut(&self.project_id, |_, n| {
                *n -= 1;
                *n == 0
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_is_wanted_while_someone_subscribes_to_it() {
        let hub = LiveHub::new();
        let (a, b) = (ProjectId::new(), ProjectId::new());
        let first = hub.subscribe(a);
        let second = hub.subscribe(a);
        assert!(hub.wants(a) && !hub.wants(b));
        assert_eq!(hub.clients(), 2);
        drop(first);
        assert!(hub.wants(a));
        drop(second);
        assert!(!hub.wants(a));
        assert_eq!(hub.clients(), 0);
    }
}

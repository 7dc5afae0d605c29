//! An accepted event on its way to the database: the input of the write path.

use chrono::{DateTime, Utc};

use super::ids::EventId;
use super::{Fingerprint, NormalizedEvent};

/// An accepted event: validated, normalized, fingerprinted, given its id and receive time.
/// Serializable for the durable spool (`ingest::spool`), which writes it as it is.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PendingEvent {
    /// Mesher's id, assigned at receive time.
    pub id: EventId,
    pub received_at: DateTime<Utc>,
    pub event: NormalizedEvent,
    pub fingerprint: Fingerprint,
    pub title: String,
    pub culprit: Option<String>,
}

impl PendingEvent {
    /// Fingerprints `event` and stamps it with a fresh id and the receive time.
    pub fn new(event: NormalizedEvent, received_at: DateTime<Utc>) -> Self {
        let fingerprint = super::fingerprint(&event);
        let (title, culprit) = super::title_and_culprit(&event);
        Self {
            id: EventId::new(),
            received_at,
            event,
            fingerprint,
            title,
            culprit,
        }
    }
}

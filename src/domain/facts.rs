//! What a committed batch did to its project's issues: the *facts* the writer hands on after
//! each commit (to the live stream's publisher and to the alert evaluator), never the
//! events themselves. Plain values: built by `db::events::write_batch` from what its upsert
//! returns, read by anyone without touching the database.

use chrono::{DateTime, Utc};

use super::{EventId, IssueId, IssueStatus, Level, ProjectId};

/// The longest message an [`EventFact`] keeps, in characters.
pub const SHORT_MESSAGE_CHARS: usize = 200;

/// One committed batch of one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFacts {
    pub project_id: ProjectId,
    /// Every issue the batch touched, in fingerprint order (the upsert's lock order).
    pub issues: Vec<IssueFact>,
}

/// One issue's part in a committed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueFact {
    pub issue_id: IssueId,
    /// The batch created the issue.
    pub created: bool,
    /// The issue was resolved and the batch reopened it (resolved → unresolved).
    pub regressed: bool,
    /// The issue as the batch left it.
    pub times_seen: i64,
    pub status: IssueStatus,
    pub level: Level,
    pub last_seen: DateTime<Utc>,
    /// The batch's events of this issue, as stored, oldest first.
    pub events: Vec<EventFact>,
}

impl IssueFact {
    /// How many events of the batch the issue got.
    pub fn event_count(&self) -> usize {
        self.events.len()
    }
}

/// One stored event, in short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFact {
    pub id: EventId,
    pub received_at: DateTime<Utc>,
    pub level: Level,
    pub environment: Option<String>,
    /// The message, cut to [`SHORT_MESSAGE_CHARS`] characters.
    pub message: String,
}

impl BatchFacts {
    /// How many events the batch stored.
    pub fn event_count(&self) -> usize {
        self.issues.iter().map(IssueFact::event_count).sum()
    }
}

/// `s` cut to at most `max` characters (on a character boundary).
pub fn short(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn short_cuts_on_character_boundaries() {
        for (s, max, expected) in [
            ("hello", 10, "hello"),
            ("hello", 5, "hello"),
            ("hello", 3, "hel"),
            ("héllo", 2, "hé"),
            ("日本語", 1, "日"),
            ("", 3, ""),
        ] {
            assert_eq!(short(s, max), expected, "{s} {max}");
        }
    }
}

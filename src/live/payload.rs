//! The `NOTIFY` payload of the live stream: a committed batch's facts, compactly — the
//! project, the receive-time range of its events (so a reader touches only those day
//! partitions), and per issue its id, flags and event ids. PostgreSQL caps a payload below
//! 8000 bytes, so a large batch becomes several notices, each a whole JSON document:
//!
//! ```json
//! {"p":"<project>","f":<first received, µs>,"t":<last received, µs>,
//!  "i":[{"id":"<issue>","c":true,"r":false,"n":2,"e":["<event>","<event>"]}]}
//! ```
//!
//! An issue whose events do not fit in one notice appears in the next ones too, each time
//! with the events of that notice (`n` counts them).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{BatchFacts, EventId, IssueId, ProjectId};

/// The longest payload sent: under PostgreSQL's 8000-byte limit.
pub const MAX_PAYLOAD: usize = 7900;

/// One notification of the live stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    #[serde(rename = "p")]
    pub project_id: ProjectId,
    /// The earliest and latest receive time of the notice's events, in µs since the epoch
    /// (widened by 1 µs each way).
    #[serde(rename = "f")]
    pub from_us: i64,
    #[serde(rename = "t")]
    pub to_us: i64,
    #[serde(rename = "i")]
    pub issues: Vec<NoticeIssue>,
}

/// One issue of a [`Notice`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeIssue {
    #[serde(rename = "id")]
    pub issue_id: IssueId,
    /// The batch created the issue.
    #[serde(rename = "c")]
    pub created: bool,
    /// The batch reopened the resolved issue.
    #[serde(rename = "r")]
    pub regressed: bool,
    /// Events of this notice for the issue (`e.len()`).
    #[serde(rename = "n")]
    pub count: usize,
    #[serde(rename = "e")]
    pub events: Vec<EventId>,
}

impl Notice {
    /// The receive-time range of the notice's events.
    pub fn range(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let at = |us| DateTime::from_timestamp_micros(us).unwrap_or_default();
        (at(self.from_us), at(self.to_us))
    }

    /// Every event id of the notice.
    pub fn event_ids(&self) -> Vec<EventId> {
        self.issues
            .iter()
            .flat_map(|i| i.events.iter().copied())
            .collect()
    }

    /// Every issue id of the notice.
    pub fn issue_ids(&self) -> Vec<IssueId> {
        self.issues.iter().map(|i| i.issue_id).collect()
    }
}

// Upper bounds of the JSON sizes, so a notice is cut before it could pass `max`.
/// `{"p":"<36>","f":<20>,"t":<20>,"i":[]}`
const NOTICE_BYTES: usize = 110;
/// `{"id":"<36>","c":false,"r":false,"n":<20>,"e":[]},`
const ISSUE_BYTES: usize = 100;
/// `"<36>",`
const EVENT_BYTES: usize = 39;

/// `facts` as payloads of at most `max` bytes each (at least one event per notice).
pub fn encode(facts: &BatchFacts, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut notice = Building::new(facts.project_id);
    for issue in &facts.issues {
        let mut events = issue.events.iter().peekable();
        while events.peek().is_some() {
            if notice.size + ISSUE_BYTES + EVENT_BYTES > max && !notice.is_empty() {
                out.push(notice.finish());
                notice = Building::new(facts.project_id);
            }
            notice.size += ISSUE_BYTES;
            let mut entry = NoticeIssue {
                issue_id: issue.issue_id,
                created: issue.created,
                regressed: issue.regressed,
                count: 0,
                events: Vec::new(),
            };
            while let Some(e) = events.peek() {
                if notice.size + EVENT_BYTES > max && !entry.events.is_empty() {
                    break;
                }
                notice.size += EVENT_BYTES;
                notice.widen(e.received_at);
                entry.events.push(e.id);
                events.next();
            }
            entry.count = entry.events.len();
            notice.issues.push(entry);
        }
    }
    if !notice.is_empty() {
        out.push(notice.finish());
    }
    out
}

/// Reads a payload; `None` when it is not a notice (another sender on the channel).
pub fn decode(payload: &str) -> Option<Notice> {
    serde_json::from_str(payload).ok()
}

struct Building {
    project_id: ProjectId,
    range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    issues: Vec<NoticeIssue>,
    size: usize,
}

impl Building {
    fn new(project_id: ProjectId) -> Self {
        Self {
            project_id,
            range: None,
            issues: Vec::new(),
            size: NOTICE_BYTES,
        }
    }

    fn is_empty(&self) -> bool {
        self.issues.is_empty()
    }

    fn widen(&mut self, at: DateTime<Utc>) {
        self.range = Some(match self.range {
            None => (at, at),
            Some((from, to)) => (from.min(at), to.max(at)),
        });
    }

    fn finish(self) -> String {
        let (from, to) = self.range.unwrap_or_default();
        // One microsecond of margin each side: the database keeps microseconds, a receive
        // time may carry nanoseconds.
        let notice = Notice {
            project_id: self.project_id,
            from_us: from.timestamp_micros() - 1,
            to_us: to.timestamp_micros() + 1,
            issues: self.issues,
        };
        serde_json::to_string(&notice).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventFact, IssueFact, IssueStatus, Level};

    fn facts(events_per_issue: &[usize]) -> BatchFacts {
        let t0 = Utc::now();
        BatchFacts {
            project_id: ProjectId::new(),
            issues: events_per_issue
                .iter()
                .enumerate()
                .map(|(i, &n)| IssueFact {
                    issue_id: IssueId::new(),
                    created: i % 2 == 0,
                    regressed: i % 3 == 0,
                    times_seen: n as i64,
                    status: IssueStatus::Unresolved,
                    level: Level::Error,
                    last_seen: t0,
                    events: (0..n)
                        .map(|k| EventFact {
                            id: EventId::new(),
                            received_at: t0 + chrono::TimeDelta::microseconds(k as i64),
                            level: Level::Error,
                            environment: None,
                            message: "m".into(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn every_issue_and_event_is_carried_once_within_the_limit() {
        for (shape, max, notices) in [
            (vec![1], MAX_PAYLOAD, 1),
            (vec![3, 1, 2], MAX_PAYLOAD, 1),
            (vec![500], MAX_PAYLOAD, 3),
            (vec![1; 200], MAX_PAYLOAD, 4),
            (vec![250, 1, 250], MAX_PAYLOAD, 3),
            (vec![5, 5], 300, 6),
        ] {
            let f = facts(&shape);
            let payloads = encode(&f, max);
            assert_eq!(payloads.len(), notices, "{shape:?}");
            let decoded: Vec<Notice> = payloads
                .iter()
                .map(|p| {
                    assert!(p.len() <= max, "{} > {max}", p.len());
                    decode(p).unwrap()
                })
                .collect();
            let mut events = Vec::new();
            for n in &decoded {
                assert_eq!(n.project_id, f.project_id);
                let (from, to) = n.range();
                for issue in &n.issues {
                    assert_eq!(issue.count, issue.events.len());
                    let fact = f
                        .issues
                        .iter()
                        .find(|i| i.issue_id == issue.issue_id)
                        .unwrap();
                    assert_eq!(
                        (issue.created, issue.regressed),
                        (fact.created, fact.regressed)
                    );
                    for id in &issue.events {
                        let e = fact.events.iter().find(|e| e.id == *id).unwrap();
                        assert!(from <= e.received_at && e.received_at <= to);
                    }
                }
                events.extend(n.event_ids());
            }
            let expected: Vec<EventId> = f
                .issues
                .iter()
                .flat_map(|i| i.events.iter().map(|e| e.id))
                .collect();
            assert_eq!(events, expected, "{shape:?}");
        }
    }

    #[test]
    fn other_payloads_are_not_notices() {
        for payload in ["", "hello", "{}", r#"{"p":"x"}"#] {
            assert_eq!(decode(payload), None, "{payload}");
        }
    }
}

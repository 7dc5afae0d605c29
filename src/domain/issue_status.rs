//! An issue's triage status. Stored as text (`issues.status`, with a CHECK constraint
//! naming the same three values); the writer reopens a resolved issue that gets a new event.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where an issue stands in triage.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[serde(rename_all = "lowercase")]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum IssueStatus {
    /// Needs attention (new issues, and resolved ones that happened again).
    Unresolved,
    /// Fixed; a new event reopens it.
    Resolved,
    /// Muted; new events are counted but do not reopen it.
    Ignored,
}

/// A string that is not one of the three statuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("status must be unresolved, resolved or ignored")]
pub struct UnknownStatus;

impl IssueStatus {
    /// The name as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unresolved => "unresolved",
            Self::Resolved => "resolved",
            Self::Ignored => "ignored",
        }
    }
}

impl FromStr for IssueStatus {
    type Err = UnknownStatus;

    /// Exact, lowercase names only.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "unresolved" => Ok(Self::Unresolved),
            "resolved" => Ok(Self::Resolved),
            "ignored" => Ok(Self::Ignored),
            _ => Err(UnknownStatus),
        }
    }
}

impl fmt::Display for IssueStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in [
            IssueStatus::Unresolved,
            IssueStatus::Resolved,
            IssueStatus::Ignored,
        ] {
            assert_eq!(s.as_str().parse::<IssueStatus>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!("open".parse::<IssueStatus>(), Err(UnknownStatus));
    }
}

//! An issue's triage status. Stored as text (`issues.status`, with a CHECK constraint
//! naming the same three values); the writer reopens a resolved issue that gets a new event.

use super::text_enum::text_enum;

text_enum! {
    /// Where an issue stands in triage.
    pub enum IssueStatus / UnknownStatus ("status must be unresolved, resolved or ignored") {
        /// Needs attention (new issues, and resolved ones that happened again).
        Unresolved = "unresolved",
        /// Fixed; a new event reopens it.
        Resolved = "resolved",
        /// Muted; new events are counted but do not reopen it.
        Ignored = "ignored",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for &s in IssueStatus::ALL {
            assert_eq!(s.as_str().parse::<IssueStatus>(), Ok(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!("open".parse::<IssueStatus>(), Err(UnknownStatus));
    }
}

//! Small pieces of markup shared by the pages: times, levels, statuses.

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::domain::{IssueStatus, Level};

/// "just now", "5 min ago", "3 h ago", "12 d ago", or a date for older times.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    match secs {
        s if s < 0 => "in the future".into(),
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        86_400..2_592_000 => format!("{} d ago", secs / 86_400),
        _ => t.format("%Y-%m-%d").to_string(),
    }
}

/// A time shown relative to now, exact on hover (and to machines).
pub fn time(t: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(t.to_rfc3339()) title=(exact(t)) { (relative(t, now)) }
    }
}

/// A time written out in full (UTC).
pub fn exact(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A level as a coloured badge (the word is always there, colour is only a hint).
pub fn level(l: Level) -> Markup {
    html! { span class={ "level level-" (l.as_str()) } { (l.as_str()) } }
}

/// A status as a badge.
pub fn status(s: IssueStatus) -> Markup {
    html! { span class={ "status status-" (s.as_str()) } { (s.as_str()) } }
}

/// `1234567` → `1,234,567`.
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_counts_read_well() {
        let now: DateTime<Utc> = "2026-12-01T12:00:00Z".parse().unwrap();
        for (secs, text) in [
            (5, "just now"),
            (120, "2 min ago"),
            (7300, "2 h ago"),
            (3 * 86_400, "3 d ago"),
            (40 * 86_400, "2026-10-22"),
            (-10, "in the future"),
        ] {
            assert_eq!(relative(now - chrono::Duration::seconds(secs), now), text);
        }
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (1234567, "1,234,567"),
        ] {
            assert_eq!(count(n), text);
        }
    }
}

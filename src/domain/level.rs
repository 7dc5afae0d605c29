//! Event severity levels.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Severity of an event or issue.
///
/// Variants are declared from least to most severe so that `Ord` (and therefore
/// `max`) gives the most severe level — issues keep the maximum level seen.
///
/// Stored as text (`events.level`, `issues.level`, with CHECK constraints naming the five
/// canonical names).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    utoipa::ToSchema,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[schema(rename_all = "lowercase")]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Level {
    /// Diagnostic detail.
    Debug,
    /// Informational message.
    Info,
    /// Something unexpected that did not fail.
    Warning,
    /// A failure (the default level of Sentry events).
    Error,
    /// An unrecoverable failure.
    Fatal,
}

/// Error returned when a string is not a recognised level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown level; expected one of fatal, error, warning, info, debug")]
pub struct UnknownLevel;

impl Level {
    /// All levels, least severe first.
    pub const ALL: [Level; 5] = [
        Level::Debug,
        Level::Info,
        Level::Warning,
        Level::Error,
        Level::Fatal,
    ];

    /// Canonical lowercase name, as stored and serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

impl FromStr for Level {
    type Err = UnknownLevel;

    /// Case-insensitive; accepts the aliases `warn` (warning), `critical`
    /// (fatal) and `log` (info: the JavaScript SDK's level for `console.log`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Levels are short ASCII words; anything longer cannot match, so avoid
        // allocating a lowercase copy of an arbitrarily long input.
        if s.len() > 16 {
            return Err(UnknownLevel);
        }
        match s.trim().to_ascii_lowercase().as_str() {
            "debug" => Ok(Level::Debug),
            "info" | "log" => Ok(Level::Info),
            "warning" | "warn" => Ok(Level::Warning),
            "error" => Ok(Level::Error),
            "fatal" | "critical" => Ok(Level::Fatal),
            _ => Err(UnknownLevel),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Level {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Level {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_canonical_names_case_insensitively() {
        for level in Level::ALL {
            assert_eq!(level.as_str().parse::<Level>(), Ok(level));
            assert_eq!(level.as_str().to_uppercase().parse::<Level>(), Ok(level));
        }
        assert_eq!("WaRnInG".parse::<Level>(), Ok(Level::Warning));
        assert_eq!(" error ".parse::<Level>(), Ok(Level::Error));
    }

    #[test]
    fn parses_aliases() {
        assert_eq!("warn".parse::<Level>(), Ok(Level::Warning));
        assert_eq!("WARN".parse::<Level>(), Ok(Level::Warning));
        assert_eq!("critical".parse::<Level>(), Ok(Level::Fatal));
        assert_eq!("Critical".parse::<Level>(), Ok(Level::Fatal));
        assert_eq!("log".parse::<Level>(), Ok(Level::Info));
    }

    #[test]
    fn rejects_unknown_levels() {
        for s in [
            "",
            "verbose",
            "err",
            "errors",
            "sample",
            "x".repeat(100).as_str(),
        ] {
            assert_eq!(s.parse::<Level>(), Err(UnknownLevel), "{s:?}");
        }
    }

    #[test]
    fn ordering_is_by_severity() {
        assert!(Level::Debug < Level::Info);
        assert!(Level::Info < Level::Warning);
        assert!(Level::Warning < Level::Error);
        assert!(Level::Error < Level::Fatal);
        assert_eq!(Level::Warning.max(Level::Fatal), Level::Fatal);
        assert_eq!(Level::ALL.iter().max(), Some(&Level::Fatal));
    }

    #[test]
    fn display_and_serde_use_lowercase_names() {
        assert_eq!(Level::Warning.to_string(), "warning");
        assert_eq!(serde_json::to_string(&Level::Fatal).unwrap(), "\"fatal\"");
        let back: Level = serde_json::from_str("\"WARN\"").unwrap();
        assert_eq!(back, Level::Warning);
        assert!(serde_json::from_str::<Level>("\"nope\"").is_err());
        assert!(serde_json::from_str::<Level>("3").is_err());
    }
}

//! `[alerts]` and `[smtp]`: how alert rules fire and how their notifications are delivered
//! (docs/alerts.md).

use secrecy::SecretString;
use serde::Deserialize;

use super::ConfigError;

/// `[alerts]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AlertsSettings {
    /// Let webhooks reach loopback, private, link-local (cloud metadata) and other
    /// non-public addresses. Off: such a target is refused and the delivery fails.
    pub allow_private_targets: bool,
    /// At most one notification per rule per issue this often (seconds).
    pub cooldown_secs: u64,
    /// How often each node's delivery worker looks for due notifications (it is also woken
    /// at once when this node queues one).
    pub poll_interval_ms: u64,
    /// Attempts of one notification before it is `failed`.
    pub max_attempts: u32,
    /// The wait after the first failed attempt; it doubles after each (1 s doubling over 13
    /// attempts, capped at 30 min, is about an hour).
    pub retry_base_ms: u64,
    /// The longest wait between two attempts.
    pub retry_max_ms: u64,
    /// The test suite's hook: the evaluator panics on every batch of facts. Keep it off.
    pub crash_evaluator: bool,
}

impl Default for AlertsSettings {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            cooldown_secs: 600,
            poll_interval_ms: 1000,
            max_attempts: 13,
            retry_base_ms: 1000,
            retry_max_ms: 1_800_000,
            crash_evaluator: false,
        }
    }
}

/// `[smtp]`: where alert e-mail goes out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SmtpSettings {
    /// `smtp://host:port` (plain, or `?tls=required` for STARTTLS), `smtps://host:port`
    /// (TLS); user and password may be in the URL. Unset: e-mail actions fail.
    pub url: Option<SecretString>,
    /// The `From:` address.
    pub from: String,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            url: None,
            from: "Mesher <mesher@localhost>".into(),
        }
    }
}

impl AlertsSettings {
    /// Checks the ranges; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, message: &str| ConfigError::Invalid {
            key,
            message: message.into(),
        };
        if !(1..=60_000).contains(&self.poll_interval_ms) {
            return Err(invalid(
                "alerts.poll_interval_ms",
                "must be between 1 and 60000",
            ));
        }
        if !(1..=100).contains(&self.max_attempts) {
            return Err(invalid("alerts.max_attempts", "must be between 1 and 100"));
        }
        if self.retry_base_ms == 0 || self.retry_base_ms > self.retry_max_ms {
            return Err(invalid(
                "alerts.retry_base_ms",
                "must be at least 1 and at most alerts.retry_max_ms",
            ));
        }
        if self.cooldown_secs > 7 * 24 * 3600 {
            return Err(invalid(
                "alerts.cooldown_secs",
                "must be at most 604800 (a week)",
            ));
        }
        Ok(())
    }
}

impl SmtpSettings {
    /// Checks the URL's scheme and the from address; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use secrecy::ExposeSecret;
        if let Some(url) = &self.url {
            let url = url.expose_secret();
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                return Err(ConfigError::Invalid {
                    key: "smtp.url",
                    message: "must start with smtp:// or smtps://".into(),
                });
            }
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::Invalid {
                key: "smtp.from",
                message: format!("{:?} is not an e-mail address", self.from),
            });
        }
        Ok(())
    }
}

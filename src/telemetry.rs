//! Tracing setup: human-readable lines by default, one JSON object per line with
//! `log.format = "json"`. `RUST_LOG` overrides `log.level`. Lines that repeat while a
//! dependency is down go through [`log_limited!`](crate::log_limited) ([`limited`]).

pub mod limited;

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. Call once, early in `main`.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(settings.level.clone()));
    let registry = tracing_subscriber::registry().with(filter);
    // Logs go to stderr so that commands such as `mesher demo --json` keep stdout clean.
    match settings.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .init(),
        LogFormat::Pretty => registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .init(),
    }
}

/// For tests: a subscriber that prints only with `TEST_LOG=1`, installed at most once.
pub fn init_for_tests() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(fmt::layer().with_test_writer())
                .try_init();
        }
    });
}

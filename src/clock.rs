//! The application's notion of "now", injectable so tests can move time (session expiry,
//! partition maintenance) without sleeping.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A source of the current time.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The real clock.
pub fn system() -> Clock {
    Arc::new(Utc::now)
}

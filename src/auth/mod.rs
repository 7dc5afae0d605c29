//! Authentication: passwords, sessions and user tokens (management API), project keys
//! (ingestion), login throttling.

pub mod extractors;
pub mod key_use;
pub mod password;
pub mod project_key;
pub mod session;
pub mod throttle;

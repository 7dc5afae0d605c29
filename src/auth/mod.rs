//! Authentication: password hashing, project API keys; sessions and tokens as they land.

pub mod password;
pub mod project_key;

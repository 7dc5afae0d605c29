//! Authentication: password hashing now; sessions, tokens and extractors as they land.

pub mod password;

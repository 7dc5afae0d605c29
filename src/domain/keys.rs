//! Secret formats: project API keys, user API tokens and session tokens.
//!
//! Every secret is a prefix plus random base62 characters from `rand::rng()`, a
//! CSPRNG seeded from the operating system. The prefix makes a leaked secret easy to
//! recognise (and to scan for); only [`hash_secret`] of it is ever stored.

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};

/// Prefix of project API keys (`mshr_…`), used in DSNs and `X-Mesher-Key`.
pub const PROJECT_KEY_PREFIX: &str = "mshr_";
/// Prefix of user API tokens (`mshu_…`) for scripts calling the management API.
pub const USER_TOKEN_PREFIX: &str = "mshu_";
/// Random characters in a generated key or user token: 40 × log2(62) ≈ 238 bits.
pub const GENERATED_SECRET_CHARS: usize = 40;
/// Random characters in a session token: 43 × log2(62) ≈ 256 bits.
pub const SESSION_TOKEN_CHARS: usize = 43;
/// Fewest random characters accepted after a prefix: 32 × log2(62) ≈ 190 bits.
pub const MIN_SECRET_CHARS: usize = 32;
/// Longest accepted secret, prefix included.
pub const MAX_SECRET_LEN: usize = 128;
/// Length of [`display_prefix`]: the 5-char prefix plus 7 random characters
/// (≈ 42 bits shown, which still leaves ≥ 190 secret bits of a generated key).
pub const DISPLAY_PREFIX_LEN: usize = 12;

/// `prefix` followed by `random_chars` random base62 characters.
pub fn generate_secret(prefix: &str, random_chars: usize) -> String {
    let mut out = String::with_capacity(prefix.len() + random_chars);
    out.push_str(prefix);
    out.extend(
        rand::rng()
            .sample_iter(Alphanumeric)
            .take(random_chars)
            .map(char::from),
    );
    out
}

/// Whether `s` is `prefix` followed by at least [`MIN_SECRET_CHARS`] base62
/// characters, [`MAX_SECRET_LEN`] at most in total. Checks the format only, so
/// obviously malformed input can be refused before any lookup.
pub fn is_valid_secret_format(s: &str, prefix: &str) -> bool {
    s.len() <= MAX_SECRET_LEN
        && s.strip_prefix(prefix).is_some_and(|rest| {
            rest.len() >= MIN_SECRET_CHARS && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// A new project API key: `mshr_` + 40 base62 characters.
pub fn generate_project_key() -> String {
    generate_secret(PROJECT_KEY_PREFIX, GENERATED_SECRET_CHARS)
}

/// Whether `s` looks like a project API key.
pub fn is_valid_project_key_format(s: &str) -> bool {
    is_valid_secret_format(s, PROJECT_KEY_PREFIX)
}

/// A new user API token: `mshu_` + 40 base62 characters.
pub fn generate_user_token() -> String {
    generate_secret(USER_TOKEN_PREFIX, GENERATED_SECRET_CHARS)
}

/// Whether `s` looks like a user API token.
pub fn is_valid_user_token_format(s: &str) -> bool {
    is_valid_secret_format(s, USER_TOKEN_PREFIX)
}

/// A new session token: 43 base62 characters (≥ 256 bits), no prefix.
pub fn generate_session_token() -> String {
    generate_secret("", SESSION_TOKEN_CHARS)
}

/// Whether `s` looks like a session token.
pub fn is_valid_session_token_format(s: &str) -> bool {
    is_valid_secret_format(s, "") && s.len() >= SESSION_TOKEN_CHARS
}

/// SHA-256 of a secret, 64 lowercase hex digits: what is stored and looked up.
///
/// A fast hash is the right tool here, unlike for passwords: these secrets carry
/// ≥ 190 random bits, so brute-forcing a leaked hash is infeasible whatever the
/// hash speed, and a fast hash keeps per-request authentication cheap. Looking up
/// by hash also avoids comparing secrets byte by byte (no timing leak).
pub fn hash_secret(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The first [`DISPLAY_PREFIX_LEN`] characters, e.g. `mshr_AbCdEfG`, shown in
/// listings so users can tell keys apart without the secret being shown.
pub fn display_prefix(key: &str) -> String {
    key.chars().take(DISPLAY_PREFIX_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generated_secrets_have_the_documented_shape() {
        let key = generate_project_key();
        assert!(key.starts_with("mshr_") && key.len() == 45, "{key}");
        assert!(is_valid_project_key_format(&key));
        assert!(!is_valid_user_token_format(&key));
        let token = generate_user_token();
        assert!(token.starts_with("mshu_") && token.len() == 45);
        assert!(is_valid_user_token_format(&token));
        assert!(!is_valid_project_key_format(&token));
        let session = generate_session_token();
        assert_eq!(session.len(), 43);
        assert!(session.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(is_valid_session_token_format(&session));
    }

    #[test]
    fn generated_secrets_are_distinct() {
        let keys: HashSet<String> = (0..1000).map(|_| generate_project_key()).collect();
        assert_eq!(keys.len(), 1000);
    }

    #[test]
    fn format_validation() {
        let body32 = "a".repeat(32);
        assert!(is_valid_project_key_format(&format!("mshr_{body32}")));
        assert!(is_valid_project_key_format(
            "mshr_0123456789abcdefghijklmnopqrstuvwxyzABCDEF"
        ));
        assert!(!is_valid_project_key_format(&format!(
            "mshr_{}",
            "a".repeat(31)
        )));
        assert!(is_valid_project_key_format(&format!(
            "mshr_{}",
            "a".repeat(123)
        )));
        assert!(!is_valid_project_key_format(&format!(
            "mshr_{}",
            "a".repeat(124)
        )));
        assert!(!is_valid_project_key_format(&format!("MSHR_{body32}")));
        assert!(!is_valid_project_key_format(&format!("mshr_{body32}-")));
        assert!(!is_valid_project_key_format(&format!("mshr_{body32} ")));
        assert!(!is_valid_project_key_format(&format!(
            "mshr_{}é",
            "a".repeat(40)
        )));
        assert!(!is_valid_project_key_format(""));
        assert!(!is_valid_session_token_format(&"a".repeat(42)));
    }

    #[test]
    fn hashing_and_display() {
        assert_eq!(
            hash_secret("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(hash_secret("mshr_a"), hash_secret("mshr_b"));
        assert_eq!(display_prefix("mshr_AbCdEfGhIjK"), "mshr_AbCdEfG");
        assert_eq!(display_prefix("short"), "short");
        assert_eq!(display_prefix("mshr_ééééééééé"), "mshr_ééééééé");
    }
}

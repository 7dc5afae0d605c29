//! Password hashing with argon2id at OWASP's parameters (m = 19 MiB, t = 2, p = 1).
//!
//! Hashing costs tens of milliseconds of CPU by design, so both functions run on tokio's
//! blocking pool: on an actix worker they would stall every request of that worker.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use secrecy::{ExposeSecret, SecretString};

/// Accepted password lengths, in characters.
pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;

/// Why a password was refused or could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be {MIN_LEN} to {MAX_LEN} characters long")]
    Length,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// Checks the length rule without hashing.
pub fn check_length(password: &SecretString) -> Result<(), PasswordError> {
    let len = password.expose_secret().chars().count();
    if (MIN_LEN..=MAX_LEN).contains(&len) {
        Ok(())
    } else {
        Err(PasswordError::Length)
    }
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub async fn hash(password: SecretString) -> Result<String, PasswordError> {
    check_length(&password)?;
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| PasswordError::Hash(e.to_string()))?
}

/// True when `password` matches the PHC string `hash`. A malformed hash is a mismatch.
pub async fn verify(password: SecretString, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let h = hash(SecretString::from("correct horse")).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify(SecretString::from("correct horse"), h.clone()).await);
        assert!(!verify(SecretString::from("wrong horse"), h).await);
    }

    #[tokio::test]
    async fn length_rules() {
        assert!(matches!(
            hash(SecretString::from("short")).await,
            Err(PasswordError::Length)
        ));
        assert!(check_length(&SecretString::from("x".repeat(MAX_LEN + 1))).is_err());
        assert!(!verify(SecretString::from("anything"), "not-a-phc".into()).await);
    }
}

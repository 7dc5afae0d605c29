//! CSRF tokens of the UI's forms.
//!
//! Signed in, a form's token is a keyed hash of the session's secret cookie token
//! (`SHA-256("mesher-csrf-v1" ‖ 0 ‖ session token)`): bound to that session, the same on
//! every node without a server secret, changed by every new login, and useless to an
//! attacker who cannot read the cookie (it does not reveal the cookie either). Signed out
//! (the login and register forms), it is a random value also set as the `mesher_csrf`
//! cookie (double submit). A post whose token does not match is refused with a 403 page
//! before it does anything.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use sha2::{Digest, Sha256};

use super::WebError;

/// The cookie holding the signed-out forms' token.
pub const ANON_COOKIE: &str = "mesher_csrf";
/// The form field carrying the token.
pub const FIELD: &str = "csrf";

/// The CSRF token of the session whose cookie token is `session_token`.
pub fn for_session(session_token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"mesher-csrf-v1\0");
    h.update(session_token.as_bytes());
    hex::encode(h.finalize())
}

/// The signed-out token of this browser: the `mesher_csrf` cookie's when it has one
/// (`None` second), else a fresh one with the cookie to set.
pub fn anonymous(req: &HttpRequest, secure: bool) -> (String, Option<Cookie<'static>>) {
    if let Some(c) = req.cookie(ANON_COOKIE)
        && c.value().len() == 64
    {
        return (c.value().to_owned(), None);
    }
    let token = crate::domain::keys::generate_secret("", 64);
    let cookie = Cookie::build(ANON_COOKIE, token.clone())
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(secure)
        .finish();
    (token, Some(cookie))
}

/// Compares in time independent of where the strings differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A posted form: its fields in order (a field may repeat, as checkboxes do).
#[derive(Debug, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// The first value of `name`, empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// 403 unless the form's token is `expected`.
    pub fn check(&self, expected: &str) -> Result<(), WebError> {
        if !expected.is_empty() && same(self.get(FIELD), expected) {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }

    /// 403 unless the form's token is the browser's signed-out one.
    pub fn check_anonymous(&self, req: &HttpRequest) -> Result<(), WebError> {
        let cookie = req.cookie(ANON_COOKIE);
        self.check(cookie.as_ref().map_or("", |c| c.value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_session() {
        let a = for_session("a".repeat(43).as_str());
        assert_eq!(a, for_session("a".repeat(43).as_str()));
        assert_ne!(a, for_session("b".repeat(43).as_str()));
        let form = FormData(vec![(FIELD.into(), a.clone())]);
        assert!(form.check(&a).is_ok());
        assert!(form.check(&for_session("b")).is_err());
        assert!(FormData::default().check(&a).is_err());
        assert!(FormData::default().check("").is_err());
    }
}

//! The machine-readable codes of every refusal Mesher answers with: the `code` of the error
//! body `{"error":{"code","message","field"}}`. One list, so a client can rely on it and the
//! OpenAPI document enumerates it; the meaning of each is documented in docs/api.md.

use serde::Serialize;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)+) => {
        /// Why a request was refused, as sent in the error body.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        pub enum ErrorCode {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)+
        }

        impl ErrorCode {
            /// Every code, in declaration order.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code as sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                }
            }
        }

        // The schema by hand: utoipa's derive does not see a `serde(rename)` whose name
        // comes from a macro argument, and documented the Rust names (`InvalidJson`).
        impl utoipa::__dev::ComposeSchema for ErrorCode {
            fn compose(
                _: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
            ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
                    .description(Some("Why a request was refused, as sent in the error body."))
                    .into()
            }
        }

        impl utoipa::ToSchema for ErrorCode {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed("ErrorCode")
            }
        }
    };
}

error_codes! {
    // Bodies and queries
    /// The body is not valid JSON (or not the JSON shape the route takes).
    InvalidJson = "invalid_json",
    /// The body could not be read.
    InvalidBody = "invalid_body",
    /// A value is not an event (e.g. not an object).
    InvalidEvent = "invalid_event",
    /// A Sentry envelope could not be parsed.
    InvalidEnvelope = "invalid_envelope",
    /// A field has the wrong type, value or size; `field` names it.
    InvalidField = "invalid_field",
    /// A required field is absent; `field` names it.
    MissingField = "missing_field",
    /// A field the object does not have; `field` names it.
    UnknownField = "unknown_field",
    /// The query string could not be parsed.
    InvalidQuery = "invalid_query",
    /// The body's `Content-Encoding` could not be decoded.
    InvalidEncoding = "invalid_encoding",
    /// The body or a decompressed body is over its size limit.
    PayloadTooLarge = "payload_too_large",
    /// One event is over the per-event size limit.
    EventTooLarge = "event_too_large",
    /// More events in one request than a request may carry.
    TooManyEvents = "too_many_events",
    /// The `Content-Type` is not one the route takes.
    UnsupportedMediaType = "unsupported_media_type",
    /// The `Content-Encoding` is not one Mesher decodes.
    UnsupportedEncoding = "unsupported_encoding",
    // Ingestion keys
    /// No project key was sent.
    MissingKey = "missing_key",
    /// The project key is malformed, unknown or revoked.
    InvalidKey = "invalid_key",
    /// The key belongs to another project than the one in the URL.
    ProjectMismatch = "project_mismatch",
    /// The project is over its ingestion rate limit.
    RateLimited = "rate_limited",
    // Accounts
    /// No session cookie or token was sent, or the session is unknown.
    Unauthenticated = "unauthenticated",
    /// The session expired (idle or absolute limit).
    SessionExpired = "session_expired",
    /// The bearer token is malformed, unknown or revoked.
    InvalidToken = "invalid_token",
    /// Wrong email or password.
    InvalidCredentials = "invalid_credentials",
    /// Too many failed logins; retry after `Retry-After` seconds.
    TooManyAttempts = "too_many_attempts",
    /// Sign-up is turned off on this server.
    RegistrationDisabled = "registration_disabled",
    /// The email is already registered.
    EmailTaken = "email_taken",
    /// The route needs a session, and the request authenticated with a token.
    NotASession = "not_a_session",
    /// A cookie-authenticated request failed the cross-site request checks.
    Csrf = "csrf",
    // Organizations and access
    /// The caller's role does not allow this.
    Forbidden = "forbidden",
    /// No such resource, or not visible to the caller.
    NotFound = "not_found",
    /// The path exists but does not take this method (the `Allow` header lists those it does).
    MethodNotAllowed = "method_not_allowed",
    /// The slug is already taken.
    SlugTaken = "slug_taken",
    /// The user is already a member of the organization.
    AlreadyMember = "already_member",
    /// The organization's last owner cannot leave or be demoted.
    LastOwner = "last_owner",
    // Our side
    /// A dependency (the database) is unavailable; retry later.
    Unavailable = "unavailable",
    /// Something failed on the server; the cause is in its log.
    Internal = "internal",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_names_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert!(seen.insert(code.as_str()), "{code} twice");
        }
    }
}

//! Field checks shared by the management routes. Each answers the cleaned value or a 400
//! `invalid_field` naming the field, so handlers read `let name = check_name(&body.name)?`.

use chrono::{DateTime, Utc};

use crate::domain::{ErrorCode, IssueStatus, Level, Role};
use crate::error::ApiError;

/// Longest accepted `q` (a substring search), in characters.
pub const MAX_QUERY_CHARS: usize = 1000;
/// Longest name (of an organization or project) or label (of a key or token), in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest slug, in bytes (ASCII only).
pub const MAX_SLUG_LEN: usize = 50;
/// Longest project platform, in characters.
pub const MAX_PLATFORM_CHARS: usize = 64;

/// A JSON body that must be an object, deserialized into `T`. `web::Json<T>` alone also
/// takes an array for a struct (serde fills the fields in order: `[null, null]` would be a
/// patch); this refuses anything but an object with 400 `invalid_json`.
pub struct JsonObject<T>(pub T);

impl<T> JsonObject<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonObject<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        // The body is read (and its size and content type checked) as `web::Json` does.
        let value = actix_web::web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let value = value.await?.into_inner();
            if !value.is_object() {
                return Err(ApiError::bad_request(
                    ErrorCode::InvalidJson,
                    "invalid body: the body must be a JSON object",
                )
                .into());
            }
            serde_json::from_value(value).map(JsonObject).map_err(|e| {
                ApiError::bad_request(ErrorCode::InvalidJson, format!("invalid body: {e}")).into()
            })
        })
    }
}

/// Refuses a text that contains NUL, which PostgreSQL cannot store in `text`.
pub fn no_nul<'a>(field: &str, value: &'a str) -> Result<&'a str, ApiError> {
    if value.contains('\0') {
        Err(ApiError::invalid_field(
            field,
            format!("{field} must not contain NUL (U+0000)"),
        ))
    } else {
        Ok(value)
    }
}
/// A required secret (a password field): present and not `null`, else 400 `missing_field`
/// naming `field`.
pub fn required_secret(
    field: &str,
    value: Option<secrecy::SecretString>,
) -> Result<secrecy::SecretString, ApiError> {
    value.ok_or_else(|| {
        ApiError::bad_request(ErrorCode::MissingField, format!("{field} is required"))
            .with_field(field)
    })
}

/// A slug: 1 to 50 characters among `a-z`, `0-9` and `-`.
pub fn check_slug(slug: &str) -> Result<&str, ApiError> {
    let ok = (1..=MAX_SLUG_LEN).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(slug)
    } else {
        Err(ApiError::invalid_field(
            "slug",
            format!("slug must be 1 to {MAX_SLUG_LEN} characters among a-z, 0-9 and -"),
        ))
    }
}

/// An organization's slug: a [`check_slug`] that is not one of the words the service's own
/// paths start with (`web::RESERVED_SLUGS`: `api`, `login`, `static`, …), since the web UI
/// serves an organization at `/{slug}`.
pub fn check_org_slug(slug: &str) -> Result<&str, ApiError> {
    let slug = check_slug(slug)?;
    if crate::web::RESERVED_SLUGS.contains(&slug) {
        return Err(ApiError::invalid_field(
            "slug",
            format!("the slug {slug:?} is reserved for the service's own pages; choose another"),
        ));
    }
    Ok(slug)
}

/// A project's slug: a [`check_slug`] other than `settings`, the organization's settings
/// page in the web UI (`/{org}/settings`).
pub fn check_project_slug(slug: &str) -> Result<&str, ApiError> {
    let slug = check_slug(slug)?;
    if slug == "settings" {
        return Err(ApiError::invalid_field(
            "slug",
            "the slug \"settings\" is reserved for the organization's settings page; choose another",
        ));
    }
    Ok(slug)
}

/// A name, trimmed: 1 to 200 characters.
pub fn check_name(name: &str) -> Result<&str, ApiError> {
    check_text("name", name)
}

/// A label (of a key or token), trimmed: 1 to 200 characters.
pub fn check_label(label: &str) -> Result<&str, ApiError> {
    check_text("label", label)
}

fn check_text<'a>(field: &str, value: &'a str) -> Result<&'a str, ApiError> {
    // At most 200 characters as sent (as documented), at least one that is not white space.
    let sent = no_nul(field, value)?.chars().count();
    let value = value.trim();
    if !value.is_empty() && sent <= MAX_NAME_CHARS {
        Ok(value)
    } else {
        Err(ApiError::invalid_field(
            field,
            format!("{field} must be 1 to {MAX_NAME_CHARS} characters"),
        ))
    }
}

/// A project platform, trimmed, `None` when blank; at most 64 characters.
pub fn check_platform(platform: Option<&str>) -> Result<Option<&str>, ApiError> {
    if let Some(p) = platform {
        no_nul("platform", p)?;
    }
    match platform.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) if p.chars().count() > MAX_PLATFORM_CHARS => Err(ApiError::invalid_field(
            "platform",
            format!("platform must be at most {MAX_PLATFORM_CHARS} characters"),
        )),
        other => Ok(other),
    }
}

/// A 409 `slug_taken` for a unique violation (the only unique column written by the routes
/// that call this is the slug), any other error as it is.
pub fn slug_conflict(e: diesel::result::Error, what: &str) -> ApiError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => ApiError::conflict(
            ErrorCode::SlugTaken,
            format!("this slug is already used by another {what}"),
        )
        .with_field("slug"),
        other => other.into(),
    }
}

/// An email address, as far as it can be checked without sending mail: one `@`, a dot in
/// the domain, no blanks, 3 to 320 bytes.
pub fn check_email(email: &str) -> Result<&str, ApiError> {
    let sent = email.chars().count();
    let email = email.trim();
    let ok = sent <= 320
        && email.chars().count() >= 3
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.contains(char::is_whitespace)
        && !email.contains('\0');
    if ok {
        Ok(email)
    } else {
        Err(ApiError::invalid_field(
            "email",
            "email is not a valid address",
        ))
    }
}

/// A member's role (`owner`, `admin` or `member`).
pub fn parse_role(role: &str) -> Result<Role, ApiError> {
    role.parse().map_err(|e: crate::domain::role::UnknownRole| {
        ApiError::invalid_field("role", e.to_string())
    })
}

/// An issue status (`unresolved`, `resolved` or `ignored`); absent is invalid too.
pub fn parse_status(status: Option<&str>) -> Result<IssueStatus, ApiError> {
    status.and_then(|s| s.parse().ok()).ok_or_else(|| {
        ApiError::invalid_field("status", "status must be unresolved, resolved or ignored")
    })
}

/// A level (`fatal`, `error`, `warning`, `info`, `debug` and their aliases) in `field`.
pub fn parse_level(field: &str, value: &str) -> Result<Level, ApiError> {
    value.parse().map_err(|_| {
        ApiError::invalid_field(
            field,
            format!("{field} must be one of fatal, error, warning, info, debug"),
        )
    })
}

/// A substring search `q`: empty is none; at most 1000 characters.
pub fn parse_q(q: Option<String>) -> Result<Option<String>, ApiError> {
    // Stored text has NUL replaced by U+FFFD (PostgreSQL cannot hold it); so does a search.
    match q
        .filter(|q| !q.is_empty())
        .map(|q| q.replace('\0', "\u{FFFD}"))
    {
        Some(q) if q.chars().count() > MAX_QUERY_CHARS => Err(ApiError::invalid_field(
            "q",
            format!("q must be at most {MAX_QUERY_CHARS} characters"),
        )),
        q => Ok(q),
    }
}

/// An RFC 3339 time in `field`. An unencoded `+` of an offset arrives as a space, and is
/// read as the `+` it was.
pub fn parse_time(field: &str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .or_else(
            |e| match value.get(19..).filter(|rest| rest.contains(' ')) {
                Some(_) => DateTime::parse_from_rfc3339(&value.replace(' ', "+")),
                None => Err(e),
            },
        )
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::invalid_field(field, format!("{field} must be an RFC 3339 time")))
}

/// A `tag=key:value` filter; the first `:` separates key and value, neither may be empty.
pub fn parse_tag(value: &str) -> Result<(String, String), ApiError> {
    // Stored tags have NUL replaced by U+FFFD (PostgreSQL cannot hold it); so does a filter.
    let nul = |s: &str| s.replace('\0', "\u{FFFD}");
    match value.split_once(':') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((nul(k), nul(v))),
        _ => Err(ApiError::invalid_field("tag", "tag must be key:value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (input, accepted?) for each check; a refusal must name the checked field.
    #[test]
    fn checks_accept_and_refuse_naming_the_field() {
        let long = "x".repeat(201);
        let cases: &[(&str, &str, Result<(), ApiError>)] = &[
            ("slug", "web-1", check_slug("web-1").map(drop)),
            ("slug", "", check_slug("").map(drop)),
            ("slug", "Web", check_slug("Web").map(drop)),
            ("slug", "a_b", check_slug("a_b").map(drop)),
            ("slug", "settings", check_project_slug("settings").map(drop)),
            ("name", " Shop ", check_name(" Shop ").map(drop)),
            ("name", "   ", check_name("   ").map(drop)),
            ("name", "201 chars", check_name(&long).map(drop)),
            (
                "platform",
                "65 chars",
                check_platform(Some(&long[..65])).map(drop),
            ),
            ("role", "owner", parse_role("owner").map(drop)),
            ("role", "root", parse_role("root").map(drop)),
            (
                "status",
                "resolved",
                parse_status(Some("resolved")).map(drop),
            ),
            ("status", "absent", parse_status(None).map(drop)),
            ("level", "warn", parse_level("level", "warn").map(drop)),
            ("level", "loud", parse_level("level", "loud").map(drop)),
            (
                "since",
                "2026-11-29T10:00:00 01:00",
                parse_time("since", "2026-11-29T10:00:00 01:00").map(drop),
            ),
            (
                "since",
                "yesterday",
                parse_time("since", "yesterday").map(drop),
            ),
            ("tag", "k:v:w", parse_tag("k:v:w").map(drop)),
            ("tag", ":v", parse_tag(":v").map(drop)),
            ("slug", "é", check_slug("é").map(drop)),
            ("slug", "50 a", check_slug(&"a".repeat(50)).map(drop)),
            ("slug", "51 a", check_slug(&"a".repeat(51)).map(drop)),
            ("name", "200 é", check_name(&"é".repeat(200)).map(drop)),
            ("name", "201 é", check_name(&"é".repeat(201)).map(drop)),
            ("label", "", check_label("").map(drop)),
            (
                "email",
                "ada@example.com",
                check_email("ada@example.com").map(drop),
            ),
            ("email", "ada", check_email("ada").map(drop)),
            (
                "email",
                "@example.com",
                check_email("@example.com").map(drop),
            ),
            (
                "email",
                "ada@localhost",
                check_email("ada@localhost").map(drop),
            ),
            (
                "email",
                "a da@example.com",
                check_email("a da@example.com").map(drop),
            ),
        ];
        let refused = [
            "",
            "Web",
            "a_b",
            "settings",
            "   ",
            "201 chars",
            "65 chars",
            "root",
            "absent",
            "loud",
            "yesterday",
            ":v",
            "é",
            "51 a",
            "201 é",
            "ada",
            "@example.com",
            "ada@localhost",
            "a da@example.com",
        ];
        for (field, input, result) in cases {
            match result {
                Ok(()) => assert!(!refused.contains(input), "{field} {input:?} accepted"),
                Err(e) => {
                    assert!(refused.contains(input), "{field} {input:?} refused: {e}");
                    assert_eq!(e.field.as_deref(), Some(*field), "{input:?}");
                    assert_eq!(e.code, ErrorCode::InvalidField);
                }
            }
        }
        assert_eq!(check_name(" Shop ").unwrap(), "Shop");
        assert_eq!(check_platform(Some("  ")).unwrap(), None);
        assert_eq!(parse_tag("k:v:w").unwrap(), ("k".into(), "v:w".into()));
    }

    #[test]
    fn a_required_secret_must_be_there() {
        let e = required_secret("current_password", None).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            (ErrorCode::MissingField, Some("current_password"))
        );
        assert!(required_secret("current_password", Some("x".to_owned().into())).is_ok());
    }
}

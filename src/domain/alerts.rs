//! Alert rules (see docs/api.md, “Data model”): a typed [`Condition`] and [`Action`], and the validation of rule
//! bodies sent as raw JSON.
//!
//! Every error is a [`RuleError`] naming the offending field as a path (`name`,
//! `condition.kind`, `condition.threshold`, `action.url`, `action.secret`, …). Rules:
//! - `name`: a string, 1..=[`MAX_NAME_CHARS`] characters once trimmed (stored trimmed).
//! - `enabled`: a boolean (default `true` on creation).
//! - `condition`: an object with `kind` one of `new_issue`, `regression` (no other field) or
//!   `event_frequency` with `threshold` an integer in [`THRESHOLD_MIN`]..=[`THRESHOLD_MAX`]
//!   and `window_secs` an integer in [`WINDOW_SECS_MIN`]..=[`WINDOW_SECS_MAX`] (one minute to
//!   one week).
//! - `action`: an object with `kind` one of `webhook` (with `url`: an absolute `http://` or
//!   `https://` URL with a host, at most [`MAX_URL_CHARS`] characters, no whitespace or control
//!   characters), `email` (with `to`: an optional list of up to [`MAX_RECIPIENTS`] addresses;
//!   absent or empty means every member of the project's organization) or `log` (no other
//!   field).
//! - `filters` (optional): an object with `min_level` (a level name: only events at least this
//!   severe trigger the rule) and `environment` (only events of this environment), both
//!   optional.
//! - A field that is not one of these, at any level, is refused by name (`unknown_field`).
//! - `null` counts as absent (as for events): a required field sent as `null` is missing, an
//!   optional one keeps its default (or, in a patch, its current value).
//!
//! The first problem found is reported, in the order: body shape, unknown top-level fields,
//! `name`, `enabled`, `condition`, `action`, `filters`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Level;
use super::error_code::ErrorCode;
use super::text_enum::text_enum;

/// Longest rule name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Smallest `event_frequency` threshold.
pub const THRESHOLD_MIN: u32 = 1;
/// Largest `event_frequency` threshold.
pub const THRESHOLD_MAX: u32 = 1_000_000;
/// Shortest `event_frequency` window: one minute.
pub const WINDOW_SECS_MIN: u32 = 60;
/// Longest `event_frequency` window: one week.
pub const WINDOW_SECS_MAX: u32 = 604_800;
/// Longest webhook URL, in characters.
pub const MAX_URL_CHARS: usize = 2048;
/// Most addresses an `email` action lists.
pub const MAX_RECIPIENTS: usize = 20;
/// Longest e-mail address, in characters.
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest `filters.environment`, in characters.
pub const MAX_ENVIRONMENT_CHARS: usize = 200;

/// When a rule fires. Stored as JSON tagged by `kind`, e.g. `{"kind":"new_issue"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// An event creates a new issue in the project.
    NewIssue,
    /// A resolved issue receives an event and becomes unresolved again.
    Regression,
    /// An issue is seen at least `threshold` times within `window_secs` seconds.
    EventFrequency {
        /// Events needed to fire, 1..=1 000 000.
        threshold: u32,
        /// Length of the sliding window in seconds, 60..=604 800.
        window_secs: u32,
    },
}

/// What a rule does when it fires. Stored as JSON tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// POST a JSON notification to `url` (http or https).
    Webhook {
        /// The absolute URL, as given.
        url: String,
    },
    /// Send the notification by e-mail (`smtp.url`) to `to`, or to every member of the
    /// project's organization when `to` is empty.
    Email {
        /// The addresses, as given; empty: the organization's members.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        to: Vec<String>,
    },
    /// Write the notification to the server log.
    Log,
}

text_enum! {
    /// Where a notification stands (`alert_deliveries.status`).
    pub enum DeliveryStatus / UnknownDeliveryStatus ("status must be pending, sending, delivered or failed") {
        /// Waiting for its next attempt (`next_attempt_at`).
        Pending = "pending",
        /// Claimed by a delivery worker; due again when its lease ends if that worker died.
        Sending = "sending",
        /// Accepted by its target (a 2xx answer, or the mail server took it).
        Delivered = "delivered",
        /// Given up: every attempt failed, or the target is refused.
        Failed = "failed",
    }
}

/// Which events may trigger a rule. Stored as JSON, e.g. `{"min_level":"error"}`; `{}` lets
/// every event through.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    /// Only events at least this severe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_level: Option<Level>,
    /// Only events of this environment (exactly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
}

impl Filters {
    /// Whether an event of `level` in `environment` passes.
    pub fn admit(&self, level: Level, environment: Option<&str>) -> bool {
        self.min_level.is_none_or(|min| level >= min)
            && self
                .environment
                .as_deref()
                .is_none_or(|env| environment == Some(env))
    }
}

/// A validated rule to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    pub name: String,
    pub enabled: bool,
    pub condition: Condition,
    pub action: Action,
    pub filters: Filters,
}

/// A validated partial update; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulePatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub condition: Option<Condition>,
    pub action: Option<Action>,
    pub filters: Option<Filters>,
}

impl RulePatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Why a rule body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    /// Machine-readable code: `invalid_body`, `missing_field`, `invalid_field` or
    /// `unknown_field`.
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// Path of the offending field (empty for the body itself).
    pub field: String,
}

impl RuleError {
    fn missing(field: &str) -> Self {
        Self {
            code: ErrorCode::MissingField,
            message: format!("`{field}` is required"),
            field: field.to_owned(),
        }
    }

    fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::InvalidField,
            message: message.into(),
            field: field.to_owned(),
        }
    }
}

const BODY_FIELDS: &[&str] = &["name", "enabled", "condition", "action", "filters"];
const CONDITION_KINDS: &[&str] = &["new_issue", "regression", "event_frequency"];
const ACTION_KINDS: &[&str] = &["webhook", "email", "log"];
const FILTER_FIELDS: &[&str] = &["min_level", "environment"];

/// Validates a creation body `{name, enabled?, condition, action}`.
pub fn parse_new_rule(body: &Value) -> Result<NewRule, RuleError> {
    let obj = body_object(body)?;
    let required = |key: &str| present(obj, key).ok_or_else(|| RuleError::missing(key));
    Ok(NewRule {
        name: parse_name(required("name")?)?,
        enabled: present(obj, "enabled")
            .map(parse_enabled)
            .transpose()?
            .unwrap_or(true),
        condition: parse_condition(required("condition")?)?,
        action: parse_action(required("action")?)?,
        filters: present(obj, "filters")
            .map(parse_filters)
            .transpose()?
            .unwrap_or_default(),
    })
}

/// Validates a patch body `{name?, enabled?, condition?, action?}`. A condition or action
/// replaces the current one whole.
pub fn parse_rule_patch(body: &Value) -> Result<RulePatch, RuleError> {
    let obj = body_object(body)?;
    Ok(RulePatch {
        name: present(obj, "name").map(parse_name).transpose()?,
        enabled: present(obj, "enabled").map(parse_enabled).transpose()?,
        condition: present(obj, "condition").map(parse_condition).transpose()?,
        action: present(obj, "action").map(parse_action).transpose()?,
        filters: present(obj, "filters").map(parse_filters).transpose()?,
    })
}

/// Validates a rule name; answers it trimmed.
pub fn parse_name(value: &Value) -> Result<String, RuleError> {
    let name = value
        .as_str()
        .ok_or_else(|| RuleError::invalid("name", "`name` must be a string"))?
        .trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(RuleError::invalid(
            "name",
            format!("`name` must be 1 to {MAX_NAME_CHARS} characters (not blank)"),
        ));
    }
    Ok(name.to_owned())
}

fn parse_enabled(value: &Value) -> Result<bool, RuleError> {
    value
        .as_bool()
        .ok_or_else(|| RuleError::invalid("enabled", "`enabled` must be true or false"))
}

/// Validates a condition object (errors name `condition.*`).
pub fn parse_condition(value: &Value) -> Result<Condition, RuleError> {
    let obj = tagged_object(value, "condition")?;
    let kind = kind_of(obj, "condition", CONDITION_KINDS)?;
    match kind {
        "new_issue" | "regression" => {
            only_fields(obj, "condition", kind, &["kind"])?;
            Ok(if kind == "new_issue" {
                Condition::NewIssue
            } else {
                Condition::Regression
            })
        }
        _ => {
            only_fields(
                obj,
                "condition",
                kind,
                &["kind", "threshold", "window_secs"],
            )?;
            Ok(Condition::EventFrequency {
                threshold: bounded_int(obj, "condition.threshold", THRESHOLD_MIN, THRESHOLD_MAX)?,
                window_secs: bounded_int(
                    obj,
                    "condition.window_secs",
                    WINDOW_SECS_MIN,
                    WINDOW_SECS_MAX,
                )?,
            })
        }
    }
}

/// Validates an action object (errors name `action.*`).
pub fn parse_action(value: &Value) -> Result<Action, RuleError> {
    let obj = tagged_object(value, "action")?;
    let kind = kind_of(obj, "action", ACTION_KINDS)?;
    if kind == "log" {
        only_fields(obj, "action", kind, &["kind"])?;
        return Ok(Action::Log);
    }
    if kind == "email" {
        only_fields(obj, "action", kind, &["kind", "to"])?;
        return Ok(Action::Email {
            to: present(obj, "to")
                .map(parse_recipients)
                .transpose()?
                .unwrap_or_default(),
        });
    }
    only_fields(obj, "action", kind, &["kind", "url"])?;
    let url = present(obj, "url").ok_or_else(|| RuleError::missing("action.url"))?;
    let url = url
        .as_str()
        .ok_or_else(|| RuleError::invalid("action.url", "`action.url` must be a string"))?;
    check_webhook_url(url).map_err(|why| RuleError::invalid("action.url", why))?;
    Ok(Action::Webhook {
        url: url.to_owned(),
    })
}

/// `action.to`: a list of at most [`MAX_RECIPIENTS`] addresses (`local@domain`, no
/// whitespace, at most [`MAX_EMAIL_CHARS`] characters), kept as given.
fn parse_recipients(value: &Value) -> Result<Vec<String>, RuleError> {
    let bad = || {
        RuleError::invalid(
            "action.to",
            format!(
                "`action.to` must be a list of at most {MAX_RECIPIENTS} e-mail addresses (empty: every member)"
            ),
        )
    };
    let list = value.as_array().filter(|l| l.len() <= MAX_RECIPIENTS);
    let list = list.ok_or_else(bad)?;
    list.iter()
        .map(|v| {
            let address = v.as_str().ok_or_else(bad)?;
            let plausible = address.chars().count() <= MAX_EMAIL_CHARS
                && !address.chars().any(|c| c.is_whitespace() || c.is_control())
                && address
                    .split_once('@')
                    .is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'));
            if plausible {
                Ok(address.to_owned())
            } else {
                Err(RuleError::invalid(
                    "action.to",
                    format!("`action.to` holds {v}, which is not an e-mail address"),
                ))
            }
        })
        .collect()
}

/// Validates a filters object (errors name `filters.*`).
pub fn parse_filters(value: &Value) -> Result<Filters, RuleError> {
    let obj = value.as_object().ok_or_else(|| {
        RuleError::invalid(
            "filters",
            "`filters` must be an object, e.g. {\"min_level\":\"error\"}",
        )
    })?;
    if let Some(extra) = obj.keys().find(|k| !FILTER_FIELDS.contains(&k.as_str())) {
        return Err(RuleError {
            code: ErrorCode::UnknownField,
            message: format!(
                "unknown field `{extra}` of filters; expected {}",
                FILTER_FIELDS.join(", ")
            ),
            field: format!("filters.{extra}"),
        });
    }
    let min_level = present(obj, "min_level")
        .map(|v| {
            v.as_str()
                .and_then(|s| Level::ALL.into_iter().find(|l| l.as_str() == s))
                .ok_or_else(|| {
                    RuleError::invalid(
                        "filters.min_level",
                        format!(
                            "`filters.min_level` must be one of debug, info, warning, error, fatal, not {v}"
                        ),
                    )
                })
        })
        .transpose()?;
    let environment = present(obj, "environment")
        .map(|v| {
            v.as_str()
                .filter(|s| !s.is_empty() && s.chars().count() <= MAX_ENVIRONMENT_CHARS)
                .map(str::to_owned)
                .ok_or_else(|| {
                    RuleError::invalid(
                        "filters.environment",
                        format!(
                            "`filters.environment` must be a string of 1 to {MAX_ENVIRONMENT_CHARS} characters"
                        ),
                    )
                })
        })
        .transpose()?;
    Ok(Filters {
        min_level,
        environment,
    })
}

/// Checks a webhook URL; the error says what is wrong with it.
pub fn check_webhook_url(url: &str) -> Result<(), String> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!(
            "`action.url` must be at most {MAX_URL_CHARS} characters"
        ));
    }
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err(
            "`action.url` must not contain whitespace, control characters or backslashes".into(),
        );
    }
    // Stricter than the URL standard, which also reads `http:host` and `http:///host` as
    // `http://host/`: what is stored should be what is meant.
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let authority = ["http://", "https://"]
        .iter()
        .find(|scheme| lower.starts_with(**scheme))
        .map(|scheme| &url[scheme.len()..])
        .ok_or("`action.url` must be an absolute http:// or https:// URL")?;
    if authority.is_empty() || authority.starts_with('/') {
        return Err("`action.url` must name a host".into());
    }
    let parsed =
        url::Url::parse(url).map_err(|e| format!("`action.url` is not a valid URL: {e}"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("`action.url` must name a host".into());
    }
    Ok(())
}

fn body_object(body: &Value) -> Result<&Map<String, Value>, RuleError> {
    let obj = body.as_object().ok_or_else(|| RuleError {
        code: ErrorCode::InvalidBody,
        message: "the body must be a JSON object".into(),
        field: String::new(),
    })?;
    if let Some(extra) = obj.keys().find(|k| !BODY_FIELDS.contains(&k.as_str())) {
        return Err(RuleError {
            code: ErrorCode::UnknownField,
            message: format!(
                "unknown field `{extra}`; expected {}",
                BODY_FIELDS.join(", ")
            ),
            field: extra.clone(),
        });
    }
    Ok(obj)
}

/// `obj[key]` unless absent or `null`.
fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn tagged_object<'a>(value: &'a Value, field: &str) -> Result<&'a Map<String, Value>, RuleError> {
    value.as_object().ok_or_else(|| {
        RuleError::invalid(
            field,
            format!("`{field}` must be an object with a `kind`, e.g. {{\"kind\":\"log\"}}"),
        )
    })
}

fn kind_of<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
    kinds: &[&str],
) -> Result<&'a str, RuleError> {
    let path = format!("{field}.kind");
    let kind = present(obj, "kind").ok_or_else(|| RuleError::missing(&path))?;
    kind.as_str().filter(|k| kinds.contains(k)).ok_or_else(|| {
        RuleError::invalid(
            &path,
            format!(
                "unknown `{path}` {kind}; expected one of {}",
                kinds.join(", ")
            ),
        )
    })
}

fn only_fields(
    obj: &Map<String, Value>,
    field: &str,
    kind: &str,
    allowed: &[&str],
) -> Result<(), RuleError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(extra) => Err(RuleError {
            code: ErrorCode::UnknownField,
            message: format!(
                "unknown field `{extra}` for {field} kind {kind}; expected {}",
                allowed.join(", ")
            ),
            field: format!("{field}.{extra}"),
        }),
    }
}

fn bounded_int(obj: &Map<String, Value>, path: &str, min: u32, max: u32) -> Result<u32, RuleError> {
    let key = path.rsplit('.').next().unwrap_or(path);
    let value = present(obj, key).ok_or_else(|| RuleError::missing(path))?;
    value
        .as_u64()
        .filter(|n| (u64::from(min)..=u64::from(max)).contains(n))
        .map(|n| n as u32)
        .ok_or_else(|| {
            RuleError::invalid(
                path,
                format!("`{path}` must be an integer from {min} to {max}, not {value}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(condition: Value, action: Value) -> Value {
        json!({ "name": "rule", "condition": condition, "action": action })
    }

    fn field_of(result: Result<NewRule, RuleError>) -> (String, ErrorCode) {
        let e = result.expect_err("refused");
        (e.field, e.code)
    }

    fn condition_error(condition: Value) -> (String, ErrorCode) {
        field_of(parse_new_rule(&body(condition, json!({"kind": "log"}))))
    }

    fn action_error(action: Value) -> (String, ErrorCode) {
        field_of(parse_new_rule(&body(json!({"kind": "new_issue"}), action)))
    }

    #[test]
    fn every_valid_kind_parses() {
        let rule = parse_new_rule(&body(
            json!({"kind": "event_frequency", "threshold": 10, "window_secs": 3600}),
            json!({"kind": "webhook", "url": "https://hooks.example.com/x?y=1"}),
        ))
        .unwrap();
        assert_eq!(
            rule,
            NewRule {
                name: "rule".into(),
                enabled: true,
                condition: Condition::EventFrequency {
                    threshold: 10,
                    window_secs: 3600
                },
                action: Action::Webhook {
                    url: "https://hooks.example.com/x?y=1".into()
                },
                filters: Filters::default(),
            }
        );
        assert_eq!(
            parse_condition(&json!({"kind": "new_issue"})),
            Ok(Condition::NewIssue)
        );
        assert_eq!(
            parse_condition(&json!({"kind": "regression"})),
            Ok(Condition::Regression)
        );
        assert_eq!(parse_action(&json!({"kind": "log"})), Ok(Action::Log));
    }

    #[test]
    fn typed_values_serialize_to_the_spec_shapes_and_back() {
        let cases = [
            (
                serde_json::to_value(Condition::NewIssue).unwrap(),
                json!({"kind": "new_issue"}),
            ),
            (
                serde_json::to_value(Condition::Regression).unwrap(),
                json!({"kind": "regression"}),
            ),
            (
                serde_json::to_value(Condition::EventFrequency {
                    threshold: 5,
                    window_secs: 60,
                })
                .unwrap(),
                json!({"kind": "event_frequency", "threshold": 5, "window_secs": 60}),
            ),
            (
                serde_json::to_value(Action::Log).unwrap(),
                json!({"kind": "log"}),
            ),
            (
                serde_json::to_value(Action::Webhook {
                    url: "http://h/".into(),
                })
                .unwrap(),
                json!({"kind": "webhook", "url": "http://h/"}),
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
        // What is stored parses back through the validator unchanged.
        let c = Condition::EventFrequency {
            threshold: 7,
            window_secs: 120,
        };
        assert_eq!(parse_condition(&serde_json::to_value(&c).unwrap()), Ok(c));
    }

    #[test]
    fn condition_kind_must_be_known() {
        for bad in [
            json!({}),
            json!({"kind": null}),
            json!({"kind": "sometimes"}),
            json!({"kind": 3}),
            json!({"kind": "NEW_ISSUE"}),
        ] {
            assert_eq!(condition_error(bad.clone()).0, "condition.kind", "{bad}");
        }
        assert_eq!(
            condition_error(json!({})),
            ("condition.kind".into(), ErrorCode::MissingField)
        );
        assert_eq!(
            condition_error(json!("new_issue")),
            ("condition".into(), ErrorCode::InvalidField)
        );
    }

    #[test]
    fn threshold_is_an_integer_in_range() {
        let with = |t: Value| json!({"kind": "event_frequency", "threshold": t, "window_secs": 60});
        for bad in [
            json!(0),
            json!(-1),
            json!(1_000_001),
            json!(1.5),
            json!("10"),
            json!(u64::MAX),
        ] {
            assert_eq!(
                condition_error(with(bad.clone())),
                ("condition.threshold".into(), ErrorCode::InvalidField),
                "{bad}"
            );
        }
        assert_eq!(
            condition_error(json!({"kind": "event_frequency", "window_secs": 60})),
            ("condition.threshold".into(), ErrorCode::MissingField)
        );
        for good in [1, 1_000_000] {
            assert!(parse_condition(&with(json!(good))).is_ok(), "{good}");
        }
    }

    #[test]
    fn window_is_one_minute_to_one_week() {
        let with = |w: Value| json!({"kind": "event_frequency", "threshold": 1, "window_secs": w});
        for bad in [json!(59), json!(604_801), json!(0), json!(true)] {
            assert_eq!(
                condition_error(with(bad.clone())).0,
                "condition.window_secs",
                "{bad}"
            );
        }
        assert_eq!(
            condition_error(json!({"kind": "event_frequency", "threshold": 1})),
            ("condition.window_secs".into(), ErrorCode::MissingField)
        );
        for good in [60, 604_800] {
            assert!(parse_condition(&with(json!(good))).is_ok(), "{good}");
        }
    }

    #[test]
    fn unknown_fields_are_named() {
        assert_eq!(
            condition_error(json!({"kind": "new_issue", "threshold": 3})),
            ("condition.threshold".into(), ErrorCode::UnknownField)
        );
        assert_eq!(
            condition_error(
                json!({"kind": "event_frequency", "threshold": 3, "window_secs": 60, "x": 1})
            ),
            ("condition.x".into(), ErrorCode::UnknownField)
        );
        assert_eq!(
            action_error(json!({"kind": "log", "url": "http://h"})),
            ("action.url".into(), ErrorCode::UnknownField)
        );
        assert_eq!(
            action_error(json!({"kind": "webhook", "url": "http://h", "secret": "s"})),
            ("action.secret".into(), ErrorCode::UnknownField)
        );
        let mut top = body(json!({"kind": "new_issue"}), json!({"kind": "log"}));
        top["project_id"] = json!("p");
        assert_eq!(
            field_of(parse_new_rule(&top)),
            ("project_id".into(), ErrorCode::UnknownField)
        );
    }

    #[test]
    fn action_kind_must_be_known() {
        assert_eq!(
            action_error(json!({"kind": "sms"})),
            ("action.kind".into(), ErrorCode::InvalidField)
        );
        assert_eq!(
            action_error(json!({"url": "http://h"})),
            ("action.kind".into(), ErrorCode::MissingField)
        );
        assert_eq!(
            action_error(json!([])),
            ("action".into(), ErrorCode::InvalidField)
        );
    }

    #[test]
    fn webhook_urls() {
        for good in [
            "http://localhost:9000/hook",
            "HTTPS://Example.com",
            "https://user:pw@hooks.example.com/a/b?c=d#e",
            "http://[::1]:8080/",
            "http://10.0.0.5/x",
        ] {
            assert_eq!(check_webhook_url(good), Ok(()), "{good}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        for bad in [
            "",
            "example.com/hook",
            "ftp://example.com/",
            "javascript:alert(1)",
            "http:example.com",
            "http:/example.com",
            "http://",
            "http:///path",
            "https://exa mple.com/",
            " https://example.com/",
            "https://example.com/\n",
            "http://\\\\evil.com/",
            "http://exa%mple.com/",
            "http://example.com:99999/",
            &long,
        ] {
            assert_eq!(
                action_error(json!({"kind": "webhook", "url": bad})),
                ("action.url".into(), ErrorCode::InvalidField),
                "{bad:?}"
            );
        }
        assert_eq!(
            action_error(json!({"kind": "webhook"})),
            ("action.url".into(), ErrorCode::MissingField)
        );
        assert_eq!(
            action_error(json!({"kind": "webhook", "url": 5})),
            ("action.url".into(), ErrorCode::InvalidField)
        );
        let exact = format!("https://e.com/{}", "a".repeat(MAX_URL_CHARS - 14));
        assert_eq!(exact.len(), MAX_URL_CHARS);
        assert_eq!(check_webhook_url(&exact), Ok(()));
    }

    #[test]
    fn names() {
        let with = |name: Value| {
            let mut b = body(json!({"kind": "new_issue"}), json!({"kind": "log"}));
            b["name"] = name;
            parse_new_rule(&b)
        };
        assert_eq!(with(json!("  spaced  ")).unwrap().name, "spaced");
        assert!(with(json!("é".repeat(MAX_NAME_CHARS))).is_ok());
        for bad in [json!(""), json!("   "), json!(3), json!("x".repeat(201))] {
            assert_eq!(
                field_of(with(bad.clone())),
                ("name".into(), ErrorCode::InvalidField),
                "{bad}"
            );
        }
        assert_eq!(
            field_of(with(Value::Null)),
            ("name".into(), ErrorCode::MissingField)
        );
    }

    #[test]
    fn creation_needs_every_required_field_and_defaults_enabled() {
        for missing in ["name", "condition", "action"] {
            let mut b = body(json!({"kind": "new_issue"}), json!({"kind": "log"}));
            b.as_object_mut().unwrap().remove(missing);
            assert_eq!(
                field_of(parse_new_rule(&b)),
                (missing.to_owned(), ErrorCode::MissingField)
            );
        }
        let mut b = body(json!({"kind": "new_issue"}), json!({"kind": "log"}));
        b["enabled"] = json!(false);
        assert!(!parse_new_rule(&b).unwrap().enabled);
        b["enabled"] = json!("no");
        assert_eq!(
            field_of(parse_new_rule(&b)),
            ("enabled".into(), ErrorCode::InvalidField)
        );
        assert_eq!(
            parse_new_rule(&json!([1])).unwrap_err().code,
            ErrorCode::InvalidBody
        );
    }

    #[test]
    fn patches_validate_what_they_carry() {
        assert!(parse_rule_patch(&json!({})).unwrap().is_empty());
        assert!(parse_rule_patch(&json!({"name": null})).unwrap().is_empty());
        let p = parse_rule_patch(&json!({"enabled": false, "action": {"kind": "log"}})).unwrap();
        assert_eq!(
            p,
            RulePatch {
                enabled: Some(false),
                action: Some(Action::Log),
                ..RulePatch::default()
            }
        );
        for (patch, field) in [
            (json!({"name": ""}), "name"),
            (json!({"enabled": 1}), "enabled"),
            (
                json!({"condition": {"kind": "event_frequency"}}),
                "condition.threshold",
            ),
            (
                json!({"action": {"kind": "webhook", "url": "nope"}}),
                "action.url",
            ),
            (json!({"id": "x"}), "id"),
        ] {
            assert_eq!(
                parse_rule_patch(&patch).unwrap_err().field,
                field,
                "{patch}"
            );
        }
        assert_eq!(
            parse_rule_patch(&json!("x")).unwrap_err().code,
            ErrorCode::InvalidBody
        );
    }

    #[test]
    fn email_actions_and_filters() {
        assert_eq!(
            parse_action(&json!({"kind": "email"})),
            Ok(Action::Email { to: vec![] })
        );
        assert_eq!(
            parse_action(&json!({"kind": "email", "to": ["a@example.com"]})),
            Ok(Action::Email {
                to: vec!["a@example.com".into()]
            })
        );
        for bad in [
            json!("a@example.com"),
            json!(["nope"]),
            json!(["a b@c"]),
            json!([1]),
        ] {
            assert_eq!(
                action_error(json!({"kind": "email", "to": bad})),
                ("action.to".into(), ErrorCode::InvalidField)
            );
        }
        let mut b = body(json!({"kind": "new_issue"}), json!({"kind": "log"}));
        b["filters"] = json!({"min_level": "error", "environment": "production"});
        let rule = parse_new_rule(&b).unwrap();
        assert_eq!(rule.filters.min_level, Some(Level::Error));
        assert!(rule.filters.admit(Level::Fatal, Some("production")));
        assert!(!rule.filters.admit(Level::Warning, Some("production")));
        assert!(!rule.filters.admit(Level::Error, Some("staging")));
        assert!(!rule.filters.admit(Level::Error, None));
        assert!(Filters::default().admit(Level::Debug, None));
        for (filters, field) in [
            (json!({"min_level": "loud"}), "filters.min_level"),
            (json!({"environment": ""}), "filters.environment"),
            (json!({"release": "1"}), "filters.release"),
            (json!([]), "filters"),
        ] {
            b["filters"] = filters;
            assert_eq!(parse_new_rule(&b).unwrap_err().field, field);
        }
        assert_eq!(serde_json::to_value(Filters::default()).unwrap(), json!({}));
    }
}

//! The alert rule form, shared by the creation form (list page) and the edit form (a rule's
//! page): its fields drawn from what was sent (or from the stored rule), and turned into the
//! API's rule body, so both go through the API's validation, whose errors name the field
//! shown by its input.

use maud::{Markup, html};
use serde_json::{Map, Value, json};

use super::window;
use crate::db::alerts::AlertRule;
use crate::domain::Level;
use crate::domain::alerts::{Action, Condition, Filters};
use crate::error::ApiError;
use crate::web::csrf::FormData;

/// The windows the form offers for `event_frequency`, in seconds.
pub const WINDOWS: &[u32] = &[60, 300, 900, 3600, 86_400, 604_800];

/// A refused form: the message and the form field it belongs to.
pub struct FormError {
    pub message: String,
    pub input: &'static str,
}

impl FormError {
    /// The error the validation answered, by its input.
    pub fn of(e: ApiError) -> Self {
        Self {
            input: input_of(e.field.as_deref().unwrap_or("")),
            message: e.message,
        }
    }
}

/// The form's input that holds the rule body's `field` (as the validation names it).
pub fn input_of(field: &str) -> &'static str {
    match field {
        "name" => "name",
        "condition.threshold" => "threshold",
        "condition.window_secs" => "window_secs",
        f if f.starts_with("condition") => "condition",
        "action.url" => "url",
        "action.to" => "to",
        f if f.starts_with("action") => "action",
        "filters.min_level" => "min_level",
        "filters.environment" => "environment",
        _ => "",
    }
}

/// A number as JSON when it reads as one, else the text (which the validation then refuses,
/// naming the field).
fn number(text: &str) -> Value {
    let text = text.trim();
    text.parse::<u64>()
        .map_or_else(|_| Value::String(text.to_owned()), Value::from)
}

/// The API's rule body for the form (a whole rule: as a patch it replaces every field but
/// `enabled`; empty filters clear them).
pub fn rule_body(form: &FormData) -> Value {
    let condition = match form.get("condition") {
        "event_frequency" => json!({
            "kind": "event_frequency",
            "threshold": number(form.get("threshold")),
            "window_secs": number(form.get("window_secs")),
        }),
        kind => json!({ "kind": kind }),
    };
    let action = match form.get("action") {
        "webhook" => json!({ "kind": "webhook", "url": form.get("url").trim() }),
        "email" => {
            let to: Vec<&str> = form
                .get("to")
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|a| !a.is_empty())
                .collect();
            json!({ "kind": "email", "to": to })
        }
        kind => json!({ "kind": kind }),
    };
    let mut filters = Map::new();
    for key in ["min_level", "environment"] {
        let value = form.get(key).trim();
        if !value.is_empty() {
            filters.insert(key.to_owned(), json!(value));
        }
    }
    json!({
        "name": form.get("name"),
        "condition": condition,
        "action": action,
        "filters": filters,
    })
}

/// The API's patch body for the edit form: the whole rule ([`rule_body`]) and `enabled`,
/// its checkbox (a box left unchecked is not sent: disabled).
pub fn edit_body(form: &FormData) -> Value {
    let mut body = rule_body(form);
    body["enabled"] = json!(form.get("enabled") == "true");
    body
}

/// The form's fields as the stored `rule` fills them (the edit form before any post).
pub fn form_of(rule: &AlertRule) -> FormData {
    let mut f = vec![("name", rule.name.clone())];
    if rule.enabled {
        f.push(("enabled", "true".into()));
    }
    match serde_json::from_value::<Condition>(rule.condition.clone()) {
        Ok(Condition::NewIssue) => f.push(("condition", "new_issue".into())),
        Ok(Condition::Regression) => f.push(("condition", "regression".into())),
        Ok(Condition::EventFrequency {
            threshold,
            window_secs,
        }) => f.extend([
            ("condition", "event_frequency".into()),
            ("threshold", threshold.to_string()),
            ("window_secs", window_secs.to_string()),
        ]),
        Err(_) => {}
    }
    match serde_json::from_value::<Action>(rule.action.clone()) {
        Ok(Action::Webhook { url }) => f.extend([("action", "webhook".into()), ("url", url)]),
        Ok(Action::Email { to }) => f.extend([("action", "email".into()), ("to", to.join(", "))]),
        Ok(Action::Log) => f.push(("action", "log".into())),
        Err(_) => {}
    }
    let filters: Filters = serde_json::from_value(rule.filters.clone()).unwrap_or_default();
    if let Some(level) = filters.min_level {
        f.push(("min_level", level.as_str().into()));
    }
    if let Some(env) = filters.environment {
        f.push(("environment", env));
    }
    FormData(f.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// The field's error under it, if the refused form names it.
fn field_error(error: Option<&FormError>, id: &str, input: &str) -> Markup {
    html! {
        @if let Some(e) = error.filter(|e| e.input == input) {
            span.error id={ "err-" (id) (input) } { (e.message) }
        }
    }
}

/// The rule's fields (name, condition, action, filters), filled from `sent`, with the
/// refused form's error by its input. `id` prefixes the element ids, so that two forms on one
/// page would not share them (`""` for the creation form, `"edit-"` for the edit form).
pub fn rule_fields(id: &str, error: Option<&FormError>, sent: &FormData) -> Markup {
    let value = |name: &str| sent.get(name).to_owned();
    let chosen = |name: &str, option: &str, default: bool| {
        let got = sent.get(name);
        got == option || (got.is_empty() && default)
    };
    let described = |input: &str| {
        error
            .filter(|e| e.input == input)
            .map(|_| format!("err-{id}{input}"))
    };
    html! {
        label { "Name" input type="text" name="name" required maxlength="200" value=(value("name")) aria-describedby=[described("name")]; }
        (field_error(error, id, "name"))
        label { "When"
            select name="condition" aria-describedby=[described("condition")] {
                option value="new_issue" selected[chosen("condition", "new_issue", true)] { "A new issue is created" }
                option value="regression" selected[chosen("condition", "regression", false)] { "A resolved issue comes back (regression)" }
                option value="event_frequency" selected[chosen("condition", "event_frequency", false)] { "An issue is seen often (event frequency)" }
            }
        }
        (field_error(error, id, "condition"))
        label { "Events (event frequency)" input type="number" name="threshold" min="1" max="1000000" value=(value("threshold")) placeholder="100" aria-describedby=[described("threshold")]; }
        (field_error(error, id, "threshold"))
        label { "Within (event frequency)"
            select name="window_secs" aria-describedby=[described("window_secs")] {
                @for &w in WINDOWS {
                    option value=(w) selected[chosen("window_secs", &w.to_string(), w == 3600)] { (window(w)) }
                }
            }
        }
        (field_error(error, id, "window_secs"))
        label { "Then"
            select name="action" aria-describedby=[described("action")] {
                option value="webhook" selected[chosen("action", "webhook", true)] { "Send a webhook" }
                option value="email" selected[chosen("action", "email", false)] { "Send an e-mail" }
                option value="log" selected[chosen("action", "log", false)] { "Write to the server log" }
            }
        }
        (field_error(error, id, "action"))
        label { "Webhook URL" input type="url" name="url" maxlength="2048" value=(value("url")) placeholder="https://hooks.example.com/mesher" aria-describedby=[described("url")]; }
        (field_error(error, id, "url"))
        label { "E-mail addresses (comma-separated; empty: every member)" input type="text" name="to" value=(value("to")) aria-describedby=[described("to")]; }
        (field_error(error, id, "to"))
        label { "Minimum level"
            select name="min_level" aria-describedby=[described("min_level")] {
                option value="" selected[sent.get("min_level").is_empty()] { "Any level" }
                @for l in Level::ALL {
                    option value=(l.as_str()) selected[sent.get("min_level") == l.as_str()] { (l.as_str()) }
                }
            }
        }
        (field_error(error, id, "min_level"))
        label { "Environment (empty: any)" input type="text" name="environment" maxlength="200" value=(value("environment")) placeholder="production" aria-describedby=[described("environment")]; }
        (field_error(error, id, "environment"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)]) -> FormData {
        FormData(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn forms_become_the_api_body_and_errors_find_their_input() {
        let body = rule_body(&form(&[
            ("name", "Busy"),
            ("condition", "event_frequency"),
            ("threshold", " 100 "),
            ("window_secs", "3600"),
            ("action", "email"),
            ("to", "a@example.com, b@example.com"),
            ("min_level", "error"),
            ("environment", ""),
            ("url", "ignored"),
        ]));
        assert_eq!(
            body,
            json!({
                "name": "Busy",
                "condition": {"kind": "event_frequency", "threshold": 100, "window_secs": 3600},
                "action": {"kind": "email", "to": ["a@example.com", "b@example.com"]},
                "filters": {"min_level": "error"},
            })
        );
        let refused = crate::domain::alerts::parse_new_rule(&rule_body(&form(&[
            ("name", "x"),
            ("condition", "event_frequency"),
            ("threshold", "lots"),
            ("window_secs", "60"),
            ("action", "log"),
        ])))
        .unwrap_err();
        assert_eq!(input_of(&refused.field), "threshold");
        for (field, input) in [
            ("name", "name"),
            ("condition.kind", "condition"),
            ("action.url", "url"),
            ("action.kind", "action"),
            ("filters.environment", "environment"),
        ] {
            assert_eq!(input_of(field), input);
        }
        assert_eq!(window(604_800), "7 d");
        assert_eq!(window(900), "15 min");
    }

    #[test]
    fn a_stored_rule_fills_the_form_that_gives_it_back() {
        let now = chrono::Utc::now();
        // (condition, action, filters, enabled) as stored
        let cases = [
            (
                json!({"kind": "event_frequency", "threshold": 10, "window_secs": 300}),
                json!({"kind": "email", "to": ["a@example.com", "b@example.com"]}),
                json!({"min_level": "error", "environment": "production"}),
                true,
            ),
            (
                json!({"kind": "regression"}),
                json!({"kind": "webhook", "url": "https://hooks.example.com/x"}),
                json!({}),
                false,
            ),
            (
                json!({"kind": "new_issue"}),
                json!({"kind": "log"}),
                json!({}),
                true,
            ),
        ];
        for (condition, action, filters, enabled) in cases {
            let rule = AlertRule {
                id: crate::domain::RuleId::new(),
                project_id: crate::domain::ProjectId::new(),
                name: "Busy".into(),
                enabled,
                condition: condition.clone(),
                action: action.clone(),
                created_at: now,
                updated_at: now,
                secret: String::new(),
                filters: filters.clone(),
            };
            let body = edit_body(&form_of(&rule));
            assert_eq!(
                body,
                json!({"name": "Busy", "condition": condition, "action": action,
                    "filters": filters, "enabled": enabled})
            );
        }
    }
}

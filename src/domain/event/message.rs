//! Resolving the event's required `message`.
//!
//! Precedence: an explicit `message` string; else a Sentry message object
//! (`{"formatted"|"message", "params"}`, as `message` or `logentry`); else the
//! primary exception as `"<type>: <value>"`. The log line comes before the exception
//! because it is what the developer wrote (Python's logging integration sends both
//! `logentry` and the exception of `exc_info`); the issue *title* still prefers the
//! exception, see `fingerprint::title_and_culprit`.

use serde_json::Value;

use super::{ErrorCode, EventError, Exception, MAX_MESSAGE_CHARS};

/// Returns the message and, when `message` was an object, that object (to be kept
/// in `extra`, so its `params` are not lost).
pub(super) fn resolve(
    message: Option<Value>,
    logentry: Option<&Value>,
    exceptions: Option<&[Exception]>,
) -> Result<(String, Option<Value>), EventError> {
    match message {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(Value::String(s)) if s.chars().count() > MAX_MESSAGE_CHARS => {
            return Err(EventError::invalid(
                "message",
                &format!("must be at most {MAX_MESSAGE_CHARS} characters"),
            ));
        }
        Some(Value::String(s)) => return Ok((s, None)),
        Some(obj @ Value::Object(_)) => {
            if let Some(text) = from_message_object(&obj, "message")? {
                return Ok((text, Some(obj)));
            }
            return Ok((from_fallbacks(logentry, exceptions)?, Some(obj)));
        }
        Some(_) => return Err(EventError::invalid("message", "must be a string")),
    }
    Ok((from_fallbacks(logentry, exceptions)?, None))
}

fn from_fallbacks(
    logentry: Option<&Value>,
    exceptions: Option<&[Exception]>,
) -> Result<String, EventError> {
    match logentry {
        None | Some(Value::Null) => {}
        Some(v @ Value::Object(_)) => {
            if let Some(text) = from_message_object(v, "logentry")? {
                return Ok(text);
            }
        }
        Some(_) => return Err(EventError::invalid("logentry", "must be an object")),
    }
    from_exception(exceptions.unwrap_or_default()).ok_or_else(|| EventError {
        code: ErrorCode::MissingField,
        message: "`message` is required (or an `exception` or `logentry` to derive it from)"
            .to_owned(),
        field: Some("message".to_owned()),
    })
}

/// Sentry orders chained exceptions innermost (the cause) first and the exception
/// that was actually raised last, so the last one with a type or value is the one a
/// reader means by "the" exception: the message is derived from it.
fn from_exception(exceptions: &[Exception]) -> Option<String> {
    let text = exceptions.iter().rev().find_map(Exception::summary)?;
    Some(truncate_chars(text, MAX_MESSAGE_CHARS))
}

/// `formatted` if present, else `message` with `params` applied.
fn from_message_object(v: &Value, field: &str) -> Result<Option<String>, EventError> {
    let text = |key: &str| match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(EventError::invalid(
            format!("{field}.{key}"),
            "must be a string",
        )),
    };
    let formatted = text("formatted")?;
    let template = text("message")?;
    let out = match (formatted, template) {
        (Some(f), _) => f.to_owned(),
        (None, Some(t)) => apply_params(t, v.get("params")),
        (None, None) => return Ok(None),
    };
    Ok(Some(truncate_chars(out, MAX_MESSAGE_CHARS)))
}

/// Applies positional `params` to a `%s`-style template (`%%` is a literal `%`).
/// Any other directive, named params, or a count mismatch leaves the template raw:
/// guessing at printf semantics would produce misleading messages. So does a result
/// that would be empty (`"%s"` with `[""]`, as `logging.error("%s", "")` sends): a
/// message is never empty, and the template at least says where it came from.
fn apply_params(template: &str, params: Option<&Value>) -> String {
    let Some(Value::Array(params)) = params else {
        return template.to_owned();
    };
    let mut out = String::with_capacity(template.len());
    let mut next = params.iter();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('s') => match next.next() {
                Some(Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
                None => return template.to_owned(),
            },
            _ => return template.to_owned(),
        }
    }
    if next.len() == 0 && !out.is_empty() {
        out
    } else {
        template.to_owned()
    }
}

/// Cuts `s` to at most `max` characters (never inside a UTF-8 sequence).
pub(super) fn truncate_chars(mut s: String, max: usize) -> String {
    if let Some((idx, _)) = s.char_indices().nth(max) {
        s.truncate(idx);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn params_are_applied_only_when_simple() {
        let p = json!([1234, "x"]);
        assert_eq!(apply_params("order %s by %s", Some(&p)), "order 1234 by x");
        assert_eq!(apply_params("100%% of %s, %s", Some(&p)), "100% of 1234, x");
        assert_eq!(apply_params("order %d by %s", Some(&p)), "order %d by %s");
        assert_eq!(apply_params("only %s", Some(&p)), "only %s");
        assert_eq!(apply_params("%s %s %s", Some(&p)), "%s %s %s");
        assert_eq!(apply_params("trailing %", Some(&p)), "trailing %");
        assert_eq!(
            apply_params("named %(a)s", Some(&json!({"a": 1}))),
            "named %(a)s"
        );
        assert_eq!(apply_params("no params %s", None), "no params %s");
        assert_eq!(apply_params("%s", Some(&json!([null]))), "null");
        // Caught by the `event` fuzz target (fuzz/): an empty result made an empty message.
        assert_eq!(apply_params("%s", Some(&json!([""]))), "%s");
        assert_eq!(apply_params("%s%s", Some(&json!(["", ""]))), "%s%s");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_chars("héllo".to_owned(), 2), "hé");
        assert_eq!(truncate_chars("hé".to_owned(), 5), "hé");
        assert_eq!(truncate_chars("€€€".to_owned(), 0), "");
    }

    #[test]
    fn exception_message_uses_the_last_exception_with_text() {
        let exc = |t: Option<&str>, v: Option<&str>| Exception {
            ty: t.map(str::to_owned),
            value: v.map(str::to_owned),
            ..Default::default()
        };
        let chain = [
            exc(Some("Inner"), Some("cause")),
            exc(Some("Outer"), Some("raised")),
        ];
        assert_eq!(from_exception(&chain).unwrap(), "Outer: raised");
        assert_eq!(from_exception(&[exc(Some("T"), None)]).unwrap(), "T");
        assert_eq!(from_exception(&[exc(None, Some("v"))]).unwrap(), "v");
        assert_eq!(
            from_exception(&[exc(Some("A"), Some("a")), exc(None, None)]).unwrap(),
            "A: a"
        );
        assert_eq!(from_exception(&[exc(None, None)]), None);
        let long = exc(Some("E"), Some(&"v".repeat(MAX_MESSAGE_CHARS)));
        assert_eq!(
            from_exception(&[long]).unwrap().chars().count(),
            MAX_MESSAGE_CHARS
        );
    }
}

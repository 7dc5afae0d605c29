//! Typed Sentry interfaces: exceptions with stack traces, and breadcrumbs.
//!
//! Every struct keeps the fields it does not type in `other`, so nothing the SDK
//! sent is lost (e.g. `instruction_addr`, `platform` or `data` on frames).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{EventError, Level, fields};

/// One exception of a (possibly chained) error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    /// Exception class, e.g. `ValueError`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// Exception message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Module the class is defined in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// How it was captured (`{"type":"generic","handled":true}`), kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<Value>,
    /// Where it was raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<Stacktrace>,
    /// Fields not typed above.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Exception {
    /// `"<type>: <value>"`, or whichever of the two is present and non-empty.
    pub fn summary(&self) -> Option<String> {
        let ty = self.ty.as_deref().filter(|t| !t.is_empty());
        let value = self.value.as_deref().filter(|v| !v.is_empty());
        match (ty, value) {
            (Some(t), Some(v)) => Some(format!("{t}: {v}")),
            (Some(s), None) | (None, Some(s)) => Some(s.to_owned()),
            (None, None) => None,
        }
    }
}

/// A stack trace; frames are ordered oldest call first, the crashing frame last.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stacktrace {
    /// The frames.
    #[serde(default)]
    pub frames: Vec<Frame>,
    /// Fields not typed above (e.g. `registers`).
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One stack frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)] // The field names are Sentry's and self-explanatory.
pub struct Frame {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abs_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineno: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colno: Option<u64>,
    /// Whether the frame is application code (drives grouping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_app: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_line: Option<String>,
    /// Source lines before `context_line` (`null` lines become `""`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_context: Option<Vec<String>>,
    /// Source lines after `context_line` (`null` lines become `""`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_context: Option<Vec<String>>,
    /// Local variables, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vars: Option<Value>,
    /// Fields not typed above.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A breadcrumb: something that happened before the event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Breadcrumb {
    /// When it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<DateTime<Utc>>,
    /// Kind, e.g. `default`, `http`, `navigation`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// Category, e.g. `db`, `console`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Severity: canonical level name when recognised, else kept as sent (SDKs use
    /// values such as `assert`, and a breadcrumb is no reason to reject an event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Structured payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Map<String, Value>>,
    /// Fields not typed above.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Unwraps Sentry's `{"values": [...]}` or a bare list, returning the items and the
/// path prefix to name them by. `Ok(None)`: absent or empty.
fn value_list(v: Option<Value>, field: &str) -> Result<Option<(Vec<Value>, String)>, EventError> {
    let (items, path) = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => (items, field.to_owned()),
        Some(Value::Object(mut m)) => match m.remove("values") {
            Some(Value::Array(items)) => (items, format!("{field}.values")),
            None | Some(Value::Null) if m.is_empty() => return Ok(None),
            // A lone object without `values` is a single item (old SDKs send that).
            None => (vec![Value::Object(m)], field.to_owned()),
            Some(_) => {
                return Err(EventError::invalid(
                    format!("{field}.values"),
                    "must be a list",
                ));
            }
        },
        Some(_) => {
            return Err(EventError::invalid(
                field,
                "must be a list or {\"values\": [...]}",
            ));
        }
    };
    Ok((!items.is_empty()).then_some((items, path)))
}

/// Where a nested field is, written out only when an error names it (a `format!` per
/// exception, frame and breadcrumb would cost more than the checks themselves).
#[derive(Clone, Copy)]
enum Path<'a> {
    /// `exception.values`, `breadcrumbs`, ...
    Root(&'a str),
    /// `<parent>[i]`.
    Index(&'a Path<'a>, usize),
    /// `<parent>.key`.
    Key(&'a Path<'a>, &'a str),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root(root) => f.write_str(root),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
        }
    }
}

fn as_object(v: Value, path: Path<'_>) -> Result<Map<String, Value>, EventError> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(EventError::invalid(path, "must be an object")),
    }
}

/// A string sub-field with no length limit of its own (the body limit bounds it).
fn text(
    m: &mut Map<String, Value>,
    key: &str,
    path: Path<'_>,
) -> Result<Option<String>, EventError> {
    match m.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(EventError::invalid(
            format!("{path}.{key}"),
            "must be a string",
        )),
    }
}

fn any(m: &mut Map<String, Value>, key: &str) -> Option<Value> {
    m.remove(key).filter(|v| !v.is_null())
}

/// `exception`: `{"values": [...]}`, a bare list, or a single exception object.
pub(super) fn exceptions(v: Option<Value>) -> Result<Option<Vec<Exception>>, EventError> {
    let Some((items, path)) = value_list(v, "exception")? else {
        return Ok(None);
    };
    let root = Path::Root(&path);
    let parsed = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| exception(item, Path::Index(&root, i)))
        .collect::<Result<_, _>>()?;
    Ok(Some(parsed))
}

fn exception(v: Value, path: Path<'_>) -> Result<Exception, EventError> {
    let mut m = as_object(v, path)?;
    let stacktrace = match any(&mut m, "stacktrace") {
        None => None,
        Some(st) => Some(stacktrace(st, Path::Key(&path, "stacktrace"))?),
    };
    Ok(Exception {
        ty: text(&mut m, "type", path)?,
        value: text(&mut m, "value", path)?,
        module: text(&mut m, "module", path)?,
        mechanism: any(&mut m, "mechanism"),
        stacktrace,
        other: m,
    })
}

fn stacktrace(v: Value, path: Path<'_>) -> Result<Stacktrace, EventError> {
    let mut m = as_object(v, path)?;
    let frames_path = Path::Key(&path, "frames");
    let frames = match any(&mut m, "frames") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, f)| frame(f, Path::Index(&frames_path, i)))
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(EventError::invalid(frames_path, "must be a list"));
        }
    };
    Ok(Stacktrace { frames, other: m })
}

fn frame(v: Value, path: Path<'_>) -> Result<Frame, EventError> {
    let mut m = as_object(v, path)?;
    let number = |m: &mut Map<String, Value>, key: &str| match m.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
        Some(_) => Err(EventError::invalid(
            format!("{path}.{key}"),
            "must be a non-negative integer",
        )),
    };
    let lines = |m: &mut Map<String, Value>, key: &str| match m.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, line)| match line {
                Value::String(s) => Ok(s),
                Value::Null => Ok(String::new()),
                _ => Err(EventError::invalid(
                    format!("{path}.{key}[{i}]"),
                    "must be a string",
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(EventError::invalid(
            format!("{path}.{key}"),
            "must be a list of strings",
        )),
    };
    let in_app = match m.remove("in_app") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(b),
        Some(_) => {
            return Err(EventError::invalid(
                format!("{path}.in_app"),
                "must be a boolean",
            ));
        }
    };
    Ok(Frame {
        filename: text(&mut m, "filename", path)?,
        abs_path: text(&mut m, "abs_path", path)?,
        function: text(&mut m, "function", path)?,
        module: text(&mut m, "module", path)?,
        lineno: number(&mut m, "lineno")?,
        colno: number(&mut m, "colno")?,
        in_app,
        context_line: text(&mut m, "context_line", path)?,
        pre_context: lines(&mut m, "pre_context")?,
        post_context: lines(&mut m, "post_context")?,
        vars: any(&mut m, "vars"),
        other: m,
    })
}

/// `breadcrumbs`: `{"values": [...]}` or a bare list.
pub(super) fn breadcrumbs(v: Option<Value>) -> Result<Option<Vec<Breadcrumb>>, EventError> {
    let Some((items, path)) = value_list(v, "breadcrumbs")? else {
        return Ok(None);
    };
    let root = Path::Root(&path);
    let parsed = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| breadcrumb(item, Path::Index(&root, i)))
        .collect::<Result<_, _>>()?;
    Ok(Some(parsed))
}

fn breadcrumb(v: Value, path: Path<'_>) -> Result<Breadcrumb, EventError> {
    let mut m = as_object(v, path)?;
    let timestamp = match any(&mut m, "timestamp") {
        None => None,
        Some(t) => Some(fields::timestamp(&t, Path::Key(&path, "timestamp"))?),
    };
    let level = text(&mut m, "level", path)?.map(breadcrumb_level);
    let data = fields::object(m.remove("data"), Path::Key(&path, "data"))?;
    Ok(Breadcrumb {
        timestamp,
        ty: text(&mut m, "type", path)?,
        category: text(&mut m, "category", path)?,
        message: text(&mut m, "message", path)?,
        level,
        data,
        other: m,
    })
}

/// A breadcrumb's level: its canonical name when it is one Mesher knows, else as sent.
pub(super) fn breadcrumb_level(level: String) -> String {
    level
        .parse::<Level>()
        .map(|l| l.as_str().to_owned())
        .unwrap_or(level)
}

//! One event drawn in full, as the issue page and the event page show it: the exception
//! chain with its stack frames (the application's own frames open, library frames folded
//! away), breadcrumbs, tags, user, contexts, request and extra. The stored interfaces are
//! JSON (`db::event_queries::EventRow`); anything missing is simply not drawn.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde_json::Value;

use super::format;
use crate::db::event_queries::EventRow;

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A JSON value as a person reads it: strings bare, the rest as compact JSON.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// An object's fields as a definition list (nested values as JSON).
fn fields(v: &Value) -> Markup {
    html! {
        @if let Some(map) = v.as_object() {
            dl.fields {
                @for (k, val) in map {
                    div { dt { (k) } dd { code { (plain(val)) } } }
                }
            }
        }
    }
}

/// The whole event: scalars, exception, breadcrumbs, tags, user, contexts, request, extra.
pub fn event(e: &EventRow, now: DateTime<Utc>) -> Markup {
    let request = e.extra.get("request").filter(|r| r.is_object());
    let extra = match &e.extra {
        Value::Object(m) => {
            let rest: serde_json::Map<String, Value> = m
                .iter()
                .filter(|(k, _)| k.as_str() != "request")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Value::Object(rest)
        }
        other => other.clone(),
    };
    html! {
        dl.facts {
            div { dt { "Received" } dd { (format::time(e.received_at, now)) } }
            div { dt { "Event time" } dd { (format::exact(e.timestamp)) } }
            div { dt { "Level" } dd { (format::level(e.level)) } }
            @for (name, value) in [("Environment", &e.environment), ("Release", &e.release),
                                   ("Server", &e.server_name), ("Transaction", &e.transaction),
                                   ("Logger", &e.logger), ("Platform", &e.platform)] {
                @if let Some(v) = value {
                    div { dt { (name) } dd { (v) } }
                }
            }
            @if let Some(id) = e.event_id {
                div { dt { "Client event id" } dd { code { (id.simple()) } } }
            }
        }
        @if let Some(Value::Array(values)) = &e.exception {
            section aria-labelledby="h-exception" {
                h3 #h-exception { "Exception" }
                // Stored innermost first; the one raised last is what people look for first.
                @for ex in values.iter().rev() {
                    (exception(ex))
                }
            }
        }
        @if let Some(Value::Array(crumbs)) = &e.breadcrumbs {
            @if !crumbs.is_empty() {
                section aria-labelledby="h-crumbs" {
                    h3 #h-crumbs { "Breadcrumbs" }
                    (breadcrumbs(crumbs))
                }
            }
        }
        @if e.tags.as_object().is_some_and(|t| !t.is_empty()) {
            section aria-labelledby="h-tags" {
                h3 #h-tags { "Tags" }
                ul.tags {
                    @for (k, v) in e.tags.as_object().into_iter().flatten() {
                        li { span.k { (k) } span.v { (plain(v)) } }
                    }
                }
            }
        }
        @if let Some(user) = e.user_data.as_ref().filter(|u| u.as_object().is_some_and(|o| !o.is_empty())) {
            section aria-labelledby="h-user" {
                h3 #h-user { "User" }
                (fields(user))
            }
        }
        @if let Some(Value::Object(contexts)) = &e.contexts {
            @if !contexts.is_empty() {
                section aria-labelledby="h-contexts" {
                    h3 #h-contexts { "Contexts" }
                    div.contexts {
                        @for (name, ctx) in contexts {
                            div.context {
                                h4 { (name) }
                                @if ctx.is_object() { (fields(ctx)) } @else { code { (plain(ctx)) } }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(req) = request {
            section aria-labelledby="h-request" {
                h3 #h-request { "Request" }
                p.request {
                    @if let Some(m) = text(req, "method") { strong { (m) } " " }
                    @if let Some(u) = text(req, "url") { code { (u) } }
                }
                (fields(req))
            }
        }
        @if extra.as_object().is_some_and(|o| !o.is_empty()) {
            section aria-labelledby="h-extra" {
                h3 #h-extra { "Extra" }
                (fields(&extra))
            }
        }
    }
}

fn exception(ex: &Value) -> Markup {
    let frames: Vec<&Value> = ex
        .pointer("/stacktrace/frames")
        .and_then(Value::as_array)
        .map(|f| f.iter().rev().collect())
        .unwrap_or_default();
    html! {
        article.exception {
            h4 {
                span.extype { (text(ex, "type").unwrap_or("Error")) }
                @if let Some(v) = text(ex, "value") { ": " span.exvalue { (v) } }
            }
            @if let Some(m) = text(ex, "module") { p.module { "in " code { (m) } } }
            @if let Some(mech) = ex.get("mechanism").filter(|m| m.is_object()) {
                p.mechanism {
                    "mechanism: " (text(mech, "type").unwrap_or("generic"))
                    @if let Some(h) = mech.get("handled").and_then(Value::as_bool) {
                        @if h { " (handled)" } @else { " (unhandled)" }
                    }
                }
            }
            @if !frames.is_empty() {
                ol.frames aria-label="Stack frames, most recent call first" {
                    @for f in frames { li { (frame(f)) } }
                }
            }
        }
    }
}

fn frame(f: &Value) -> Markup {
    let in_app = f.get("in_app").and_then(Value::as_bool).unwrap_or(false);
    let file = text(f, "filename")
        .or_else(|| text(f, "abs_path"))
        .or_else(|| text(f, "module"));
    let lineno = f.get("lineno").and_then(Value::as_i64);
    let pre: Vec<&str> = strings(f.get("pre_context"));
    let post: Vec<&str> = strings(f.get("post_context"));
    let context = text(f, "context_line");
    let vars = f
        .get("vars")
        .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()));
    let has_body = context.is_some() || vars.is_some();
    let summary = html! {
        span.func { (text(f, "function").unwrap_or("?")) }
        @if let Some(file) = file {
            " in " span.file { (file) }
            @if let Some(l) = lineno { " at line " (l) }
        }
        @if in_app { " " span.badge { "app" } }
    };
    let body = html! {
        @if let Some(line) = context {
            @let first = lineno.map(|l| l - pre.len() as i64);
            // Focusable: a keyboard can scroll long lines sideways.
            table.context tabindex="0" {
                tbody {
                    @for (i, l) in pre.iter().enumerate() {
                        tr { td.ln { (first.map(|n| (n + i as i64).to_string()).unwrap_or_default()) } td { code { (l) } } }
                    }
                    tr.current { td.ln { (lineno.map(|n| n.to_string()).unwrap_or_default()) } td { code { (line) } } }
                    @for (i, l) in post.iter().enumerate() {
                        tr { td.ln { (lineno.map(|n| (n + 1 + i as i64).to_string()).unwrap_or_default()) } td { code { (l) } } }
                    }
                }
            }
        }
        @if let Some(vars) = vars {
            details.vars {
                summary { "Local variables" }
                (fields(vars))
            }
        }
    };
    html! {
        @if !has_body {
            div class={ "frame" @if in_app { " in-app" } } { (summary) }
        } @else if in_app {
            details.frame.in-app open { summary { (summary) } (body) }
        } @else {
            details.frame { summary { (summary) } (body) }
        }
    }
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().map(|s| s.as_str().unwrap_or("")).collect())
        .unwrap_or_default()
}

fn breadcrumbs(crumbs: &[Value]) -> Markup {
    html! {
        ol.crumbs {
            @for c in crumbs {
                li {
                    span.when { (crumb_time(c.get("timestamp"))) }
                    span.cat { (text(c, "category").or_else(|| text(c, "type")).unwrap_or("default")) }
                    @if let Some(l) = text(c, "level") { span class={ "level level-" (l) } { (l) } }
                    span.msg { (text(c, "message").unwrap_or("")) }
                    @if let Some(data) = c.get("data").filter(|d| d.as_object().is_some_and(|o| !o.is_empty())) {
                        code.data { (plain(data)) }
                    }
                }
            }
        }
    }
}

fn crumb_time(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s
            .parse::<DateTime<Utc>>()
            .map(|t| t.format("%H:%M:%S").to_string())
            .unwrap_or_else(|_| s.clone()),
        Some(Value::Number(n)) => n
            .as_f64()
            .and_then(|secs| DateTime::from_timestamp(secs as i64, 0))
            .map(|t| t.format("%H:%M:%S").to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

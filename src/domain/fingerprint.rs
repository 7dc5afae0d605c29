//! Grouping events into issues (how a batch then updates its issues: docs/architecture.md,
//! “In the database”).
//!
//! An event's fingerprint is a list of readable components plus their SHA-256, which
//! is what the issue is keyed on (fixed size, so long stack traces never hit index
//! size limits). Default components, in order of preference:
//!
//! 1. Exceptions: for every exception of the chain (Sentry order, cause first), its
//!    `type:<Type>` and one `frame:<module>.<function>` per frame (`filename` instead
//!    of a missing module; line and column numbers never count, so an edit elsewhere
//!    in the file does not split the issue). Only in-app frames count when any frame
//!    of the event is in-app, else all frames do. When no exception has a usable
//!    frame, each exception's value (masked) is added, as Sentry does: the type alone
//!    would lump every `ValueError` of an application together.
//! 2. Otherwise the message with numbers, hex ids and UUIDs masked.

use sha2::{Digest, Sha256};

use super::event::{Exception, Frame, NormalizedEvent};

/// Maximum length, in characters, of an issue title.
pub const MAX_TITLE_CHARS: usize = 255;
/// Maximum length, in characters, of an issue culprit (Sentry's limit).
pub const MAX_CULPRIT_CHARS: usize = 200;

/// The grouping key of an event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    /// SHA-256 of the components, 64 lowercase hex digits.
    pub hash: String,
    /// The readable components the hash was computed from.
    pub components: Vec<String>,
}

/// Computes the event's fingerprint: the explicit `fingerprint` (with
/// `{{ default }}` expanded to the default components) or the default one.
pub fn fingerprint(ev: &NormalizedEvent) -> Fingerprint {
    let components = match &ev.fingerprint {
        Some(explicit) => {
            let mut out = Vec::with_capacity(explicit.len());
            for entry in explicit {
                if is_default_marker(entry) {
                    out.extend(default_components(ev));
                } else {
                    out.push(entry.clone());
                }
            }
            out
        }
        None => default_components(ev),
    };
    Fingerprint {
        hash: hash_components(&components),
        components,
    }
}

/// The components used when the event has no explicit fingerprint.
pub fn default_components(ev: &NormalizedEvent) -> Vec<String> {
    exception_components(ev.exception.as_deref().unwrap_or_default())
        .unwrap_or_else(|| vec![format!("message:{}", mask_variable_parts(&ev.message))])
}

/// The issue title and culprit for an event.
///
/// Title: the primary exception's `"<Type>: <value>"`, else the message; first
/// non-blank line only, at most [`MAX_TITLE_CHARS`]. Culprit: where it happened —
/// the last (innermost) in-app frame as `"<module> in <function>"` (Sentry's
/// format), else the transaction; at most [`MAX_CULPRIT_CHARS`].
pub fn title_and_culprit(ev: &NormalizedEvent) -> (String, Option<String>) {
    let exceptions = ev.exception.as_deref().unwrap_or_default();
    // The raised exception is the last one in Sentry order (see `message.rs`).
    let text = exceptions
        .iter()
        .rev()
        .find_map(Exception::summary)
        .unwrap_or_else(|| ev.message.clone());
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("<untitled>");
    let culprit = exceptions
        .iter()
        .rev()
        .find_map(|e| frames(e).rev().find(|f| f.in_app == Some(true)))
        .and_then(frame_culprit)
        .or_else(|| ev.transaction.clone())
        .map(|c| ellipsize(&c, MAX_CULPRIT_CHARS));
    (ellipsize(line, MAX_TITLE_CHARS), culprit)
}

/// Replaces UUIDs by `<uuid>`, hex ids (`0x…`, or 8+ hex digits mixing digits and
/// letters) by `<hex>` and digit runs by `<num>`, so that "user 123 failed" and
/// "user 456 failed" group together.
pub fn mask_variable_parts(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let rest = &chars[i..];
        // Ids are only recognised as whole words: "a1b2c3d4" inside "xa1b2c3d4" is
        // part of an identifier, not an id.
        if i == 0 || !chars[i - 1].is_alphanumeric() {
            if let Some(len) = uuid_len(rest) {
                out.push_str("<uuid>");
                i += len;
                continue;
            }
            if let Some(len) = hex_len(rest) {
                out.push_str("<hex>");
                i += len;
                continue;
            }
        }
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            out.push_str("<num>");
            i += digits;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn ends_word(rest: &[char], len: usize) -> bool {
    rest.get(len).is_none_or(|c| !c.is_alphanumeric())
}

fn uuid_len(rest: &[char]) -> Option<usize> {
    let candidate = rest.get(..36)?;
    let ok = candidate.iter().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => *c == '-',
        _ => c.is_ascii_hexdigit(),
    });
    (ok && ends_word(rest, 36)).then_some(36)
}

fn hex_len(rest: &[char]) -> Option<usize> {
    if let ['0', 'x' | 'X', tail @ ..] = rest {
        let n = tail.iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if n > 0 && ends_word(rest, n + 2) {
            return Some(n + 2);
        }
    }
    let run = &rest[..rest.iter().take_while(|c| c.is_ascii_hexdigit()).count()];
    // Requiring both a digit and a letter keeps plain numbers `<num>` and words
    // such as "deadbeefcafe" or "acceded" readable.
    let mixed = run.iter().any(char::is_ascii_digit) && run.iter().any(char::is_ascii_alphabetic);
    (run.len() >= 8 && mixed && ends_word(rest, run.len())).then_some(run.len())
}

fn is_default_marker(entry: &str) -> bool {
    entry
        .trim()
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("default"))
}

fn frames(e: &Exception) -> std::slice::Iter<'_, Frame> {
    e.stacktrace
        .as_ref()
        .map(|s| s.frames.as_slice())
        .unwrap_or_default()
        .iter()
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Whether [`frame_component`] gives a component for `f` (without building it).
fn has_component(f: &Frame) -> bool {
    [&f.module, &f.filename, &f.function]
        .into_iter()
        .any(|s| non_empty(s).is_some())
}

fn frame_component(f: &Frame) -> Option<String> {
    if !has_component(f) {
        return None;
    }
    let location = non_empty(&f.module).or(non_empty(&f.filename));
    let function = non_empty(&f.function);
    Some(format!(
        "frame:{}.{}",
        location.unwrap_or("?"),
        function.unwrap_or("?")
    ))
}

fn frame_culprit(f: &Frame) -> Option<String> {
    let location = non_empty(&f.module).or(non_empty(&f.filename));
    match (location, non_empty(&f.function)) {
        (Some(l), Some(func)) => Some(format!("{l} in {func}")),
        (Some(s), None) | (None, Some(s)) => Some(s.to_owned()),
        (None, None) => None,
    }
}

fn exception_components(exceptions: &[Exception]) -> Option<Vec<String>> {
    let any_in_app = exceptions
        .iter()
        .flat_map(frames)
        .any(|f| f.in_app == Some(true));
    let counted = |f: &&Frame| !any_in_app || f.in_app == Some(true);
    let has_frames = exceptions
        .iter()
        .flat_map(frames)
        .filter(counted)
        .any(has_component);
    let mut out = Vec::new();
    for e in exceptions {
        if let Some(ty) = non_empty(&e.ty) {
            out.push(format!("type:{ty}"));
        }
        if has_frames {
            out.extend(frames(e).filter(counted).filter_map(frame_component));
        } else if let Some(value) = non_empty(&e.value) {
            out.push(format!("value:{}", mask_variable_parts(value)));
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Length-prefixing each component makes the encoding injective: `["ab", "c"]` and
/// `["a", "bc"]` hash differently, whatever characters components contain.
fn hash_components(components: &[String]) -> String {
    let mut hasher = Sha256::new();
    for c in components {
        hasher.update((c.len() as u64).to_le_bytes());
        hasher.update(c.as_bytes());
    }
    hex::encode(hasher.finalize())
}

fn ellipsize(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some(_) => s.chars().take(max - 1).chain(['…']).collect(),
    }
}

#[cfg(test)]
mod tests;

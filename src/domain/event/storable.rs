//! Making every accepted event storable: PostgreSQL refuses some values JSON allows, and
//! an event accepted with 202 must never be one of them.
//!
//! - U+0000 (NUL) cannot be stored in `text` nor in `jsonb`: it becomes U+FFFD in every
//!   string and every object key, at any depth. A key that becomes equal to another key of
//!   its object is kept under the first free `<key>.2`, `.3`, … so nothing is lost.
//! - Numbers: `serde_json` holds only finite numbers, which `jsonb` stores (its `numeric`
//!   takes every `f64`, `i64` and `u64`); nothing to do.
//! - Timestamps: [`super::fields::timestamp`] refuses those outside 1970..=9999. Within that,
//!   a time far from the receive time (a client clock that is off) is replaced by the
//!   receive time by the caller, the client's value kept in `extra` (see
//!   [`super::NormalizeOptions`]).

use serde_json::{Map, Value};

const NUL: char = '\0';
const REPLACEMENT: &str = "\u{FFFD}";

/// Whether the JSON text `source` may hold a NUL in a string or key: only a `\u0000`
/// escape can write one (serde_json refuses a raw control character in a string). An escaped
/// backslash followed by `u0000` gives a false positive, which only costs the walk.
pub(super) fn may_hold_nul(source: &[u8]) -> bool {
    memchr::memmem::find(source, br"\u0000").is_some()
}

/// Replaces NUL with U+FFFD in every string and object key of `value`. Allocates only
/// where a NUL is found.
pub(super) fn replace_nul(value: &mut Value) {
    match value {
        Value::String(s) => {
            if s.contains(NUL) {
                *s = s.replace(NUL, REPLACEMENT);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(map) => {
            if map.keys().any(|k| k.contains(NUL)) {
                *map = rekey(std::mem::take(map));
            }
            map.values_mut().for_each(replace_nul);
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// `map` with NUL replaced in its keys. Keys without NUL keep their names; a replaced key
/// that clashes with another goes to the first free `<key>.N`.
fn rekey(map: Map<String, Value>) -> Map<String, Value> {
    let (clean, dirty): (Vec<_>, Vec<_>) = map.into_iter().partition(|(k, _)| !k.contains(NUL));
    let mut out: Map<String, Value> = clean.into_iter().collect();
    for (key, value) in dirty {
        let key = key.replace(NUL, REPLACEMENT);
        let key = if out.contains_key(&key) {
            (2..)
                .map(|n| format!("{key}.{n}"))
                .find(|k| !out.contains_key(k))
                .expect("a free key")
        } else {
            key
        };
        out.insert(key, value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_goes_everywhere_and_nothing_is_lost() {
        let mut v = json!({
            "message": "a\u{0}b",
            "extra": {"k\u{0}": ["x\u{0}", {"\u{0}": 1}], "k\u{FFFD}": 2},
            "n": 1.5e300,
        });
        replace_nul(&mut v);
        let text = v.to_string();
        assert!(!text.contains("\\u0000"), "{text}");
        assert_eq!(v["message"], "a\u{FFFD}b");
        assert_eq!(v["extra"]["k\u{FFFD}"], 2);
        assert_eq!(v["extra"]["k\u{FFFD}.2"][0], "x\u{FFFD}");
        assert_eq!(v["extra"]["k\u{FFFD}.2"][1]["\u{FFFD}"], 1);
        assert_eq!(v["n"], 1.5e300);
    }
}

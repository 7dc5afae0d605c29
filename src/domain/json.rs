//! Reading the JSON that SDKs really send. Valid JSON takes serde_json's fast path
//! untouched; only a body it refuses is looked at again for two known deviations, each
//! repaired so that no event is lost to it (an SDK drops an event on any 4xx):
//!
//! - the non-standard `NaN`, `Infinity` and `-Infinity` tokens some SDKs emit, read as
//!   `null` ([`parse_lenient_json`], the Sentry routes);
//! - a `\uD800`–`\uDFFF` escape that is not half of a surrogate pair (JavaScript strings cut
//!   in the middle of a pair serialize that way; Rust strings cannot hold it), read as
//!   U+FFFD (both routes).

use serde_json::Value;

/// Parses JSON, repairing lone surrogate escapes (see the module documentation).
pub fn parse_json(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(bytes).or_else(|e| match repair_lone_surrogates(bytes) {
        Some(fixed) => serde_json::from_slice(&fixed),
        None => Err(e),
    })
}

/// Parses JSON, also reading `NaN`, `Infinity` and `-Infinity` as `null` (see the module
/// documentation).
pub fn parse_lenient_json(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(bytes).or_else(|e| {
        let finite = replace_non_finite(bytes);
        let source = finite.as_deref().unwrap_or(bytes);
        let paired = repair_lone_surrogates(source);
        match (paired, finite) {
            (Some(fixed), _) | (None, Some(fixed)) => serde_json::from_slice(&fixed),
            (None, None) => Err(e),
        }
    })
}

/// `bytes` with `NaN`/`Infinity`/`-Infinity` outside strings replaced by `null`, or `None`
/// when there is no such token.
fn replace_non_finite(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let (mut in_string, mut escaped, mut changed) = (false, false, false);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            out.push(b);
            i += 1;
            continue;
        }
        let rest = &bytes[i..];
        let token = [&b"-Infinity"[..], b"Infinity", b"NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t));
        if let Some(t) = token {
            out.extend_from_slice(b"null");
            i += t.len();
            changed = true;
            continue;
        }
        if b == b'"' {
            in_string = true;
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

/// The code unit of a `\uXXXX` escape starting at `bytes[i]` (the backslash), if it is one.
fn escape_at(bytes: &[u8], i: usize) -> Option<u16> {
    let hex = bytes.get(i..i + 6)?.strip_prefix(b"\\u")?;
    u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

/// `bytes` with every `\uD800`–`\uDFFF` escape that is not part of a well-formed pair
/// replaced by `\uFFFD`, or `None` when there is none.
pub fn repair_lone_surrogates(bytes: &[u8]) -> Option<Vec<u8>> {
    let is_high = |u: u16| (0xD800..=0xDBFF).contains(&u);
    let is_low = |u: u16| (0xDC00..=0xDFFF).contains(&u);
    let mut out = Vec::with_capacity(bytes.len());
    let (mut in_string, mut changed) = (false, false);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !in_string {
            in_string = b == b'"';
            out.push(b);
            i += 1;
            continue;
        }
        match b {
            b'"' => in_string = false,
            b'\\' => match escape_at(bytes, i) {
                Some(high) if is_high(high) => {
                    if escape_at(bytes, i + 6).is_some_and(is_low) {
                        out.extend_from_slice(&bytes[i..i + 12]);
                        i += 12;
                    } else {
                        out.extend_from_slice(b"\\uFFFD");
                        changed = true;
                        i += 6;
                    }
                    continue;
                }
                Some(low) if is_low(low) => {
                    out.extend_from_slice(b"\\uFFFD");
                    changed = true;
                    i += 6;
                    continue;
                }
                // Any other escape: copy the backslash and the escaped byte together, so
                // an escaped backslash is not read as the start of another escape.
                _ => {
                    out.extend_from_slice(&bytes[i..(i + 2).min(bytes.len())]);
                    i += 2;
                    continue;
                }
            },
            _ => {}
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_numbers_become_null_outside_strings() {
        let v = parse_lenient_json(br#"{"a":NaN,"b":[Infinity,-Infinity],"c":"NaN \"Infinity\""}"#)
            .unwrap();
        assert_eq!(v["a"], Value::Null);
        assert_eq!(v["b"], serde_json::json!([null, null]));
        assert_eq!(v["c"], "NaN \"Infinity\"");
        assert!(parse_lenient_json(b"{\"a\":").is_err());
    }

    #[test]
    fn lone_surrogates_become_the_replacement_character() {
        // (JSON text, the string it holds)
        let cases: &[(&[u8], &str)] = &[
            (br#""a\ud800b""#, "a\u{FFFD}b"),
            (br#""\udc00""#, "\u{FFFD}"),
            (br#""\ud83d\ude00""#, "\u{1F600}"),
            (br#""\ud83d\ud83d\ude00""#, "\u{FFFD}\u{1F600}"),
            (br#""\\ud800""#, "\\ud800"),
            (br#""\\\ud800""#, "\\\u{FFFD}"),
            (br#""x\ud800"#, ""),
        ];
        for (text, expected) in cases {
            let parsed = parse_json(text);
            if expected.is_empty() {
                assert!(parsed.is_err(), "{}", String::from_utf8_lossy(text));
            } else {
                assert_eq!(
                    parsed.unwrap(),
                    *expected,
                    "{}",
                    String::from_utf8_lossy(text)
                );
            }
        }
        let both = parse_lenient_json(br#"{"m":"\ud800","n":NaN}"#).unwrap();
        assert_eq!(both, serde_json::json!({"m": "\u{FFFD}", "n": null}));
    }
}

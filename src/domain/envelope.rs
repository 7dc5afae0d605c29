//! Sentry envelopes: a JSON header line, then items, each a JSON item-header line followed
//! by a payload of `length` bytes or, without `length`, up to the next newline.
//! <https://develop.sentry.dev/sdk/envelopes/>
//!
//! Also: old Python SDKs send `NaN`/`Infinity` in event JSON, which is not JSON;
//! [`parse_lenient_json`] turns those tokens (outside strings) into `null`.

use serde_json::{Map, Value};

/// One item of an envelope; the payload borrows from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Item<'a> {
    /// `event`, `transaction`, `session`, `attachment`, … (unknown types are kept, callers
    /// skip what they do not handle).
    pub ty: String,
    pub payload: &'a [u8],
}

/// A parsed envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<'a> {
    pub header: Map<String, Value>,
    pub items: Vec<Item<'a>>,
}

/// Why an envelope could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the envelope header is not a JSON object")]
    Header,
    #[error("item {0}: the item header is not a JSON object with a string `type`")]
    ItemHeader(usize),
    #[error("item {0}: `length` runs past the end of the envelope")]
    Truncated(usize),
}

fn line(bytes: &[u8], from: usize) -> (&[u8], usize) {
    match bytes[from..].iter().position(|&b| b == b'\n') {
        Some(i) => (&bytes[from..from + i], from + i + 1),
        None => (&bytes[from..], bytes.len()),
    }
}

/// Parses an envelope body (already decompressed).
pub fn parse(bytes: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    let (head, mut pos) = line(bytes, 0);
    let header = match serde_json::from_slice::<Value>(head) {
        Ok(Value::Object(map)) => map,
        _ => return Err(EnvelopeError::Header),
    };
    let mut items = Vec::new();
    while pos < bytes.len() {
        let (item_head, next) = line(bytes, pos);
        pos = next;
        if item_head.iter().all(u8::is_ascii_whitespace) {
            continue; // blank lines between items (or a trailing newline)
        }
        let index = items.len();
        let Ok(Value::Object(h)) = serde_json::from_slice::<Value>(item_head) else {
            return Err(EnvelopeError::ItemHeader(index));
        };
        let Some(ty) = h.get("type").and_then(Value::as_str) else {
            return Err(EnvelopeError::ItemHeader(index));
        };
        let payload = match h.get("length") {
            Some(len) => {
                let len = len
                    .as_u64()
                    .and_then(|l| usize::try_from(l).ok())
                    .ok_or(EnvelopeError::ItemHeader(index))?;
                let end = pos
                    .checked_add(len)
                    .filter(|&end| end <= bytes.len())
                    .ok_or(EnvelopeError::Truncated(index))?;
                let payload = &bytes[pos..end];
                pos = if bytes.get(end) == Some(&b'\n') {
                    end + 1
                } else {
                    end
                };
                payload
            }
            None => {
                let (payload, next) = line(bytes, pos);
                pos = next;
                payload
            }
        };
        items.push(Item {
            ty: ty.to_owned(),
            payload,
        });
    }
    Ok(Envelope { header, items })
}

pub use super::json::parse_lenient_json;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_with_and_without_length_and_unknown_types() {
        let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n\
{\"type\":\"attachment\",\"length\":10}\n\
\xef\xbb\xbfHello\r\n\n\
{\"type\":\"event\"}\n\
{\"message\":\"hi\"}\n\
{\"type\":\"session\",\"length\":2}\n\
{}";
        let env = parse(body).unwrap();
        assert_eq!(env.header["event_id"], "9ec79c33ec9942ab8353589fcb2e04dc");
        let types: Vec<&str> = env.items.iter().map(|i| i.ty.as_str()).collect();
        assert_eq!(types, ["attachment", "event", "session"]);
        assert_eq!(env.items[0].payload.len(), 10);
        assert_eq!(env.items[1].payload, b"{\"message\":\"hi\"}");
        assert_eq!(env.items[2].payload, b"{}");
    }

    #[test]
    fn truncated_and_malformed_envelopes_are_errors() {
        assert_eq!(
            parse(b"{}\n{\"type\":\"event\",\"length\":100}\n{}").unwrap_err(),
            EnvelopeError::Truncated(0)
        );
        assert_eq!(parse(b"not json\n").unwrap_err(), EnvelopeError::Header);
        assert_eq!(
            parse(b"{}\n{\"length\":2}\n{}").unwrap_err(),
            EnvelopeError::ItemHeader(0)
        );
        assert_eq!(parse(b"{}").unwrap().items, vec![]);
    }

    #[test]
    fn every_captured_sdk_envelope_parses() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sentry-sdk");
        let mut events = 0;
        for sdk in ["python-2.75-br", "python-2.75-gzip", "node-11.12"] {
            for n in 1..=4 {
                let path = format!("{root}/{sdk}/{n:03}.envelope");
                let bytes = std::fs::read(&path).unwrap();
                let env = parse(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
                for item in env.items.iter().filter(|i| i.ty == "event") {
                    parse_lenient_json(item.payload).unwrap();
                    events += 1;
                }
            }
        }
        assert_eq!(events, 11);
    }
}

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

/// Parses an envelope body (already decompressed), every item at once. For bodies from
/// the network, [`open`] reads the items one by one, so a caller can stop early.
pub fn parse(bytes: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    let (header, items) = open(bytes)?;
    let items = items.collect::<Result<_, _>>()?;
    Ok(Envelope { header, items })
}

/// Parses the envelope header and answers it with an iterator over the items, which reads
/// (and allocates for) one item at a time.
pub fn open(bytes: &[u8]) -> Result<(Map<String, Value>, Items<'_>), EnvelopeError> {
    let (head, pos) = line(bytes, 0);
    match serde_json::from_slice::<Value>(head) {
        Ok(Value::Object(header)) => Ok((
            header,
            Items {
                bytes,
                pos,
                index: 0,
                failed: false,
            },
        )),
        _ => Err(EnvelopeError::Header),
    }
}

/// The items of an envelope, in order; stops after the first error.
#[derive(Debug, Clone)]
pub struct Items<'a> {
    bytes: &'a [u8],
    pos: usize,
    index: usize,
    failed: bool,
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, EnvelopeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.read();
        self.failed = matches!(item, Some(Err(_)));
        item
    }
}

impl<'a> Items<'a> {
    fn read(&mut self) -> Option<Result<Item<'a>, EnvelopeError>> {
        let bytes = self.bytes;
        let item_head = loop {
            if self.pos >= bytes.len() {
                return None;
            }
            let (item_head, next) = line(bytes, self.pos);
            self.pos = next;
            // Blank lines between items (or a trailing newline) are skipped.
            if !item_head.iter().all(u8::is_ascii_whitespace) {
                break item_head;
            }
        };
        let index = self.index;
        self.index += 1;
        let Ok(Value::Object(h)) = serde_json::from_slice::<Value>(item_head) else {
            return Some(Err(EnvelopeError::ItemHeader(index)));
        };
        let Some(ty) = h.get("type").and_then(Value::as_str) else {
            return Some(Err(EnvelopeError::ItemHeader(index)));
        };
        let payload = match h.get("length") {
            Some(len) => {
                let Some(len) = len.as_u64().and_then(|l| usize::try_from(l).ok()) else {
                    return Some(Err(EnvelopeError::ItemHeader(index)));
                };
                let Some(end) = self.pos.checked_add(len).filter(|&end| end <= bytes.len()) else {
                    return Some(Err(EnvelopeError::Truncated(index)));
                };
                let payload = &bytes[self.pos..end];
                self.pos = if bytes.get(end) == Some(&b'\n') {
                    end + 1
                } else {
                    end
                };
                payload
            }
            None => {
                let (payload, next) = line(bytes, self.pos);
                self.pos = next;
                payload
            }
        };
        Some(Ok(Item {
            ty: ty.to_owned(),
            payload,
        }))
    }
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
    fn items_are_read_one_at_a_time() {
        let mut body = b"{}\n".to_vec();
        for _ in 0..3 {
            body.extend_from_slice(b"{\"type\":\"event\"}\n{}\n");
        }
        body.extend_from_slice(b"not an item header\n");
        let (_, mut items) = open(&body).unwrap();
        // The bad item header is not read until asked for.
        assert_eq!(items.by_ref().take(2).filter(Result::is_ok).count(), 2);
        let rest: Vec<_> = items.collect();
        assert_eq!(rest.len(), 2);
        assert_eq!(rest[1], Err(EnvelopeError::ItemHeader(3)));
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

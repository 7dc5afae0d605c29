//! The items of a native batch (a JSON array of events), read with a bound: reading stops at
//! the first item over the bound, so a small compressed body of millions of `{}` costs a
//! thousand borrowed slices, not millions (docs/architecture.md, "At the edge").

use std::cell::Cell;

use serde::de::{self, Deserializer as _, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Why a batch body was refused.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("a batch holds at most {0} events")]
    TooMany(usize),
    #[error("the body is not valid JSON: {0}")]
    Json(serde_json::Error),
}

/// The items of the JSON array `body`, at most `max`, each borrowed unparsed.
pub fn read_batch(body: &[u8], max: usize) -> Result<Vec<&RawValue>, BatchError> {
    let over = Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(body);
    let items = (&mut de)
        .deserialize_seq(Bounded { max, over: &over })
        .and_then(|items| de.end().map(|()| items));
    match items {
        Ok(items) => Ok(items),
        Err(_) if over.get() => Err(BatchError::TooMany(max)),
        Err(e) => Err(BatchError::Json(e)),
    }
}

struct Bounded<'c> {
    max: usize,
    over: &'c Cell<bool>,
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an array of at most {} events", self.max)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            if items.len() == self.max {
                self.over.set(true);
                return Err(de::Error::custom("too many events"));
            }
            items.push(item);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_bound_and_tells_json_errors_apart() {
        let items = read_batch(br#"[{"a":1}, {"b":[2]}, 3]"#, 3).unwrap();
        let raw: Vec<&str> = items.iter().map(|r| r.get()).collect();
        assert_eq!(raw, [r#"{"a":1}"#, r#"{"b":[2]}"#, "3"]);
        assert!(matches!(
            read_batch(b"[{},{},{},{}]", 3),
            Err(BatchError::TooMany(3))
        ));
        // Past the bound nothing more is read: the garbage after item 4 is never seen.
        assert!(matches!(
            read_batch(b"[{},{},{},{}, nonsense", 3),
            Err(BatchError::TooMany(3))
        ));
        assert!(matches!(read_batch(b"[{},", 3), Err(BatchError::Json(_))));
        assert!(matches!(read_batch(b"[] x", 3), Err(BatchError::Json(_))));
    }
}

//! An accepted event on its way to the database: the input of the write path, held in the
//! project's buffer (and the durable spool) until it is stored or dropped.
//!
//! It is kept in the form the writer needs, not as the typed [`NormalizedEvent`]: the scalar
//! columns as they are (ids, times, level) and every text column — the short strings, the
//! issue's title, culprit and fingerprint, and each `jsonb` column serialized once to its JSON
//! text — one after the other in a single string. No `serde_json::Value` tree stays in memory
//! and the writer binds the JSON text as it is. A buffered event costs its struct
//! (`size_of::<PendingEvent>()`, about 150 bytes) plus that one allocation, about the size of
//! the event's JSON: [`PendingEvent::footprint`] (docs/architecture.md, “Memory”).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::ids::EventId;
use super::{Fingerprint, Level, NormalizedEvent};

/// The text columns of a pending event, in the order they are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Message,
    Platform,
    Release,
    Environment,
    ServerName,
    Transaction,
    Logger,
    /// The title.
    Title,
    /// The culprit.
    Culprit,
    /// The fingerprint's hash: 64 hex digits.
    FingerprintHash,
    /// The fingerprint's components, as a JSON array (the issue's `fingerprint` column).
    FingerprintJson,
    /// The `jsonb` columns of the event.
    Tags,
    Exception,
    Breadcrumbs,
    User,
    Contexts,
    Extra,
}

/// How many [`Field`]s there are.
pub const FIELDS: usize = 17;

impl Field {
    /// Every field, in storage order.
    pub const ALL: [Field; FIELDS] = [
        Field::Message,
        Field::Platform,
        Field::Release,
        Field::Environment,
        Field::ServerName,
        Field::Transaction,
        Field::Logger,
        Field::Title,
        Field::Culprit,
        Field::FingerprintHash,
        Field::FingerprintJson,
        Field::Tags,
        Field::Exception,
        Field::Breadcrumbs,
        Field::User,
        Field::Contexts,
        Field::Extra,
    ];
}

/// An accepted event: validated, normalized, fingerprinted, given its id and receive time,
/// and kept compactly (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    /// Mesher's id, assigned at receive time.
    pub id: EventId,
    pub received_at: DateTime<Utc>,
    /// The client's own event id, if it sent one.
    pub event_id: Option<Uuid>,
    /// When the event happened, per the client (after normalization).
    pub timestamp: DateTime<Utc>,
    pub level: Level,
    /// Every field's text, in [`Field::ALL`] order.
    text: Box<str>,
    /// Where each field's text ends in `text`.
    ends: [u32; FIELDS],
    /// Bit `i` set: field `i` is absent (SQL `NULL`), as opposed to empty.
    absent: u32,
}

/// The parts of a pending event, before it is packed (also how the spool's older records,
/// which held the typed event, are read back).
pub struct Parts<'a> {
    pub id: EventId,
    pub received_at: DateTime<Utc>,
    pub event: &'a NormalizedEvent,
    pub fingerprint: &'a Fingerprint,
    pub title: &'a str,
    pub culprit: Option<&'a str>,
}

/// Why packed bytes are not a pending event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a packed pending event")]
pub struct BadPacking;

impl PendingEvent {
    /// Fingerprints `event`, stamps it with a fresh id and the receive time, and packs it.
    pub fn new(event: NormalizedEvent, received_at: DateTime<Utc>) -> Self {
        let fingerprint = super::fingerprint(&event);
        let (title, culprit) = super::title_and_culprit(&event);
        Self::from_parts(Parts {
            id: EventId::new(),
            received_at,
            event: &event,
            fingerprint: &fingerprint,
            title: &title,
            culprit: culprit.as_deref(),
        })
    }

    /// Packs an event whose grouping data is already known.
    pub fn from_parts(p: Parts<'_>) -> Self {
        let e = p.event;
        // One allocation for the usual event: its columns take about its JSON size.
        let mut packer = Packer {
            bytes: Vec::with_capacity(PACK_CAPACITY),
            ..Packer::default()
        };
        packer.text(Some(&e.message));
        for s in [
            &e.platform,
            &e.release,
            &e.environment,
            &e.server_name,
            &e.transaction,
            &e.logger,
        ] {
            packer.text(s.as_deref());
        }
        packer.text(Some(p.title));
        packer.text(p.culprit);
        packer.text(Some(&p.fingerprint.hash));
        packer.json(Some(&p.fingerprint.components));
        packer.json(Some(&e.tags));
        packer.json(e.exception.as_ref());
        packer.json(e.breadcrumbs.as_ref());
        packer.json(e.user.as_ref());
        packer.json(e.contexts.as_ref());
        packer.json(Some(&e.extra));
        debug_assert_eq!(packer.next, FIELDS);
        let text = String::from_utf8(packer.bytes)
            .expect("strings and serde_json's output are UTF-8")
            .into_boxed_str();
        Self {
            id: p.id,
            received_at: p.received_at,
            event_id: e.event_id,
            timestamp: e.timestamp,
            level: e.level,
            text,
            ends: packer.ends,
            absent: packer.absent,
        }
    }

    /// A field's text; `None` when it is absent. JSON fields hold JSON text.
    pub fn get(&self, field: Field) -> Option<&str> {
        let i = field as usize;
        if self.absent & (1 << i) != 0 {
            return None;
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        Some(&self.text[start..self.ends[i] as usize])
    }

    /// A field that is never absent (message, title, fingerprint, tags, extra).
    fn required(&self, field: Field) -> &str {
        self.get(field).unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        self.required(Field::Message)
    }

    pub fn title(&self) -> &str {
        self.required(Field::Title)
    }

    pub fn culprit(&self) -> Option<&str> {
        self.get(Field::Culprit)
    }

    /// The grouping key: 64 hex digits.
    pub fn fingerprint_hash(&self) -> &str {
        self.required(Field::FingerprintHash)
    }

    /// The fingerprint's components as a JSON array.
    pub fn fingerprint_json(&self) -> &str {
        self.required(Field::FingerprintJson)
    }

    /// Bytes of memory this event holds while buffered: the struct itself, its one text
    /// allocation, and an eighth of that for the allocator's size classes (mimalloc rounds a
    /// block up by less than that). Approximate, but an upper bound on what the buffer adds:
    /// the memory cap (`writer.max_buffered_bytes`) counts events by it.
    pub fn footprint(&self) -> usize {
        std::mem::size_of::<Self>() + self.text.len() + self.text.len() / 8
    }

    /// The packed form, for the durable spool: fixed fields, the field ends, then the text.
    /// [`Self::unpack`] reads it back.
    pub fn pack(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.id.uuid().as_bytes());
        put_time(out, self.received_at);
        match self.event_id {
            Some(id) => {
                out.push(1);
                out.extend_from_slice(id.as_bytes());
            }
            None => out.push(0),
        }
        put_time(out, self.timestamp);
        out.push(
            Level::ALL
                .iter()
                .position(|l| *l == self.level)
                .unwrap_or(0) as u8,
        );
        out.extend_from_slice(&self.absent.to_le_bytes());
        for end in self.ends {
            out.extend_from_slice(&end.to_le_bytes());
        }
        out.extend_from_slice(self.text.as_bytes());
    }

    /// Reads what [`Self::pack`] wrote (the whole of `bytes`), checking every offset.
    pub fn unpack(bytes: &[u8]) -> Result<Self, BadPacking> {
        let mut r = Reader(bytes);
        let id = EventId(Uuid::from_bytes(r.array()?));
        let received_at = r.time()?;
        let event_id = match r.array::<1>()? {
            [0] => None,
            [1] => Some(Uuid::from_bytes(r.array()?)),
            _ => return Err(BadPacking),
        };
        let timestamp = r.time()?;
        let [level] = r.array::<1>()?;
        let level = *Level::ALL.get(usize::from(level)).ok_or(BadPacking)?;
        let absent = u32::from_le_bytes(r.array()?);
        let mut ends = [0u32; FIELDS];
        for end in &mut ends {
            *end = u32::from_le_bytes(r.array()?);
        }
        let text = std::str::from_utf8(r.0).map_err(|_| BadPacking)?;
        let mut start = 0;
        for &end in &ends {
            let end = end as usize;
            if end < start || !text.is_char_boundary(end) {
                return Err(BadPacking);
            }
            start = end;
        }
        if start != text.len() || absent >> FIELDS != 0 {
            return Err(BadPacking);
        }
        Ok(Self {
            id,
            received_at,
            event_id,
            timestamp,
            level,
            text: text.into(),
            ends,
            absent,
        })
    }
}

/// What the packed text of an event starts with room for (the bench event's is ~1.6 KB);
/// the text is cut to its size once packed ([`PendingEvent::footprint`] counts that).
const PACK_CAPACITY: usize = 2048;

/// Builds the text of a pending event, field after field.
#[derive(Default)]
struct Packer {
    bytes: Vec<u8>,
    ends: [u32; FIELDS],
    absent: u32,
    next: usize,
}

impl Packer {
    fn end(&mut self, present: bool) {
        if !present {
            self.absent |= 1 << self.next;
        }
        self.ends[self.next] = u32::try_from(self.bytes.len()).expect("an event is under 4 GiB");
        self.next += 1;
    }

    fn text(&mut self, s: Option<&str>) {
        self.bytes
            .extend_from_slice(s.unwrap_or_default().as_bytes());
        self.end(s.is_some());
    }

    fn json<T: Serialize>(&mut self, value: Option<&T>) {
        if let Some(v) = value {
            // Serializing a typed, normalized event cannot fail (string keys only).
            serde_json::to_writer(&mut self.bytes, v).expect("a normalized event serializes");
        }
        self.end(value.is_some());
    }
}

fn put_time(out: &mut Vec<u8>, t: DateTime<Utc>) {
    out.extend_from_slice(&t.timestamp().to_le_bytes());
    out.extend_from_slice(&t.timestamp_subsec_nanos().to_le_bytes());
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], BadPacking> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(BadPacking)?;
        self.0 = rest;
        Ok(*head)
    }

    fn time(&mut self) -> Result<DateTime<Utc>, BadPacking> {
        let secs = i64::from_le_bytes(self.array()?);
        let nanos = u32::from_le_bytes(self.array()?);
        DateTime::from_timestamp(secs, nanos).ok_or(BadPacking)
    }
}

#[cfg(test)]
mod tests;

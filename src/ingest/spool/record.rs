//! The spool's record format: `len: u32 LE | crc32(payload): u32 LE | payload`. A segment
//! file is a sequence of records; reading stops at the first frame that is cut short or fails
//! its checksum (a torn tail after a crash).
//!
//! The payload is version 2: the byte `2`, the project id (16 bytes), then the event as the
//! buffer holds it ([`PendingEvent::pack`]: its UUIDv7 id, receive time and columns, the JSON
//! ones as text). Version 1 payloads, written before the buffer held events compactly, are the
//! JSON of the project id and the typed event (`{"p":…,"e":{…}}`, so they start with `{`);
//! they are still read, and packed as they are read.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::pending::Parts;
use crate::domain::{EventId, Fingerprint, NormalizedEvent, PendingEvent, ProjectId};

/// Bytes before a record's payload.
pub const HEADER: usize = 8;
/// No record is larger (a whole event is far smaller); a bigger length is a torn frame.
const MAX_PAYLOAD: usize = 64 << 20;
/// The first byte of a version 2 payload.
const VERSION: u8 = 2;

/// One spooled event.
#[derive(Debug)]
pub struct Record {
    pub project_id: ProjectId,
    pub event: PendingEvent,
}

/// Appends the frame of `event` to `out`.
pub fn encode(project_id: ProjectId, event: &PendingEvent, out: &mut Vec<u8>) {
    let at = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.push(VERSION);
    out.extend_from_slice(project_id.uuid().as_bytes());
    event.pack(out);
    let payload = &out[at + HEADER..];
    let (len, crc) = (payload.len() as u32, crc32fast::hash(payload));
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    out[at + 4..at + HEADER].copy_from_slice(&crc.to_le_bytes());
}

/// A version 1 payload: the typed event as JSON.
#[derive(Deserialize)]
struct RecordV1 {
    p: ProjectId,
    e: PendingV1,
}

#[derive(Deserialize)]
struct PendingV1 {
    id: EventId,
    received_at: DateTime<Utc>,
    event: NormalizedEvent,
    fingerprint: Fingerprint,
    title: String,
    culprit: Option<String>,
}

fn parse_payload(payload: &[u8]) -> Option<Record> {
    match payload.split_first()? {
        (&VERSION, rest) => {
            let (project, event) = rest.split_first_chunk::<16>()?;
            Some(Record {
                project_id: ProjectId(uuid::Uuid::from_bytes(*project)),
                event: PendingEvent::unpack(event).ok()?,
            })
        }
        (&b'{', _) => {
            let v1: RecordV1 = serde_json::from_slice(payload).ok()?;
            let e = v1.e;
            Some(Record {
                project_id: v1.p,
                event: PendingEvent::from_parts(Parts {
                    id: e.id,
                    received_at: e.received_at,
                    event: &e.event,
                    fingerprint: &e.fingerprint,
                    title: &e.title,
                    culprit: e.culprit.as_deref(),
                }),
            })
        }
        _ => None,
    }
}

/// A record read from a segment, with where its frame is: `offset` from the start of the
/// file, `len` bytes long (header included), so it can be read again on its own
/// ([`decode_one`]).
#[derive(Debug)]
pub struct Located {
    pub record: Record,
    pub offset: u64,
    pub len: u32,
}

/// What a segment holds: its whole records, and whether it ended in a torn or corrupt frame
/// (everything from that frame on is ignored).
#[derive(Debug, Default)]
pub struct Decoded {
    pub records: Vec<Located>,
    pub torn: bool,
}

/// Decodes every whole, intact record of `bytes`, in order.
pub fn decode(bytes: &[u8]) -> Decoded {
    let mut out = Decoded::default();
    let mut offset = 0;
    while offset < bytes.len() {
        let Some((record, len)) = next(&bytes[offset..]) else {
            out.torn = true;
            break;
        };
        let frame = HEADER + len;
        out.records.push(Located {
            record,
            offset: offset as u64,
            len: frame as u32,
        });
        offset += frame;
    }
    out
}

/// The record of one whole frame (`bytes` is exactly the frame), if it is intact.
pub fn decode_one(bytes: &[u8]) -> Option<Record> {
    next(bytes)
        .filter(|(_, len)| HEADER + len == bytes.len())
        .map(|(r, _)| r)
}

fn next(bytes: &[u8]) -> Option<(Record, usize)> {
    let len = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
    if len > MAX_PAYLOAD {
        return None;
    }
    let payload = bytes.get(HEADER..HEADER + len)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    parse_payload(payload).map(|r| (r, len))
}

/// Reads and decodes a segment file.
pub fn read_segment(path: &Path) -> std::io::Result<Decoded> {
    Ok(decode(&std::fs::read(path)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(message: &str) -> PendingEvent {
        let body = format!(
            r#"{{"message":"{message}","level":"warning","timestamp":"2026-11-29T12:00:00Z","tags":{{"a":"b"}}}}"#
        );
        PendingEvent::new(
            crate::domain::parse_event(body.as_bytes()).unwrap(),
            chrono::Utc::now(),
        )
    }

    #[test]
    fn records_round_trip_with_their_ids_and_times() {
        let (p, a, b) = (ProjectId::new(), event("one"), event("two"));
        let mut bytes = Vec::new();
        encode(p, &a, &mut bytes);
        encode(p, &b, &mut bytes);
        let d = decode(&bytes);
        assert!(!d.torn);
        assert_eq!(d.records.len(), 2);
        let r = &d.records[1].record;
        assert_eq!((r.project_id, r.event.id), (p, b.id));
        assert_eq!(r.event.received_at, b.received_at);
        assert_eq!(r.event, b);
        // Each frame read on its own gives its record back; a frame cut short gives none.
        let second = &d.records[1];
        let frame = &bytes[second.offset as usize..][..second.len as usize];
        assert_eq!(decode_one(frame).unwrap().event, b);
        assert!(decode_one(&frame[..frame.len() - 1]).is_none());
        assert_eq!(second.offset, d.records[0].len as u64);
    }

    /// A segment written before the compact buffer (version 1: the typed event as JSON) is
    /// still read, into the same event as a fresh one; a payload of another version is a
    /// corrupt frame.
    #[test]
    fn version_1_records_are_still_read() {
        let body = br#"{"message":"old","level":"warning","timestamp":"2026-11-29T12:00:00Z","tags":{"a":"b"},"exception":[{"type":"E","value":"v"}]}"#;
        let typed = crate::domain::parse_event(body).unwrap();
        let fingerprint = crate::domain::fingerprint(&typed);
        let (title, culprit) = crate::domain::title_and_culprit(&typed);
        let (p, id, at) = (ProjectId::new(), EventId::new(), chrono::Utc::now());
        let v1 = serde_json::json!({"p": p, "e": {
            "id": id, "received_at": at, "event": typed,
            "fingerprint": fingerprint, "title": title, "culprit": culprit,
        }});
        let payload = serde_json::to_vec(&v1).unwrap();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        let mut fresh = PendingEvent::new(typed, at);
        fresh.id = id;
        let d = decode(&bytes);
        assert_eq!((d.records.len(), d.torn), (1, false));
        assert_eq!(
            (d.records[0].record.project_id, &d.records[0].record.event),
            (p, &fresh)
        );

        let mut v3 = Vec::new();
        encode(p, &fresh, &mut v3);
        v3[HEADER] = 3;
        let crc = crc32fast::hash(&v3[HEADER..]);
        v3[4..HEADER].copy_from_slice(&crc.to_le_bytes());
        let d = decode(&v3);
        assert_eq!((d.records.len(), d.torn), (0, true));
    }

    #[test]
    fn a_torn_or_corrupt_tail_is_ignored() {
        let p = ProjectId::new();
        let mut bytes = Vec::new();
        encode(p, &event("kept"), &mut bytes);
        let whole = bytes.len();
        encode(p, &event("torn"), &mut bytes);
        for cut in [whole + 3, whole + HEADER + 5, bytes.len() - 1] {
            let d = decode(&bytes[..cut]);
            assert_eq!((d.records.len(), d.torn), (1, true), "cut at {cut}");
        }
        let mut corrupt = bytes.clone();
        corrupt[whole + HEADER + 2] ^= 0x20;
        let d = decode(&corrupt);
        assert_eq!((d.records.len(), d.torn), (1, true));
    }
}

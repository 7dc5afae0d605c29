//! The spool's record format: `len: u32 LE | crc32(payload): u32 LE | payload`, where the
//! payload is the JSON of a [`Record`] (a project id and a [`PendingEvent`], which keeps its
//! UUIDv7 id and receive time). A segment file is a sequence of records; reading stops at
//! the first frame that is cut short or fails its checksum (a torn tail after a crash).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::domain::{PendingEvent, ProjectId};

/// Bytes before a record's payload.
pub const HEADER: usize = 8;
/// No record is larger (a whole event is far smaller); a bigger length is a torn frame.
const MAX_PAYLOAD: usize = 64 << 20;

/// One spooled event.
#[derive(Debug, Serialize, Deserialize)]
pub struct Record {
    #[serde(rename = "p")]
    pub project_id: ProjectId,
    #[serde(rename = "e")]
    pub event: PendingEvent,
}

#[derive(Serialize)]
struct RecordRef<'a> {
    p: ProjectId,
    e: &'a PendingEvent,
}

/// Appends the frame of `event` to `out`.
pub fn encode(project_id: ProjectId, event: &PendingEvent, out: &mut Vec<u8>) {
    let payload = serde_json::to_vec(&RecordRef {
        p: project_id,
        e: event,
    })
    .expect("a pending event serializes");
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
}

/// What a segment holds: its whole records, and whether it ended in a torn or corrupt frame
/// (everything from that frame on is ignored).
#[derive(Debug, Default)]
pub struct Decoded {
    pub records: Vec<Record>,
    pub torn: bool,
}

/// Decodes every whole, intact record of `bytes`, in order.
pub fn decode(bytes: &[u8]) -> Decoded {
    let mut out = Decoded::default();
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(record) = next(rest) else {
            out.torn = true;
            break;
        };
        let (record, len) = record;
        out.records.push(record);
        rest = &rest[HEADER + len..];
    }
    out
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
    serde_json::from_slice(payload).ok().map(|r| (r, len))
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
        let r = &d.records[1];
        assert_eq!((r.project_id, r.event.id), (p, b.id));
        assert_eq!(r.event.received_at, b.received_at);
        assert_eq!(r.event.event, b.event);
        assert_eq!(r.event.fingerprint, b.fingerprint);
        assert_eq!((&r.event.title, &r.event.culprit), (&b.title, &b.culprit));
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

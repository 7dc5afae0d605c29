//! Spilled events: accepted events held only in the spool, not in memory, each known by
//! where its record is. A project's spilled events are a queue of [`Spilled`] (40 bytes
//! each, plus the spool's own entry for the event, about 60): the writer reads them back a
//! batch at a time ([`read`]), oldest first, opening each segment once per batch.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::record;
use crate::domain::{EventId, PendingEvent, ProjectId};

/// Where a spooled event's record is: segment `seq`, `len` bytes from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub seq: u64,
    pub offset: u64,
    pub len: u32,
}

/// An event held only in the spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spilled {
    pub id: EventId,
    pub at: Loc,
}

/// What a previous run left in the spool, per project, oldest first: the events come back as
/// spilled events of their projects.
pub type Replay = BTreeMap<ProjectId, Vec<Spilled>>;

/// Reads `spilled` back from the segments in `dir`, in order; `None` for an event whose
/// segment is gone or whose record is not intact (or not that event).
pub fn read(dir: &Path, spilled: &[Spilled]) -> Vec<Option<PendingEvent>> {
    let mut open: Option<(u64, Option<File>)> = None;
    let mut frame = Vec::new();
    spilled
        .iter()
        .map(|s| {
            if open.as_ref().is_none_or(|(seq, _)| *seq != s.at.seq) {
                let file = File::open(super::segment_path(dir, s.at.seq)).ok();
                open = Some((s.at.seq, file));
            }
            let file = open.as_ref().and_then(|(_, f)| f.as_ref())?;
            frame.resize(s.at.len as usize, 0);
            file.read_exact_at(&mut frame, s.at.offset).ok()?;
            let r = record::decode_one(&frame)?;
            (r.event.id == s.id).then_some(r.event)
        })
        .collect()
}

//! Replay at start: the events a previous run spooled and did not account for go back to
//! their projects, keeping their ids and receive times — as **spilled** events, not read
//! into memory: [`Spool::open`](super::Spool::open) only indexes the segments (about 100
//! bytes per event), and each project's writer reads its events back a batch at a time,
//! oldest first, like any spilled event. So replaying a big spool costs its index in memory,
//! and the buffers are free for new events from the first second.
//!
//! A replayed event already stored (its batch committed, but the process died before the
//! spool learnt it) is found by the writer's check of every batch read back from the spool
//! (`db::events::existing_ids`, within the batch's `received_at` range), counted stored and
//! released without being written again — so no issue's `times_seen` counts it twice. When
//! the last replayed event is accounted for, the spool logs "spool replayed".

use super::Replay;
use crate::ingest::WriterRegistry;

/// Hands what a previous run left (`replay`, from [`Spool::open`](super::Spool::open)) to
/// the projects' writers as spilled events.
pub fn replay(registry: &WriterRegistry, replay: Replay) {
    let events: usize = replay.values().map(Vec::len).sum();
    if events == 0 {
        return;
    }
    tracing::info!(
        events,
        projects = replay.len(),
        "replaying the spool: its events are read back by their writers"
    );
    registry.adopt(replay);
}

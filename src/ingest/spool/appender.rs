//! The spool's appender thread: group commit. It takes every request waiting, writes them
//! to the current segment, syncs once, registers their events with their segment, and only
//! then answers them all. With an interval policy it also waits until `every` has passed
//! since the last sync, gathering the requests that arrive meanwhile.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use super::{Loc, Owned, Segment, Shared};
use crate::domain::EventId;

/// Requests queued before senders wait (their HTTP workers block until there is room).
const QUEUE: usize = 4096;

/// A request's records, and where to say they are durable.
pub(super) struct Request {
    pub bytes: Vec<u8>,
    pub ids: Vec<EventId>,
    /// The length of each event's frame in `bytes`, in the order of `ids`.
    pub frames: Vec<u32>,
    pub done: tokio::sync::oneshot::Sender<Result<(), super::SpoolError>>,
}

/// The segment being appended to.
struct Open {
    seq: u64,
    file: File,
    size: u64,
}

pub(super) fn start(
    shared: Arc<Shared>,
    every: Option<Duration>,
    segment_bytes: u64,
) -> std::io::Result<(SyncSender<Request>, std::thread::JoinHandle<()>)> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE);
    let thread = std::thread::Builder::new()
        .name("mesher-spool".into())
        .spawn(move || run(&shared, &receiver, every, segment_bytes))?;
    Ok((sender, thread))
}

fn run(shared: &Shared, receiver: &Receiver<Request>, every: Option<Duration>, segment_bytes: u64) {
    let mut open: Option<Open> = None;
    let mut last_sync = Instant::now()
        .checked_sub(every.unwrap_or_default())
        .unwrap_or_else(Instant::now);
    while let Ok(first) = receiver.recv() {
        let mut group = vec![first];
        group.extend(receiver.try_iter());
        if let Some(every) = every {
            let deadline = last_sync + every;
            while let Some(wait) = deadline.checked_duration_since(Instant::now()) {
                match receiver.recv_timeout(wait) {
                    Ok(r) => group.push(r),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
            group.extend(receiver.try_iter());
        }
        let result = write_group(shared, &mut open, &group, segment_bytes);
        last_sync = Instant::now();
        if let Err(e) = &result {
            tracing::error!(error = %e, requests = group.len(), "spool append failed; the requests are refused");
            open = None; // start a fresh segment: this one may end in a partial record
        }
        for r in group {
            let answer = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(super::SpoolError::Io(e.to_string())),
            };
            let _ = r.done.send(answer);
        }
    }
    if let Some(o) = open {
        let _ = o.file.sync_all();
    }
}

/// Writes and syncs a group; registers its events with their segment once durable.
fn write_group(
    shared: &Shared,
    open: &mut Option<Open>,
    group: &[Request],
    segment_bytes: u64,
) -> std::io::Result<()> {
    // A group goes to one segment (rolling only between groups), so a segment is never
    // deleted while it holds records not registered yet.
    if open.as_ref().is_none_or(|o| o.size >= segment_bytes) {
        roll(shared, open)?;
    }
    let o = open.as_mut().expect("rolled");
    let mut starts = Vec::with_capacity(group.len());
    for r in group {
        starts.push(o.size);
        o.file.write_all(&r.bytes)?;
        o.size += r.bytes.len() as u64;
    }
    o.file.sync_data()?;
    shared.counts.fsyncs.fetch_add(1, Ordering::Relaxed);
    let events: usize = group.iter().map(|r| r.ids.len()).sum();
    shared
        .counts
        .appended
        .fetch_add(events as u64, Ordering::Relaxed);
    let mut state = shared.lock();
    for (r, start) in group.iter().zip(starts) {
        let n = r.bytes.len() as u64;
        state.total_bytes += n;
        let segment = state.segments.entry(o.seq).or_default();
        segment.outstanding += r.ids.len();
        segment.bytes += n;
        let mut offset = start;
        for (id, len) in r.ids.iter().zip(&r.frames) {
            let at = Loc {
                seq: o.seq,
                offset,
                len: *len,
            };
            state.owner.insert(*id, Owned::new(at));
            offset += u64::from(*len);
        }
    }
    Ok(())
}

/// Syncs and leaves the current segment (deleted at once if it owns nothing) and starts the
/// next one, making its directory entry durable.
fn roll(shared: &Shared, open: &mut Option<Open>) -> std::io::Result<()> {
    if let Some(o) = open.take() {
        o.file.sync_data()?;
        shared.counts.fsyncs.fetch_add(1, Ordering::Relaxed);
    }
    let seq = {
        let mut state = shared.lock();
        let seq = state.next_seq;
        state.next_seq += 1;
        seq
    };
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(shared.path(seq))?;
    File::open(&shared.dir)?.sync_all()?;
    shared.counts.fsyncs.fetch_add(1, Ordering::Relaxed);
    {
        let mut state = shared.lock();
        state.segments.insert(seq, Segment::default());
        state.current = Some(seq);
    }
    shared.collect(false);
    *open = Some(Open { seq, file, size: 0 });
    Ok(())
}

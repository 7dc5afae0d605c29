//! The durable spool (`writer.spool_dir`, off by default): a per-node write-ahead log of
//! accepted events, so an event answered 202 survives a crash of the process (or machine).
//!
//! - The HTTP edge appends a request's events ([`Spool::append`]) before it buffers them
//!   and answers; the append returns once the records are synced to disk. One appender
//!   thread writes and syncs on behalf of every request waiting at that moment (group
//!   commit): with `spool_fsync = "always"` a sync per group, with `"interval"` at most one
//!   every `spool_fsync_ms`.
//! - Records go to numbered segment files ([`record`] has the format); a new segment starts
//!   past `spool_segment_bytes`. Every spooled event is owned by its segment until it is
//!   accounted for (stored, or dropped for any counted reason: [`Spool::release`]); a
//!   segment that is no longer appended to and owns nothing is deleted.
//! - Events a full buffer (or the node's memory cap) pushes out are **spilled**
//!   ([`Spool::spill`]): they stay only in their segments, each known by where its record is
//!   ([`Spilled`], about 100 bytes of index per event), and the writer reads them back
//!   ([`Spool::read`]) a batch at a time, oldest first.
//! - At `spool_max_bytes` the oldest segments are deleted (`Spool::make_room`): the spilled
//!   events they held are lost (the registry's handler, [`Spool::on_lost`], counts them
//!   `dropped_spool_full` in their projects); those still in memory stay buffered.
//! - On start, [`Spool::open`] indexes every segment (stopping at a torn tail) without keeping
//!   the events: they come back as spilled events of their projects ([`replay`]), read back
//!   by the writers like any other.
//!
//! See docs/architecture.md, “Durable spool”.

mod appender;
pub mod record;
pub mod replay;
mod spilled;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, OnceLock};

use crate::config::{SpoolFsync, WriterSettings};
use crate::domain::{EventId, PendingEvent, ProjectId};
pub use record::Record;
pub use spilled::{Loc, Replay, Spilled};

/// Why events could not be spooled (the request is answered 503).
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("writing the spool failed: {0}")]
    Io(String),
    #[error("the spool is closed")]
    Closed,
}

/// A segment's bookkeeping: the events it still owns and its size on disk.
#[derive(Debug, Default)]
struct Segment {
    outstanding: usize,
    bytes: u64,
}

/// A spooled event not yet accounted for: where its record is, whether it is spilled (held
/// only here, not in memory), and whether a previous run spooled it (replay).
#[derive(Debug)]
struct Owned {
    at: Loc,
    spilled: bool,
    old: bool,
}

impl Owned {
    fn new(at: Loc) -> Self {
        Self {
            at,
            spilled: false,
            old: false,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// The segment being appended to (never deleted while it is).
    current: Option<u64>,
    next_seq: u64,
    segments: BTreeMap<u64, Segment>,
    owner: HashMap<EventId, Owned>,
    total_bytes: u64,
    /// Events of a previous run (replay) not accounted for yet, of `replay_total`.
    replay_pending: u64,
    replay_total: u64,
    /// Of those, lost at `spool_max_bytes` before they were read back.
    replay_lost: u64,
}

/// Told of the segments deleted at `spool_max_bytes` (their sequence numbers), after they
/// are gone: the spilled events they held are lost.
type LostHandler = Box<dyn Fn(&[u64]) + Send + Sync>;

/// What the appender thread and the handles share.
struct Shared {
    dir: PathBuf,
    state: Mutex<State>,
    counts: Counts,
    on_lost: OnceLock<LostHandler>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("dir", &self.dir)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

/// The spool's counters since start (`/metrics`).
#[derive(Debug, Default)]
struct Counts {
    appended: AtomicU64,
    fsyncs: AtomicU64,
    refused: AtomicU64,
    evicted: AtomicU64,
    spilled_lost: AtomicU64,
    already_stored: AtomicU64,
}

/// The spool's state and counters, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Bytes of segment files on disk.
    pub bytes: u64,
    pub segments: u64,
    /// Events the spool holds that are not accounted for yet (stored or dropped).
    pub outstanding: u64,
    /// Events appended (and synced) since start.
    pub appended: u64,
    /// Syncs of segment files and of the directory since start.
    pub fsyncs: u64,
    /// Events refused (503) because the spool could not take them (an I/O error).
    pub refused: u64,
    /// Spooled, unaccounted events whose segment was deleted at `spool_max_bytes` (drop-
    /// oldest): still buffered in memory and stored as usual, but no longer safe from a crash.
    pub evicted: u64,
    /// Spilled events (held only in the spool) whose segment was deleted at `spool_max_bytes`:
    /// lost, counted `dropped_spool_full` in their projects.
    pub spilled_lost: u64,
    /// Events of the previous run (read back at start) not stored or dropped yet.
    pub replay_pending: u64,
    /// Events read back from the spool that the database already held (committed before a
    /// crash, or a commit whose answer was lost): not written again.
    pub already_stored: u64,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, seq: u64) -> PathBuf {
        segment_path(&self.dir, seq)
    }

    /// `n` events of the previous run are accounted for (or lost); the last one says so.
    fn old_gone(&self, state: &mut State, n: u64) {
        if n == 0 || state.replay_pending == 0 {
            return;
        }
        state.replay_pending = state.replay_pending.saturating_sub(n);
        if state.replay_pending == 0 {
            let already = self.counts.already_stored.load(Ordering::Relaxed);
            let already = already.min(state.replay_total);
            tracing::info!(
                events = state.replay_total,
                replayed = state.replay_total
                    - already
                    - state.replay_lost.min(state.replay_total - already),
                already_stored = already,
                lost = state.replay_lost,
                "spool replayed"
            );
        }
    }

    /// Deletes the segments that own nothing, except the current one unless `all`.
    fn collect(&self, all: bool) {
        let doomed: Vec<u64> = {
            let mut state = self.lock();
            let current = if all { None } else { state.current };
            let doomed: Vec<u64> = state
                .segments
                .iter()
                .filter(|(seq, s)| s.outstanding == 0 && Some(**seq) != current)
                .map(|(seq, _)| *seq)
                .collect();
            for seq in &doomed {
                let bytes = state.segments.remove(seq).map_or(0, |s| s.bytes);
                state.total_bytes -= bytes;
            }
            doomed
        };
        for seq in doomed {
            if let Err(e) = std::fs::remove_file(self.path(seq)) {
                tracing::error!(seq, error = %e, "cannot delete a spent spool segment");
            }
        }
    }
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:016}.seg"))
}

/// The node's spool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Spool {
    shared: Arc<Shared>,
    sender: Arc<Mutex<Option<SyncSender<appender::Request>>>>,
    thread: Arc<Mutex<Option<std::thread::JoinHandle<()>>>>,
    max_bytes: u64,
    /// The directory's lock file, locked exclusively while any handle lives: one process
    /// per spool directory.
    _lock: Arc<File>,
}

/// The lock file in a spool directory.
pub const LOCK_FILE: &str = "lock";

/// Locks `dir` for this process (exclusively, without waiting) and writes our pid in the
/// lock file; the error says which process holds it.
fn lock_dir(dir: &Path) -> std::io::Result<File> {
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim() {
                "" => String::new(),
                pid => format!(" (pid {pid})"),
            };
            return Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!(
                    "the spool directory {} is in use by another process{holder}, which holds \
                     its lock file {}; every server needs a writer.spool_dir of its own",
                    dir.display(),
                    path.display()
                ),
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    file.set_len(0)?;
    file.write_all(format!("{}\n", std::process::id()).as_bytes())?;
    Ok(file)
}

impl Spool {
    /// Opens (creating) the spool in `settings.spool_dir` and indexes what it holds: the
    /// events of a previous run not yet known to be accounted for, oldest first per project,
    /// as spilled events (their records stay on disk, about 100 bytes of index each; see
    /// [`replay`]). They stay owned by their segments until released.
    pub fn open(dir: &Path, settings: &WriterSettings) -> std::io::Result<(Self, Replay)> {
        std::fs::create_dir_all(dir)?;
        let lock = lock_dir(dir)?;
        let mut seqs: Vec<u64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".seg")?.parse().ok()
            })
            .collect();
        seqs.sort_unstable();
        let mut state = State {
            next_seq: seqs.last().map_or(1, |s| s + 1),
            ..State::default()
        };
        let mut replay = Replay::new();
        for seq in seqs {
            let path = segment_path(dir, seq);
            // One segment in memory at a time (at most about `spool_segment_bytes`).
            let decoded = record::read_segment(&path)?;
            if decoded.torn {
                tracing::warn!(path = %path.display(), records = decoded.records.len(),
                    "spool segment ends in a torn or corrupt record; ignoring the rest of it");
            }
            let bytes = std::fs::metadata(&path)?.len();
            state.total_bytes += bytes;
            let segment = state.segments.entry(seq).or_default();
            segment.bytes = bytes;
            for r in decoded.records {
                let at = Loc {
                    seq,
                    offset: r.offset,
                    len: r.len,
                };
                let id = r.record.event.id;
                if state.owner.contains_key(&id) {
                    continue;
                }
                let owned = Owned {
                    at,
                    spilled: true,
                    old: true,
                };
                state.owner.insert(id, owned);
                state.segments.get_mut(&seq).expect("inserted").outstanding += 1;
                replay
                    .entry(r.record.project_id)
                    .or_default()
                    .push(Spilled { id, at });
            }
        }
        state.replay_total = state.owner.len() as u64;
        state.replay_pending = state.replay_total;
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            state: Mutex::new(state),
            counts: Counts::default(),
            on_lost: OnceLock::new(),
        });
        shared.collect(true);
        let policy = match settings.spool_fsync {
            SpoolFsync::Always => None,
            SpoolFsync::Interval => Some(std::time::Duration::from_millis(settings.spool_fsync_ms)),
        };
        let (sender, thread) =
            appender::start(shared.clone(), policy, settings.spool_segment_bytes)?;
        let spool = Self {
            shared,
            sender: Arc::new(Mutex::new(Some(sender))),
            thread: Arc::new(Mutex::new(Some(thread))),
            max_bytes: settings.spool_max_bytes,
            _lock: Arc::new(lock),
        };
        Ok((spool, replay))
    }

    /// Sets who is told of the segments deleted at `spool_max_bytes` (once; the registry).
    pub fn on_lost(&self, handler: impl Fn(&[u64]) + Send + Sync + 'static) {
        let _ = self.shared.on_lost.set(Box::new(handler));
    }

    /// Appends `events` of `project_id` and returns once they are on disk.
    pub async fn append(
        &self,
        project_id: ProjectId,
        events: &[PendingEvent],
    ) -> Result<(), SpoolError> {
        let mut bytes = Vec::with_capacity(events.len() * 1024);
        let mut frames = Vec::with_capacity(events.len());
        for e in events {
            let at = bytes.len();
            record::encode(project_id, e, &mut bytes);
            frames.push((bytes.len() - at) as u32);
        }
        let result = self.append_bytes(bytes, frames, events).await;
        if result.is_err() {
            self.shared
                .counts
                .refused
                .fetch_add(events.len() as u64, Ordering::Relaxed);
        }
        result
    }

    async fn append_bytes(
        &self,
        bytes: Vec<u8>,
        frames: Vec<u32>,
        events: &[PendingEvent],
    ) -> Result<(), SpoolError> {
        self.make_room(bytes.len() as u64);
        let (done, answer) = tokio::sync::oneshot::channel();
        let request = appender::Request {
            bytes,
            ids: events.iter().map(|e| e.id).collect(),
            frames,
            done,
        };
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let sender = sender.ok_or(SpoolError::Closed)?;
        // The channel is bounded: when it is full the request waits for room (backpressure),
        // on a blocking thread, never on the HTTP worker's.
        match sender.try_send(request) {
            Ok(()) => {}
            Err(std::sync::mpsc::TrySendError::Full(request)) => {
                tokio::task::spawn_blocking(move || sender.send(request))
                    .await
                    .map_err(|_| SpoolError::Closed)?
                    .map_err(|_| SpoolError::Closed)?;
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return Err(SpoolError::Closed),
        }
        answer.await.map_err(|_| SpoolError::Closed)?
    }

    /// Drop-oldest at `spool_max_bytes`: deletes the oldest segments (never the current
    /// one) until `incoming` more bytes fit. Their outstanding events that are still in
    /// memory (buffered or in flight) are stored as usual, but are no longer safe from a
    /// crash: counted as evicted. Those that were spilled (only here) are lost: the
    /// [`on_lost`](Self::on_lost) handler is told, and their projects count them
    /// `dropped_spool_full`. If only the current segment is left, the append goes ahead
    /// anyway, so the spool may exceed the cap by up to a segment until it rolls.
    fn make_room(&self, incoming: u64) {
        let doomed: Vec<u64> = {
            let mut state = self.shared.lock();
            let mut doomed = Vec::new();
            while state.total_bytes + incoming > self.max_bytes {
                let current = state.current;
                let Some(seq) = state.segments.keys().copied().find(|s| Some(*s) != current) else {
                    break;
                };
                let segment = state.segments.remove(&seq).expect("listed");
                state.total_bytes -= segment.bytes;
                let (mut spilled, mut old) = (0u64, 0u64);
                if segment.outstanding > 0 {
                    state.owner.retain(|_, o| {
                        let gone = o.at.seq == seq;
                        if gone {
                            spilled += u64::from(o.spilled);
                            old += u64::from(o.old);
                        }
                        !gone
                    });
                }
                let c = &self.shared.counts;
                c.evicted
                    .fetch_add(segment.outstanding as u64 - spilled, Ordering::Relaxed);
                c.spilled_lost.fetch_add(spilled, Ordering::Relaxed);
                state.replay_lost += old;
                self.shared.old_gone(&mut state, old);
                doomed.push(seq);
            }
            doomed
        };
        if doomed.is_empty() {
            return;
        }
        for seq in &doomed {
            tracing::debug!(
                seq,
                "spool at writer.spool_max_bytes: oldest segment deleted"
            );
            if let Err(e) = std::fs::remove_file(self.shared.path(*seq)) {
                tracing::error!(seq, error = %e, "cannot delete an evicted spool segment");
            }
        }
        if let Some(handler) = self.shared.on_lost.get() {
            handler(&doomed);
        }
    }

    /// These events are accounted for (stored or dropped): their segments no longer keep
    /// them, and a segment left owning nothing is deleted. Unknown ids are ignored.
    pub fn release(&self, ids: impl IntoIterator<Item = EventId>) {
        let mut spent = false;
        {
            let mut state = self.shared.lock();
            let mut old = 0;
            for id in ids {
                let Some(owned) = state.owner.remove(&id) else {
                    continue;
                };
                old += u64::from(owned.old);
                let (seq, current) = (owned.at.seq, state.current);
                if let Some(segment) = state.segments.get_mut(&seq) {
                    segment.outstanding -= 1;
                    spent |= segment.outstanding == 0 && Some(seq) != current;
                }
            }
            self.shared.old_gone(&mut state, old);
        }
        if spent {
            self.shared.collect(false);
        }
    }

    /// Spills these events: from now on they are held only here (their records), no longer
    /// in memory. Answers where each one's record is, or `None` for an event the spool does
    /// not hold (its segment was deleted at `spool_max_bytes`, or it was never spooled):
    /// that one cannot be spilled.
    pub fn spill(&self, ids: impl IntoIterator<Item = EventId>) -> Vec<Option<Loc>> {
        let mut state = self.shared.lock();
        ids.into_iter()
            .map(|id| {
                let owned = state.owner.get_mut(&id)?;
                owned.spilled = true;
                Some(owned.at)
            })
            .collect()
    }

    /// Reads spilled events back from their segments (blocking file reads: call it off the
    /// async threads), in the order given; `None` for one whose record is gone (its segment
    /// was deleted at `spool_max_bytes` meanwhile) or unreadable.
    pub fn read(&self, spilled: &[Spilled]) -> Vec<Option<PendingEvent>> {
        spilled::read(&self.shared.dir, spilled)
    }

    /// `n` events read back from the spool were found stored already (not written again).
    pub fn note_already_stored(&self, n: u64) {
        self.shared
            .counts
            .already_stored
            .fetch_add(n, Ordering::Relaxed);
    }

    /// The spool's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Events the spool still holds for the writers.
    pub fn outstanding(&self) -> usize {
        self.shared.lock().owner.len()
    }

    /// Bytes of segment files on disk.
    pub fn bytes(&self) -> u64 {
        self.shared.lock().total_bytes
    }

    /// The spool's size and counters now.
    pub fn stats(&self) -> SpoolStats {
        let state = self.shared.lock();
        let c = &self.shared.counts;
        SpoolStats {
            bytes: state.total_bytes,
            segments: state.segments.len() as u64,
            outstanding: state.owner.len() as u64,
            appended: c.appended.load(Ordering::Relaxed),
            fsyncs: c.fsyncs.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
            spilled_lost: c.spilled_lost.load(Ordering::Relaxed),
            replay_pending: state.replay_pending,
            already_stored: c.already_stored.load(Ordering::Relaxed),
        }
    }

    /// Stops appending (later appends fail) and deletes every segment that owns nothing, the
    /// current one too: after a clean drain the spool directory is left empty.
    pub fn close(&self) {
        drop(self.sender.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
        self.shared.lock().current = None;
        self.shared.collect(true);
    }
}

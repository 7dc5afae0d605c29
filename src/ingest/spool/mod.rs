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
//! - On start, [`Spool::open`] reads every segment back (stopping at a torn tail), and
//!   [`replay`] hands the events that are not stored yet to their writers again.
//!
//! See docs/architecture.md, “Durable spool”.

mod appender;
pub mod record;
pub mod replay;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use crate::config::{SpoolFsync, WriterSettings};
use crate::domain::{EventId, PendingEvent, ProjectId};
pub use record::Record;

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

#[derive(Debug, Default)]
struct State {
    /// The segment being appended to (never deleted while it is).
    current: Option<u64>,
    next_seq: u64,
    segments: BTreeMap<u64, Segment>,
    owner: HashMap<EventId, u64>,
    total_bytes: u64,
}

/// What the appender thread and the handles share.
#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    state: Mutex<State>,
    counts: Counts,
}

/// The spool's counters since start (`/metrics`).
#[derive(Debug, Default)]
struct Counts {
    appended: AtomicU64,
    fsyncs: AtomicU64,
    refused: AtomicU64,
    evicted: AtomicU64,
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
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, seq: u64) -> PathBuf {
        segment_path(&self.dir, seq)
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
    /// Opens (creating) the spool in `settings.spool_dir` and reads back what it holds: the
    /// events of a previous run not yet known to be accounted for, oldest first. They stay
    /// owned by their segments until released.
    pub fn open(dir: &Path, settings: &WriterSettings) -> std::io::Result<(Self, Vec<Record>)> {
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
        let mut records = Vec::new();
        for seq in seqs {
            let path = segment_path(dir, seq);
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
                if state.owner.insert(r.event.id, seq).is_none() {
                    state.segments.get_mut(&seq).expect("inserted").outstanding += 1;
                    records.push(r);
                }
            }
        }
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            state: Mutex::new(state),
            counts: Counts::default(),
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
        Ok((spool, records))
    }

    /// Appends `events` of `project_id` and returns once they are on disk.
    pub async fn append(
        &self,
        project_id: ProjectId,
        events: &[PendingEvent],
    ) -> Result<(), SpoolError> {
        let mut bytes = Vec::with_capacity(events.len() * 1024);
        for e in events {
            record::encode(project_id, e, &mut bytes);
        }
        let result = self.append_bytes(bytes, events).await;
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
        events: &[PendingEvent],
    ) -> Result<(), SpoolError> {
        self.make_room(bytes.len() as u64);
        let (done, answer) = tokio::sync::oneshot::channel();
        let request = appender::Request {
            bytes,
            ids: events.iter().map(|e| e.id).collect(),
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
    /// one) until `incoming` more bytes fit. Their outstanding events are still in memory
    /// (buffered or in flight) and are stored as usual, but are no longer safe from a
    /// crash: counted as evicted. If only the current segment is left, the append goes
    /// ahead anyway, so the spool may exceed the cap by up to a segment until it rolls.
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
                if segment.outstanding > 0 {
                    state.owner.retain(|_, s| *s != seq);
                }
                self.shared
                    .counts
                    .evicted
                    .fetch_add(segment.outstanding as u64, Ordering::Relaxed);
                doomed.push(seq);
            }
            doomed
        };
        for seq in doomed {
            tracing::debug!(
                seq,
                "spool at writer.spool_max_bytes: oldest segment deleted"
            );
            if let Err(e) = std::fs::remove_file(self.shared.path(seq)) {
                tracing::error!(seq, error = %e, "cannot delete an evicted spool segment");
            }
        }
    }

    /// These events are accounted for (stored or dropped): their segments no longer keep
    /// them, and a segment left owning nothing is deleted. Unknown ids are ignored.
    pub fn release(&self, ids: impl IntoIterator<Item = EventId>) {
        let mut spent = false;
        {
            let mut state = self.shared.lock();
            for id in ids {
                let Some(seq) = state.owner.remove(&id) else {
                    continue;
                };
                let current = state.current;
                if let Some(segment) = state.segments.get_mut(&seq) {
                    segment.outstanding -= 1;
                    spent |= segment.outstanding == 0 && Some(seq) != current;
                }
            }
        }
        if spent {
            self.shared.collect(false);
        }
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

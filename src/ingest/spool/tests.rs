use super::*;
use crate::config::Settings;

fn settings(segment_bytes: u64) -> WriterSettings {
    let mut s = Settings::load_from(Path::new("/nonexistent"), "none", false)
        .expect("defaults")
        .writer;
    s.spool_fsync = SpoolFsync::Always;
    s.spool_segment_bytes = segment_bytes;
    s
}

fn dir() -> PathBuf {
    std::env::temp_dir().join(format!("mesher-spool-unit-{}", uuid::Uuid::now_v7()))
}

fn events(n: usize) -> Vec<PendingEvent> {
    let body = br#"{"message":"spooled","level":"error","timestamp":"2026-11-29T12:00:00Z"}"#;
    (0..n)
        .map(|_| {
            PendingEvent::new(
                crate::domain::parse_event(body).unwrap(),
                chrono::Utc::now(),
            )
        })
        .collect()
}

/// The ids of what a reopened spool gives back for replay, in order (one project).
fn ids(replay: &Replay) -> Vec<EventId> {
    replay.values().flatten().map(|s| s.id).collect()
}

/// Segment files in `dir`.
fn files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        })
        .count()
}

#[actix_rt::test]
async fn segments_go_once_their_events_are_released_and_the_rest_is_read_back() {
    let dir = dir();
    let (spool, old) = Spool::open(&dir, &settings(4096)).unwrap();
    assert!(old.is_empty());
    let p = ProjectId::new();
    let (a, b, c, d) = (events(20), events(20), events(20), events(20));
    // Concurrent appends share syncs; each segment rolls past 4 KiB.
    let (ra, rb) = futures_util::join!(spool.append(p, &a), spool.append(p, &b));
    ra.unwrap();
    rb.unwrap();
    for e in c.chunks(5).chain(d.chunks(5)) {
        spool.append(p, e).await.unwrap();
    }
    assert_eq!(spool.outstanding(), 80);
    assert!(files(&dir) > 2, "several segments");
    spool.release(a.iter().chain(&c).map(|e| e.id));
    assert_eq!(spool.outstanding(), 40);
    // Kill: no close. What is not released comes back with its ids (and the released events
    // that share a segment with it: replay finds those stored).
    drop(spool);
    let (spool, back) = Spool::open(&dir, &settings(4096)).unwrap();
    let back = ids(&back);
    let expected: Vec<EventId> = b.iter().chain(&d).map(|e| e.id).collect();
    let back_set: std::collections::HashSet<_> = back.iter().collect();
    assert_eq!(back_set.len(), back.len(), "each event once");
    assert!(expected.iter().all(|id| back_set.contains(id)));
    assert!(
        back.len() < 80,
        "whole released segments are gone ({})",
        back.len()
    );
    spool.release(back);
    spool.close();
    assert_eq!(files(&dir), 0, "nothing owned, nothing left");
    assert!(matches!(spool.append(p, &a).await, Err(SpoolError::Closed)));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// At the cap the oldest segments go: every append is taken, the spool stays within the
/// cap plus the current segment, and exactly the events of the deleted segments are
/// counted evicted — after a crash, the others (the newest) come back, and only they.
#[actix_rt::test]
async fn the_cap_deletes_the_oldest_segments_and_counts_their_events() {
    let dir = dir();
    let mut s = settings(4096);
    s.spool_max_bytes = 8192;
    let (spool, _) = Spool::open(&dir, &s).unwrap();
    let p = ProjectId::new();
    let all = events(60);
    let mut peak = 0;
    for e in all.chunks(2) {
        spool.append(p, e).await.unwrap();
        peak = peak.max(spool.bytes());
    }
    let stats = spool.stats();
    assert!(stats.evicted > 0, "{stats:?}");
    assert_eq!(stats.evicted + stats.outstanding, 60, "{stats:?}");
    assert!(peak <= 8192 + 4096 + 1024, "peak {peak}");
    assert_eq!(stats.refused, 0);
    drop(spool);
    let (spool, replay) = Spool::open(&dir, &s).unwrap();
    let back = ids(&replay);
    let newest: Vec<EventId> = all[stats.evicted as usize..].iter().map(|e| e.id).collect();
    assert_eq!(back, newest, "the newest come back, in order");
    // Indexed only: the events are read back from their records.
    let read: Vec<PendingEvent> = spool
        .read(&replay[&p])
        .into_iter()
        .map(|e| e.expect("readable"))
        .collect();
    assert_eq!(read, all[stats.evicted as usize..]);
    assert_eq!(spool.stats().replay_pending, newest.len() as u64);
    spool.release(back);
    assert_eq!(spool.stats().replay_pending, 0);
    spool.close();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[actix_rt::test]
async fn a_directory_is_one_spools_until_it_is_dropped() {
    let dir = dir();
    let (spool, _) = Spool::open(&dir, &settings(4096)).unwrap();
    let err = Spool::open(&dir, &settings(4096)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    let pid = format!("(pid {})", std::process::id());
    assert!(err.to_string().contains(&pid), "{err}");
    spool.close();
    drop(spool);
    let (again, _) = Spool::open(&dir, &settings(4096)).unwrap();
    again.close();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Spilled events are read back from their records, in order; an event the spool does not
/// hold cannot be spilled. At the cap, a deleted segment's spilled events are lost (the
/// handler is told its number, they are counted, and reading them gives nothing), while
/// the others of it are counted evicted: appended = outstanding + evicted + lost.
#[actix_rt::test]
async fn spilled_events_are_read_back_and_lost_with_their_segment_at_the_cap() {
    let dir = dir();
    let mut s = settings(4096);
    s.spool_max_bytes = 8192;
    let (spool, _) = Spool::open(&dir, &s).unwrap();
    let told = Arc::new(Mutex::new(Vec::new()));
    let t = told.clone();
    spool.on_lost(move |seqs| t.lock().unwrap().extend_from_slice(seqs));
    let p = ProjectId::new();
    let first = events(10);
    spool.append(p, &first).await.unwrap();
    let locs = spool.spill(first[..5].iter().map(|e| e.id));
    let spilled: Vec<Spilled> = first[..5]
        .iter()
        .zip(locs)
        .map(|(e, at)| Spilled {
            id: e.id,
            at: at.expect("spooled"),
        })
        .collect();
    let back: Vec<PendingEvent> = spool.read(&spilled).into_iter().flatten().collect();
    assert_eq!(back, first[..5]);
    assert_eq!(spool.spill([EventId::new()]), [None]);

    for e in events(60).chunks(2) {
        spool.append(p, e).await.unwrap();
    }
    let stats = spool.stats();
    assert_eq!(stats.spilled_lost, 5, "{stats:?}");
    assert_eq!(stats.evicted + stats.spilled_lost + stats.outstanding, 70);
    assert!(told.lock().unwrap().contains(&spilled[0].at.seq));
    assert!(spool.read(&spilled).iter().all(Option::is_none));
    spool.close();
    std::fs::remove_dir_all(&dir).unwrap();
}

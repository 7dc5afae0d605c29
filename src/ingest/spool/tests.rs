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
    let back: Vec<EventId> = back.iter().map(|r| r.event.id).collect();
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
    let (spool, back) = Spool::open(&dir, &s).unwrap();
    let back: Vec<EventId> = back.iter().map(|r| r.event.id).collect();
    let newest: Vec<EventId> = all[stats.evicted as usize..].iter().map(|e| e.id).collect();
    assert_eq!(back, newest, "the newest come back, in order");
    spool.release(back);
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

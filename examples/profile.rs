//! Profiling harness for the ingestion path, without HTTP: the bench event of `loadgen`
//! (`examples/common`) through the edge's work and the writer's `write_batch` against a real
//! database. Run it through `scripts/profile`, which runs it under
//! `valgrind --tool=callgrind` and turns each phase into instructions per event.
//!
//! ```text
//! profile [--events 10000] [--writers insert:500,copy:500,insert:2000,copy:2000] [--edge-only]
//! ```
//! Phases, in order:
//! - `edge`: for every event body, what the HTTP handler does after authentication — the
//!   body decoded (`Content-Encoding: identity`), parsed and normalised
//!   (`parse_event_at`), fingerprinted, given its title and packed (`PendingEvent::new`);
//! - `writer-PATH-B` for each `--writers` entry: the same events written in batches of `B`
//!   through `db::events::write_batch` (`insert`, diesel's `INSERT … FROM unnest`) or
//!   `db::copy::write_batch` (`copy`, binary `COPY`), each into a project of its own.
//!
//! Each phase runs between calls of [`phase_start`] and [`phase_end`]; `scripts/profile`
//! gives callgrind `--zero-before`/`--dump-before` on them, so each dump holds one phase:
//! all the process's work in it (runtime and connection tasks included), nothing else.
//! Every phase also prints its wall time and the CPU time its PostgreSQL backend used
//! (`/proc/PID/stat` of `pg_backend_pid()`; PostgreSQL must run on this machine).
//!
//! The database is `DATABASE_URL` with its database replaced by `mesher_profile`, dropped
//! and created again on each run.

#[allow(dead_code)] // the fast bodies are the load generator's
mod common;

use std::hint::black_box;
use std::time::Instant;

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use mesher::domain::{EventId, NormalizedEvent, PendingEvent, ProjectId, parse_event_at};
use mesher::ingest::decode::{Encoding, decode};

const BODY_LIMIT: usize = 20 << 20;

struct Args {
    events: u64,
    writers: Vec<(String, usize)>,
    edge_only: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        events: 10_000,
        writers: parse_writers("insert:500,copy:500,insert:2000,copy:2000"),
        edge_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => args.events = value().parse().expect("--events N"),
            "--writers" => args.writers = parse_writers(&value()),
            "--edge-only" => args.edge_only = true,
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn parse_writers(list: &str) -> Vec<(String, usize)> {
    list.split(',')
        .map(|w| {
            let (path, batch) = w.split_once(':').expect("--writers PATH:BATCH,…");
            assert!(matches!(path, "insert" | "copy"), "{path}: insert or copy");
            (path.to_owned(), batch.parse().expect("a batch size"))
        })
        .collect()
}

/// Marks the start of a phase (callgrind zeroes its counters before this call).
#[inline(never)]
fn phase_start(name: &str) {
    // Different bodies, or the linker folds the two markers into one symbol.
    black_box((name, "start"));
}

/// Marks the end of a phase (callgrind dumps its counters before this call).
#[inline(never)]
fn phase_end(name: &str) {
    black_box((name, 1u64 << 40));
}

/// Decoding, parsing and normalising one body, as the native endpoint does.
#[inline(never)]
fn parse(body: &[u8], now: chrono::DateTime<Utc>) -> NormalizedEvent {
    let body = decode(Encoding::Identity, body, BODY_LIMIT).expect("identity decodes");
    parse_event_at(&body, now).expect("the bench event is valid")
}

/// Fingerprinting, title and culprit, packing: what `PendingEvent::new` does.
#[inline(never)]
fn pack(event: NormalizedEvent, now: chrono::DateTime<Utc>) -> PendingEvent {
    PendingEvent::new(event, now)
}

#[inline(never)]
fn edge(bodies: &[Vec<u8>]) -> Vec<PendingEvent> {
    let now = Utc::now();
    bodies.iter().map(|b| pack(parse(b, now), now)).collect()
}

/// CPU time (user + system) of process `pid` so far, in clock ticks (1/100 s).
fn cpu_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) — utime and stime are 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

#[derive(diesel::QueryableByName)]
struct Pid {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

async fn new_project(conn: &mut AsyncPgConnection, slug: &str) -> ProjectId {
    let id = ProjectId::new();
    conn.batch_execute(&format!(
        "INSERT INTO projects (id, org_id, slug, name) \
         SELECT '{id}', id, '{slug}', '{slug}' FROM organizations WHERE slug = 'profile'"
    ))
    .await
    .expect("project created");
    id
}

fn database_url() -> (String, String) {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let (base, _) = url.rsplit_once('/').expect("DATABASE_URL has a database");
    (url.clone(), format!("{base}/mesher_profile"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = parse_args();
    let bodies: Vec<Vec<u8>> = (0..args.events).map(common::event).collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "profile: {} events, {} bytes each on average",
        args.events,
        bytes / bodies.len().max(1)
    );

    // Warm-up outside the phases: one-time costs (lazy statics, first allocations).
    black_box(edge(&bodies[..bodies.len().min(10)]));
    phase_start("edge");
    let t = Instant::now();
    let pending = black_box(edge(black_box(&bodies)));
    let took = t.elapsed();
    phase_end("edge");
    println!("phase edge: {:?}", took);
    if args.edge_only {
        return;
    }

    let (admin_url, url) = database_url();
    let mut admin = AsyncPgConnection::establish(&admin_url)
        .await
        .expect("DATABASE_URL reachable");
    for sql in [
        "DROP DATABASE IF EXISTS mesher_profile WITH (FORCE)",
        "CREATE DATABASE mesher_profile",
    ] {
        admin.batch_execute(sql).await.expect("database created");
    }
    mesher::db::run_migrations(&url).await.expect("migrations");
    let mut conn = AsyncPgConnection::establish(&url).await.expect("connect");
    conn.batch_execute(
        "INSERT INTO organizations (id, slug, name) VALUES (gen_random_uuid(), 'profile', 'Profile')",
    )
    .await
    .expect("org");
    let today = Utc::now().date_naive();
    mesher::db::partitions::ensure_range(&mut conn, today, today)
        .await
        .expect("partition");
    let mut copy = mesher::db::copy::connect(&url).await.expect("connect");

    // Warm-up of both paths outside the phases (first statements, type lookups).
    let warm = new_project(&mut conn, "warm-up").await;
    let some = &pending[..pending.len().min(10)];
    let fresh = |events: &[PendingEvent]| -> Vec<PendingEvent> {
        events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.id = EventId::new();
                e
            })
            .collect()
    };
    mesher::db::events::write_batch(&mut conn, warm, &fresh(some))
        .await
        .expect("warm-up");
    mesher::db::copy::write_batch(&mut copy, warm, &fresh(some))
        .await
        .expect("warm-up");

    for (path, batch) in &args.writers {
        let name = format!("writer-{path}-{batch}");
        let project = new_project(&mut conn, &name).await;
        // Fresh ids: every phase stores its own rows.
        let events = fresh(&pending);
        let pid = if path == "copy" {
            copy.query_one("SELECT pg_backend_pid()", &[])
                .await
                .expect("pid")
                .get::<_, i32>(0)
        } else {
            diesel::sql_query("SELECT pg_backend_pid() AS pid")
                .get_result::<Pid>(&mut conn)
                .await
                .expect("pid")
                .pid
        };
        let before = cpu_ticks(pid);
        phase_start(&name);
        let t = Instant::now();
        for chunk in events.chunks(*batch) {
            let facts = if path == "copy" {
                mesher::db::copy::write_batch(&mut copy, project, chunk).await
            } else {
                mesher::db::events::write_batch(&mut conn, project, chunk).await
            };
            black_box(facts.expect("batch written"));
        }
        let took = t.elapsed();
        phase_end(&name);
        let pg = match (before, cpu_ticks(pid)) {
            (Some(b), Some(a)) => format!(
                "{:.1} µs/event",
                (a - b) as f64 * 10_000.0 / events.len() as f64
            ),
            _ => "unknown (not on this machine)".into(),
        };
        println!("phase {name}: {took:?}; PostgreSQL backend CPU {pg}");
    }
}

//! What one request may cost (docs/api.md, "Limits"): event items per Sentry envelope
//! (`http.max_envelope_events`), decided while the envelope is read, and the rate limit
//! charging every event of a request.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestProject, error_of, event, spawn_app, spawn_app_with};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// An envelope of `n` event items.
fn envelope(n: usize) -> Vec<u8> {
    let mut body = b"{}\n".to_vec();
    for _ in 0..n {
        body.extend_from_slice(b"{\"type\":\"event\"}\n{\"message\":\"amplified\"}\n");
    }
    body
}

/// Posts a gzip envelope to the project's Sentry route: (status, JSON body).
async fn post_envelope(app: &TestApp, p: &TestProject, gz: Vec<u8>) -> (u16, Value) {
    let res = app
        .post_raw(
            &format!("/api/{}/envelope/", p.number),
            gz,
            &[
                (
                    "x-sentry-auth",
                    &format!("Sentry sentry_key={}, sentry_version=7", p.key),
                ),
                ("content-encoding", "gzip"),
            ],
        )
        .await;
    (
        res.status().as_u16(),
        res.json().await.unwrap_or(Value::Null),
    )
}

/// Samples this process's resident memory (the app runs in-process) every millisecond on a
/// thread of its own until [`Self::growth`], so a short-lived peak is seen too (large
/// allocations go back to the system as soon as they are freed).
struct PeakRss {
    before: u64,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sampler: std::thread::JoinHandle<u64>,
}

impl PeakRss {
    fn start() -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let sampler = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss());
                std::thread::sleep(Duration::from_millis(1));
            }
            peak
        });
        Self {
            before: rss(),
            stop,
            sampler,
        }
    }

    /// How far above the start the resident memory went, in bytes.
    fn growth(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let peak = self.sampler.join().unwrap().max(rss());
        peak.saturating_sub(self.before)
    }
}

/// This process's resident memory, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kb * 1024
}

#[actix_web::test]
async fn an_envelope_of_150000_events_is_refused_before_it_costs_anything() {
    let app = spawn_app().await;
    let p = app.project("amplified").await;
    crate::helpers::post_n(&app, &p.key, 10, "legit").await;

    let bomb = gzip(&envelope(150_000));
    assert!(bomb.len() < 32 << 10, "{} bytes", bomb.len());
    let memory = PeakRss::start();
    let started = Instant::now();
    let (status, body) = post_envelope(&app, &p, bomb).await;
    let took = started.elapsed();
    let grew = memory.growth();
    assert_eq!(
        (status, error_of(&body).0),
        (413, "too_many_events"),
        "{body}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(grew < 50 << 20, "RSS grew by {} MB", grew >> 20);

    // Nothing of it was accepted, and the legitimate events were not pushed out.
    let s = app.assert_accounted(p.id).await;
    assert_eq!(
        (s.accepted, s.stored, s.dropped_buffer_full),
        (10, 10, 0),
        "{s:?}"
    );
}

#[actix_web::test]
async fn the_envelope_cap_is_inclusive_and_configurable() {
    let app = spawn_app_with(|s| s.http.max_envelope_events = 3, None).await;
    let p = app.project("capped").await;
    let cases: &[(usize, u16, &str)] = &[(3, 200, ""), (4, 413, "too_many_events"), (1, 200, "")];
    for &(n, status, code) in cases {
        let (got, body) = post_envelope(&app, &p, gzip(&envelope(n))).await;
        assert_eq!(
            (got, error_of(&body).0),
            (status, code),
            "{n} events: {body}"
        );
    }
    let s = app.assert_accounted(p.id).await;
    assert_eq!((s.accepted, s.rejected), (4, 0), "{s:?}");
}

#[actix_web::test]
async fn the_rate_limit_charges_every_event_and_refuses_more_than_the_burst() {
    let app = spawn_app_with(
        |s| {
            s.writer.rate_limit_per_sec = 1;
            s.writer.rate_limit_burst = 5;
        },
        None,
    )
    .await;
    let p = app.project("limited").await;
    let batch = |n: usize| json!((0..n).map(|i| event(&format!("e{i}"))).collect::<Vec<_>>());

    // More than the burst can never pass: 413, and it takes nothing from the bucket.
    let res = app.post_events(&p.key, &batch(6)).await;
    let (status, body) = (res.status().as_u16(), res.json::<Value>().await.unwrap());
    assert_eq!(
        (status, error_of(&body).0),
        (413, "too_many_events"),
        "{body}"
    );
    let (status, body) = post_envelope(&app, &p, gzip(&envelope(6))).await;
    assert_eq!(
        (status, error_of(&body).0),
        (413, "too_many_events"),
        "{body}"
    );

    // The whole burst at once passes, and all 5 are charged: the next event waits.
    assert_eq!(app.post_events(&p.key, &batch(5)).await.status(), 202);
    let res = app.post_events(&p.key, &event("one more")).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));

    let s = app.assert_accounted(p.id).await;
    assert_eq!((s.accepted, s.rate_limited), (5, 1), "{s:?}");
}

#[actix_web::test]
async fn a_native_batch_of_millions_is_refused_at_item_1001() {
    let app = spawn_app().await;
    let p = app.project("native-amplified").await;
    // 20 MiB of `{},` once inflated: close to seven million items in ~20 KB of gzip.
    let mut body = b"[".to_vec();
    body.extend(b"{},".repeat(6_900_000));
    body.extend_from_slice(b"{}]");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&body).unwrap();
    let bomb = gz.finish().unwrap();
    drop(body);

    let memory = PeakRss::start();
    let started = Instant::now();
    let res = app
        .post_raw(
            "/api/v1/events",
            bomb,
            &[("x-mesher-key", &p.key), ("content-encoding", "gzip")],
        )
        .await;
    let took = started.elapsed();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    let grew = memory.growth();
    assert_eq!(
        (status, error_of(&body).0),
        (413, "too_many_events"),
        "{body}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(grew < 50 << 20, "RSS grew by {} MB", grew >> 20);
    let s = app.registry.snapshot(p.id);
    assert_eq!((s.accepted, s.rejected), (0, 0), "{s:?}");
}

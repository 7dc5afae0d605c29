//! Ingestion load generator: posts realistic ~1.3 KB events (exception with 8 frames,
//! breadcrumbs, tags, user, contexts) to `POST /api/v1/events`, one event per request, over
//! many keep-alive connections for a fixed time; then waits for the server's buffers to drain
//! and reports accepted/s, accept latency percentiles, persisted/s, non-2xx and the server's
//! peak RSS. Run it through `scripts/bench`, which starts a release server for it.
//!
//! ```text
//! loadgen --url http://127.0.0.1:18080 (--key mshr_… | --keys FILE) [--connections 64]
//!         [--duration 30] [--rate 6000] [--server-pid PID]
//! ```
//! `--rate` paces the requests (open loop, events/s over all connections); without it every
//! connection sends as fast as the server answers (closed loop). `--keys` spreads the load
//! round-robin over many projects (one `KEY PROJECT_ID` per line). Persisted figures come
//! from the server's `/metrics`, summed over every project it reports.

mod common;

use std::time::{Duration, Instant};

use common::{Templates, event};

struct Args {
    url: String,
    keys: Vec<String>,
    connections: usize,
    duration: Duration,
    rate: Option<f64>,
    server_pid: Option<u32>,
}

fn parse_args() -> Args {
    let mut args = Args {
        url: "http://127.0.0.1:18080".into(),
        keys: Vec::new(),
        connections: 64,
        duration: Duration::from_secs(30),
        rate: None,
        server_pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value(),
            "--key" => args.keys.push(value()),
            "--keys" => {
                let file = value();
                let text = std::fs::read_to_string(&file).expect("--keys FILE readable");
                args.keys.extend(
                    text.lines()
                        .filter_map(|l| l.split_whitespace().next())
                        .map(String::from),
                );
            }
            "--connections" => args.connections = value().parse().expect("--connections N"),
            "--duration" => args.duration = Duration::from_secs(value().parse().expect("secs")),
            "--rate" => args.rate = Some(value().parse().expect("--rate events/s")),
            // Accepted for old command lines: the figures now cover every project.
            "--project-id" => drop(value()),
            "--server-pid" => args.server_pid = Some(value().parse().expect("--server-pid PID")),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(!args.keys.is_empty(), "--key or --keys is required");
    args
}

/// Events stored and still pending (buffered, or spilled to the durable spool), summed over
/// every project the server reports.
async fn stored(client: &reqwest::Client, url: &str) -> Option<(u64, u64)> {
    let text = client
        .get(format!("{url}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let sum = |name: &str| {
        let prefix = format!("{name}{{");
        text.lines()
            .filter(|l| l.starts_with(&prefix))
            .filter_map(|l| l.rsplit(' ').next()?.trim().parse::<f64>().ok())
            .sum::<f64>() as u64
    };
    Some((
        sum("mesher_events_stored_total"),
        sum("mesher_events_buffered") + sum("mesher_events_spilled"),
    ))
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[idx]) / 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = parse_args();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()
        .expect("http client");
    let sample = event(0);
    // What one such event costs in the server's buffer (docs/architecture.md, "Memory").
    let footprint = mesher::domain::parse_event(&sample)
        .map(|e| mesher::domain::PendingEvent::new(e, chrono::Utc::now()).footprint())
        .expect("the sample event is valid");
    let sample = sample.len();
    println!(
        "loadgen: {} connections, {:?}, event ≈ {sample} bytes ({footprint} bytes buffered), {}",
        args.connections,
        args.duration,
        args.rate
            .map_or("closed loop".to_string(), |r| format!("{r} events/s")),
    );
    let stored_before = stored(&client, &args.url).await.map_or(0, |s| s.0);

    let start = Instant::now();
    let deadline = start + args.duration;
    let per_conn_interval = args
        .rate
        .map(|r| Duration::from_secs_f64(args.connections as f64 / r));
    let mut tasks = Vec::new();
    let connections = args.connections as u64;
    let templates = std::sync::Arc::new(Templates::new());
    for i in [0, 7, 119, 12_345] {
        // The fast bodies are the same events, but for the id and the time.
        let same = |body: Vec<u8>| {
            let mut v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            v["event_id"] = serde_json::Value::Null;
            v["timestamp"] = serde_json::Value::Null;
            v
        };
        assert_eq!(
            same(templates.body(i)),
            same(event(i)),
            "template of event {i}"
        );
    }
    let url = reqwest::Url::parse(&format!("{}/api/v1/events", args.url)).expect("--url");
    for c in 0..args.connections {
        let (client, url, keys) = (client.clone(), url.clone(), args.keys.clone());
        let templates = templates.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut non_2xx = 0u64;
            let mut errors = 0u64;
            let mut i = c as u64;
            let mut next = Instant::now();
            while Instant::now() < deadline {
                if let Some(every) = per_conn_interval {
                    tokio::time::sleep_until(next.into()).await;
                    next += every;
                }
                let body = templates.body(i);
                // Round-robin over the keys: connection c sends to c, c + connections, …
                let key = &keys[((i / 1000 * connections + c as u64) % keys.len() as u64) as usize];
                i += 1000;
                let t = Instant::now();
                let res = client
                    .post(url.clone())
                    .header("x-mesher-key", key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                    }
                    Ok(r) => {
                        non_2xx += 1;
                        let _ = r.bytes().await;
                    }
                    Err(_) => errors += 1,
                }
            }
            (latencies, non_2xx, errors)
        }));
    }
    let mut latencies = Vec::new();
    let (mut non_2xx, mut errors) = (0, 0);
    for t in tasks {
        let (l, n, e) = t.await.expect("task");
        latencies.extend(l);
        non_2xx += n;
        errors += e;
    }
    let sent_for = start.elapsed();
    let stored_at_end = stored(&client, &args.url).await.map_or(0, |s| s.0);
    latencies.sort_unstable();
    let accepted = latencies.len() as u64;

    // Wait for the buffers to drain.
    let mut drained_at = sent_for;
    let mut stored_total = 0;
    {
        let limit = Instant::now() + Duration::from_secs(60);
        while let Some((s, buffered)) = stored(&client, &args.url).await {
            stored_total = s - stored_before;
            drained_at = start.elapsed();
            if buffered == 0 || Instant::now() > limit {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let secs = sent_for.as_secs_f64();
    println!(
        "accepted        {accepted} events in {secs:.1} s = {:.0} events/s",
        accepted as f64 / secs
    );
    println!(
        "accept latency  p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    println!("non-2xx         {non_2xx} (transport errors {errors})");
    {
        println!(
            "persisted       {} during the run = {:.0} events/s; {stored_total} in all after drain at {:.1} s = {:.0} events/s",
            stored_at_end - stored_before,
            (stored_at_end - stored_before) as f64 / secs,
            drained_at.as_secs_f64(),
            stored_total as f64 / drained_at.as_secs_f64()
        );
        if stored_total != accepted {
            println!(
                "WARNING         accepted {accepted} but stored {stored_total}: see mesher_events_dropped_total"
            );
        }
    }
    if let Some(pid) = args.server_pid {
        match peak_rss_kib(pid) {
            Some(kib) => println!("server peak RSS {:.1} MiB", kib as f64 / 1024.0),
            None => println!("server peak RSS unknown (no /proc/{pid}/status)"),
        }
    }
}

//! What an outage writes to the log (docs/architecture.md, "When the database is down"): a
//! bounded number of lines, repeats rate-limited with a count, no backtraces even with
//! `RUST_BACKTRACE=1`, and client errors not at all at the default level. The real
//! `mesher serve` runs as a child process so its real output is read.

use std::time::{Duration, Instant};

use actix_web::rt::time::{interval, sleep};
use mesher::domain::keys;

use crate::helpers::{PrivateCluster, ServerProcess, TestDb, create_project, event};

const OUTAGE: Duration = Duration::from_secs(3);
/// Lines the outage and the recovery may write, all together.
const MAX_LINES: usize = 30;

#[actix_web::test]
async fn an_outage_writes_few_lines_and_no_backtraces() {
    let cluster = PrivateCluster::start().await;
    let db = TestDb::migrated_at(cluster.url("postgres")).await;
    let project = create_project(&db, "logs").await;
    let log = std::env::temp_dir().join(format!("mesher-log-{}.txt", uuid::Uuid::now_v7()));
    let env = [
        ("RUST_BACKTRACE", "1"),
        ("MESHER__LOG__LEVEL", "info"),
        ("MESHER__AUTH__KEY_CACHE_TTL_MS", "500"),
        ("MESHER__WRITER__MAX_RETRIES", "20"),
        ("MESHER__WRITER__RETRY_MAX_MS", "500"),
    ];
    let server = ServerProcess::start_logging(&db, &env, &log).await;
    let client = reqwest::Client::new();
    let post = |key: String, body: String| {
        client
            .post(format!("{}/api/v1/events", server.url))
            .header("x-mesher-key", key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let good = event("during the outage").to_string();
    assert_eq!(
        post(project.key.clone(), good.clone())
            .await
            .unwrap()
            .status(),
        202
    );
    let before = std::fs::read_to_string(&log).unwrap().len();

    // At 10 requests/s: a known key's events (202), an unknown key (503) and a body that is
    // not JSON (400), in turns.
    cluster.stop().await;
    let down = Instant::now();
    let mut tick = interval(Duration::from_millis(100));
    let mut statuses = std::collections::BTreeMap::<(&str, u16), usize>::new();
    for i in 0usize.. {
        if down.elapsed() >= OUTAGE {
            break;
        }
        tick.tick().await;
        let (what, res) = match i % 5 {
            1 => (
                "unknown",
                post(keys::generate_project_key(), good.clone()).await,
            ),
            3 => ("bad", post(project.key.clone(), "{not json".into()).await),
            _ => ("known", post(project.key.clone(), good.clone()).await),
        };
        *statuses
            .entry((what, res.unwrap().status().as_u16()))
            .or_default() += 1;
    }
    cluster.restart().await;
    // Recovered: the known key's events are stored again (the buffer drains).
    let deadline = Instant::now() + Duration::from_secs(10);
    let ready = loop {
        let res = client
            .get(format!("{}/health/ready", server.url))
            .send()
            .await;
        if res.is_ok_and(|r| r.status() == 200) || Instant::now() > deadline {
            break Instant::now() <= deadline;
        }
        sleep(Duration::from_millis(100)).await;
    };
    sleep(Duration::from_secs(2)).await;
    let exit = server.sigterm_and_wait();
    let output = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);

    assert!(ready, "not ready again after the restart");
    assert!(exit.success(), "{exit:?}");
    let kinds: Vec<_> = statuses.keys().copied().collect();
    assert_eq!(
        kinds,
        [("bad", 400), ("known", 202), ("unknown", 503)],
        "{statuses:?}"
    );
    let outage: Vec<&str> = output[before..].lines().collect();
    let shown = outage.join("\n");
    assert!(
        outage.len() < MAX_LINES,
        "{} lines for a {OUTAGE:?} outage ({statuses:?}):\n{shown}",
        outage.len()
    );
    for line in &outage {
        let lower = line.to_lowercase();
        assert!(!lower.contains("backtrace"), "a backtrace:\n{shown}");
        // Client errors are not logged at info, nor as Debug dumps.
        assert!(!lower.contains("invalid_json"), "a 400 logged:\n{shown}");
        assert!(!line.contains("ApiError {"), "a Debug dump:\n{shown}");
    }
    // The repeated 503 is written once, not per request.
    let failed = outage
        .iter()
        .filter(|l| l.contains("request failed"))
        .count();
    assert!(failed <= 1, "{failed} lines of 503:\n{shown}");
}

//! Alerts that fire (docs/alerts.md), against real peers: a webhook receiver that checks
//! signatures with its own code and can fail the first deliveries, an SMTP server process
//! (aiosmtpd), the official Python SDK, and a second node on the same database.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::receiver::{Receiver, SmtpSink};
use crate::helpers::venv::run_python_sdk;
use crate::helpers::{TestApp, TestProject, TestUser, join, spawn_app_with, spawn_node_beside};

const RULES: &str = "/api/v1/orgs/test-org/projects/web/alert-rules";
const ISSUES: &str = "/api/v1/orgs/test-org/projects/web/issues";

/// Small retries for the tests: 100 ms doubling, three attempts.
fn quick(s: &mut mesher::config::Settings) {
    s.alerts.allow_private_targets = true;
    s.alerts.retry_base_ms = 100;
    s.alerts.retry_max_ms = 400;
    s.alerts.max_attempts = 3;
}

struct Setup {
    app: TestApp,
    project: TestProject,
    admin: TestUser,
}

async fn setup(configure: impl FnOnce(&mut mesher::config::Settings)) -> Setup {
    let app = spawn_app_with(configure, None).await;
    let project = app.project("web").await;
    let admin = app.user("admin@example.com").await;
    join(&app, &admin, "admin").await;
    Setup {
        app,
        project,
        admin,
    }
}

/// Creates a rule; answers it (with its secret).
async fn rule(s: &Setup, condition: Value, action: Value, filters: Option<Value>) -> Value {
    let mut body = json!({ "name": "rule", "condition": condition, "action": action });
    if let Some(filters) = filters {
        body["filters"] = filters;
    }
    let (status, created) = s.app.post_as(&s.admin, RULES, body).await;
    assert_eq!(status, 201, "{created}");
    created
}

/// A webhook rule to `receiver`, whose secret the receiver then checks.
async fn webhook_rule(s: &Setup, receiver: &Receiver, condition: Value) -> String {
    let created = rule(
        s,
        condition,
        json!({"kind": "webhook", "url": receiver.url}),
        None,
    )
    .await;
    receiver.set_secret(created["secret"].as_str().expect("the secret, once"));
    created["id"].as_str().unwrap().to_owned()
}

/// Posts one event, timestamped now.
async fn post(s: &Setup, mut event: Value) {
    event["timestamp"] = json!(chrono::Utc::now().to_rfc3339());
    let res = s.app.post_events(&s.project.key, &event).await;
    assert_eq!(res.status(), 202);
}

/// An error event, timestamped now.
fn error(message: &str) -> Value {
    json!({ "message": message, "level": "error", "timestamp": chrono::Utc::now().to_rfc3339() })
}

/// The rule's deliveries, newest first.
async fn deliveries(s: &Setup, rule_id: &str) -> Vec<Value> {
    let (status, page) = s
        .app
        .get_as(&s.admin, &format!("{RULES}/{rule_id}/deliveries"))
        .await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}

/// Waits up to `secs` until the rule's deliveries satisfy `done`; answers them.
async fn deliveries_until(
    s: &Setup,
    rule_id: &str,
    secs: u64,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let rows = deliveries(s, rule_id).await;
        if done(&rows) || Instant::now() > deadline {
            return rows;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sleep_ms(ms: u64) {
    actix_web::rt::time::sleep(Duration::from_millis(ms)).await;
}

#[actix_web::test]
async fn a_new_issue_reaches_the_webhook_signed_within_five_seconds() {
    let s = setup(quick).await;
    let receiver = Receiver::start(0).await;
    let rule_id = webhook_rule(&s, &receiver, json!({"kind": "new_issue"})).await;
    let (_, shown) = s.app.get_as(&s.admin, &format!("{RULES}/{rule_id}")).await;
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown once: {shown}"
    );

    let started = Instant::now();
    post(
        &s,
        json!({"message": "checkout failed", "level": "error", "environment": "production"}),
    )
    .await;
    let hits = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(hits.len(), 1, "within 5 s ({:?})", started.elapsed());
    let hit = &hits[0];
    assert!(hit.verified, "signature checked by the receiver: {hit:?}");
    let data = &hit.body["data"];
    assert_eq!(hit.body["type"], "alert.triggered");
    assert_eq!(data["trigger"], "new_issue");
    assert_eq!(data["rule"]["id"], rule_id);
    assert_eq!(data["project"]["slug"], "web");
    assert_eq!(data["issue"]["title"], "checkout failed");
    assert_eq!(data["issue"]["level"], "error");
    assert_eq!(data["issue"]["status"], "unresolved");
    assert_eq!(data["issue"]["times_seen"], 1);
    let issue_id = data["issue"]["id"].as_str().unwrap();
    assert!(
        data["issue"]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/test-org/web/issues/{issue_id}"))
    );
    let (_, events) = s
        .app
        .get_as(&s.admin, "/api/v1/orgs/test-org/projects/web/events")
        .await;
    assert_eq!(data["event_id"], events["data"][0]["id"]);

    // The same issue again is no new issue; the delivery is listed as delivered.
    post(&s, error("checkout failed")).await;
    sleep_ms(800).await;
    assert_eq!(receiver.hits().len(), 1);
    let rows = deliveries(&s, &rule_id).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["id"], hit.id.as_str());
    assert_eq!(
        (
            &rows[0]["status"],
            &rows[0]["attempts"],
            &rows[0]["last_status"]
        ),
        (&json!("delivered"), &json!(1), &json!(204))
    );
    let metrics = s.app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("mesher_alert_notifications_total{outcome=\"delivered\"} 1"),
        "{metrics}"
    );
}

#[actix_web::test]
async fn a_receiver_failing_twice_gets_the_third_attempt() {
    let s = setup(quick).await;
    let receiver = Receiver::start(2).await;
    let rule_id = webhook_rule(&s, &receiver, json!({"kind": "new_issue"})).await;
    post(&s, error("flaky receiver")).await;

    let hits = receiver.wait_for(3, Duration::from_secs(10)).await;
    let answered: Vec<u16> = hits.iter().map(|h| h.answered).collect();
    assert_eq!(answered, [500, 500, 204]);
    assert!(
        hits.iter().all(|h| h.verified && h.id == hits[0].id),
        "{hits:?}"
    );
    let rows = deliveries_until(&s, &rule_id, 5, |r| r[0]["status"] == "delivered").await;
    assert_eq!(
        (
            &rows[0]["status"],
            &rows[0]["attempts"],
            &rows[0]["last_status"]
        ),
        (&json!("delivered"), &json!(3), &json!(204)),
        "{rows:?}"
    );
}

#[actix_web::test]
async fn an_unreachable_target_ends_failed_after_its_attempts() {
    let s = setup(quick).await;
    // Port 1 of the loopback: nothing listens there.
    let created = rule(
        &s,
        json!({"kind": "new_issue"}),
        json!({"kind": "webhook", "url": "http://127.0.0.1:1/hook"}),
        None,
    )
    .await;
    let rule_id = created["id"].as_str().unwrap();
    post(&s, error("nobody listens")).await;
    let rows = deliveries_until(&s, rule_id, 10, |r| {
        r.first().is_some_and(|d| d["status"] == "failed")
    })
    .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (&rows[0]["status"], &rows[0]["attempts"]),
        (&json!("failed"), &json!(3))
    );
    assert!(
        rows[0]["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{rows:?}"
    );
    assert_eq!(rows[0]["last_status"], Value::Null);
}

#[actix_web::test]
async fn private_targets_are_refused_without_the_flag() {
    let s = setup(|s| s.alerts.poll_interval_ms = 100).await;
    let receiver = Receiver::start(0).await;
    let rule_id = webhook_rule(&s, &receiver, json!({"kind": "new_issue"})).await;
    let local = receiver.url.replace("127.0.0.1", "localhost");
    let by_name = rule(
        &s,
        json!({"kind": "new_issue"}),
        json!({"kind": "webhook", "url": local}),
        None,
    )
    .await;
    post(&s, error("to a private address")).await;
    for id in [rule_id.as_str(), by_name["id"].as_str().unwrap()] {
        let rows = deliveries_until(&s, id, 5, |r| {
            r.first().is_some_and(|d| d["status"] == "failed")
        })
        .await;
        assert_eq!(
            (&rows[0]["status"], &rows[0]["attempts"]),
            (&json!("failed"), &json!(1)),
            "{rows:?}"
        );
        let why = rows[0]["last_error"].as_str().unwrap();
        assert!(
            why.contains("refused") && why.contains("allow_private_targets"),
            "{why}"
        );
    }
    assert!(receiver.hits().is_empty());
}

/// Resolves the project's only issue titled `title`.
async fn resolve(s: &Setup, title: &str) {
    let (_, issues) = s.app.get_as(&s.admin, ISSUES).await;
    let issue = issues["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == title)
        .expect("the issue");
    let path = format!("{ISSUES}/{}", issue["id"].as_str().unwrap());
    let (status, body) = s
        .app
        .patch_as(&s.admin, &path, json!({"status": "resolved"}))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[actix_web::test]
async fn a_regression_fires_and_the_cooldown_holds_the_next_one() {
    let s = setup(quick).await;
    let receiver = Receiver::start(0).await;
    let rule_id = webhook_rule(&s, &receiver, json!({"kind": "regression"})).await;
    post(&s, error("comes back")).await;
    s.app.settle(s.project.id, 5).await;
    sleep_ms(300).await;
    assert!(receiver.hits().is_empty(), "a new issue is no regression");

    resolve(&s, "comes back").await;
    post(&s, error("comes back")).await;
    let hits = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].body["data"]["trigger"], "regression");
    assert_eq!(hits[0].body["data"]["issue"]["status"], "unresolved");

    // Within alerts.cooldown_secs (600 s) a second regression of the issue stays quiet.
    resolve(&s, "comes back").await;
    post(&s, error("comes back")).await;
    s.app.settle(s.project.id, 5).await;
    sleep_ms(800).await;
    assert_eq!(receiver.hits().len(), 1);
    assert_eq!(deliveries(&s, &rule_id).await.len(), 1);
}

#[actix_web::test]
async fn filters_let_only_matching_events_fire() {
    let s = setup(quick).await;
    let receiver = Receiver::start(0).await;
    let created = rule(
        &s,
        json!({"kind": "new_issue"}),
        json!({"kind": "webhook", "url": receiver.url}),
        Some(json!({"min_level": "error", "environment": "production"})),
    )
    .await;
    assert_eq!(
        created["filters"],
        json!({"min_level": "error", "environment": "production"})
    );
    receiver.set_secret(created["secret"].as_str().unwrap());
    post(
        &s,
        json!({"message": "only a warning", "level": "warning", "environment": "production"}),
    )
    .await;
    post(
        &s,
        json!({"message": "on staging", "level": "fatal", "environment": "staging"}),
    )
    .await;
    post(&s, json!({"message": "no environment", "level": "error"})).await;
    post(
        &s,
        json!({"message": "the real one", "level": "fatal", "environment": "production"}),
    )
    .await;
    let hits = receiver.wait_for(1, Duration::from_secs(5)).await;
    s.app.settle(s.project.id, 5).await;
    sleep_ms(800).await;
    let titles: Vec<Value> = receiver
        .hits()
        .iter()
        .map(|h| h.body["data"]["issue"]["title"].clone())
        .collect();
    assert_eq!(titles, [json!("the real one")], "{hits:?}");
}

#[actix_web::test]
async fn event_frequency_fires_once_per_window_even_with_two_nodes() {
    let s = setup(quick).await;
    let b = spawn_node_beside(&s.app, quick).await;
    let receiver = Receiver::start(0).await;
    let rule_id = webhook_rule(
        &s,
        &receiver,
        json!({"kind": "event_frequency", "threshold": 5, "window_secs": 60}),
    )
    .await;
    // 30 events of one issue, alternately through both nodes, in several batches each.
    for i in 0..30 {
        let node = if i % 2 == 0 { &s.app } else { &b };
        let res = node.post_events(&s.project.key, &error("storm")).await;
        assert_eq!(res.status(), 202);
        if i % 6 == 5 {
            sleep_ms(150).await;
        }
    }
    s.app.settle(s.project.id, 5).await;
    b.settle(s.project.id, 5).await;
    let hits = receiver.wait_for(1, Duration::from_secs(5)).await;
    sleep_ms(1000).await;
    assert_eq!(receiver.hits().len(), 1, "{hits:?}");
    let data = &receiver.hits()[0].body["data"];
    assert_eq!(data["trigger"], "event_frequency");
    assert!(data["issue"]["times_seen"].as_i64().unwrap() >= 5);
    assert_eq!(deliveries(&s, &rule_id).await.len(), 1);

    // Below the threshold nothing fires: a second issue seen four times.
    for _ in 0..4 {
        post(&s, error("a drizzle")).await;
    }
    s.app.settle(s.project.id, 5).await;
    sleep_ms(500).await;
    assert_eq!(receiver.hits().len(), 1);
}

#[actix_web::test]
async fn a_test_notification_is_queued_and_delivered() {
    let s = setup(quick).await;
    let receiver = Receiver::start(0).await;
    let rule_id = webhook_rule(&s, &receiver, json!({"kind": "new_issue"})).await;
    let member = s.app.user("member@example.com").await;
    join(&s.app, &member, "member").await;
    let path = format!("{RULES}/{rule_id}/test");
    let (status, _) = s.app.post_as(&member, &path, json!({})).await;
    assert_eq!(status, 403);
    let (status, queued) = s.app.post_as(&s.admin, &path, json!({})).await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "pending");
    let hits = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(hits.len(), 1);
    assert!(hits[0].verified);
    assert_eq!(hits[0].id, queued["id"].as_str().unwrap());
    assert_eq!(hits[0].body["type"], "alert.test");
    assert_eq!(hits[0].body["data"]["issue"], Value::Null);

    // Deliveries page newest first, for members too.
    for _ in 0..2 {
        assert_eq!(s.app.post_as(&s.admin, &path, json!({})).await.0, 202);
    }
    let (status, page) = s
        .app
        .get_as(&member, &format!("{RULES}/{rule_id}/deliveries?limit=2"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let (_, rest) = s
        .app
        .get_as(
            &member,
            &format!("{RULES}/{rule_id}/deliveries?limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(rest["data"][0]["id"], queued["id"]);
    assert_eq!(rest["next_cursor"], Value::Null);
}

#[actix_web::test]
async fn a_panicking_evaluator_costs_no_event() {
    let s = setup(|s| {
        quick(s);
        s.alerts.crash_evaluator = true;
    })
    .await;
    rule(
        &s,
        json!({"kind": "new_issue"}),
        json!({"kind": "log"}),
        None,
    )
    .await;
    let batch: Vec<Value> = (0..50).map(|i| error(&format!("crash {i}"))).collect();
    let started = Instant::now();
    for _ in 0..10 {
        let res = s.app.post_events(&s.project.key, &json!(batch)).await;
        assert_eq!(res.status(), 202);
        sleep_ms(120).await;
    }
    let counters = s.app.assert_accounted(s.project.id).await;
    assert_eq!(counters.stored, 500, "{counters:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let metrics = s.app.get("/metrics").await.text().await.unwrap();
    let panics = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mesher_alert_evaluator_failures_total{reason=\"panic\"} "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    assert!(
        panics >= 2,
        "the evaluator panicked on each batch and went on: {panics}"
    );
}

/// A counter of the node's `/metrics` by its full name, labels included (0 when absent).
async fn counter(app: &TestApp, name: &str) -> u64 {
    let metrics = app.get("/metrics").await.text().await.unwrap();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

const RULES_READS: &str = "mesher_alert_rules_reads_total";

/// Waits up to 5 s until the evaluator has read the rules more than `reads` times.
async fn rules_read_after(app: &TestApp, reads: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = counter(app, RULES_READS).await;
        if now > reads || Instant::now() > deadline {
            return now;
        }
        sleep_ms(20).await;
    }
}

/// A project without rules queues nothing; a rule created applies, and a rule disabled stops,
/// within `RULES_TTL` of the change (the evaluator's snapshot is read again after it).
#[actix_web::test]
async fn a_rule_applies_and_stops_within_the_rules_ttl() {
    let ttl = mesher::alerts::evaluator::RULES_TTL;
    let s = setup(quick).await;
    post(&s, error("before any rule")).await;
    let reads = rules_read_after(&s.app, 0).await;
    assert_eq!(reads, 1, "the batch's evaluation read the rules once");
    sleep_ms(100).await;
    let queued = "mesher_alert_notifications_total{outcome=\"queued\"}";
    assert_eq!(counter(&s.app, queued).await, 0, "no rule, nothing queued");

    let created = rule(
        &s,
        json!({"kind": "new_issue"}),
        json!({"kind": "log"}),
        None,
    )
    .await;
    let rule_id = created["id"].as_str().unwrap();
    actix_web::rt::time::sleep(ttl).await;
    post(&s, error("after the rule")).await;
    let rows = deliveries_until(&s, rule_id, 5, |r| !r.is_empty()).await;
    assert_eq!(rows.len(), 1, "the new rule applied: {rows:?}");

    let (status, body) = s
        .app
        .patch_as(
            &s.admin,
            &format!("{RULES}/{rule_id}"),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let reads = counter(&s.app, RULES_READS).await;
    actix_web::rt::time::sleep(ttl).await;
    post(&s, error("after disabling")).await;
    rules_read_after(&s.app, reads).await;
    sleep_ms(300).await;
    let rows = deliveries(&s, rule_id).await;
    assert_eq!(rows.len(), 1, "the disabled rule no longer fires: {rows:?}");
    assert_eq!(counter(&s.app, queued).await, 1);
}

/// Batches of many projects cost one read of the rules per `RULES_TTL`, not one per project:
/// the evaluator reads every project's enabled rules in one query and looks each batch's
/// project up in that snapshot.
#[actix_web::test]
async fn many_projects_cost_one_rules_read_per_ttl() {
    const PROJECTS: usize = 40;
    let s = setup(quick).await;
    let created = rule(
        &s,
        json!({"kind": "new_issue"}),
        json!({"kind": "log"}),
        None,
    )
    .await;
    let rule_id = created["id"].as_str().unwrap();
    let mut projects = Vec::new();
    for i in 0..PROJECTS {
        projects.push(s.app.project(&format!("p{i}")).await);
    }
    let before = counter(&s.app, RULES_READS).await;
    let started = Instant::now();
    for p in &projects {
        let res = s
            .app
            .post_events(&p.key, &error("from another project"))
            .await;
        assert_eq!(res.status(), 202);
    }
    for p in &projects {
        s.app.assert_accounted(p.id).await;
    }
    // The rule's project last: the evaluator takes the facts in commit order, so once this
    // batch's notification is queued, every other project's batch was evaluated.
    post(&s, error("the last batch")).await;
    let rows = deliveries_until(&s, rule_id, 5, |r| !r.is_empty()).await;
    assert_eq!(rows.len(), 1, "the rule of `web` fired: {rows:?}");
    let elapsed = started.elapsed();
    let reads = counter(&s.app, RULES_READS).await - before;
    // Reads at least RULES_TTL (1 s) apart within `elapsed`.
    assert!(
        (1..=elapsed.as_secs() + 1).contains(&reads),
        "{reads} reads of the rules for {} batches in {elapsed:?}",
        PROJECTS + 1
    );
    let errors = "mesher_alert_evaluator_failures_total{reason=\"error\"}";
    assert_eq!(counter(&s.app, errors).await, 0);
}

/// `target/sdk-venv/bin/python` with sentry-sdk 2.x (the venv tests/api/sdk.rs uses).
#[actix_web::test]
async fn a_new_issue_from_the_python_sdk_reaches_the_receiver_within_five_seconds() {
    let s = setup(quick).await;
    let receiver = Receiver::start(0).await;
    webhook_rule(&s, &receiver, json!({"kind": "new_issue"})).await;
    let dsn = format!(
        "http://{}@{}/{}",
        s.project.key,
        s.app.address.trim_start_matches("http://"),
        s.project.number
    );
    run_python_sdk("python_app.py", dsn).await;
    let sent = Instant::now();
    let hits = receiver.wait_for(3, Duration::from_secs(5)).await;
    assert!(sent.elapsed() <= Duration::from_secs(5));
    assert!(hits.iter().all(|h| h.verified), "{hits:?}");
    let titles: Vec<&str> = hits
        .iter()
        .filter_map(|h| h.body["data"]["issue"]["title"].as_str())
        .collect();
    assert!(
        titles.iter().any(|t| t.contains("PaymentError")),
        "the SDK's exception is a new issue that notified: {titles:?}"
    );
}

#[actix_web::test]
async fn email_reaches_a_real_smtp_server() {
    let smtp = SmtpSink::start().await;
    let port = smtp.port;
    let s = setup(move |s| {
        quick(s);
        s.smtp.url = Some(format!("smtp://127.0.0.1:{port}").into());
        s.smtp.from = "Mesher Alerts <alerts@mesher.example>".into();
    })
    .await;
    let listed = rule(
        &s,
        json!({"kind": "new_issue"}),
        json!({"kind": "email", "to": ["oncall@example.com"]}),
        None,
    )
    .await;
    let members = rule(
        &s,
        json!({"kind": "new_issue"}),
        json!({"kind": "email"}),
        None,
    )
    .await;
    post(&s, error("mail me")).await;

    let text = smtp
        .wait_for("admin@example.com", Duration::from_secs(10))
        .await;
    let text = if text.contains("oncall@example.com") {
        text
    } else {
        smtp.wait_for("oncall@example.com", Duration::from_secs(5))
            .await
    };
    assert_eq!(text.matches("MESSAGE FOLLOWS").count(), 2, "{text}");
    assert!(text.contains("To: oncall@example.com"), "{text}");
    assert!(
        text.contains("To: admin@example.com"),
        "every member: {text}"
    );
    assert!(text.contains("alerts@mesher.example"), "{text}");
    assert!(
        text.contains("Subject: [test-org/web] rule: mail me"),
        "{text}"
    );
    assert!(
        text.contains("/test-org/web/issues/"),
        "the issue's link: {text}"
    );
    for r in [&listed, &members] {
        let id = r["id"].as_str().unwrap();
        let rows = deliveries_until(&s, id, 5, |r| {
            r.first().is_some_and(|d| d["status"] == "delivered")
        })
        .await;
        assert_eq!(rows[0]["status"], "delivered", "{rows:?}");
    }
}

/// A notification its node left `sending` (it died mid-attempt) is due again when its lease
/// ends, and any node delivers it: queued notifications survive a restart.
#[actix_web::test]
async fn a_notification_left_sending_by_a_dead_node_is_delivered() {
    use mesher::db::deliveries::{self, NewDelivery};
    use mesher::domain::alerts::DeliveryStatus;
    use mesher::domain::{DeliveryId, RuleId};

    let s = setup(quick).await;
    let receiver = Receiver::start(0).await;
    let rule_id = webhook_rule(&s, &receiver, json!({"kind": "new_issue"})).await;
    let id = DeliveryId::new();
    let now = chrono::Utc::now();
    let mut conn = s.app.db.conn().await;
    deliveries::insert(
        &mut conn,
        &[NewDelivery {
            id,
            rule_id: rule_id.parse::<RuleId>().unwrap(),
            issue_id: None,
            event_id: None,
            payload: json!({"type": "alert.test", "data": {"note": "left behind"}}),
            // Claimed by a node that died: its lease ended a second ago.
            next_attempt_at: now - chrono::Duration::seconds(1),
            status: DeliveryStatus::Sending,
            created_at: now - chrono::Duration::seconds(61),
            updated_at: now - chrono::Duration::seconds(61),
        }],
    )
    .await
    .unwrap();
    let hits = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, id.to_string());
    assert!(hits[0].verified);
    assert_eq!(hits[0].body["data"]["note"], "left behind");
    let rows = deliveries_until(&s, &rule_id, 5, |r| r[0]["status"] == "delivered").await;
    assert_eq!(rows[0]["status"], "delivered", "{rows:?}");
}

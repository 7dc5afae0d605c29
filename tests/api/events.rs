//! `GET .../projects/{project}/events` and `.../events/{event_id}`: keyset pagination across
//! day partitions, every filter, the whole event, and 404s.

use chrono::{DateTime, Days, Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{ids, member, newest_first, seed, spawn_app, today, walk};

/// An event with a fixed timestamp (the receive time is what `seed` sets).
fn ev(message: &str) -> Value {
    json!({ "message": message, "level": "error", "timestamp": "2026-01-01T00:00:00Z" })
}

fn events_path(project: &str) -> String {
    format!("/api/v1/orgs/test-org/projects/{project}/events")
}

#[actix_web::test]
async fn the_event_list_pages_across_day_partitions_newest_first() {
    let app = spawn_app().await;
    let project = app.project("pages").await;
    let other = app.project("other").await;
    let user = member(&app, "pager@example.com").await;

    // Six days back to today, several events a day, some received in the same microsecond
    // (the id breaks the tie), and one on each side of a midnight.
    let start = today() - Days::new(5);
    let mut events = Vec::new();
    for day in 0..6 {
        for k in 0..5 {
            let at = start + Duration::days(day) + Duration::minutes(37 * k + 1);
            events.push((ev(&format!("d{day} k{k}")), at));
        }
        let tie = start + Duration::days(day) + Duration::hours(12);
        events.push((ev(&format!("d{day} tie a")), tie));
        events.push((ev(&format!("d{day} tie b")), tie));
        events.push((
            ev(&format!("d{day} late")),
            start + Duration::days(day + 1) - Duration::microseconds(1),
        ));
    }
    let stored = seed(&app, project.id, events).await;
    seed(
        &app,
        other.id,
        vec![(ev("elsewhere"), start + Duration::hours(3))],
    )
    .await;
    let expected = newest_first(&stored);

    for limit in [1, 4, 7, 1000] {
        let rows = walk(
            &app,
            &user,
            &format!("{}?limit={limit}", events_path("pages")),
            limit,
        )
        .await;
        assert_eq!(ids(&rows), expected, "limit {limit}");
    }

    // The items are summaries.
    let (_, body) = app
        .get_as(&user, &format!("{}?limit=1", events_path("pages")))
        .await;
    let item = &body["data"][0];
    for key in [
        "id",
        "event_id",
        "issue_id",
        "received_at",
        "timestamp",
        "level",
        "message",
        "environment",
        "release",
        "platform",
        "tags",
    ] {
        assert!(item.get(key).is_some(), "{key} missing from {item}");
    }
    assert!(item.get("exception").is_none() && item.get("extra").is_none());
}

#[actix_web::test]
async fn each_filter_selects_exactly_its_events() {
    let app = spawn_app().await;
    let project = app.project("filters").await;
    let user = member(&app, "filter@example.com").await;
    let day = today() - Days::new(2);
    let at = |h: i64| day + Duration::hours(h);
    let e = |message: &str, extra: Value| {
        let mut v =
            json!({ "message": message, "level": "error", "timestamp": "2026-01-01T00:00:00Z" });
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    seed(
        &app,
        project.id,
        vec![
            (e("Timeout talking to db", json!({})), at(1)),
            (e("a warning", json!({ "level": "warning" })), at(2)),
            (e("staged", json!({ "environment": "staging" })), at(26)),
            (
                e(
                    "released",
                    json!({ "release": "1.2.0", "environment": "production" }),
                ),
                at(27),
            ),
            (
                e(
                    "eu gold",
                    json!({ "tags": { "region": "eu", "tier": "gold" } }),
                ),
                at(49),
            ),
            (
                e(
                    "eu free",
                    json!({ "tags": { "region": "eu", "tier": "free" } }),
                ),
                at(50),
            ),
            (
                e(
                    "us gold",
                    json!({ "tags": { "region": "us", "tier": "gold" } }),
                ),
                at(51),
            ),
            (e("100% disk", json!({})), at(52)),
            (e("1000 disk", json!({})), at(53)),
            (e("a_b", json!({})), at(54)),
            (e("axb", json!({})), at(55)),
        ],
    )
    .await;
    let messages = |query: String| {
        let app = &app;
        let user = &user;
        async move {
            let (status, body) = app
                .get_as(
                    user,
                    &format!("{}?limit=1000&{query}", events_path("filters")),
                )
                .await;
            assert_eq!(status, 200, "{query}: {body}");
            let mut m: Vec<String> = body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["message"].as_str().unwrap().to_owned())
                .collect();
            m.sort();
            m
        }
    };
    let t = |h: i64| at(h).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);

    let cases: Vec<(String, &[&str])> = vec![
        ("level=warning".into(), &["a warning"]),
        (
            format!("since={}&until={}", t(24), t(48)),
            &["released", "staged"],
        ),
        // since is inclusive, until exclusive.
        (format!("since={}&until={}", t(26), t(27)), &["staged"]),
        (format!("since={}", t(54)), &["a_b", "axb"]),
        (format!("until={}", t(2)), &["Timeout talking to db"]),
        ("environment=staging".into(), &["staged"]),
        ("release=1.2.0".into(), &["released"]),
        ("tag=region:eu".into(), &["eu free", "eu gold"]),
        ("tag=region:eu&tag=tier:gold".into(), &["eu gold"]),
        ("tag=region:eu&tag=region:us".into(), &[]),
        ("tag=region:asia".into(), &[]),
        ("q=tImEoUt".into(), &["Timeout talking to db"]),
        // Wildcards are taken literally.
        ("q=0%25".into(), &["100% disk"]),
        ("q=a_b".into(), &["a_b"]),
        // Filters combine.
        (format!("tag=tier:gold&until={}", t(50)), &["eu gold"]),
    ];
    for (query, expected) in cases {
        assert_eq!(messages(query.clone()).await, expected, "{query}");
    }

    for (query, field) in [
        ("level=loud", "level"),
        ("since=yesterday", "since"),
        ("until=2026-01-01", "until"),
        ("tag=region", "tag"),
        ("tag=:eu", "tag"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=eyJ4IjoxfQ", "cursor"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=many", "limit"),
    ] {
        let (status, body) = app
            .get_as(&user, &format!("{}?{query}", events_path("filters")))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
        assert!(body["error"]["message"].is_string());
    }
}

/// An event with every interface, its own time half a second into yesterday (recent: a
/// time far from the receive time would be replaced by it).
fn rich_event() -> Value {
    json!({
        "event_id": "4a9f0d4c6c5b4b0f9b1e2d3c4b5a6978",
        "message": "payment failed",
        "level": "fatal",
        "timestamp": rich_event_time().to_rfc3339(),
        "platform": "python",
        "release": "shop@2.0.1",
        "environment": "production",
        "server_name": "web-1",
        "transaction": "/checkout",
        "logger": "shop.payments",
        "tags": { "region": "eu", "customer_tier": "gold" },
        "user": { "id": "42", "email": "ada@example.com", "username": "ada",
                  "ip_address": "10.0.0.1", "plan": "pro" },
        "contexts": { "os": { "name": "Linux", "version": "6.1" },
                      "runtime": { "name": "CPython", "version": "3.12" } },
        "exception": { "values": [
            { "type": "KeyError", "value": "'card'", "module": "builtins" },
            { "type": "PaymentError", "value": "declined", "module": "shop.payments",
              "mechanism": { "type": "generic", "handled": false },
              "stacktrace": { "frames": [
                { "filename": "shop/main.py", "abs_path": "/srv/shop/main.py",
                  "function": "run", "module": "shop.main", "lineno": 10, "colno": 5,
                  "in_app": true, "context_line": "pay()", "pre_context": ["a", "b"],
                  "post_context": ["c"], "vars": { "amount": 12 } },
                { "filename": "shop/payments.py", "function": "pay",
                  "module": "shop.payments", "lineno": 99, "in_app": true }
              ]}}
        ]},
        "breadcrumbs": { "values": [
            { "timestamp": "2026-02-03T04:05:00Z", "type": "http", "category": "xhr",
              "message": "GET /cart", "level": "info", "data": { "status": 200 } },
            { "timestamp": "2026-02-03T04:05:05Z", "category": "ui.click", "message": "pay" }
        ]},
        "extra": { "cart_items": 3 },
        "request": { "url": "https://shop.example.com/checkout" }
    })
}

fn rich_event_time() -> DateTime<Utc> {
    today() - Duration::days(1) + Duration::milliseconds(500)
}

#[actix_web::test]
async fn the_event_detail_carries_every_interface() {
    let app = spawn_app().await;
    let project = app.project("detail").await;
    let other = app.project("detail-other").await;
    let user = member(&app, "detail@example.com").await;

    let res = app.post_events(&project.key, &rich_event()).await;
    assert_eq!(res.status(), 202);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app.post_events(&other.key, &rich_event()).await;
    let other_id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.settle(project.id, 10).await;
    app.settle(other.id, 10).await;

    let (status, e) = app
        .get_as(&user, &format!("{}/{id}", events_path("detail")))
        .await;
    assert_eq!(status, 200, "{e}");
    let sent = rich_event();
    assert_eq!(e["id"], id);
    assert_eq!(e["event_id"], "4a9f0d4c-6c5b-4b0f-9b1e-2d3c4b5a6978");
    assert_eq!(e["project_id"], project.id.to_string());
    assert!(e["issue_id"].is_string());
    assert!(e["received_at"].is_string());
    assert_eq!(
        e["timestamp"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        rich_event_time()
    );
    for key in [
        "message",
        "level",
        "platform",
        "release",
        "environment",
        "server_name",
        "transaction",
        "logger",
        "tags",
        "user",
        "contexts",
    ] {
        assert_eq!(e[key], sent[key], "{key}");
    }
    assert_eq!(e["exception"], sent["exception"]);
    assert_eq!(e["breadcrumbs"]["values"].as_array().unwrap().len(), 2);
    let crumb = &e["breadcrumbs"]["values"][0];
    for (key, expected) in [
        ("type", json!("http")),
        ("category", json!("xhr")),
        ("message", json!("GET /cart")),
        ("level", json!("info")),
        ("data", json!({ "status": 200 })),
    ] {
        assert_eq!(crumb[key], expected, "breadcrumb {key}");
    }
    assert_eq!(
        crumb["timestamp"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        "2026-02-03T04:05:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(e["extra"]["cart_items"], 3);
    assert_eq!(e["extra"]["request"], sent["request"]);

    // Unknown ids, ids that are no UUIDv7, malformed ids, another project's event: 404.
    for missing in [
        Uuid::now_v7().to_string(),
        "67e55044-10b1-426f-9247-bb680e5fe0c8".into(),
        "not-a-uuid".into(),
        other_id.clone(),
    ] {
        let (status, body) = app
            .get_as(&user, &format!("{}/{missing}", events_path("detail")))
            .await;
        assert_eq!(status, 404, "{missing}: {body}");
        assert!(body["error"]["message"].is_string());
    }
    let (status, _) = app
        .get_as(
            &user,
            &format!("{}/{other_id}", events_path("detail-other")),
        )
        .await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn an_event_received_days_ago_is_found_by_its_id() {
    let app = spawn_app().await;
    let project = app.project("old").await;
    let user = member(&app, "old@example.com").await;
    let stored = seed(
        &app,
        project.id,
        vec![
            (ev("old one"), today() - Days::new(4) + Duration::hours(23)),
            (ev("older"), today() - Days::new(5) + Duration::hours(1)),
        ],
    )
    .await;
    for e in &stored {
        let (status, body) = app
            .get_as(&user, &format!("{}/{}", events_path("old"), e.id))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], e.message());
        assert!(body["exception"].is_null());
    }
}

#[actix_web::test]
async fn a_cursor_at_an_impossible_position_is_a_400_naming_it() {
    use base64::Engine;
    let app = spawn_app().await;
    app.project("cursors").await;
    let user = member(&app, "cursors@example.com").await;
    let cursor =
        |key: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.to_string());
    let id = Uuid::now_v7();
    let issues = "/api/v1/orgs/test-org/projects/cursors/issues";
    // (list, cursor): times PostgreSQL cannot compare with, or no server would issue.
    let cases = [
        (
            events_path("cursors"),
            cursor(json!(["-5000-01-01T00:00:00Z", id])),
        ),
        (
            events_path("cursors"),
            cursor(json!(["+300000-01-01T00:00:00Z", id])),
        ),
        (
            format!("{issues}?sort=last_seen"),
            cursor(json!(["last_seen", "-5000-01-01T00:00:00Z", id])),
        ),
        (
            format!("{issues}?sort=first_seen"),
            cursor(json!(["first_seen", "+99999-01-01T00:00:00Z", id])),
        ),
    ];
    for (list, cursor) in cases {
        let sep = if list.contains('?') { '&' } else { '?' };
        let (status, body) = app
            .get_as(&user, &format!("{list}{sep}cursor={cursor}"))
            .await;
        assert_eq!(status, 400, "{list} {cursor}: {body}");
        assert_eq!(body["error"]["field"], "cursor", "{list}: {body}");
    }
}

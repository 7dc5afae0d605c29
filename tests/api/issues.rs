//! The issue routes: the list under each sort and filter, one issue, status changes and
//! regressions, an issue's events, and 404 for non-members on every event and issue route.

use chrono::{DateTime, Days, Duration, Utc};
use diesel::{ExpressionMethods, QueryDsl};
use diesel_async::RunQueryDsl;
use mesher::db::schema::issues;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestUser, ids, member, newest_first, seed, spawn_app, today, walk};

fn issues_path(project: &str) -> String {
    format!("/api/v1/orgs/test-org/projects/{project}/issues")
}

/// An event grouped by the explicit fingerprint `[group]`.
fn grouped(group: &str, level: &str) -> Value {
    json!({ "message": format!("boom in {group}"), "level": level,
            "timestamp": "2026-01-01T00:00:00Z", "fingerprint": [group] })
}

/// An issue as (id, last_seen, first_seen, times_seen).
type Row = (Uuid, DateTime<Utc>, DateTime<Utc>, i64);

/// The project's issues, from the database.
async fn issue_rows(app: &TestApp, project: mesher::domain::ProjectId) -> Vec<Row> {
    let mut conn = app.db.conn().await;
    issues::table
        .filter(issues::project_id.eq(project))
        .select((
            issues::id,
            issues::last_seen,
            issues::first_seen,
            issues::times_seen,
        ))
        .load(&mut conn)
        .await
        .unwrap()
}

/// The ids of `rows` by `key` descending, then id descending.
fn order_by<K: Ord>(rows: &[Row], key: impl Fn(&Row) -> K) -> Vec<Uuid> {
    let mut keyed: Vec<(K, Uuid)> = rows.iter().map(|r| (key(r), r.0)).collect();
    keyed.sort_by(|a, b| b.cmp(a));
    keyed.into_iter().map(|(_, id)| id).collect()
}

async fn first_issue(app: &TestApp, user: &TestUser, project: &str) -> Value {
    let (status, body) = app.get_as(user, &issues_path(project)).await;
    assert_eq!(status, 200, "{body}");
    body["data"][0].clone()
}

#[actix_web::test]
async fn the_issue_list_pages_under_every_sort() {
    let app = spawn_app().await;
    let project = app.project("triage").await;
    let other = app.project("triage-other").await;
    let user = member(&app, "triage@example.com").await;

    // Twelve issues over four days: 1 to 3 events each (equal counts), groups 0, 4 and 8
    // last seen at the same instant, groups with equal g % 5 first seen at the same
    // instant, so the id has to break ties under every sort.
    let start = today() - Days::new(3);
    let mut events = Vec::new();
    for g in 0..12i64 {
        let group = format!("group-{g}");
        let level = if g == 5 { "fatal" } else { "error" };
        let first = start + Duration::hours(7 * (g % 5));
        let n = 1 + g % 3;
        for k in 0..n {
            let at = if g % 4 == 0 && k == n - 1 {
                start + Duration::hours(80)
            } else {
                first + Duration::hours(13 * k)
            };
            events.push((grouped(&group, level), at));
        }
    }
    let stored = seed(&app, project.id, events).await;
    seed(&app, other.id, vec![(grouped("elsewhere", "error"), start)]).await;
    let rows = issue_rows(&app, project.id).await;
    assert_eq!(rows.len(), 12);

    let by_last = order_by(&rows, |r| r.1);
    let by_first = order_by(&rows, |r| r.2);
    let by_count = order_by(&rows, |r| r.3);
    for (sort, expected) in [
        ("", &by_last),
        ("&sort=last_seen", &by_last),
        ("&sort=first_seen", &by_first),
        ("&sort=times_seen", &by_count),
    ] {
        for limit in [1, 5, 50] {
            let path = format!("{}?limit={limit}{sort}", issues_path("triage"));
            let got = walk(&app, &user, &path, limit).await;
            assert_eq!(&ids(&got), expected, "{path}");
        }
    }

    // The items.
    let issue = first_issue(&app, &user, "triage").await;
    for key in [
        "id",
        "title",
        "culprit",
        "level",
        "status",
        "first_seen",
        "last_seen",
        "times_seen",
        "fingerprint",
    ] {
        assert!(issue.get(key).is_some(), "{key} missing from {issue}");
    }
    assert_eq!(issue["fingerprint"].as_array().unwrap().len(), 1);

    // Filters: level, status, q.
    let (_, body) = app
        .get_as(&user, &format!("{}?level=fatal", issues_path("triage")))
        .await;
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["fingerprint"], json!(["group-5"]));
    let resolved = data[0]["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .patch_as(
            &user,
            &format!("{}/{resolved}", issues_path("triage")),
            json!({ "status": "resolved" }),
        )
        .await;
    assert_eq!(status, 200);
    let (_, body) = app
        .get_as(&user, &format!("{}?status=resolved", issues_path("triage")))
        .await;
    assert_eq!(
        ids(body["data"].as_array().unwrap()),
        [resolved.parse::<Uuid>().unwrap()]
    );
    let (_, body) = app
        .get_as(
            &user,
            &format!("{}?status=unresolved&limit=1000", issues_path("triage")),
        )
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 11);
    let (_, body) = app
        .get_as(
            &user,
            &format!("{}?q=BOOM%20IN%20GROUP-1", issues_path("triage")),
        )
        .await;
    let mut titles: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        ["boom in group-1", "boom in group-10", "boom in group-11"]
    );

    // An issue's events, across days, newest first.
    // Its explicit fingerprint is its only component.
    let mine: Vec<_> = stored
        .iter()
        .filter(|e| e.fingerprint_json() == r#"["group-2"]"#)
        .cloned()
        .collect();
    assert_eq!(mine.len(), 3);
    let (_, body) = app
        .get_as(
            &user,
            &format!("{}?q=group-2&limit=1", issues_path("triage")),
        )
        .await;
    let issue_id = body["data"][0]["id"].as_str().unwrap().to_owned();
    for limit in [1, 2, 50] {
        let path = format!("{}/{issue_id}/events?limit={limit}", issues_path("triage"));
        let got = walk(&app, &user, &path, limit).await;
        assert_eq!(ids(&got), newest_first(&mine), "{path}");
    }

    // Bad parameters name themselves.
    let (_, page) = app
        .get_as(
            &user,
            &format!("{}?limit=1&sort=times_seen", issues_path("triage")),
        )
        .await;
    let times_cursor = page["next_cursor"].as_str().unwrap().to_owned();
    for (query, field) in [
        ("status=open", "status"),
        ("level=severe", "level"),
        ("sort=title", "sort"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("cursor=%21%21", "cursor"),
        (&format!("sort=first_seen&cursor={times_cursor}"), "cursor"),
    ] {
        let (status, body) = app
            .get_as(&user, &format!("{}?{query}", issues_path("triage")))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["field"], field, "{query}: {body}");
    }
    let (status, body) = app
        .get_as(
            &user,
            &format!("{}/{issue_id}/events?level=x", issues_path("triage")),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("level"))
    );
}

#[actix_web::test]
async fn status_changes_and_a_resolved_issue_regresses() {
    let app = spawn_app().await;
    let project = app.project("status").await;
    let other = app.project("status-other").await;
    let user = member(&app, "status@example.com").await;

    let event = grouped("checkout", "error");
    assert_eq!(app.post_events(&project.key, &event).await.status(), 202);
    assert_eq!(app.post_events(&other.key, &event).await.status(), 202);
    app.settle(project.id, 10).await;
    app.settle(other.id, 10).await;
    let issue = first_issue(&app, &user, "status").await;
    let id = issue["id"].as_str().unwrap().to_owned();
    let path = format!("{}/{id}", issues_path("status"));
    assert_eq!(issue["status"], "unresolved");
    assert_eq!(issue["times_seen"], 1);

    let (status, body) = app.get_as(&user, &path).await;
    assert_eq!(status, 200);
    assert_eq!(body, issue);

    for bad in [
        json!({ "status": "closed" }),
        json!({ "status": 1 }),
        json!({ "status": null }),
        json!({}),
    ] {
        let (status, body) = app.patch_as(&user, &path, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["field"], "status", "{bad}");
    }

    let (status, body) = app
        .patch_as(&user, &path, json!({ "status": "resolved" }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "resolved");
    assert_eq!(app.get_as(&user, &path).await.1["status"], "resolved");

    // A new event of a resolved issue reopens it.
    assert_eq!(app.post_events(&project.key, &event).await.status(), 202);
    app.settle(project.id, 10).await;
    let (_, body) = app.get_as(&user, &path).await;
    assert_eq!(body["status"], "unresolved");
    assert_eq!(body["times_seen"], 2);

    // An ignored one stays ignored.
    let (_, body) = app
        .patch_as(&user, &path, json!({ "status": "ignored" }))
        .await;
    assert_eq!(body["status"], "ignored");
    assert_eq!(app.post_events(&project.key, &event).await.status(), 202);
    app.settle(project.id, 10).await;
    let (_, body) = app.get_as(&user, &path).await;
    assert_eq!(
        (body["status"].as_str(), body["times_seen"].as_i64()),
        (Some("ignored"), Some(3))
    );

    // Unknown issues, and another project's issue under this project, are 404.
    let other_issue = first_issue(&app, &user, "status-other").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for missing in [Uuid::now_v7().to_string(), other_issue, "nope".into()] {
        let path = format!("{}/{missing}", issues_path("status"));
        assert_eq!(app.get_as(&user, &path).await.0, 404, "{path}");
        assert_eq!(
            app.patch_as(&user, &path, json!({ "status": "resolved" }))
                .await
                .0,
            404,
            "{path}"
        );
        assert_eq!(
            app.get_as(&user, &format!("{path}/events")).await.0,
            404,
            "{path}"
        );
    }
    let (_, body) = app.get_as(&user, &issues_path("status-other")).await;
    assert_eq!(body["data"][0]["status"], "unresolved");
}

#[actix_web::test]
async fn non_members_get_404_on_every_event_and_issue_route() {
    let app = spawn_app().await;
    let project = app.project("private").await;
    let member = member(&app, "insider@example.com").await;
    let outsider = app.user("outsider@example.com").await;

    assert_eq!(
        app.post_events(&project.key, &grouped("secret", "error"))
            .await
            .status(),
        202
    );
    app.settle(project.id, 10).await;
    let issue = first_issue(&app, &member, "private").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, events) = app
        .get_as(&member, "/api/v1/orgs/test-org/projects/private/events")
        .await;
    let event = events["data"][0]["id"].as_str().unwrap().to_owned();

    let base = "/api/v1/orgs/test-org/projects/private";
    let gets = [
        format!("{base}/events"),
        format!("{base}/events?level=nonsense"),
        format!("{base}/events/{event}"),
        format!("{base}/issues"),
        format!("{base}/issues?sort=nonsense"),
        format!("{base}/issues/{issue}"),
        format!("{base}/issues/{issue}/events"),
        "/api/v1/orgs/no-such-org/projects/private/events".to_owned(),
    ];
    for path in &gets {
        let (status, body) = app.get_as(&outsider, path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{path}");
        // The member sees them all (bad parameters aside).
        let (status, _) = app.get_as(&member, path).await;
        assert!(
            status == 200 || status == 400 || path.contains("no-such-org"),
            "{path}: {status}"
        );
    }
    let path = format!("{base}/issues/{issue}");
    let (status, _) = app
        .patch_as(&outsider, &path, json!({ "status": "resolved" }))
        .await;
    assert_eq!(status, 404);
    // Nothing changed.
    assert_eq!(app.get_as(&member, &path).await.1["status"], "unresolved");

    // Without credentials: 401.
    let res = app.get(&format!("{base}/events")).await;
    assert_eq!(res.status(), 401);
}

#[actix_web::test]
async fn the_event_and_issue_routes_are_documented() {
    let app = spawn_app().await;
    let doc: Value = app.get("/api/openapi.json").await.json().await.unwrap();
    let base = "/api/v1/orgs/{org}/projects/{project}";
    for (path, method) in [
        (format!("{base}/events"), "get"),
        (format!("{base}/events/{{event_id}}"), "get"),
        (format!("{base}/issues"), "get"),
        (format!("{base}/issues/{{issue_id}}"), "get"),
        (format!("{base}/issues/{{issue_id}}"), "patch"),
        (format!("{base}/issues/{{issue_id}}/events"), "get"),
    ] {
        let op = &doc["paths"][&path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(
            params.contains(&"org") && params.contains(&"project"),
            "{path}: {params:?}"
        );
        if path.ends_with("events") && method == "get" {
            for q in [
                "level",
                "since",
                "until",
                "environment",
                "release",
                "tag",
                "q",
                "limit",
                "cursor",
            ] {
                assert!(params.contains(&q), "{path}: {q} missing from {params:?}");
            }
        }
    }
}

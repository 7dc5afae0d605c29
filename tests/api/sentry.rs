//! Sentry SDK compatibility: the captured requests of the official SDKs replayed byte for
//! byte (brotli, gzip, chunked without Content-Length, query-string auth, items without
//! length, session items), and the protocol's edge cases.

use std::io::Write;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, TestProject, event, spawn_app, spawn_app_with};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sentry-sdk");
const PLACEHOLDER_KEY: &str = "mshr_0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

/// Sends one raw HTTP/1.1 request (so chunked bodies stay chunked) and returns the status
/// and the response body.
async fn raw_request(
    app: &TestApp,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    chunked: bool,
) -> (u16, String, String) {
    let addr = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if chunked {
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    } else {
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    }
    let mut bytes = head.into_bytes();
    if chunked {
        for chunk in body.chunks(700) {
            bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            bytes.extend_from_slice(chunk);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0\r\n\r\n");
    } else {
        bytes.extend_from_slice(body);
    }
    stream.write_all(&bytes).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

/// Replays fixture `sdk/NNN` for `project`; returns (status, body as JSON).
async fn replay(app: &TestApp, project: &TestProject, sdk: &str, n: u32) -> (u16, Value) {
    let dir = format!("{FIXTURES}/{sdk}");
    let request: Value =
        serde_json::from_slice(&std::fs::read(format!("{dir}/{n:03}.request.json")).unwrap())
            .unwrap();
    let body = std::fs::read(format!("{dir}/{n:03}.body")).unwrap();
    let path = request["path"]
        .as_str()
        .unwrap()
        .replace(PLACEHOLDER_KEY, &project.key)
        .replacen("/api/7/", &format!("/api/{}/", project.number), 1);
    let mut chunked = false;
    let mut headers = Vec::new();
    for (name, value) in request["headers"].as_object().unwrap() {
        let value = value
            .as_str()
            .unwrap()
            .replace(PLACEHOLDER_KEY, &project.key);
        match name.to_ascii_lowercase().as_str() {
            "host" | "content-length" | "connection" => {}
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            _ => headers.push((name.clone(), value)),
        }
    }
    let (status, _, body) = raw_request(app, "POST", &path, &headers, &body, chunked).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn envelope_event_ids(sdk: &str, n: u32) -> Vec<String> {
    let bytes = std::fs::read(format!("{FIXTURES}/{sdk}/{n:03}.envelope")).unwrap();
    let env = mesher::domain::envelope::parse(&bytes).unwrap();
    env.items
        .iter()
        .filter(|i| i.ty == "event")
        .map(|i| {
            let v: Value = serde_json::from_slice(i.payload).unwrap();
            v["event_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[derive(diesel::QueryableByName, Debug)]
struct Stored {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
    event_id: Option<uuid::Uuid>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    level: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    message: String,
    #[diesel(sql_type = diesel::sql_types::Jsonb)]
    doc: Value,
}

async fn stored(app: &TestApp) -> Vec<Stored> {
    use diesel_async::RunQueryDsl;
    let mut conn = app.db.conn().await;
    diesel::sql_query(
        "SELECT e.event_id, e.level, e.message, jsonb_build_object( \
            'exception', e.exception, 'breadcrumbs', e.breadcrumbs, 'user', e.user_data, \
            'contexts', e.contexts, 'tags', e.tags, 'extra', e.extra, 'release', e.release, \
            'environment', e.environment, 'fingerprint', i.fingerprint) AS doc \
         FROM events e JOIN issues i ON i.id = e.issue_id",
    )
    .load(&mut conn)
    .await
    .unwrap()
}

#[actix_web::test]
async fn the_official_sdks_captured_requests_are_stored() {
    let app = spawn_app().await;
    let project = app.project("sentry-fixtures").await;
    let mut expected = Vec::new();
    for sdk in ["python-2.75-br", "python-2.75-gzip", "node-11.12"] {
        for n in 1..=4 {
            let (status, body) = replay(&app, &project, sdk, n).await;
            assert_eq!(status, 200, "{sdk}/{n}: {body}");
            let ids = envelope_event_ids(sdk, n);
            if let Some(first) = ids.first() {
                assert_eq!(body["id"], *first, "{sdk}/{n}");
            }
            expected.extend(ids);
        }
    }
    let s = app.assert_accounted(project.id).await;
    assert_eq!(
        s.stored, 11,
        "8 Python events and 3 Node events (001 is a session only)"
    );

    let rows = stored(&app).await;
    let mut ids: Vec<String> = rows
        .iter()
        .map(|r| r.event_id.unwrap().simple().to_string())
        .collect();
    ids.sort();
    expected.sort();
    assert_eq!(ids, expected, "every client event_id is kept");

    // Python 001: chained exception with locals, user, tag, context, breadcrumb.
    let payment = rows
        .iter()
        .find(|r| r.doc["exception"].to_string().contains("PaymentError"))
        .expect("the chained exception");
    assert_eq!(payment.doc["exception"].as_array().unwrap().len(), 2);
    assert!(payment.doc["user"].is_object());
    assert!(
        payment.doc["breadcrumbs"]
            .as_array()
            .is_some_and(|b| !b.is_empty())
    );
    assert_eq!(payment.doc["release"], "shop@1.4.2");
    assert_eq!(payment.doc["environment"], "production");
    // Python 002: a message at warning.
    assert!(
        rows.iter()
            .any(|r| r.message == "disk almost full" && r.level == "warning")
    );
    // Python 004: fatal, with the custom fingerprint appended to the default one.
    let custom = rows
        .iter()
        .find(|r| r.doc["fingerprint"].to_string().contains("custom-group"))
        .expect("the custom fingerprint");
    assert_eq!(custom.level, "fatal");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn auth(project: &TestProject) -> (String, String) {
    (
        "X-Sentry-Auth".into(),
        format!("Sentry sentry_key={}, sentry_version=7", project.key),
    )
}

#[actix_web::test]
async fn envelopes_and_store_edge_cases() {
    let app = spawn_app().await;
    let p = app.project("sentry-raw").await;
    let envelope_path = format!("/api/{}/envelope/", p.number);
    let store_path = format!("/api/{}/store/", p.number);

    // A gzip envelope whose unknown item type is skipped.
    let env = format!(
        "{{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}}\n\
         {{\"type\":\"profile_chunk_v9\",\"length\":5}}\nhello\n\
         {{\"type\":\"event\"}}\n{}\n",
        json!({ "event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "message": "from an envelope" })
    );
    let headers = [auth(&p), ("Content-Encoding".into(), "gzip".into())];
    let (status, _, body) = raw_request(
        &app,
        "POST",
        &envelope_path,
        &headers,
        &gzip(env.as_bytes()),
        false,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["id"],
        "9ec79c33ec9942ab8353589fcb2e04dc"
    );

    // Truncated: an item's length runs past the end.
    let truncated = "{}\n{\"type\":\"event\",\"length\":500}\n{\"message\":\"short\"}";
    let (status, head, body) = raw_request(
        &app,
        "POST",
        &envelope_path,
        &[auth(&p)],
        truncated.as_bytes(),
        false,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        head.to_ascii_lowercase().contains("x-sentry-error"),
        "{head}"
    );

    // Query-string auth on /store/, NaN from an old SDK, no level and no timestamp.
    let (status, _, body) = raw_request(
        &app,
        "POST",
        &format!("{store_path}?sentry_version=7&sentry_key={}", p.key),
        &[("Content-Type".into(), "application/json".into())],
        br#"{"message":"ratio was NaN","extra":{"ratio":NaN}}"#,
        false,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32);

    // Authorization: Sentry … works too.
    let (status, _, _) = raw_request(
        &app,
        "POST",
        &store_path,
        &[(
            "Authorization".into(),
            format!("Sentry sentry_key={}", p.key),
        )],
        br#"{"message":"authorization header"}"#,
        false,
    )
    .await;
    assert_eq!(status, 200);

    // Refused: the key of one project on another project's number, and no key at all.
    let other = app.project("sentry-other").await;
    let other_store = format!("/api/{}/store/", other.number);
    let refusals = [
        ("wrong number", &other_store, vec![auth(&p)], 403),
        ("no key", &store_path, vec![], 401),
    ];
    for (case, path, headers, expected) in refusals {
        let body = json!({ "message": case }).to_string();
        let (status, _, body) =
            raw_request(&app, "POST", path, &headers, body.as_bytes(), false).await;
        assert_eq!(status, expected, "{case}: {body}");
    }

    // CORS preflight for browser SDKs.
    let res = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}{envelope_path}", app.address),
        )
        .header("Origin", "https://shop.example")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,x-sentry-auth",
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert!(res.headers().contains_key("access-control-allow-origin"));

    let s = app.assert_accounted(p.id).await;
    assert_eq!((s.stored, s.rejected), (3, 0));
    let rows = stored(&app).await;
    assert!(
        rows.iter()
            .any(|r| r.message == "ratio was NaN" && r.level == "error")
    );
}

#[actix_web::test]
async fn over_the_rate_limit_sentry_gets_429_with_its_headers() {
    let app = spawn_app_with(
        |s| {
            s.writer.rate_limit_per_sec = 1;
            s.writer.rate_limit_burst = 2;
        },
        None,
    )
    .await;
    let p = app.project("limited").await;
    let path = format!("/api/{}/store/", p.number);
    let mut statuses = Vec::new();
    let mut last_head = String::new();
    for _ in 0..3 {
        let (status, head, _) = raw_request(
            &app,
            "POST",
            &path,
            &[auth(&p)],
            br#"{"message":"m"}"#,
            false,
        )
        .await;
        statuses.push(status);
        last_head = head.to_ascii_lowercase();
    }
    assert_eq!(statuses, [200, 200, 429]);
    assert!(last_head.contains("retry-after: 1"), "{last_head}");
    assert!(
        last_head.contains("x-sentry-rate-limits: 1::project"),
        "{last_head}"
    );
    // The native endpoint shares the project's limit.
    let res = app.post_events(&p.key, &event("native")).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let s = app.assert_accounted(p.id).await;
    assert_eq!((s.accepted, s.rate_limited), (2, 2));
}

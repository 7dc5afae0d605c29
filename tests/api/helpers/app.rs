//! The real application in-process: built from the test profile on a fresh database, bound to
//! port 0, and driven over HTTP through [`TestApp`]. The writer counters it exposes are what
//! [`TestApp::assert_accounted`] checks (docs/architecture.md, "Accounting").

use diesel_async::RunQueryDsl;
use mesher::Application;
use mesher::clock::Clock;
use mesher::config::Settings;
use mesher::domain::ProjectId;
use secrecy::SecretString;

use super::db::TestDb;

/// Settings for a test server on `db`: the test profile, port 0.
pub fn test_settings(db: &TestDb) -> Settings {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config"));
    let mut settings = Settings::load_from(dir, "test", false).expect("test settings");
    settings.database.url = SecretString::from(db.url.clone());
    settings.http.bind = "127.0.0.1:0".into();
    settings
}

/// A running application with its own database.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub registry: mesher::ingest::WriterRegistry,
    // Last, so the server's pool is gone (or at least idle) before the database is dropped.
    pub db: TestDb,
}

/// Starts the real application on a fresh migrated database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}, None).await
}

/// Starts the real application with adjusted settings and, optionally, a fake clock.
pub async fn spawn_app_with(
    configure: impl FnOnce(&mut Settings),
    clock: Option<Clock>,
) -> TestApp {
    spawn_app_in(TestDb::migrated().await, configure, clock).await
}

/// Starts the real application on a private server's database (see [`PrivateCluster`]).
///
/// [`PrivateCluster`]: super::cluster::PrivateCluster
pub async fn spawn_app_on(
    cluster: &super::cluster::PrivateCluster,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let db = TestDb::migrated_at(cluster.url("postgres")).await;
    spawn_app_in(db, configure, None).await
}

/// Starts another node on `first`'s database (which stays `first`'s to drop).
pub async fn spawn_node_beside(first: &TestApp, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDb::migrated_at(first.db.url.clone()).await;
    spawn_app_in(db, configure, None).await
}

async fn spawn_app_in(
    db: TestDb,
    configure: impl FnOnce(&mut Settings),
    clock: Option<Clock>,
) -> TestApp {
    let mut settings = test_settings(&db);
    configure(&mut settings);
    let clock = clock.unwrap_or_else(mesher::clock::system);
    let app = Application::build_with_clock(settings, clock)
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let registry = app.registry();
    actix_web::rt::spawn(app.run_until(std::future::pending()));
    TestApp {
        address,
        client: reqwest::Client::new(),
        registry,
        db,
    }
}

impl TestApp {
    /// `GET {address}{path}`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }

    /// `POST {address}{path}` with a body and headers.
    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}{path}", self.address))
            .body(body);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.expect("request sent")
    }

    /// Posts JSON to the native endpoint with the project's key.
    pub async fn post_events(&self, key: &str, body: &serde_json::Value) -> reqwest::Response {
        self.post_raw(
            "/api/v1/events",
            body.to_string(),
            &[("x-mesher-key", key), ("content-type", "application/json")],
        )
        .await
    }

    /// Waits (up to `secs`) until the project has nothing buffered, in flight or spilled;
    /// returns its counters then.
    pub async fn settle(&self, project: ProjectId, secs: u64) -> mesher::ingest::CounterSnapshot {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let s = self.registry.snapshot(project);
            if (s.buffered == 0 && s.spilled == 0) || std::time::Instant::now() > deadline {
                return s;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Events stored for the project (counted in the database).
    pub async fn stored_count(&self, project: ProjectId) -> i64 {
        use diesel::{ExpressionMethods, QueryDsl};
        use mesher::db::schema::events;
        let mut conn = self.db.conn().await;
        events::table
            .filter(events::project_id.eq(project))
            .count()
            .get_result(&mut conn)
            .await
            .unwrap()
    }

    /// Asserts the accounting invariant (docs/architecture.md, "Accounting") once the
    /// project has settled, and that "stored" is what the database holds. Returns the counters.
    pub async fn assert_accounted(&self, project: ProjectId) -> mesher::ingest::CounterSnapshot {
        let s = self.assert_settled_and_counted(project).await;
        assert_eq!(s.stored as i64, self.stored_count(project).await, "{s:?}");
        s
    }

    /// Waits until nothing of the project is buffered here, then asserts this server's
    /// counters account for every accepted event (without looking at the database, which
    /// several servers may share). Returns the counters.
    pub async fn assert_settled_and_counted(
        &self,
        project: ProjectId,
    ) -> mesher::ingest::CounterSnapshot {
        let s = self.settle(project, 15).await;
        assert_eq!((s.buffered, s.spilled), (0, 0), "still buffered: {s:?}");
        assert!(
            s.is_accounted(),
            "accepted = stored + dropped (every reason) + buffered + spilled: {s:?}"
        );
        s
    }
}

/// Sends a request; answers its status and its JSON body (Null when empty).
pub async fn send_json(req: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "status {status}: body is not JSON: {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    (status, body)
}

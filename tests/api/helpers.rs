//! The test harness: a migrated template database made once per schema, a fresh database
//! copied from it for every test, and the real application on port 0 in front of it.
// Shared by every test module: not each module uses each helper.
#![allow(dead_code)]

use std::sync::OnceLock;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use mesher::clock::Clock;
use mesher::config::Settings;
use mesher::{Application, db};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// The server URL the tests use: `DATABASE_URL` (its database part is ignored), else the
/// local default. `scripts/test` exports the one it found or started.
pub fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `url` with its database name replaced by `name` (query parameters kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let root = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

/// Runs `f` to completion on a fresh runtime of its own thread: for set-up and tear-down
/// that must not depend on the calling test's runtime (or run where there is none).
fn on_own_runtime<T: Send + 'static>(
    f: impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = T> + Send>> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(f())
    })
    .join()
    .expect("helper thread panicked")
}

pub async fn admin_conn() -> AsyncPgConnection {
    let url = with_database(&server_url(), "postgres");
    AsyncPgConnection::establish(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {url} ({e}); run scripts/test"))
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str) -> diesel::QueryResult<usize> {
    diesel::sql_query(sql).execute(conn).await
}

/// The name of the template for the current migrations (their content hashed), so a
/// changed schema gets a new template and concurrent runs of one schema share it.
fn template_name() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut entries: Vec<_> = walk(std::path::Path::new(dir));
    entries.sort();
    let mut hasher = Sha256::new();
    for path in entries {
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&path).expect("readable migration"));
    }
    format!("mesher_tpl_{}", &hex::encode(hasher.finalize())[..16])
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("migrations dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Creates the migrated template once per process (and once per schema across processes,
/// under an advisory lock); built under a temporary name and renamed when complete.
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        mesher::telemetry::init_for_tests();
        on_own_runtime(|| {
            Box::pin(async {
                let name = template_name();
                let mut admin = admin_conn().await;
                exec(&mut admin, "SELECT pg_advisory_lock(7707)")
                    .await
                    .unwrap();
                let exists: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
                    "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
                ))
                .get_result(&mut admin)
                .await
                .unwrap();
                if exists == 0 {
                    let building = format!("{name}_building");
                    exec(
                        &mut admin,
                        &format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
                    )
                    .await
                    .unwrap();
                    exec(&mut admin, &format!("CREATE DATABASE {building}"))
                        .await
                        .unwrap();
                    db::run_migrations(&with_database(&server_url(), &building))
                        .await
                        .expect("migrations apply to an empty database");
                    exec(
                        &mut admin,
                        &format!("ALTER DATABASE {building} RENAME TO {name}"),
                    )
                    .await
                    .unwrap();
                }
                exec(&mut admin, "SELECT pg_advisory_unlock(7707)")
                    .await
                    .unwrap();
                name
            })
        })
    })
}

/// A database of the test's own, dropped (with its connections) when this guard drops.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A fresh copy of the migrated template.
    pub async fn migrated() -> Self {
        Self::create(Some(template())).await
    }

    /// A fresh empty database (no schema at all).
    pub async fn empty() -> Self {
        Self::create(None).await
    }

    async fn create(template: Option<&str>) -> Self {
        let name = format!("mesher_test_{}", uuid::Uuid::now_v7().simple());
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        exec(&mut admin_conn().await, &sql).await.unwrap();
        let url = with_database(&server_url(), &name);
        Self { name, url }
    }

    /// A direct connection to this database.
    pub async fn conn(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        on_own_runtime(move || {
            Box::pin(async move {
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                if let Err(e) = exec(&mut admin_conn().await, &sql).await {
                    eprintln!("could not drop test database {name}: {e}");
                }
            })
        });
    }
}

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

/// A project of the test database and one of its keys.
pub struct TestProject {
    pub id: mesher::domain::ProjectId,
    /// The project's number in Sentry DSNs.
    pub number: i32,
    pub key: String,
    pub key_id: mesher::domain::KeyId,
}

impl TestApp {
    /// Creates an organization (once), a project and a key for it, straight in the database.
    pub async fn project(&self, slug: &str) -> TestProject {
        create_project(&self.db, slug).await
    }
}

/// Creates an organization (once), a project and a key for it, straight in `db`.
pub async fn create_project(db: &TestDb, slug: &str) -> TestProject {
    use mesher::db::{accounts, projects};
    use mesher::domain::keys;
    let mut conn = db.conn().await;
    let org = match accounts::find_org_by_slug(&mut conn, "test-org")
        .await
        .unwrap()
    {
        Some(org) => org,
        None => accounts::create_org(
            &mut conn,
            &accounts::NewOrganization {
                id: mesher::domain::OrgId::new(),
                slug: "test-org",
                name: "Test",
            },
        )
        .await
        .unwrap(),
    };
    let project = projects::create_project(
        &mut conn,
        &projects::NewProject {
            id: mesher::domain::ProjectId::new(),
            org_id: org.id,
            slug,
            name: slug,
            platform: None,
        },
    )
    .await
    .unwrap();
    let key = keys::generate_project_key();
    let row = projects::create_api_key(
        &mut conn,
        &projects::NewApiKey {
            id: mesher::domain::KeyId::new(),
            project_id: project.id,
            label: "test",
            prefix: &keys::display_prefix(&key),
            key_hash: &keys::hash_secret(&key),
        },
    )
    .await
    .unwrap();
    TestProject {
        id: project.id,
        number: project.number,
        key,
        key_id: row.id,
    }
}

impl TestApp {
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

    /// Waits (up to `secs`) until the project has nothing buffered or in flight; returns
    /// its counters then.
    pub async fn settle(
        &self,
        project: mesher::domain::ProjectId,
        secs: u64,
    ) -> mesher::ingest::CounterSnapshot {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let s = self.registry.snapshot(project);
            if s.buffered == 0 || std::time::Instant::now() > deadline {
                return s;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Events stored for the project (counted in the database).
    pub async fn stored_count(&self, project: mesher::domain::ProjectId) -> i64 {
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

    /// Asserts the accounting invariant of SPEC §5 once the project has settled, and that
    /// "stored" is what the database holds. Returns the counters.
    pub async fn assert_accounted(
        &self,
        project: mesher::domain::ProjectId,
    ) -> mesher::ingest::CounterSnapshot {
        let s = self.settle(project, 15).await;
        assert_eq!(s.buffered, 0, "still buffered: {s:?}");
        assert_eq!(
            s.accepted,
            s.stored + s.dropped_buffer_full + s.dropped_flush_failed + s.buffered,
            "accepted = stored + dropped + buffered: {s:?}"
        );
        assert_eq!(s.stored as i64, self.stored_count(project).await, "{s:?}");
        s
    }

    /// `GET {address}{path}`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
    }
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
    let db = TestDb::migrated().await;
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

/// The `mesher` binary with the test profile, pointed at `db`.
pub fn mesher_command(db: &TestDb) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mesher"));
    cmd.env("MESHER_ENV", "test")
        .env(
            "MESHER_CONFIG_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
        )
        .env("MESHER__DATABASE__URL", &db.url)
        .env_remove("RUST_LOG");
    cmd
}

/// A real `mesher serve` process on a free port of 127.0.0.1.
pub struct ServerProcess {
    child: std::process::Child,
    pub url: String,
}

impl ServerProcess {
    /// Starts `mesher serve` on `db` with extra environment and waits until
    /// `/health/ready` answers 200 (panics after 30 s).
    pub async fn start(db: &TestDb, env: &[(&str, &str)]) -> Self {
        Self::spawn(db, env, std::process::Stdio::null()).await
    }

    /// Like [`Self::start`], with the server's log output (stderr) written to `log`.
    pub async fn start_logging(db: &TestDb, env: &[(&str, &str)], log: &std::path::Path) -> Self {
        let file = std::fs::File::create(log).expect("log file");
        Self::spawn(db, env, std::process::Stdio::from(file)).await
    }

    async fn spawn(db: &TestDb, env: &[(&str, &str)], stderr: std::process::Stdio) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = mesher_command(db);
        cmd.env("MESHER__HTTP__BIND", format!("127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .stderr(stderr);
        let mut server = Self {
            child: cmd.spawn().expect("mesher serve starts"),
            url: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let probe = client
                .get(format!("{}/health/ready", server.url))
                .send()
                .await;
            if probe.is_ok_and(|res| res.status() == 200) {
                return server;
            }
            if std::time::Instant::now() > deadline {
                let _ = server.child.kill();
                panic!("mesher serve did not become ready");
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn sigterm_and_wait(mut self) -> std::process::ExitStatus {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        self.child.wait().unwrap()
    }
}

/// A registered user with a user token for the management API.
pub struct TestUser {
    pub id: mesher::domain::UserId,
    pub email: String,
    pub password: String,
    pub token: String,
}

impl TestApp {
    /// Registers `email` over HTTP, logs in and creates a user token.
    pub async fn user(&self, email: &str) -> TestUser {
        let password = format!("pw-{}", uuid::Uuid::now_v7().simple());
        let res = self
            .client
            .post(format!("{}/api/v1/auth/register", self.address))
            .json(&serde_json::json!({ "email": email, "password": password, "name": email }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            201,
            "register {email}: {}",
            res.text().await.unwrap()
        );
        let user: serde_json::Value = res.json().await.unwrap();
        let cookie = self.login_cookie(email, &password).await;
        let res = self
            .client
            .post(format!("{}/api/v1/auth/tokens", self.address))
            .header("cookie", format!("mesher_session={cookie}"))
            .json(&serde_json::json!({ "label": "tests" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let token: serde_json::Value = res.json().await.unwrap();
        TestUser {
            id: user["id"].as_str().unwrap().parse().unwrap(),
            email: email.to_owned(),
            password,
            token: token["token"].as_str().unwrap().to_owned(),
        }
    }

    /// Logs in and returns the session cookie's value.
    pub async fn login_cookie(&self, email: &str, password: &str) -> String {
        let res = self
            .client
            .post(format!("{}/api/v1/auth/login", self.address))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login {email}");
        let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
        set_cookie
            .strip_prefix("mesher_session=")
            .and_then(|rest| rest.split(';').next())
            .expect("a mesher_session cookie")
            .to_owned()
    }

    /// A management API request as `user` (bearer token).
    pub fn as_user(
        &self,
        user: &TestUser,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(&user.token)
    }

    /// `GET path` as `user`, answering (status, JSON body or Null).
    pub async fn get_as(&self, user: &TestUser, path: &str) -> (u16, serde_json::Value) {
        send_json(self.as_user(user, reqwest::Method::GET, path)).await
    }

    /// `POST path` with a JSON body as `user`.
    pub async fn post_as(
        &self,
        user: &TestUser,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        send_json(self.as_user(user, reqwest::Method::POST, path).json(&body)).await
    }

    /// `PATCH path` with a JSON body as `user`.
    pub async fn patch_as(
        &self,
        user: &TestUser,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        send_json(self.as_user(user, reqwest::Method::PATCH, path).json(&body)).await
    }

    /// `DELETE path` as `user`.
    pub async fn delete_as(&self, user: &TestUser, path: &str) -> (u16, serde_json::Value) {
        send_json(self.as_user(user, reqwest::Method::DELETE, path)).await
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

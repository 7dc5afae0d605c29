//! The database side of the harness: a migrated template database made once per schema, a
//! fresh copy of it for every test (dropped with the test), and an admin connection.

use std::sync::OnceLock;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use mesher::db;
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

/// A connection to the server's `postgres` database, for creating and dropping databases.
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
    let mut entries: Vec<_> = migration_files(std::path::Path::new(dir));
    entries.sort();
    let mut hasher = Sha256::new();
    for path in entries {
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&path).expect("readable migration"));
    }
    format!("mesher_tpl_{}", &hex::encode(hasher.finalize())[..16])
}

/// Every file under `dir`, recursively.
fn migration_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("migrations dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(migration_files(&path));
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
    /// Dropped with this value (a database this harness created on the shared server).
    owned: bool,
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
        Self {
            name,
            url,
            owned: true,
        }
    }

    /// The database at `url`, migrated, which outlives this value (a private cluster's,
    /// which goes away with its cluster).
    pub async fn migrated_at(url: String) -> Self {
        mesher::db::run_migrations(&url).await.expect("migrations");
        Self {
            name: url.rsplit('/').next().unwrap_or_default().to_owned(),
            url,
            owned: false,
        }
    }

    /// A direct connection to this database.
    pub async fn conn(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
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

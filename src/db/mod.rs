//! The PostgreSQL side: the connection pool, migrations, and one module per table or
//! aggregate. Query functions take `&mut AsyncPgConnection` so they compose in transactions.

pub mod accounts;
pub mod activity;
pub mod alerts;
pub mod audit;
pub mod copy;
pub mod deliveries;
pub mod event_queries;
pub mod events;
pub mod failure;
pub mod issues;
pub mod live;
pub mod node_runs;
pub mod partitions;
pub mod projects;
pub mod schema;
pub mod sessions;
pub mod stats;
pub mod types;

use std::time::Duration;

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::bb8::{Pool, PooledConnection};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;
use secrecy::ExposeSecret;

use crate::config::DatabaseSettings;

/// The migrations of `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The application's connection pool.
pub type DbPool = Pool<AsyncPgConnection>;
/// A connection checked out of [`DbPool`].
pub type DbConn<'a> = PooledConnection<'a, AsyncPgConnection>;

/// Errors of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("could not get a database connection: {0}")]
    Pool(#[from] bb8::RunError<diesel_async::pooled_connection::PoolError>),
    #[error("could not set up the connection pool: {0}")]
    PoolSetup(#[from] diesel_async::pooled_connection::PoolError),
    #[error("could not connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error("migration failed: {0}")]
    Migration(String),
}

/// Builds the pool. Every new connection gets a `statement_timeout` and an
/// `application_name`, so a stuck query is cut and `pg_stat_activity` shows who it is.
pub async fn build_pool(settings: &DatabaseSettings) -> Result<DbPool, DbError> {
    let timeout_ms = settings.statement_timeout_ms;
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            conn.batch_execute(&format!(
                "SET statement_timeout = {timeout_ms}; SET application_name = 'mesher'"
            ))
            .await
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        settings.url.expose_secret(),
        config,
    );
    let pool = Pool::builder()
        .max_size(settings.pool_size)
        .connection_timeout(Duration::from_secs(settings.connect_timeout_secs))
        .error_sink(Box::new(LogErrors))
        .build(manager)
        .await?;
    Ok(pool)
}

/// A connection from `pool`, waiting at most `wait` for one (the pool's own timeout,
/// `database.connect_timeout_secs`, is for the management API). Ingestion's key lookups and
/// the writers use `database.acquire_timeout_ms` here, so that while the database is down a
/// lookup fails fast and a flush attempt costs what the writer's settings say, not seconds.
pub async fn get_within(pool: &DbPool, wait: Duration) -> Result<DbConn<'_>, DbError> {
    match tokio::time::timeout(wait, pool.get()).await {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(DbError::Pool(bb8::RunError::TimedOut)),
    }
}

/// A connection for a writer's flush from `pool`, where `wait` bounds how long the
/// *database* may take to hand one out. A wait that ends while the pool holds open
/// connections is not the database failing — other flushes hold them, as with a thousand
/// projects flushing at once — so the same request keeps waiting (its place kept) instead of
/// counting a failed attempt, which after the retries would drop the batch under mere load.
/// (Checking "none idle" instead is racy: a connection just given back shows as idle until
/// the woken waiter takes it.) With no open connection the wait still ends: the database is
/// down or refusing (a dead connection is dropped when checked out, so they go quickly), and
/// the writer's retry and spill rules apply as before.
pub async fn get_queued<M: bb8::ManageConnection>(
    pool: &bb8::Pool<M>,
    wait: Duration,
) -> Result<bb8::PooledConnection<'_, M>, bb8::RunError<M::Error>> {
    let busy = || pool.state().connections > 0;
    loop {
        let mut get = std::pin::pin!(pool.get());
        loop {
            match tokio::time::timeout(wait, &mut get).await {
                Ok(Err(bb8::RunError::TimedOut)) if busy() => break, // the pool's own timeout: ask again
                Ok(got) => return got,
                Err(_) if busy() => continue,
                Err(_) => return Err(bb8::RunError::TimedOut),
            }
        }
    }
}

/// A blocking diesel connection for the migration harness (call on a blocking thread only).
fn sync_connection(
    url: &str,
) -> Result<AsyncConnectionWrapper<AsyncPgConnection>, diesel::ConnectionError> {
    <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(url)
}

/// bb8 retries failed connects until its timeout and then reports only "timed out": log the
/// real cause (refused, authentication, bad setup) as it happens, rate-limited (bb8 retries
/// every few hundred milliseconds while the server is down).
#[derive(Debug, Clone, Copy)]
struct LogErrors;

impl<E: std::fmt::Display + 'static> bb8::ErrorSink<E> for LogErrors {
    fn sink(&self, error: E) {
        crate::log_limited!(warn, %error, "database connection failed");
    }

    fn boxed_clone(&self) -> Box<dyn bb8::ErrorSink<E>> {
        Box::new(*self)
    }
}

/// Runs every pending migration and returns the versions applied.
///
/// Uses the synchronous harness through `AsyncConnectionWrapper` on a blocking thread: the
/// async harness calls `block_in_place`, which panics on actix's current-thread runtime.
pub async fn run_migrations(url: &str) -> Result<Vec<String>, DbError> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = sync_connection(&url)?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(applied.iter().map(|v| v.to_string()).collect())
    })
    .await
    .map_err(|e| DbError::Migration(format!("migration task failed: {e}")))?
}

/// Reverts the most recent migration (used by tests and operators).
pub async fn revert_last_migration(url: &str) -> Result<String, DbError> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = sync_connection(&url)?;
        let version = conn
            .revert_last_migration(MIGRATIONS)
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(version.to_string())
    })
    .await
    .map_err(|e| DbError::Migration(format!("migration task failed: {e}")))?
}

/// The versions of every embedded migration, oldest first.
pub fn embedded_versions() -> Vec<String> {
    let mut versions: Vec<String> = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .expect("embedded migrations are readable")
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    versions.sort();
    versions
}

#[derive(diesel::QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// True when every embedded migration is recorded as applied in this database.
pub async fn migrations_applied(conn: &mut AsyncPgConnection) -> Result<bool, DbError> {
    let rows: Vec<VersionRow> =
        match diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load(conn)
            .await
        {
            Ok(rows) => rows,
            // No migrations table yet: nothing is applied.
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("does not exist") =>
            {
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
    let applied: std::collections::HashSet<String> = rows.into_iter().map(|r| r.version).collect();
    Ok(embedded_versions().iter().all(|v| applied.contains(v)))
}

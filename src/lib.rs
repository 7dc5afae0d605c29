//! Mesher: self-hosted error and event monitoring.
//!
//! The library holds everything; the `mesher` binary only parses the command line and calls
//! into [`cli`]. [`Application`] is the server, built the same way by `mesher serve` and by
//! the integration tests (which bind port 0).

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod jobs;
pub mod telemetry;

use std::net::TcpListener;
use std::sync::Arc;

use actix::{Actor, Addr};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use secrecy::ExposeSecret;
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::db::DbPool;
use crate::jobs::partitions::{Clock, Maintain, PartitionMaintainer};

/// Shared state of the HTTP handlers.
pub struct AppState {
    pub pool: DbPool,
    pub settings: Arc<Settings>,
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    pool: DbPool,
    partitions: Addr<PartitionMaintainer>,
}

impl Application {
    /// Builds the server with the real clock. See [`Application::build_with_clock`].
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, jobs::partitions::utc_today()).await
    }

    /// Connects, migrates (when `database.migrate_on_start`), makes sure today's and the next
    /// days' partitions exist, starts the maintenance job and binds `http.bind`. Must run
    /// inside an actix System.
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        if settings.database.migrate_on_start {
            let applied = db::run_migrations(settings.database.url.expose_secret())
                .await
                .context("running migrations at start-up")?;
            if !applied.is_empty() {
                tracing::info!(?applied, "migrations applied");
            }
        }
        let pool = db::build_pool(&settings.database)
            .await
            .context("connecting to the database")?;

        let partitions =
            PartitionMaintainer::new(pool.clone(), settings.partitions.clone(), clock).start();
        partitions
            .send(Maintain)
            .await
            .context("partition job stopped")?
            .context("creating event partitions at start-up")?;

        let listener = TcpListener::bind(settings.bind_addr()?)
            .with_context(|| format!("binding http.bind = {}", settings.http.bind))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            settings: settings.clone(),
        });
        let workers = match settings.http.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(http::request_id_header))
                .wrap(TracingLogger::default())
                .app_data(state.clone())
                .configure(http::routes)
        })
        .workers(workers)
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            pool,
            partitions,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database pool the server uses.
    pub fn pool(&self) -> &DbPool {
        &self.pool
    }

    /// The partition maintenance job.
    pub fn partitions(&self) -> Addr<PartitionMaintainer> {
        self.partitions.clone()
    }

    /// Serves until SIGINT/SIGTERM (actix-web handles the signals and drains connections).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

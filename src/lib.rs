//! Mesher: self-hosted error and event monitoring.
//!
//! The library holds everything; the `mesher` binary only parses the command line and calls
//! into [`cli`]. [`Application`] is the server, built the same way by `mesher serve` and by
//! the integration tests (which bind port 0).

pub mod alerts;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod live;
pub mod telemetry;
pub mod web;

use std::net::TcpListener;
use std::sync::Arc;

use actix::{Actor, Addr};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer};
use anyhow::Context as _;
use secrecy::ExposeSecret;
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;

use crate::auth::project_key::KeyCache;
use crate::auth::throttle::LoginThrottle;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::DbPool;
use crate::http::metrics::Metrics;
use crate::ingest::WriterRegistry;
use crate::jobs::node_run::{self, NodeRun};
use crate::jobs::partitions::{Maintain, PartitionMaintainer};
use crate::live::LiveHub;

/// Batches of facts waiting for the live stream's publisher, and notices waiting for its
/// loader, before more are left out (counted).
const LIVE_QUEUE: usize = 1024;
/// Batches of facts waiting for the alert evaluator before more are left out (counted).
const ALERTS_QUEUE: usize = 1024;

/// Shared state of the HTTP handlers.
pub struct AppState {
    pub pool: DbPool,
    pub settings: Arc<Settings>,
    pub registry: WriterRegistry,
    pub keys: KeyCache,
    pub metrics: Metrics,
    pub clock: Clock,
    pub throttle: LoginThrottle,
    /// `http.trusted_proxies`, parsed (see `http::client_ip`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// An argon2 hash of a random password, verified against when a login names an unknown
    /// email, so that takes as long as a wrong password.
    pub dummy_hash: String,
    /// The OpenAPI document, rendered once.
    pub openapi_json: String,
    /// This node's live stream subscribers.
    pub live: LiveHub,
    /// The UI's one-time messages across a redirect (a new key's secret).
    pub flash: web::flash::Flash,
    /// This node's alert counters and the bell of its delivery worker.
    pub alerts: alerts::Alerts,
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    /// Held so the maintenance actor lives as long as the server (an actor whose last
    /// address is dropped stops).
    _partitions: Addr<PartitionMaintainer>,
    registry: WriterRegistry,
    /// This process's run record and heartbeat (marked stopped after the drain).
    node_run: Addr<NodeRun>,
    live: LiveHub,
    /// The project key cache, whose key uses not yet written are written at shutdown.
    keys: KeyCache,
}

impl Application {
    /// Builds the server with the real clock. See [`Application::build_with_clock`].
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, clock::system()).await
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

        // The writers' COPY connections (db/copy.rs), unless `writer.copy_events` is off.
        let copy = if settings.writer.copy_events {
            Some(
                db::copy::build_pool(&settings.database)
                    .await
                    .context("setting up the COPY connections")?,
            )
        } else {
            None
        };

        let partitions =
            PartitionMaintainer::new(pool.clone(), settings.partitions.clone(), clock.clone())
                .start();
        partitions
            .send(Maintain)
            .await
            .context("partition job stopped")?
            .context("creating event partitions at start-up")?;

        let listener = TcpListener::bind(settings.bind_addr()?)
            .with_context(|| format!("binding http.bind = {}", settings.http.bind))?;
        let port = listener.local_addr()?.port();
        if let Some(warning) = metrics_warning(&settings) {
            tracing::warn!("{warning}");
        }
        // The durable spool, when configured: opened (and indexed) before anything is
        // accepted; what a previous run left is replayed, as spilled events, once the
        // writers exist.
        let (spool, spooled) = match &settings.writer.spool_dir {
            Some(dir) => {
                let (spool, records) = ingest::spool::Spool::open(dir, &settings.writer)
                    .with_context(|| format!("opening writer.spool_dir = {}", dir.display()))?;
                (Some(spool), records)
            }
            None => (None, Default::default()),
        };
        // The live stream: the writers' facts → this node's NOTIFY publisher; this node's
        // LISTEN → the loader → the hub's subscribers (docs/architecture.md, "The live stream").
        let facts = ingest::FactsBus::new();
        let live = LiveHub::new();
        let (notices_tx, notices_rx) = tokio::sync::mpsc::channel(LIVE_QUEUE);
        actix_rt::spawn(live::publish::run(
            settings.database.url.clone(),
            facts.subscribe("stream", LIVE_QUEUE),
            live.clone(),
        ));
        actix_rt::spawn(live::listen::run(
            settings.database.url.clone(),
            live.clone(),
            notices_tx,
        ));
        actix_rt::spawn(http::stream::load_notices(
            pool.clone(),
            live.clone(),
            notices_rx,
        ));
        // Alerts: the writers' facts → this node's evaluator → `alert_deliveries` → the
        // delivery worker of any node (docs/alerts.md).
        let alerting = alerts::Alerts::default();
        actix_rt::spawn(
            alerts::evaluator::Evaluator {
                pool: pool.clone(),
                settings: settings.clone(),
                alerts: alerting.clone(),
                clock: clock.clone(),
            }
            .run(facts.subscribe("alerts", ALERTS_QUEUE)),
        );
        alerts::deliver::start(alerts::deliver::Worker {
            pool: pool.clone(),
            settings: settings.alerts.clone(),
            webhooks: alerts::webhook::Webhooks::new(settings.alerts.allow_private_targets)
                .context("building the webhook client")?,
            mailer: alerts::email::Mailer::new(&settings.smtp).context("setting up [smtp]")?,
            alerts: alerting.clone(),
            clock: clock.clone(),
        });
        // Writers run on their own arbiters, started once here (not per HTTP worker).
        let registry = WriterRegistry::with_spool(
            pool.clone(),
            settings.writer_settings(),
            settings.writer.arbiters,
            spool.clone(),
            facts,
        )
        .with_copy(copy);
        let node_run = {
            let (pool, registry) = (pool.clone(), registry.clone());
            let (node, wait) = (settings.node.clone(), settings.acquire_timeout());
            actix::Supervisor::start(move |_| NodeRun::new(pool, registry, node, wait))
        };
        let document = http::openapi::document();
        ingest::spool::replay::replay(&registry, spooled);
        let keys = KeyCache::new(
            pool.clone(),
            std::time::Duration::from_millis(settings.auth.key_cache_ttl_ms),
            settings.acquire_timeout(),
        );
        let state = actix_web::web::Data::new(AppState {
            pool: pool.clone(),
            settings: settings.clone(),
            registry: registry.clone(),
            keys: keys.clone(),
            metrics: Metrics::default(),
            clock,
            throttle: LoginThrottle::new(
                settings.auth.login_max_failures,
                settings.auth.login_max_failures_per_ip,
                std::time::Duration::from_secs(settings.auth.login_lockout_secs),
            ),
            trusted_proxies: settings.http.trusted_proxy_nets()?,
            dummy_hash: auth::password::hash(secrecy::SecretString::from(
                uuid::Uuid::now_v7().to_string(),
            ))
            .await
            .context("computing the dummy password hash")?,
            openapi_json: serde_json::to_string(&document)?,
            live: live.clone(),
            flash: web::flash::Flash::default(),
            alerts: alerting,
        });
        let allowed = http::allowed_methods(&document);
        let workers = match settings.http.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(auth::extractors::csrf_guard))
                .wrap(http::security_headers())
                .wrap(from_fn(http::request_id_header))
                .wrap(TracingLogger::<http::span::MesherRootSpan>::new())
                .app_data(state.clone())
                .configure(http::extractor_config)
                .into_utoipa_app()
                .configure(http::routes)
                .into_app()
                .configure(http::method_not_allowed(&allowed))
                .configure(web::routes)
                .default_service(actix_web::web::to(http::not_found))
        })
        .on_connect(http::stream::on_connect)
        .workers(workers)
        .disable_signals()
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            _partitions: partitions,
            registry,
            node_run,
            live,
            keys,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The per-project storage writers.
    pub fn registry(&self) -> WriterRegistry {
        self.registry.clone()
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully (see [`Self::run_until`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes (or the server fails). Then the HTTP server stops
    /// accepting and finishes the requests in progress, and only then every writer flushes
    /// its buffer, so every event answered 2xx is stored (or counted) before this returns.
    ///
    /// Signals are handled here, not by actix-server: its handler stops the whole actix
    /// System right after the HTTP server, which would kill the writers' arbiters before they
    /// flush. See docs/architecture.md, “Shutdown”.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> std::io::Result<()> {
        let handle = self.server.handle();
        let mut server = actix_rt::spawn(self.server);
        let served = tokio::select! {
            result = &mut server => result,
            () = stop => {
                tracing::info!("shutting down: stopping the HTTP server");
                // Live streams never end by themselves: end them, so the graceful stop
                // does not wait for them.
                self.live.close();
                handle.stop(true).await;
                server.await
            }
        };
        tracing::info!("HTTP server stopped; flushing writer buffers");
        self.registry.drain().await;
        tracing::info!("all buffers flushed");
        self.keys.flush_uses().await;
        if self.node_run.send(node_run::Stop).await.unwrap_or(false) {
            tracing::info!("run marked stopped");
        }
        served.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// The start-up warning for a `/metrics` open beyond this machine: `http.bind` is not a
/// loopback address and no `metrics.token` is set.
pub fn metrics_warning(settings: &Settings) -> Option<String> {
    (settings.binds_beyond_loopback() && settings.metrics.token.is_none()).then(|| {
        format!(
            "http.bind = {} is not a loopback address and metrics.token is not set: anyone who \
             reaches this port can read /metrics (project ids and volumes); set metrics.token \
             (MESHER__METRICS__TOKEN) or restrict access to the port",
            settings.http.bind
        )
    })
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        _ = term.recv() => tracing::info!("SIGTERM received"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_metrics_route_beyond_loopback_is_warned_about() {
        let mut s = Settings::load_from(std::path::Path::new("/nonexistent"), "none", false)
            .expect("defaults");
        let token = || Some(secrecy::SecretString::from("0123456789abcdef0123"));
        let cases = [
            ("127.0.0.1:8080", None, false),
            ("[::1]:8080", None, false),
            ("0.0.0.0:8080", None, true),
            ("192.168.1.5:8080", None, true),
            ("0.0.0.0:8080", token(), false),
        ];
        for (bind, t, warned) in cases {
            s.http.bind = bind.into();
            s.metrics.token = t;
            assert_eq!(metrics_warning(&s).is_some(), warned, "{bind}");
        }
    }
}

//! Typed, layered, validated settings.
//!
//! Layers, later wins: the built-in `config/default.toml` (compiled in, so the binary runs
//! from any directory) → `<dir>/default.toml` → `<dir>/<MESHER_ENV>.toml` → `MESHER__…`
//! environment variables (`__` between section and key) → `DATABASE_URL` when
//! `MESHER__DATABASE__URL` is absent. `<dir>` is `MESHER_CONFIG_DIR`, else `./config`.

use std::net::SocketAddr;
use std::path::PathBuf;

use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::event::MAX_BATCH_EVENTS;

mod alerts;
pub use alerts::{AlertsSettings, SmtpSettings};

const BUILTIN_DEFAULTS: &str = include_str!("../config/default.toml");

/// Why settings could not be loaded: always names the offending key when there is one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid configuration: {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

/// All of Mesher's settings.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub writer: WriterSettings,
    pub partitions: PartitionSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub node: NodeSettings,
    #[serde(default)]
    pub stream: StreamSettings,
    #[serde(default)]
    pub alerts: AlertsSettings,
    #[serde(default)]
    pub smtp: SmtpSettings,
}

/// The live stream (`GET …/projects/{project}/stream`, Server-Sent Events).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct StreamSettings {
    /// A comment is sent to every stream this often, so proxies keep it open and a client
    /// notices a dead connection.
    pub heartbeat_secs: u64,
    /// The `retry:` hint: how long a client waits before reconnecting.
    pub retry_ms: u64,
    /// Messages (one committed batch's worth each) a client may be behind; one that stays
    /// that far behind for 2 s is disconnected.
    pub client_buffer: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            heartbeat_secs: 15,
            retry_ms: 3000,
            client_buffer: 64,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// Full connection URL; may hold a password, so it never prints.
    pub url: SecretString,
    pub pool_size: u32,
    pub statement_timeout_ms: u64,
    pub connect_timeout_secs: u64,
    /// How long ingestion waits for a pooled connection: a key lookup, a writer's flush
    /// attempt. Short, so that an outage is noticed at once (a known key is then served from
    /// the cache, an unknown one is a fast 503) and retries take the time the writer's
    /// settings say.
    pub acquire_timeout_ms: u64,
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    pub bind: String,
    pub public_url: String,
    pub secure_cookies: bool,
    pub body_limit: usize,
    pub event_limit: usize,
    /// Event items one Sentry envelope may carry; above it the whole envelope is 413
    /// `too_many_events`.
    pub max_envelope_events: usize,
    pub workers: usize,
    /// Reverse proxies (CIDRs, or single addresses) whose `X-Forwarded-For` / `Forwarded`
    /// name the client; from any other peer those headers are ignored. See
    /// `HttpSettings::trusted_proxy_nets` and `http::client_ip`.
    pub trusted_proxies: Vec<String>,
}

impl HttpSettings {
    /// `trusted_proxies` parsed: `10.0.0.0/8`, `2001:db8::/32`, or one address (`10.0.0.5`,
    /// a /32 or /128). The error names the entry that is neither.
    pub fn trusted_proxy_nets(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|entry| entry.trim())
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<ipnet::IpNet>()
                    .map(|net| net.trunc())
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| ConfigError::Invalid {
                        key: "http.trusted_proxies",
                        message: format!(
                            "{entry:?} is not an address or a CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)"
                        ),
                    })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct WriterSettings {
    pub buffer_capacity: usize,
    /// Every project's buffered events together may hold at most this many bytes (see
    /// `ingest::memory`); over it, the largest buffers drop their oldest events.
    #[serde(default = "default_max_buffered_bytes")]
    pub max_buffered_bytes: u64,
    /// A flush starts when this many events are buffered (or on the timer).
    pub batch_size: usize,
    /// While a backlog exists a batch takes up to this many events (at least `batch_size`
    /// whatever this says; 0 or anything below it: batches never grow past `batch_size`).
    #[serde(default = "default_max_batch_size")]
    pub max_batch_size: usize,
    /// Send the events rows by binary `COPY` over a tokio-postgres connection (`db/copy.rs`);
    /// false: `INSERT … FROM unnest` through diesel.
    #[serde(default = "default_true")]
    pub copy_events: bool,
    /// With `copy_events`: a batch of fewer events than this is written in one transaction
    /// together with other projects' small batches (`ingest::group`); 0: every batch alone.
    #[serde(default = "default_group_below")]
    pub group_below: usize,
    /// While a project's buffer holds more than half its capacity, an ingest request's answer
    /// waits up to this long for the writer to take its next batch (0: never waits).
    #[serde(default = "default_answer_later_ms")]
    pub answer_later_ms: u64,
    pub flush_interval_ms: u64,
    pub max_retries: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Dedicated threads (actix arbiters) the writers are spread over.
    pub arbiters: usize,
    /// Let tests make a writer panic on purpose. Never on in production.
    pub allow_crash: bool,
    /// Per-project ingestion rate limit in events per second (0: none), and its burst.
    pub rate_limit_per_sec: u32,
    pub rate_limit_burst: u32,
    /// A project's writer that received nothing for this long, with nothing buffered, stops
    /// (and starts again on its next event); 0: never. Checked on the writer's flush timer, so
    /// in effect at least `flush_interval_ms`.
    #[serde(default = "default_idle_stop_secs")]
    pub idle_stop_secs: u64,
    /// How long a flush attempt waits for a pooled connection: `database.acquire_timeout_ms`,
    /// filled in by [`Settings::writer_settings`]; `None` waits as long as the pool does.
    #[serde(skip)]
    pub acquire_timeout: Option<std::time::Duration>,
    /// The durable spool's directory; none (the default): no spool, "202" means "buffered".
    #[serde(default)]
    pub spool_dir: Option<PathBuf>,
    /// When the spool syncs appended events to disk (each answered only after its sync).
    #[serde(default)]
    pub spool_fsync: SpoolFsync,
    /// With `spool_fsync = "interval"`: at most one sync this often, shared by all requests.
    #[serde(default = "default_spool_fsync_ms")]
    pub spool_fsync_ms: u64,
    /// The spool's size cap; at it, the oldest segments are deleted to make room (their
    /// events stay buffered in memory but are no longer safe from a crash).
    #[serde(default = "default_spool_max_bytes")]
    pub spool_max_bytes: u64,
    /// A segment file is closed and a new one started past this size.
    #[serde(default = "default_spool_segment_bytes")]
    pub spool_segment_bytes: u64,
}

/// `writer.spool_fsync`: sync every group of appends at once, or at most every
/// `spool_fsync_ms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpoolFsync {
    Always,
    #[default]
    Interval,
}

fn default_max_buffered_bytes() -> u64 {
    128 << 20
}

impl WriterSettings {
    /// The most events one batch takes: `max_batch_size`, and never less than `batch_size`.
    pub fn batch_cap(&self) -> usize {
        self.max_batch_size.max(self.batch_size)
    }
}

fn default_max_batch_size() -> usize {
    2000
}

fn default_answer_later_ms() -> u64 {
    250
}

fn default_group_below() -> usize {
    100
}

fn default_true() -> bool {
    true
}

fn default_idle_stop_secs() -> u64 {
    300
}

/// The longest `writer.idle_stop_secs` (a week).
pub const MAX_IDLE_STOP_SECS: u64 = 7 * 24 * 3600;

fn default_spool_fsync_ms() -> u64 {
    10
}

fn default_spool_max_bytes() -> u64 {
    1 << 30
}

fn default_spool_segment_bytes() -> u64 {
    16 << 20
}

#[derive(Debug, Clone, Deserialize)]
pub struct PartitionSettings {
    pub days_ahead: u32,
    pub retention_days: u32,
    pub check_interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub allow_registration: bool,
    pub session_idle_timeout_secs: u64,
    pub session_absolute_timeout_secs: u64,
    /// How long a project key lookup (found or not) is cached; at most
    /// [`MAX_KEY_CACHE_TTL_MS`], so a revoked key stops working within 5 s on every node
    /// (on the node that revokes it, at once).
    pub key_cache_ttl_ms: u64,
    /// Failed logins per account, and per client address, before logins are refused (429)
    /// for `login_lockout_secs`.
    pub login_max_failures: u32,
    pub login_max_failures_per_ip: u32,
    pub login_lockout_secs: u64,
}

/// `GET /metrics`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetricsSettings {
    /// When set, `/metrics` answers only requests with `Authorization: Bearer <token>`.
    pub token: Option<SecretString>,
}

/// This process as one node among those sharing the database: its run record
/// (`node_runs`), refreshed by a heartbeat, so a crash is reported by the next node.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NodeSettings {
    /// How often the run's heartbeat (and totals) is written; a run is taken for gone after
    /// [`STALE_BEATS`] of its intervals without one.
    pub heartbeat_ms: u64,
    /// Runs whose last heartbeat is older than this are deleted.
    pub run_retention_days: u32,
}

impl Default for NodeSettings {
    fn default() -> Self {
        Self {
            heartbeat_ms: 1000,
            run_retention_days: 7,
        }
    }
}

/// Heartbeat intervals without a beat after which a run that did not stop cleanly is taken
/// for gone (crashed or killed).
pub const STALE_BEATS: u32 = 5;

/// The largest `auth.key_cache_ttl_ms`: a revoked key must stop within 5 s on every node, and
/// 1 s of that is left for requests already in progress.
pub const MAX_KEY_CACHE_TTL_MS: u64 = 4000;

/// The longest `database.acquire_timeout_ms`: longer waits would bring back what it
/// exists to prevent (ingestion stalling on a database that is down).
pub const MAX_ACQUIRE_TIMEOUT_MS: u64 = 5000;

/// The shortest `metrics.token` accepted.
pub const MIN_METRICS_TOKEN_LEN: usize = 16;

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Settings {
    /// Loads the layers for the environment named by `MESHER_ENV` (default `development`).
    pub fn load() -> Result<Self, ConfigError> {
        let env_name = std::env::var("MESHER_ENV").unwrap_or_else(|_| "development".into());
        let dir = std::env::var_os("MESHER_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("config"));
        Self::load_from(&dir, &env_name, true)
    }

    /// Loads the file layers of `dir` for `env_name`; process environment variables are
    /// applied only when `with_env` (tests leave them out to stay hermetic).
    pub fn load_from(
        dir: &std::path::Path,
        env_name: &str,
        with_env: bool,
    ) -> Result<Self, ConfigError> {
        let mut builder = Config::builder()
            .add_source(File::from_str(BUILTIN_DEFAULTS, FileFormat::Toml))
            .add_source(File::from(dir.join("default.toml")).required(false))
            .add_source(File::from(dir.join(format!("{env_name}.toml"))).required(false));
        if with_env {
            builder = builder.add_source(env_source());
            if std::env::var_os("MESHER__DATABASE__URL").is_none()
                && let Ok(url) = std::env::var("DATABASE_URL")
            {
                builder = builder.set_override("database.url", url)?;
            }
        }
        let settings: Settings = builder.build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types alone cannot; the error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
            ConfigError::Invalid {
                key,
                message: message.into(),
            }
        }
        let url = self.database.url.expose_secret();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(invalid(
                "database.url",
                "must start with postgres:// or postgresql://",
            ));
        }
        if self.database.pool_size == 0 {
            return Err(invalid("database.pool_size", "must be at least 1"));
        }
        if !(1..=MAX_ACQUIRE_TIMEOUT_MS).contains(&self.database.acquire_timeout_ms) {
            return Err(invalid(
                "database.acquire_timeout_ms",
                format!("must be between 1 and {MAX_ACQUIRE_TIMEOUT_MS}"),
            ));
        }
        self.bind_addr()?;
        let public = &self.http.public_url;
        if !(public.starts_with("http://") || public.starts_with("https://")) {
            return Err(invalid(
                "http.public_url",
                format!("{public:?} must start with http:// or https://"),
            ));
        }
        self.http.trusted_proxy_nets()?;
        if self.http.event_limit == 0 || self.http.event_limit > self.http.body_limit {
            return Err(invalid(
                "http.event_limit",
                "must be between 1 and http.body_limit",
            ));
        }
        if !(1..=MAX_BATCH_EVENTS).contains(&self.http.max_envelope_events) {
            return Err(invalid(
                "http.max_envelope_events",
                format!("must be between 1 and {MAX_BATCH_EVENTS}"),
            ));
        }
        if let Some(token) = &self.metrics.token
            && token.expose_secret().trim().len() < MIN_METRICS_TOKEN_LEN
        {
            return Err(invalid(
                "metrics.token",
                format!("must be at least {MIN_METRICS_TOKEN_LEN} characters (or unset)"),
            ));
        }
        self.alerts.validate()?;
        self.smtp.validate()?;
        let w = &self.writer;
        if w.batch_size == 0 || w.batch_size > 5000 {
            return Err(invalid("writer.batch_size", "must be between 1 and 5000"));
        }
        if w.max_batch_size > 5000 {
            return Err(invalid(
                "writer.max_batch_size",
                "must be at most 5000 (0: batches of writer.batch_size)",
            ));
        }
        if w.answer_later_ms > 5000 {
            return Err(invalid(
                "writer.answer_later_ms",
                "must be at most 5000 (0: answers never wait)",
            ));
        }
        if w.group_below > 5000 {
            return Err(invalid(
                "writer.group_below",
                "must be at most 5000 (0: no batch is written with others)",
            ));
        }
        if w.buffer_capacity < w.batch_size {
            return Err(invalid(
                "writer.buffer_capacity",
                "must be at least writer.batch_size",
            ));
        }
        if w.max_buffered_bytes < 1 << 20 {
            return Err(invalid(
                "writer.max_buffered_bytes",
                "must be at least 1048576 (1 MiB)",
            ));
        }
        if w.flush_interval_ms == 0 {
            return Err(invalid("writer.flush_interval_ms", "must be at least 1"));
        }
        if w.spool_fsync_ms == 0 {
            return Err(invalid("writer.spool_fsync_ms", "must be at least 1"));
        }
        if w.spool_segment_bytes < 4096 || w.spool_segment_bytes > w.spool_max_bytes {
            return Err(invalid(
                "writer.spool_segment_bytes",
                "must be at least 4096 and at most writer.spool_max_bytes",
            ));
        }
        if w.idle_stop_secs > MAX_IDLE_STOP_SECS {
            return Err(invalid(
                "writer.idle_stop_secs",
                format!("must be at most {MAX_IDLE_STOP_SECS} (a week; 0 = never)"),
            ));
        }
        if w.arbiters == 0 || w.arbiters > 64 {
            return Err(invalid("writer.arbiters", "must be between 1 and 64"));
        }
        if !(1..=MAX_KEY_CACHE_TTL_MS).contains(&self.auth.key_cache_ttl_ms) {
            return Err(invalid(
                "auth.key_cache_ttl_ms",
                format!(
                    "must be between 1 and {MAX_KEY_CACHE_TTL_MS} (revoked keys must stop within 5 s)"
                ),
            ));
        }
        if !(100..=60_000).contains(&self.node.heartbeat_ms) {
            return Err(invalid(
                "node.heartbeat_ms",
                "must be between 100 and 60000",
            ));
        }
        if self.node.run_retention_days == 0 {
            return Err(invalid("node.run_retention_days", "must be at least 1"));
        }
        if self.partitions.retention_days == 0 {
            return Err(invalid("partitions.retention_days", "must be at least 1"));
        }
        if self.partitions.check_interval_secs == 0 {
            return Err(invalid(
                "partitions.check_interval_secs",
                "must be at least 1",
            ));
        }
        if self.stream.heartbeat_secs == 0 {
            return Err(invalid("stream.heartbeat_secs", "must be at least 1"));
        }
        if self.stream.client_buffer == 0 {
            return Err(invalid("stream.client_buffer", "must be at least 1"));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid(
                "log.level",
                format!("{:?} is not a valid level or filter", self.log.level),
            ));
        }
        Ok(())
    }

    /// The writers' settings, with the database's `acquire_timeout_ms`.
    pub fn writer_settings(&self) -> WriterSettings {
        WriterSettings {
            acquire_timeout: Some(self.acquire_timeout()),
            ..self.writer.clone()
        }
    }

    /// `database.acquire_timeout_ms`.
    pub fn acquire_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.database.acquire_timeout_ms)
    }

    /// `http.bind` as a socket address.
    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.http.bind.parse().map_err(|_| ConfigError::Invalid {
            key: "http.bind",
            message: format!(
                "{:?} is not a socket address (expected host:port, e.g. 127.0.0.1:8080)",
                self.http.bind
            ),
        })
    }

    /// Whether `http.bind` listens beyond this machine (not a loopback address).
    pub fn binds_beyond_loopback(&self) -> bool {
        self.bind_addr().is_ok_and(|a| !a.ip().is_loopback())
    }

    /// `http.public_url` without a trailing slash.
    pub fn public_url(&self) -> &str {
        self.http.public_url.trim_end_matches('/')
    }

    /// The Sentry DSN of a project key: `<scheme>://<key>@<host[:port][/path]>/<number>`.
    pub fn dsn(&self, key: &str, project_number: i32) -> String {
        let url = self.public_url();
        let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
        format!("{scheme}://{key}@{rest}/{project_number}")
    }
}

/// The `MESHER__SECTION__KEY` variables; list settings take comma-separated values
/// (`MESHER__HTTP__TRUSTED_PROXIES=10.0.0.0/8,192.168.0.0/16`).
fn env_source() -> Environment {
    Environment::with_prefix("MESHER")
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(",")
        .with_list_parse_key("http.trusted_proxies")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Settings {
        Settings::load_from(std::path::Path::new("/nonexistent"), "none", false).unwrap()
    }

    #[test]
    fn built_in_defaults_are_valid() {
        let s = defaults();
        assert_eq!(s.http.bind, "127.0.0.1:8080");
        assert_eq!(s.writer.buffer_capacity, 10_000);
        assert_eq!(s.writer.max_buffered_bytes, 128 << 20);
        assert_eq!(s.writer.idle_stop_secs, 300);
        assert_eq!(
            (s.writer.max_batch_size, s.writer.copy_events),
            (2000, true)
        );
        assert_eq!(s.partitions.days_ahead, 7);
        assert_eq!(s.partitions.retention_days, 90);
        assert_eq!(s.log.format, LogFormat::Pretty);
        assert_eq!(s.http.max_envelope_events, 100);
        assert!(s.auth.key_cache_ttl_ms <= 4000);
        assert!(s.metrics.token.is_none());
    }

    #[test]
    fn dsn_puts_the_key_before_the_host() {
        let mut s = defaults();
        s.http.public_url = "https://errors.example.com/".into();
        assert_eq!(
            s.dsn("mshr_abc", 7),
            "https://mshr_abc@errors.example.com/7"
        );
    }

    #[test]
    fn bad_bind_names_the_key() {
        let mut s = defaults();
        s.http.bind = "not-an-address".into();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("http.bind"), "{err}");
    }

    #[test]
    fn database_url_never_prints() {
        let mut s = defaults();
        s.database.url = SecretString::from("postgres://u:hunter2@h/db");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn each_rule_names_its_key() {
        type Mutation = Box<dyn Fn(&mut Settings)>;
        let cases: Vec<(&str, Mutation)> = vec![
            (
                "database.url",
                Box::new(|s| s.database.url = SecretString::from("mysql://x")),
            ),
            ("database.pool_size", Box::new(|s| s.database.pool_size = 0)),
            (
                "database.acquire_timeout_ms",
                Box::new(|s| s.database.acquire_timeout_ms = 0),
            ),
            (
                "http.public_url",
                Box::new(|s| s.http.public_url = "example.com".into()),
            ),
            ("writer.batch_size", Box::new(|s| s.writer.batch_size = 0)),
            (
                "writer.max_batch_size",
                Box::new(|s| s.writer.max_batch_size = 5001),
            ),
            (
                "writer.answer_later_ms",
                Box::new(|s| s.writer.answer_later_ms = 5001),
            ),
            (
                "writer.group_below",
                Box::new(|s| s.writer.group_below = 5001),
            ),
            (
                "stream.heartbeat_secs",
                Box::new(|s| s.stream.heartbeat_secs = 0),
            ),
            (
                "stream.client_buffer",
                Box::new(|s| s.stream.client_buffer = 0),
            ),
            (
                "writer.buffer_capacity",
                Box::new(|s| s.writer.buffer_capacity = 1),
            ),
            (
                "writer.max_buffered_bytes",
                Box::new(|s| s.writer.max_buffered_bytes = 1000),
            ),
            (
                "writer.idle_stop_secs",
                Box::new(|s| s.writer.idle_stop_secs = MAX_IDLE_STOP_SECS + 1),
            ),
            (
                "partitions.retention_days",
                Box::new(|s| s.partitions.retention_days = 0),
            ),
            ("log.level", Box::new(|s| s.log.level = "[[".into())),
            (
                "http.trusted_proxies",
                Box::new(|s| s.http.trusted_proxies = vec!["10.0.0.0/8".into(), "proxy".into()]),
            ),
            (
                "http.trusted_proxies",
                Box::new(|s| s.http.trusted_proxies = vec!["10.0.0.0/33".into()]),
            ),
            (
                "http.max_envelope_events",
                Box::new(|s| s.http.max_envelope_events = 0),
            ),
            (
                "http.max_envelope_events",
                Box::new(|s| s.http.max_envelope_events = 1001),
            ),
            (
                "auth.key_cache_ttl_ms",
                Box::new(|s| s.auth.key_cache_ttl_ms = 4001),
            ),
            (
                "metrics.token",
                Box::new(|s| s.metrics.token = Some(SecretString::from("short"))),
            ),
        ];
        for (key, mutate) in cases {
            let mut s = defaults();
            mutate(&mut s);
            let err = s.validate().unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn trusted_proxies_take_cidrs_and_addresses_also_from_the_environment() {
        assert!(defaults().http.trusted_proxies.is_empty());
        let vars = [(
            "MESHER__HTTP__TRUSTED_PROXIES".to_owned(),
            "10.0.0.0/8, 192.168.1.7,2001:db8::/32".to_owned(),
        )];
        let s: Settings = Config::builder()
            .add_source(File::from_str(BUILTIN_DEFAULTS, FileFormat::Toml))
            .add_source(env_source().source(Some(vars.into_iter().collect())))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap();
        let nets: Vec<String> = s
            .http
            .trusted_proxy_nets()
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32"]);
    }

    #[test]
    fn wrong_type_in_file_names_the_key() {
        let dir = std::env::temp_dir().join(format!("mesher-cfg-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bad.toml"), "[writer]\nbatch_size = \"lots\"\n").unwrap();
        let err = Settings::load_from(&dir, "bad", false)
            .unwrap_err()
            .to_string();
        std::fs::remove_dir_all(&dir).ok();
        assert!(err.contains("batch_size"), "{err}");
    }
}

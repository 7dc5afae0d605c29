//! `GET /metrics`: the per-project ingestion counters (docs/architecture.md, “Accounting”) in
//! Prometheus text format.
//!
//! The counters' source of truth is the registry's atomics (they also back the stats API and
//! the accounting invariant); at scrape time they are copied into this app's own Prometheus
//! recorder (a local recorder, not the process-global one, so several apps in one test
//! process do not mix) and rendered by it.
//!
//! With `metrics.token` set, a scrape must send `Authorization: Bearer <token>` (401
//! otherwise); the comparison takes the same time wherever the tokens differ.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{HttpRequest, HttpResponse, get, web};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::alerts::Alerts;
use crate::auth::project_key::KeyCache;
use crate::domain::ErrorCode;
use crate::error::ApiError;
use crate::ingest::WriterRegistry;
use crate::live::LiveHub;
use std::sync::atomic::Ordering;

/// This application's Prometheus recorder.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            metrics::describe_counter!(
                "mesher_events_accepted_total",
                "Events accepted into a project's writer buffer (answered 202/200)."
            );
            metrics::describe_counter!(
                "mesher_events_stored_total",
                "Events written to PostgreSQL."
            );
            metrics::describe_counter!(
                "mesher_events_dropped_total",
                "Accepted events dropped: reason=buffer_full (drop-oldest), memory_cap (writer.max_buffered_bytes), flush_failed, invalid, project_deleted or spool_full (spilled events whose spool segment was deleted at writer.spool_max_bytes)."
            );
            metrics::describe_gauge!(
                "mesher_buffered_bytes",
                "Bytes held by every project's buffered events together (capped by writer.max_buffered_bytes)."
            );
            metrics::describe_counter!(
                "mesher_events_rejected_total",
                "Events refused as invalid (answered 4xx)."
            );
            metrics::describe_counter!(
                "mesher_events_rate_limited_total",
                "Events refused with 429 by the project's rate limit (never accepted)."
            );
            metrics::describe_counter!(
                "mesher_writer_restarts_total",
                "Times a project's storage writer was restarted after a crash."
            );
            metrics::describe_gauge!(
                "mesher_stream_clients",
                "Open live streams (GET …/stream) on this node."
            );
            metrics::describe_counter!(
                "mesher_stream_clients_dropped_total",
                "Live stream clients disconnected because they did not keep up (reason=slow)."
            );
            metrics::describe_counter!(
                "mesher_stream_notifications_total",
                "Live stream notifications: result=sent or failed (this node's NOTIFYs), received (LISTEN), dropped (received, wanted here, left out: loader behind)."
            );
            metrics::describe_counter!(
                "mesher_stream_listener_reconnects_total",
                "Times the live stream listener connected again after losing its connection."
            );
            metrics::describe_counter!(
                "mesher_facts_dropped_total",
                "Committed batches' facts a consumer lost because its channel was full (consumer=stream, …); the events are stored regardless."
            );
            metrics::describe_counter!(
                "mesher_group_writes_total",
                "Small batches of several projects written together (writer.group_below): what=commits (group transactions), batches (project batches stored by them), handed_back (left to their own writer: the group failed or was full)."
            );
            metrics::describe_counter!(
                "mesher_writer_wakes_total",
                "Wake-ups sent to storage writers for a full batch (none while a flush is in flight: it looks again when done)."
            );
            metrics::describe_counter!(
                "mesher_key_lookups_total",
                "Database lookups of project keys: kind=one (a key not in the cache), refresh (one query for every key in use, each half auth.key_cache_ttl_ms)."
            );
            metrics::describe_gauge!(
                "mesher_writers",
                "Storage writers alive on this node (a project's writer stops after writer.idle_stop_secs without events)."
            );
            metrics::describe_counter!(
                "mesher_alert_notifications_total",
                "Alert notifications of this node: outcome=queued (a rule fired, or a test), delivered, retried (an attempt failed, tried again later) or failed (given up)."
            );
            metrics::describe_counter!(
                "mesher_alert_evaluator_failures_total",
                "Batches of facts the alert evaluator could not evaluate: reason=error (database) or panic."
            );
            metrics::describe_counter!(
                "mesher_alert_rules_reads_total",
                "Reads of every project's enabled alert rules by the evaluator: one query at most once a second, whatever the number of projects."
            );
            metrics::describe_gauge!(
                "mesher_events_buffered",
                "Events accepted and not yet stored or dropped (buffer plus batch in flight)."
            );
            metrics::describe_gauge!(
                "mesher_events_spilled",
                "Accepted events held only in the durable spool (spilled out of a full buffer or the memory cap, given back by a failed batch, or replayed), waiting to be read back."
            );
            // The durable spool (writer.spool_dir), node-wide; absent without it.
            metrics::describe_gauge!(
                "mesher_spool_bytes",
                "Bytes of the durable spool's segment files on disk."
            );
            metrics::describe_gauge!(
                "mesher_spool_segments",
                "Segment files of the durable spool."
            );
            metrics::describe_gauge!(
                "mesher_spool_events_outstanding",
                "Spooled events not yet stored or dropped."
            );
            metrics::describe_counter!(
                "mesher_spool_appended_events_total",
                "Events appended to the spool and synced before their answer."
            );
            metrics::describe_counter!(
                "mesher_spool_fsyncs_total",
                "Syncs of spool segment files and of the spool directory."
            );
            metrics::describe_counter!(
                "mesher_spool_refused_events_total",
                "Events answered 503 because the spool could not take them (an I/O error); never accepted."
            );
            metrics::describe_counter!(
                "mesher_spool_evicted_events_total",
                "Spooled events whose segment was deleted at writer.spool_max_bytes (drop-oldest) while they were in memory: still buffered and stored as usual, but no longer safe from a crash."
            );
            metrics::describe_counter!(
                "mesher_spool_spilled_lost_total",
                "Spilled events (held only in the spool) whose segment was deleted at writer.spool_max_bytes: dropped, reason=spool_full."
            );
            metrics::describe_gauge!(
                "mesher_spool_replay_pending",
                "Events a previous run left in the spool not yet stored or dropped by this one."
            );
            metrics::describe_counter!(
                "mesher_spool_already_stored_total",
                "Events read back from the spool that the database already held (not written again)."
            );
        });
        Self { recorder, handle }
    }
}

impl Metrics {
    /// The current counters of every project and of the node's live stream, as Prometheus
    /// text.
    pub fn render(
        &self,
        registry: &WriterRegistry,
        live: &LiveHub,
        alerts: &Alerts,
        keys: &KeyCache,
    ) -> String {
        metrics::with_local_recorder(&self.recorder, || {
            let (one, rounds) = keys.lookups();
            metrics::counter!("mesher_key_lookups_total", "kind" => "one").absolute(one);
            metrics::counter!("mesher_key_lookups_total", "kind" => "refresh").absolute(rounds);
            let a = &alerts.counters;
            let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
            for (outcome, n) in [
                ("queued", &a.queued),
                ("delivered", &a.delivered),
                ("retried", &a.retried),
                ("failed", &a.failed),
            ] {
                metrics::counter!("mesher_alert_notifications_total", "outcome" => outcome)
                    .absolute(load(n));
            }
            for (reason, n) in [
                ("error", &a.evaluator_errors),
                ("panic", &a.evaluator_panics),
            ] {
                metrics::counter!("mesher_alert_evaluator_failures_total", "reason" => reason)
                    .absolute(load(n));
            }
            metrics::counter!("mesher_alert_rules_reads_total").absolute(load(&a.rules_reads));
            let c = live.counters();
            let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
            metrics::gauge!("mesher_stream_clients").set(live.clients() as f64);
            metrics::counter!("mesher_stream_clients_dropped_total", "reason" => "slow")
                .absolute(load(&c.clients_dropped_slow));
            for (result, n) in [
                ("sent", &c.notices_sent),
                ("failed", &c.notices_failed),
                ("received", &c.notices_received),
                ("dropped", &c.notices_dropped),
            ] {
                metrics::counter!("mesher_stream_notifications_total", "result" => result)
                    .absolute(load(n));
            }
            metrics::counter!("mesher_stream_listener_reconnects_total")
                .absolute(load(&c.listener_reconnects));
            for (consumer, n) in registry.facts().dropped() {
                metrics::counter!("mesher_facts_dropped_total", "consumer" => consumer).absolute(n);
            }
            if let Some(g) = registry.group_counters() {
                for (what, n) in [
                    ("commits", &g.commits),
                    ("batches", &g.batches),
                    ("handed_back", &g.handed_back),
                ] {
                    metrics::counter!("mesher_group_writes_total", "what" => what)
                        .absolute(load(n));
                }
            }
            metrics::counter!("mesher_writer_wakes_total").absolute(registry.wakes());
            metrics::gauge!("mesher_buffered_bytes").set(registry.buffered_bytes() as f64);
            for (project_id, s) in registry.snapshots() {
                let p = project_id.to_string();
                metrics::counter!("mesher_events_accepted_total", "project_id" => p.clone())
                    .absolute(s.accepted);
                metrics::counter!("mesher_events_stored_total", "project_id" => p.clone())
                    .absolute(s.stored);
                metrics::counter!("mesher_events_dropped_total", "project_id" => p.clone(), "reason" => "buffer_full")
                    .absolute(s.dropped_buffer_full);
                metrics::counter!("mesher_events_dropped_total", "project_id" => p.clone(), "reason" => "memory_cap")
                    .absolute(s.dropped_memory_cap);
                metrics::counter!("mesher_events_dropped_total", "project_id" => p.clone(), "reason" => "flush_failed")
                    .absolute(s.dropped_flush_failed);
                metrics::counter!("mesher_events_dropped_total", "project_id" => p.clone(), "reason" => "invalid")
                    .absolute(s.dropped_invalid);
                metrics::counter!("mesher_events_dropped_total", "project_id" => p.clone(), "reason" => "project_deleted")
                    .absolute(s.dropped_project_deleted);
                metrics::counter!("mesher_events_dropped_total", "project_id" => p.clone(), "reason" => "spool_full")
                    .absolute(s.dropped_spool_full);
                metrics::gauge!("mesher_events_spilled", "project_id" => p.clone())
                    .set(s.spilled as f64);
                metrics::counter!("mesher_events_rejected_total", "project_id" => p.clone())
                    .absolute(s.rejected);
                metrics::counter!("mesher_events_rate_limited_total", "project_id" => p.clone())
                    .absolute(s.rate_limited);
                metrics::counter!("mesher_writer_restarts_total", "project_id" => p.clone())
                    .absolute(s.writer_restarts);
                metrics::gauge!("mesher_events_buffered", "project_id" => p).set(s.buffered as f64);
            }
            metrics::gauge!("mesher_writers").set(registry.live_writers() as f64);
            if let Some(spool) = registry.spool() {
                let s = spool.stats();
                metrics::gauge!("mesher_spool_bytes").set(s.bytes as f64);
                metrics::gauge!("mesher_spool_segments").set(s.segments as f64);
                metrics::gauge!("mesher_spool_events_outstanding").set(s.outstanding as f64);
                metrics::counter!("mesher_spool_appended_events_total").absolute(s.appended);
                metrics::counter!("mesher_spool_fsyncs_total").absolute(s.fsyncs);
                metrics::counter!("mesher_spool_refused_events_total").absolute(s.refused);
                metrics::counter!("mesher_spool_evicted_events_total").absolute(s.evicted);
                metrics::counter!("mesher_spool_spilled_lost_total").absolute(s.spilled_lost);
                metrics::gauge!("mesher_spool_replay_pending").set(s.replay_pending as f64);
                metrics::counter!("mesher_spool_already_stored_total").absolute(s.already_stored);
            }
        });
        self.handle.render()
    }
}

/// Whether the request may scrape: always without a configured token, else only with
/// `Authorization: Bearer <token>`.
fn check_token(req: &HttpRequest, token: Option<&SecretString>) -> Result<(), ApiError> {
    let Some(token) = token else {
        return Ok(());
    };
    let sent = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match sent {
        None => Err(ApiError::unauthorized(
            ErrorCode::Unauthenticated,
            "send the metrics token as Authorization: Bearer <token>",
        )),
        Some(sent) if same_secret(sent.trim(), token.expose_secret()) => Ok(()),
        Some(_) => Err(ApiError::unauthorized(
            ErrorCode::InvalidToken,
            "wrong metrics token",
        )),
    }
}

/// Compares two secrets in constant time: their SHA-256 digests (so the length leaks
/// nothing either), every byte looked at.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The ingestion counters of every project (Prometheus text); with `metrics.token` set,
/// only for `Authorization: Bearer <token>`.
#[utoipa::path(tag = "meta", responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
    (status = 401, description = "`metrics.token` is set and the request does not carry it")))]
#[get("/metrics")]
pub async fn scrape(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    check_token(&req, state.settings.metrics.token.as_ref())?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(
            state
                .metrics
                .render(&state.registry, &state.live, &state.alerts, &state.keys),
        ))
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("a-long-metrics-token", "a-long-metrics-token"));
        assert!(!same_secret("a-long-metrics-token", "a-long-metrics-tokeN"));
        assert!(!same_secret("a-long-metrics-token", "a-long-metrics"));
        assert!(!same_secret("", "x"));
    }
}

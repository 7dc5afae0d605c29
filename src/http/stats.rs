//! `GET /api/v1/orgs/{org}/projects/{project}/stats`: a project's ingestion counters
//! (docs/architecture.md, “Accounting”) and its totals in the database.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::access::Role;
use super::access::{ProjectPath, project_for};
use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::db;
use crate::ingest::CounterSnapshot;

/// A project's ingestion counters and totals.
///
/// The counters (`accepted` to `writer_restarts`) are those of the server process that
/// answers, counted **since that process started**: they start again from zero after a
/// restart, and with several nodes each node counts only the events it received itself (the
/// same numbers as its `/metrics`). They satisfy `accepted = stored + dropped_buffer_full +
/// dropped_memory_cap + dropped_flush_failed + dropped_invalid + dropped_project_deleted +
/// dropped_spool_full + buffered + spilled`; `rejected` events were never accepted and are
/// not in that sum.
///
/// `issues` and `events_stored_total` come from the database: the project's whole history,
/// whichever process stored it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectStats {
    /// Events accepted into the project's writer buffer (answered 2xx).
    pub accepted: u64,
    /// Accepted events written to PostgreSQL.
    pub stored: u64,
    /// Accepted events dropped because the buffer was full (the oldest buffered event goes).
    pub dropped_buffer_full: u64,
    /// Accepted events dropped because the server's buffers together were over
    /// `writer.max_buffered_bytes` (the oldest events of the largest buffers go).
    pub dropped_memory_cap: u64,
    /// Accepted events dropped because their batch still failed to be written after every retry.
    pub dropped_flush_failed: u64,
    /// Accepted events the database refused on their own; the rest of their batch was stored.
    pub dropped_invalid: u64,
    /// Accepted events still buffered when the project was deleted (always 0 while it
    /// exists; kept so the sum above is complete).
    pub dropped_project_deleted: u64,
    /// Accepted events held only in the durable spool (spilled) whose segment was deleted at
    /// `writer.spool_max_bytes` (always 0 without the spool).
    pub dropped_spool_full: u64,
    /// Events refused as invalid (answered 400, or listed in a batch's `rejected`); never
    /// accepted.
    pub rejected: u64,
    /// Accepted events not yet stored or dropped: in the buffer or in the batch being written.
    pub buffered: u64,
    /// Accepted events held only in the durable spool (spilled out of a full buffer or the
    /// memory cap, given back by a batch that could not be written, or replayed at start),
    /// waiting to be read back and stored (always 0 without the spool).
    pub spilled: u64,
    /// Times the project's storage writer was restarted after a crash.
    pub writer_restarts: u64,
    /// Issues of the project (rows of the issues table).
    pub issues: i64,
    /// Events ever stored for the project: the sum of its issues' `times_seen`. It still
    /// counts events whose day partitions retention has since dropped.
    pub events_stored_total: i64,
}

impl ProjectStats {
    fn new(c: CounterSnapshot, issues: i64, events_stored_total: i64) -> Self {
        Self {
            accepted: c.accepted,
            stored: c.stored,
            dropped_buffer_full: c.dropped_buffer_full,
            dropped_memory_cap: c.dropped_memory_cap,
            dropped_flush_failed: c.dropped_flush_failed,
            dropped_invalid: c.dropped_invalid,
            dropped_project_deleted: c.dropped_project_deleted,
            dropped_spool_full: c.dropped_spool_full,
            rejected: c.rejected,
            buffered: c.buffered,
            spilled: c.spilled,
            writer_restarts: c.writer_restarts,
            issues,
            events_stored_total,
        }
    }
}

/// The project's ingestion counters since this server process started, and its totals.
#[utoipa::path(tag = "projects", params(ProjectPath),
    responses((status = 200, body = ProjectStats), (status = 401), (status = 404)))]
#[get("/api/v1/orgs/{org}/projects/{project}/stats")]
pub async fn project_stats(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<ProjectPath>,
) -> Result<HttpResponse, crate::error::ApiError> {
    let (mut conn, project) =
        project_for(&state, &current, &path.org, &path.project, Role::Member).await?;
    let (issues, events) = db::stats::issue_totals(&mut conn, project.id).await?;
    let counters = state.registry.snapshot(project.id);
    Ok(HttpResponse::Ok().json(ProjectStats::new(counters, issues, events)))
}

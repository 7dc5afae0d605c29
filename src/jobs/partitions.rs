//! The partition maintenance job: an actor that keeps day partitions of `events` from
//! yesterday to `days_ahead` and drops those past `retention_days`, every
//! `check_interval_secs` and whenever asked ([`Maintain`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::prelude::*;

use crate::clock::Clock;
use crate::config::PartitionSettings;
use crate::db::partitions::{self, MaintenanceReport};
use crate::db::{DbError, DbPool};

/// Runs partition maintenance on a timer.
pub struct PartitionMaintainer {
    pool: DbPool,
    settings: PartitionSettings,
    clock: Clock,
    /// `run_interval` fires in bursts after a stall: one pass at a time.
    in_flight: Arc<AtomicBool>,
}

impl PartitionMaintainer {
    pub fn new(pool: DbPool, settings: PartitionSettings, clock: Clock) -> Self {
        Self {
            pool,
            settings,
            clock,
            in_flight: Arc::new(AtomicBool::new(false)),
        }
    }

    fn pass(&self) -> impl Future<Output = Result<MaintenanceReport, DbError>> + 'static {
        let pool = self.pool.clone();
        let today = (self.clock)().date_naive();
        let (ahead, retention) = (self.settings.days_ahead, self.settings.retention_days);
        async move {
            let mut conn = pool.get().await?;
            let report = partitions::maintain(&mut conn, today, ahead, retention).await?;
            if !report.created.is_empty() || !report.dropped.is_empty() {
                tracing::info!(created = ?report.created, dropped = ?report.dropped, "partitions maintained");
            }
            Ok(report)
        }
    }
}

impl Actor for PartitionMaintainer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let every = Duration::from_secs(self.settings.check_interval_secs);
        ctx.run_interval(every, |act, _ctx| {
            if act.in_flight.swap(true, Ordering::AcqRel) {
                return;
            }
            let in_flight = act.in_flight.clone();
            let pass = act.pass();
            actix::spawn(async move {
                if let Err(e) = pass.await {
                    tracing::error!(error = %e, "partition maintenance failed; retrying next interval");
                }
                in_flight.store(false, Ordering::Release);
            });
        });
    }
}

/// Run one maintenance pass now and answer with what it did.
#[derive(Message)]
#[rtype(result = "Result<MaintenanceReport, DbError>")]
pub struct Maintain;

impl Handler<Maintain> for PartitionMaintainer {
    type Result = ResponseFuture<Result<MaintenanceReport, DbError>>;

    fn handle(&mut self, _: Maintain, _: &mut Self::Context) -> Self::Result {
        Box::pin(self.pass())
    }
}

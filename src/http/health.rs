//! Liveness and readiness probes.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::AppState;
use crate::db;

/// `GET /health/live`: the process is up and serving HTTP.
#[utoipa::path(tag = "meta", responses((status = 200, description = "the process serves HTTP")))]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /health/ready`: the database answers and every migration is applied; else 503
/// with the reason, so a load balancer keeps traffic away.
#[utoipa::path(tag = "meta", responses((status = 200, description = "ready"), (status = 503, description = "database unreachable or migrations pending")))]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    // Reasons are fixed strings: the underlying error goes to the log, not to the prober.
    let check = async {
        let mut conn = state.pool.get().await.map_err(|e| {
            crate::log_limited!(warn, error = %e, "readiness: no database connection");
            "database unreachable"
        })?;
        match db::migrations_applied(&mut conn).await {
            Ok(true) => Ok(()),
            Ok(false) => Err("migrations are not applied"),
            Err(e) => {
                crate::log_limited!(warn, error = %e, "readiness: migration check failed");
                Err("database check failed")
            }
        }
    };
    let outcome = tokio::time::timeout(Duration::from_secs(3), check)
        .await
        .unwrap_or(Err("database check timed out"));
    match outcome {
        Ok(()) => HttpResponse::Ok().json(json!({ "status": "ready", "database": "ok" })),
        Err(reason) => {
            crate::log_limited!(warn, by = reason; %reason, "not ready");
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "unavailable",
                "error": { "code": "not_ready", "message": reason },
            }))
        }
    }
}

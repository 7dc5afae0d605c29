//! The HTTP edge: one routes table, JSON errors for everything that goes wrong.

pub mod access;
pub mod alert_deliveries;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod client_ip;
pub mod events;
pub mod health;
pub mod ingest;
pub mod issues;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod orgs;
pub mod pagination;
pub mod projects;
pub mod sentry;
pub mod span;
pub mod stats;
pub mod stream;
pub mod tokens;
pub mod validate;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use tracing_actix_web::RequestId;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::domain::ErrorCode;
use crate::error::ApiError;

/// Every route of the service. Registering through utoipa's `ServiceConfig` puts each one
/// in the OpenAPI document, and does not compile for a handler without `#[utoipa::path]`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(health::live)
        .service(health::ready)
        .service(metrics::scrape)
        .service(openapi::openapi_json)
        .service(ingest::ingest)
        .service(auth::register)
        .service(auth::login)
        .service(auth::logout)
        .service(auth::me)
        .service(auth::change_password)
        .service(audit::account_audit)
        .service(tokens::create_token)
        .service(tokens::list_tokens)
        .service(tokens::revoke_token)
        .service(orgs::create_org)
        .service(orgs::list_orgs)
        .service(orgs::get_org)
        .service(orgs::update_org)
        .service(orgs::delete_org)
        .service(orgs::list_members)
        .service(orgs::add_member)
        .service(orgs::update_member)
        .service(orgs::remove_member)
        .service(audit::org_audit)
        .service(projects::list_projects)
        .service(projects::create_project)
        .service(projects::get_project)
        .service(projects::update_project)
        .service(projects::delete_project)
        .service(keys::list_keys)
        .service(keys::create_key)
        .service(keys::revoke_key)
        .service(alerts::list_alert_rules)
        .service(alerts::create_alert_rule)
        .service(alerts::get_alert_rule)
        .service(alerts::update_alert_rule)
        .service(alerts::delete_alert_rule)
        .service(alert_deliveries::list_deliveries)
        .service(alert_deliveries::test_alert_rule)
        .service(stats::project_stats)
        .service(events::list_events)
        .service(events::get_event)
        .service(issues::list_issues)
        .service(issues::get_issue)
        .service(issues::update_issue)
        .service(issues::list_issue_events)
        .service(stream::stream)
        // Sentry SDK endpoints. Keep this scope LAST, and only for numeric project numbers:
        // its CORS policy (any origin) must never answer for a management route such as
        // /api/v1/orgs, which `/api/{number}` alone would match.
        .service(
            utoipa_actix_web::scope("/api/{number}")
                .guard(actix_web::guard::fn_guard(|ctx| {
                    is_sentry_path(ctx.head().uri.path())
                }))
                .wrap(sentry::cors())
                .service(sentry::store)
                .service(sentry::envelope)
                // The scope answers every request under it: another method on its paths
                // is a 405, another path a 404.
                .default_service(web::to(sentry_default)),
        );
}

/// Whether `path` is under `/api/<project number>/`: the segment after `/api/` is all
/// digits (at most 10, an `i32`).
fn is_sentry_path(path: &str) -> bool {
    path.strip_prefix("/api/")
        .and_then(|rest| rest.split('/').next())
        .is_some_and(|n| (1..=10).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The paths of the OpenAPI document with the methods each serves, as an `Allow` header
/// value: `("/api/v1/orgs", "GET, POST")`.
pub fn allowed_methods(doc: &utoipa::openapi::OpenApi) -> Vec<(String, String)> {
    doc.paths
        .paths
        .iter()
        .map(|(path, item)| {
            let methods = [
                ("GET", item.get.is_some()),
                ("PUT", item.put.is_some()),
                ("POST", item.post.is_some()),
                ("DELETE", item.delete.is_some()),
                ("PATCH", item.patch.is_some()),
            ];
            let allow: Vec<&str> = methods
                .into_iter()
                .filter_map(|(name, served)| served.then_some(name))
                .collect();
            (path.clone(), allow.join(", "))
        })
        .collect()
}

/// Registers, after every route, one resource per documented path that answers any method
/// its routes do not take with 405 `method_not_allowed` and `Allow` (instead of the 404 of
/// an unknown path). The Sentry paths are left to their scope, which answers its own.
pub fn method_not_allowed(allowed: &[(String, String)]) -> impl FnOnce(&mut web::ServiceConfig) {
    let allowed = allowed.to_vec();
    move |cfg| {
        // The Sentry paths are answered by their scope (`sentry_default`).
        for (path, allow) in allowed
            .into_iter()
            .filter(|(p, _)| !p.starts_with("/api/{number}/"))
        {
            cfg.service(web::resource(path.as_str()).to(move || {
                let allow = allow.clone();
                async move { method_not_allowed_response(&allow) }
            }));
        }
    }
}

/// 405 `method_not_allowed` with `Allow: allow`.
fn method_not_allowed_response(allow: &str) -> HttpResponse {
    let e = ApiError::new(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        format!("this path takes {allow}"),
    );
    let mut res = actix_web::ResponseError::error_response(&e);
    if let Ok(value) = HeaderValue::from_str(allow) {
        res.headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    res
}

/// Any request under `/api/<number>/` that neither Sentry route takes: 405 on their paths,
/// 404 on any other.
async fn sentry_default(req: actix_web::HttpRequest) -> HttpResponse {
    let path = req.path();
    let rest = path
        .strip_prefix("/api/")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, rest)| rest);
    if matches!(rest, Some("store/" | "envelope/")) {
        method_not_allowed_response("POST")
    } else {
        actix_web::ResponseError::error_response(&ApiError::not_found("no such route"))
    }
}

/// The answer for a path no route matches.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("no such route"))
}

/// Extractor settings: malformed JSON bodies, paths and queries become JSON errors.
pub fn extractor_config(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(1 << 20)
            .error_handler(|err, _| {
                use actix_web::error::JsonPayloadError;
                let e = match &err {
                    JsonPayloadError::ContentType => ApiError::unsupported(
                        ErrorCode::UnsupportedMediaType,
                        "send the body as application/json",
                    ),
                    JsonPayloadError::OverflowKnownLength { .. }
                    | JsonPayloadError::Overflow { .. } => {
                        ApiError::too_large(ErrorCode::PayloadTooLarge, "the body is too large")
                    }
                    other => ApiError::bad_request(
                        ErrorCode::InvalidJson,
                        format!("invalid body: {other}"),
                    ),
                };
                e.into()
            }),
    )
    .app_data(web::PathConfig::default().error_handler(|_, _| {
        // A malformed id names nothing: the same answer as an unknown one.
        ApiError::not_found("not found").into()
    }))
    .app_data(web::QueryConfig::default().error_handler(|err, _| {
        ApiError::bad_request(
            ErrorCode::InvalidQuery,
            format!("invalid query string: {err}"),
        )
        .into()
    }));
}

/// Headers on every response: no MIME sniffing, no framing, no referrer leaks, no caching
/// of API answers (they carry per-user data).
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Content-Security-Policy", "frame-ancestors 'none'"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Cache-Control", "no-store"))
}

/// Echoes the request id that `TracingLogger` put on the request span as `X-Request-Id`, so a
/// client's report can be matched to the log lines of its request.
pub async fn request_id_header(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().copied();
    let mut res = next.call(req).await?;
    if let Some(id) = id
        && let Ok(value) = HeaderValue::from_str(&id.to_string())
    {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::is_sentry_path;

    #[test]
    fn only_numeric_project_numbers_are_sentry_paths() {
        for (path, expected) in [
            ("/api/7/envelope/", true),
            ("/api/1234567890/store/", true),
            ("/api/v1/orgs", false),
            ("/api/v1/events", false),
            ("/api/openapi.json", false),
            ("/api//store/", false),
            ("/api/12345678901/store/", false),
            ("/api/7a/store/", false),
            ("/metrics", false),
        ] {
            assert_eq!(is_sentry_path(path), expected, "{path}");
        }
    }
}

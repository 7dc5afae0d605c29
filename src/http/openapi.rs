//! `GET /api/openapi.json`: the OpenAPI document of every route, collected from the routes
//! table itself (utoipa-actix-web refuses to register a handler without `#[utoipa::path]`),
//! so a route cannot exist undocumented.

use actix_web::{App, HttpResponse, get, web};
use utoipa_actix_web::AppExt;

use crate::AppState;

/// Builds the document from the routes table.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .configure(super::routes)
        .split_for_parts();
    api.info.title = "Mesher".into();
    api.info.version = env!("CARGO_PKG_VERSION").into();
    api.info.description = Some(
        "Self-hosted error and event monitoring. Management routes take the mesher_session \
         cookie or Authorization: Bearer mshu_…; ingestion takes a project key."
            .into(),
    );
    api
}

/// The OpenAPI document of this server.
#[utoipa::path(tag = "meta", responses((status = 200, description = "OpenAPI 3.1 document")))]
#[get("/api/openapi.json")]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone())
}

//! `GET /api/openapi.json`: the OpenAPI document of every route, collected from the routes
//! table itself (utoipa-actix-web refuses to register a handler without `#[utoipa::path]`),
//! so a route cannot exist undocumented.

use actix_web::{App, HttpResponse, get, web};
use utoipa::openapi::{Content, OpenApi, RefOr, path::Operation};
use utoipa::{PartialSchema, ToSchema};
use utoipa_actix_web::AppExt;

use crate::AppState;
use crate::error::ErrorBody;

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
    document_errors(&mut api);
    api
}

/// Declares the error body once: every 4xx/5xx answer a route documents without a body
/// gets `application/json` [`ErrorBody`], and the schemas of the body land in the
/// components.
fn document_errors(api: &mut OpenApi) {
    let body = RefOr::Ref(utoipa::openapi::Ref::from_schema_name(ErrorBody::name()));
    for item in api.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
        ];
        for op in operations.into_iter().flatten() {
            add_error_bodies(op, &body);
        }
    }
    let components = api.components.get_or_insert_with(Default::default);
    let mut schemas = vec![(ErrorBody::name().into_owned(), ErrorBody::schema())];
    ErrorBody::schemas(&mut schemas);
    components.schemas.extend(schemas);
}

fn add_error_bodies(op: &mut Operation, body: &RefOr<utoipa::openapi::schema::Schema>) {
    for (status, response) in op.responses.responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with(['4', '5']), response)
            && response.content.is_empty()
        {
            response.content.insert(
                "application/json".into(),
                RefOr::T(Content::new(Some(body.clone()))),
            );
        }
    }
}

/// The OpenAPI document of this server.
#[utoipa::path(tag = "meta", responses((status = 200, description = "OpenAPI 3.1 document")))]
#[get("/api/openapi.json")]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_answer_documents_the_error_body() {
        let doc = serde_json::to_value(document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        for name in ["ErrorBody", "ErrorDetail", "ErrorCode"] {
            assert!(
                schemas.get(name).is_some(),
                "{name} missing from components"
            );
        }
        let mut errors = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, response) in op["responses"].as_object().unwrap() {
                    if status.starts_with(['4', '5']) {
                        errors += 1;
                        let schema = &response["content"]["application/json"]["schema"];
                        assert_eq!(
                            schema["$ref"], "#/components/schemas/ErrorBody",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
        assert!(errors > 50, "only {errors} error answers documented");
    }

    #[test]
    fn token_creation_documents_the_password_it_needs() {
        let doc = serde_json::to_value(document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let required = |name: &str| schemas[name]["required"].clone();
        assert_eq!(
            required("TokenBody"),
            serde_json::json!(["label", "current_password"])
        );
        assert_eq!(
            required("PasswordBody"),
            serde_json::json!(["current_password", "new_password"])
        );
        assert_eq!(
            schemas["PasswordBody"]["properties"]["revoke_tokens"]["type"],
            "boolean"
        );
    }
}

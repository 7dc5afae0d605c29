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
    document_refusals(&mut api);
    document_batch_refusal(&mut api);
    document_errors(&mut api);
    api
}

/// A native batch whose every event is refused is a 400 with the batch's answer
/// (`{"ids":[],"rejected":[…]}`); any other 400 of the route has the error body.
fn document_batch_refusal(api: &mut OpenApi) {
    let schema = serde_json::json!({
        "oneOf": [
            { "$ref": "#/components/schemas/ErrorBody" },
            {
                "type": "object",
                "required": ["ids", "rejected"],
                "properties": {
                    "ids": { "type": "array", "maxItems": 0 },
                    "rejected": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["index", "error"],
                            "properties": {
                                "index": { "type": "integer", "minimum": 0 },
                                "error": { "$ref": "#/components/schemas/ErrorDetail" }
                            }
                        }
                    }
                }
            }
        ]
    });
    let schema: RefOr<utoipa::openapi::schema::Schema> =
        serde_json::from_value(schema).expect("a schema");
    if let Some(RefOr::T(response)) = api
        .paths
        .paths
        .get_mut("/api/v1/events")
        .and_then(|item| item.post.as_mut())
        .and_then(|op| op.responses.responses.get_mut("400"))
    {
        response.content.insert(
            "application/json".into(),
            RefOr::T(Content::new(Some(schema))),
        );
    }
}

/// Declares the refusals every route of a kind may answer, where a handler's annotation
/// would only repeat them: 400 for a query or body that is malformed, 413 and 415 for a
/// body too large or not JSON, 403 `csrf` for a state change with the session cookie,
/// 401 where a credential is needed; and the bounds of `?limit=` wherever it is taken.
fn document_refusals(api: &mut OpenApi) {
    use utoipa::openapi::HttpMethod;
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{Object, Schema};

    let describe = |op: &mut Operation, status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(utoipa::openapi::Response::new(description)));
    };
    for (path, item) in api.paths.paths.iter_mut() {
        let management = path.starts_with("/api/v1/")
            && !matches!(
                path.as_str(),
                "/api/v1/auth/register" | "/api/v1/auth/login"
            );
        let methods = [
            (HttpMethod::Get, &mut item.get),
            (HttpMethod::Put, &mut item.put),
            (HttpMethod::Post, &mut item.post),
            (HttpMethod::Delete, &mut item.delete),
            (HttpMethod::Patch, &mut item.patch),
        ];
        for (method, op) in methods {
            let Some(op) = op else { continue };
            let mut has_query = false;
            for param in op.parameters.iter_mut().flatten() {
                let RefOr::T(param) = param else { continue };
                if param.parameter_in != ParameterIn::Query {
                    continue;
                }
                has_query = true;
                if let Some(schema) = filter_schema(&param.name) {
                    param.schema = Some(serde_json::from_value(schema).expect("a schema"));
                }
                if param.name == "limit"
                    && let Some(RefOr::T(Schema::Object(schema))) = param.schema.as_mut()
                {
                    bound_limit(schema);
                }
            }
            if has_query || op.request_body.is_some() {
                describe(op, "400", "Malformed query or body");
            }
            if op.request_body.is_some() {
                describe(op, "413", "Body too large");
                describe(op, "415", "Unsupported Content-Type or Content-Encoding");
            }
            if method != HttpMethod::Get {
                describe(
                    op,
                    "403",
                    "Refused: a role too low, or (requests with the session cookie) csrf",
                );
            }
            if management {
                describe(op, "401", "No valid credential");
            }
        }
    }

    /// The values the list filters take (an empty value is an absent one).
    fn filter_schema(name: &str) -> Option<serde_json::Value> {
        let one_of = |values: &str| serde_json::json!({ "type": "string", "pattern": format!("^({values})?$") });
        let time = serde_json::json!({ "anyOf": [
            { "type": "string", "maxLength": 0 },
            { "type": "string", "format": "date-time" }
        ] });
        Some(match name {
            "level" => one_of("fatal|error|warning|info|debug"),
            "status" => one_of("unresolved|resolved|ignored"),
            "sort" => one_of("last_seen|first_seen|times_seen"),
            "since" | "until" => time,
            // `key:value`, the first `:` separating them; repeated, all must match.
            "tag" => serde_json::json!({ "type": "array", "items": {
                "type": "string", "pattern": "^([^:]+:[\\s\\S]+)?$"
            } }),
            "action" => one_of(
                &crate::domain::AuditAction::ALL
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            "actor" => serde_json::json!({ "type": "string", "pattern": "^[^\\x00]*$" }),
            "q" => {
                serde_json::json!({ "type": "string", "maxLength": super::validate::MAX_QUERY_CHARS })
            }
            _ => return None,
        })
    }

    fn bound_limit(schema: &mut Object) {
        schema.minimum = Some(utoipa::Number::Int(1));
        schema.maximum = Some(utoipa::Number::Int(super::pagination::MAX_LIMIT as isize));
    }
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
                        // The native batch's 400 may also be the batch's answer.
                        let reference = match schema.get("oneOf") {
                            Some(one_of) => &one_of[0]["$ref"],
                            None => &schema["$ref"],
                        };
                        assert_eq!(
                            reference, "#/components/schemas/ErrorBody",
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
        assert!(errors > 50, "only {errors} error answers documented");
    }

    #[test]
    fn enums_are_documented_as_sent_and_limits_are_bounded() {
        let doc = serde_json::to_value(document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["Role"]["enum"],
            serde_json::json!(["member", "admin", "owner"])
        );
        assert_eq!(
            schemas["IssueStatus"]["enum"],
            serde_json::json!(["unresolved", "resolved", "ignored"])
        );
        assert_eq!(schemas["ErrorCode"]["enum"][0], "invalid_json");
        let mut limits = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for param in op["parameters"].as_array().into_iter().flatten() {
                    if param["name"] == "limit" {
                        limits += 1;
                        assert_eq!(param["schema"]["minimum"], 1, "{method} {path}");
                        assert_eq!(param["schema"]["maximum"], 1000, "{method} {path}");
                    }
                }
                if op.get("requestBody").is_some() {
                    for status in ["400", "413", "415"] {
                        assert!(
                            op["responses"].get(status).is_some(),
                            "{method} {path} {status}"
                        );
                    }
                }
            }
        }
        assert!(limits >= 8, "limit documented on {limits} routes");
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

//! A project's ingestion keys (admins): listed without their secret, created with
//! the secret and its DSN shown once, revoked (ingestion refuses a revoked key at once on
//! this node, within `auth.key_cache_ttl_ms` on the others). Several keys may be active at
//! once, for rotation.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::extractors::CurrentUser;
use crate::db::audit;
use crate::db::projects::{self, ApiKey, NewApiKey, Project};
use crate::domain::{Actor, AuditAction, AuditEntry, KeyId, Role, TargetType, keys};
use crate::error::ApiError;
use crate::http::access::project_for;
use crate::http::client_ip::Origin;
use crate::http::pagination::{Page, PageParams};
use crate::http::validate::check_label;
use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

/// A key as listed: never its secret nor the secret's hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOut {
    pub id: KeyId,
    pub label: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for KeyOut {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            label: k.label,
            prefix: k.prefix,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A new key: the secret `key` and its Sentry `dsn` are shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyCreated {
    pub id: KeyId,
    pub label: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    /// The secret (`mshr_…`), for `X-Mesher-Key`.
    pub key: String,
    /// `http://<key>@<host>/<project number>`, for Sentry SDKs.
    pub dsn: String,
}

/// `POST .../keys`.
#[derive(Deserialize, ToSchema)]
pub struct NewKeyBody {
    /// 1 to 200 characters.
    #[serde(default)]
    #[schema(
        required = true,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00]*[^\s\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00][^\x00]*$"
    )]
    pub label: String,
}

/// The project's keys, revoked ones included, oldest first (admins).
#[utoipa::path(tag = "keys",
    params(("org" = String, Path, description = "organization slug"),
        ("project" = String, Path, description = "project slug"), PageParams),
    responses((status = 200, body = Page<KeyOut>), (status = 400), (status = 401),
        (status = 403), (status = 404)))]
#[get("/api/v1/orgs/{org}/projects/{project}/keys")]
pub async fn list_keys(
    state: web::Data<AppState>,
    current: CurrentUser,
    path: web::Path<(String, String)>,
    page: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let (org, project) = path.into_inner();
    let limit = page.limit()?;
    let after: Option<KeyId> = page.cursor()?;
    let (mut conn, project) = project_for(&state, &current, &org, &project, Role::Admin).await?;
    let rows = projects::keys_page(&mut conn, project.id, after, limit).await?;
    let rows = rows.into_iter().map(KeyOut::from).collect();
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, limit, |k: &KeyOut| k.id)))
}

/// Create a key (admins); its secret and DSN are in this answer only.
#[utoipa::path(tag = "keys",
    params(("org" = String, Path, description = "organization slug"),
        ("project" = String, Path, description = "project slug")),
    request_body = NewKeyBody,
    responses((status = 201, body = KeyCreated), (status = 400), (status = 401), (status = 403),
        (status = 404)))]
#[post("/api/v1/orgs/{org}/projects/{project}/keys")]
pub async fn create_key(
    state: web::Data<AppState>,
    current: CurrentUser,
    origin: Origin,
    path: web::Path<(String, String)>,
    body: crate::http::validate::JsonObject<NewKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let (org, project) = path.into_inner();
    let (mut conn, project) = project_for(&state, &current, &org, &project, Role::Admin).await?;
    let actor = origin.actor(&current.user);
    let (row, key) = new_key(&mut conn, &actor, &project, &body.label).await?;
    Ok(HttpResponse::Created().json(KeyCreated {
        id: row.id,
        label: row.label,
        prefix: row.prefix,
        created_at: row.created_at,
        dsn: state.settings.dsn(&key, project.number),
        key,
    }))
}

/// Creates a key labelled `label` (checked) for the project: its row and the secret, which
/// exists only in this answer; `key_created` (the key's id and label, never the secret) is
/// recorded in the same transaction. Shared by the API and the settings page.
pub(crate) async fn new_key(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    project: &Project,
    label: &str,
) -> Result<(ApiKey, String), ApiError> {
    let label = check_label(label)?;
    let key = keys::generate_project_key();
    let new = NewApiKey {
        id: KeyId::new(),
        project_id: project.id,
        label,
        prefix: &keys::display_prefix(&key),
        key_hash: &keys::hash_secret(&key),
    };
    let entry = AuditEntry::org(project.org_id, AuditAction::KeyCreated, TargetType::Key)
        .target(new.id, label)
        .details(json!({ "project": project.slug }));
    let row = conn
        .transaction(async |conn| {
            let row = projects::create_api_key(conn, &new).await?;
            audit::record(conn, actor, &entry).await?;
            QueryResult::Ok(row)
        })
        .await?;
    Ok((row, key))
}

/// Revokes the project's key `key_id`, recording `key_revoked` in the same transaction,
/// and forgets it from this node's key cache at once; 404 when the project has no such
/// key. Shared by the API and the settings page.
pub(crate) async fn revoke(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    project: &Project,
    key_id: KeyId,
) -> Result<(), ApiError> {
    conn.transaction(async |conn| {
        let Some(label) = projects::revoke_api_key(conn, project.id, key_id).await? else {
            return Err(ApiError::not_found("no such key in this project"));
        };
        let entry = AuditEntry::org(project.org_id, AuditAction::KeyRevoked, TargetType::Key)
            .target(key_id, label)
            .details(json!({ "project": project.slug }));
        audit::record(conn, actor, &entry).await?;
        Ok(())
    })
    .await?;
    state.keys.forget_key(key_id);
    Ok(())
}

/// Revoke a key (admins); ingestion refuses it at once on this server, within
/// `auth.key_cache_ttl_ms` on the others.
#[utoipa::path(tag = "keys",
    params(("org" = String, Path, description = "organization slug"),
        ("project" = String, Path, description = "project slug"),
        ("key_id" = Uuid, Path, description = "the key's id")),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
#[delete("/api/v1/orgs/{org}/projects/{project}/keys/{key_id}")]
pub async fn revoke_key(
    state: web::Data<AppState>,
    current: CurrentUser,
    origin: Origin,
    path: web::Path<(String, String, KeyId)>,
) -> Result<HttpResponse, ApiError> {
    let (org, project, key_id) = path.into_inner();
    let (mut conn, project) = project_for(&state, &current, &org, &project, Role::Admin).await?;
    let actor = origin.actor(&current.user);
    revoke(&state, &mut conn, &actor, &project, key_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

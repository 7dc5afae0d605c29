//! Projects and their ingestion keys.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{api_keys, projects};

/// A row of `projects`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = projects)]
pub struct Project {
    pub id: Uuid,
    pub org_id: Uuid,
    /// The project's number in Sentry DSNs.
    pub number: i32,
    pub slug: String,
    pub name: String,
    pub platform: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Insert form of [`Project`]; the database assigns `number`.
#[derive(Debug, Insertable)]
#[diesel(table_name = projects)]
pub struct NewProject<'a> {
    pub id: Uuid,
    pub org_id: Uuid,
    pub slug: &'a str,
    pub name: &'a str,
    pub platform: Option<&'a str>,
}

/// A row of `api_keys`; the key itself is never stored, only its hash.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: Uuid,
    pub project_id: Uuid,
    pub label: String,
    pub prefix: String,
    pub key_hash: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Insert form of [`ApiKey`].
#[derive(Debug, Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey<'a> {
    pub id: Uuid,
    pub project_id: Uuid,
    pub label: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
}

/// The project of `org_id` with this slug, if any.
pub async fn find_project(
    conn: &mut AsyncPgConnection,
    org_id: Uuid,
    slug: &str,
) -> QueryResult<Option<Project>> {
    projects::table
        .filter(projects::org_id.eq(org_id))
        .filter(projects::slug.eq(slug))
        .select(Project::as_select())
        .first(conn)
        .await
        .optional()
}

/// Inserts a project.
pub async fn create_project(
    conn: &mut AsyncPgConnection,
    new: &NewProject<'_>,
) -> QueryResult<Project> {
    diesel::insert_into(projects::table)
        .values(new)
        .returning(Project::as_returning())
        .get_result(conn)
        .await
}

/// Inserts a key row.
pub async fn create_api_key(
    conn: &mut AsyncPgConnection,
    new: &NewApiKey<'_>,
) -> QueryResult<ApiKey> {
    diesel::insert_into(api_keys::table)
        .values(new)
        .returning(ApiKey::as_returning())
        .get_result(conn)
        .await
}

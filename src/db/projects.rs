//! Projects and their ingestion keys.

use super::schema::{api_keys, projects};
use crate::domain::{KeyId, OrgId, ProjectId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// A row of `projects`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = projects)]
pub struct Project {
    pub id: ProjectId,
    pub org_id: OrgId,
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
    pub id: ProjectId,
    pub org_id: OrgId,
    pub slug: &'a str,
    pub name: &'a str,
    pub platform: Option<&'a str>,
}

/// A row of `api_keys`; the key itself is never stored, only its hash.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: KeyId,
    pub project_id: ProjectId,
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
    pub id: KeyId,
    pub project_id: ProjectId,
    pub label: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
}

/// The project of `org_id` with this slug, if any.
pub async fn find_project(
    conn: &mut AsyncPgConnection,
    org_id: OrgId,
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

/// One page of an organization's projects, by slug: up to `limit + 1` rows after the slug
/// `after` (the extra row says there is more).
pub async fn projects_page(
    conn: &mut AsyncPgConnection,
    org_id: OrgId,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Project>> {
    let mut query = projects::table
        .filter(projects::org_id.eq(org_id))
        .order(projects::slug.asc())
        .select(Project::as_select())
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(projects::slug.gt(after.to_owned()));
    }
    query.load(conn).await
}

/// The changes of a project update; `None` leaves a column as it is, and
/// `platform: Some(None)` clears the platform.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = projects)]
pub struct ProjectChanges<'a> {
    pub name: Option<&'a str>,
    pub platform: Option<Option<&'a str>>,
}

/// Applies `changes` to a project (and bumps `updated_at`).
pub async fn update_project(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    changes: &ProjectChanges<'_>,
) -> QueryResult<Project> {
    diesel::update(projects::table.find(project_id))
        .set((changes, projects::updated_at.eq(diesel::dsl::now)))
        .returning(Project::as_returning())
        .get_result(conn)
        .await
}

/// Deletes a project with everything under it, in one transaction: its events explicitly
/// (`events` has no foreign keys), then the project (issues, keys and alert rules cascade).
pub async fn delete_project(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
) -> QueryResult<()> {
    use super::schema::events;
    // The project first: its cascade to `issues` waits for a batch being written (the
    // writer's upsert holds those rows), and any later batch fails on the issues' foreign
    // key. Then the events, with a fresh snapshot that sees what such a batch committed.
    conn.transaction(async |conn| {
        diesel::delete(projects::table.find(project_id))
            .execute(conn)
            .await?;
        diesel::delete(events::table.filter(events::project_id.eq(project_id)))
            .execute(conn)
            .await
            .map(drop)
    })
    .await
}

/// One page of a project's keys, oldest first (ids are UUIDv7): up to `limit + 1` rows
/// after the id `after` (the extra row says there is more).
pub async fn keys_page(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    after: Option<KeyId>,
    limit: i64,
) -> QueryResult<Vec<ApiKey>> {
    let mut query = api_keys::table
        .filter(api_keys::project_id.eq(project_id))
        .order(api_keys::id.asc())
        .select(ApiKey::as_select())
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(api_keys::id.gt(after));
    }
    query.load(conn).await
}

/// Revokes a key of the project (a key already revoked keeps its first revocation time)
/// and answers its label; `None` when the project has no such key.
pub async fn revoke_api_key(
    conn: &mut AsyncPgConnection,
    project_id: ProjectId,
    key_id: KeyId,
) -> QueryResult<Option<String>> {
    use diesel::sql_types::{Nullable, Timestamptz};
    let revoked_at = diesel::dsl::sql::<Nullable<Timestamptz>>("coalesce(revoked_at, now())");
    diesel::update(
        api_keys::table
            .filter(api_keys::id.eq(key_id))
            .filter(api_keys::project_id.eq(project_id)),
    )
    .set(api_keys::revoked_at.eq(revoked_at))
    .returning(api_keys::label)
    .get_result(conn)
    .await
    .optional()
}

/// What a live (unrevoked) ingestion key authenticates: the key and its project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Queryable)]
pub struct KeyProject {
    pub key_id: KeyId,
    pub project_id: ProjectId,
    /// The project's number in Sentry DSNs.
    pub project_number: i32,
}

/// The live key with this hash and its project, if any (one index lookup on
/// `api_keys.key_hash`).
pub async fn find_live_key(
    conn: &mut AsyncPgConnection,
    key_hash: &str,
) -> QueryResult<Option<KeyProject>> {
    api_keys::table
        .inner_join(projects::table)
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select((api_keys::id, projects::id, projects::number))
        .first(conn)
        .await
        .optional()
}

/// The live keys among `key_hashes`, each with its hash (the key cache's refresh rounds).
pub async fn find_live_keys(
    conn: &mut AsyncPgConnection,
    key_hashes: &[String],
) -> QueryResult<Vec<(String, KeyProject)>> {
    api_keys::table
        .inner_join(projects::table)
        .filter(api_keys::key_hash.eq_any(key_hashes))
        .filter(api_keys::revoked_at.is_null())
        .select((
            api_keys::key_hash,
            (api_keys::id, projects::id, projects::number),
        ))
        .load(conn)
        .await
}

/// Records that the keys were used just now, in one statement (the key cache's batched
/// writes, `auth::key_use`).
pub async fn touch_keys(conn: &mut AsyncPgConnection, key_ids: &[KeyId]) -> QueryResult<()> {
    diesel::update(api_keys::table.filter(api_keys::id.eq_any(key_ids)))
        .set(api_keys::last_used_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(drop)
}

//! Users, organizations and memberships.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::schema::{memberships, organizations, users};

/// A row of `users`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Insert form of [`User`]; `email` must already be lower-cased.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub name: &'a str,
}

/// A row of `organizations`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Insert form of [`Organization`].
#[derive(Debug, Insertable)]
#[diesel(table_name = organizations)]
pub struct NewOrganization<'a> {
    pub id: Uuid,
    pub slug: &'a str,
    pub name: &'a str,
}

/// Lower-cases an email for storage and lookup (emails are unique case-insensitively).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The user with this email, if any.
pub async fn find_user_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(normalize_email(email)))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

/// Inserts a user.
pub async fn create_user(conn: &mut AsyncPgConnection, new: &NewUser<'_>) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(new)
        .returning(User::as_returning())
        .get_result(conn)
        .await
}

/// Replaces a user's password hash.
pub async fn set_password_hash(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    hash: &str,
) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::password_hash.eq(hash),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// The organization with this slug, if any.
pub async fn find_org_by_slug(
    conn: &mut AsyncPgConnection,
    slug: &str,
) -> QueryResult<Option<Organization>> {
    organizations::table
        .filter(organizations::slug.eq(slug))
        .select(Organization::as_select())
        .first(conn)
        .await
        .optional()
}

/// Inserts an organization.
pub async fn create_org(
    conn: &mut AsyncPgConnection,
    new: &NewOrganization<'_>,
) -> QueryResult<Organization> {
    diesel::insert_into(organizations::table)
        .values(new)
        .returning(Organization::as_returning())
        .get_result(conn)
        .await
}

/// Makes `user_id` a member of `org_id` with `role`, or changes the role of an existing member.
pub async fn upsert_membership(
    conn: &mut AsyncPgConnection,
    org_id: Uuid,
    user_id: Uuid,
    role: &str,
) -> QueryResult<()> {
    diesel::insert_into(memberships::table)
        .values((
            memberships::id.eq(Uuid::now_v7()),
            memberships::org_id.eq(org_id),
            memberships::user_id.eq(user_id),
            memberships::role.eq(role),
        ))
        .on_conflict((memberships::org_id, memberships::user_id))
        .do_update()
        .set(memberships::role.eq(role))
        .execute(conn)
        .await
        .map(drop)
}

/// The user's organizations with their role in each, by slug.
pub async fn memberships_of(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> QueryResult<Vec<(Organization, String)>> {
    memberships::table
        .inner_join(organizations::table)
        .filter(memberships::user_id.eq(user_id))
        .order(organizations::slug.asc())
        .select((Organization::as_select(), memberships::role))
        .load(conn)
        .await
}

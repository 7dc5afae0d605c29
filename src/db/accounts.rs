//! Users, organizations and memberships; the members of an organization and the changes
//! to them are in `members`.

use super::schema::{memberships, organizations, users};
use crate::domain::{MembershipId, OrgId, Role, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

mod members;

pub use members::{
    AddMember, LockedRoles, Member, add_member, members_page, remove_member, set_member_role,
};

/// A row of `users`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
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
    pub id: UserId,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub name: &'a str,
}

/// A row of `organizations`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: OrgId,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Insert form of [`Organization`].
#[derive(Debug, Insertable)]
#[diesel(table_name = organizations)]
pub struct NewOrganization<'a> {
    pub id: OrgId,
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

/// The user with this id, if any.
pub async fn find_user(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<Option<User>> {
    users::table
        .find(id)
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
    user_id: UserId,
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

/// Sets a user's display name.
pub async fn set_user_name(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
    name: &str,
) -> QueryResult<User> {
    diesel::update(users::table.find(user_id))
        .set((users::name.eq(name), users::updated_at.eq(diesel::dsl::now)))
        .returning(User::as_returning())
        .get_result(conn)
        .await
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
    org_id: OrgId,
    user_id: UserId,
    role: Role,
) -> QueryResult<()> {
    diesel::insert_into(memberships::table)
        .values((
            memberships::id.eq(MembershipId::new()),
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
    user_id: UserId,
) -> QueryResult<Vec<(Organization, Role)>> {
    memberships::table
        .inner_join(organizations::table)
        .filter(memberships::user_id.eq(user_id))
        .order(organizations::slug.asc())
        .select((Organization::as_select(), memberships::role))
        .load(conn)
        .await
}

/// The organization with this slug and the user's role in it, if the user is a member.
pub async fn org_membership(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
    slug: &str,
) -> QueryResult<Option<(Organization, Role)>> {
    organizations::table
        .inner_join(memberships::table)
        .filter(organizations::slug.eq(slug))
        .filter(memberships::user_id.eq(user_id))
        .select((Organization::as_select(), memberships::role))
        .first(conn)
        .await
        .optional()
}

/// Inserts an organization and makes `owner_id` its owner, in one transaction.
pub async fn create_org_with_owner(
    conn: &mut AsyncPgConnection,
    new: &NewOrganization<'_>,
    owner_id: UserId,
) -> QueryResult<Organization> {
    conn.transaction(async |conn| {
        let org = create_org(conn, new).await?;
        upsert_membership(conn, org.id, owner_id, Role::Owner).await?;
        Ok(org)
    })
    .await
}

/// One page of the user's organizations with their role in each, by slug: up to
/// `limit + 1` rows after the slug `after` (the extra row says there is more).
pub async fn orgs_page(
    conn: &mut AsyncPgConnection,
    user_id: UserId,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<(Organization, Role)>> {
    let mut query = memberships::table
        .inner_join(organizations::table)
        .filter(memberships::user_id.eq(user_id))
        .order(organizations::slug.asc())
        .select((Organization::as_select(), memberships::role))
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(organizations::slug.gt(after.to_owned()));
    }
    query.load(conn).await
}

/// Renames an organization.
pub async fn rename_org(
    conn: &mut AsyncPgConnection,
    org_id: OrgId,
    name: &str,
) -> QueryResult<Organization> {
    diesel::update(organizations::table.find(org_id))
        .set((
            organizations::name.eq(name),
            organizations::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Organization::as_returning())
        .get_result(conn)
        .await
}

/// Deletes an organization with everything under it, in one transaction. `events` has no
/// foreign keys, so its projects' events are deleted explicitly first; the cascades of the
/// other tables do the rest. Answers the ids of the projects deleted with it.
pub async fn delete_org(
    conn: &mut AsyncPgConnection,
    org_id: OrgId,
) -> QueryResult<Vec<crate::domain::ProjectId>> {
    use super::schema::{events, projects};
    use crate::domain::ProjectId;
    // As in `projects::delete_project`: the org (and by cascade its projects and issues)
    // first, then the events, so a batch committed meanwhile leaves nothing behind.
    conn.transaction(async |conn| {
        let project_ids: Vec<ProjectId> = projects::table
            .filter(projects::org_id.eq(org_id))
            .select(projects::id)
            .load(conn)
            .await?;
        diesel::delete(organizations::table.find(org_id))
            .execute(conn)
            .await?;
        diesel::delete(events::table.filter(events::project_id.eq_any(&project_ids)))
            .execute(conn)
            .await?;
        Ok(project_ids)
    })
    .await
}

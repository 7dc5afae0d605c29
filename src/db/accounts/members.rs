//! The members of an organization: listed, added, given another role and removed, each
//! change decided on the roles read with their rows locked ([`LockedRoles`]).

use super::find_user_by_email;
use crate::db::schema::{memberships, users};
use crate::domain::{MembershipId, OrgId, Role, UserId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// A member of an organization: the user and their role.
#[derive(Debug, Clone, Queryable, serde::Serialize, utoipa::ToSchema)]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

/// The columns of [`Member`], from `memberships` joined with `users`.
type MemberColumns = (
    users::id,
    users::email,
    users::name,
    memberships::role,
    memberships::created_at,
);

const MEMBER_COLUMNS: MemberColumns = (
    users::id,
    users::email,
    users::name,
    memberships::role,
    memberships::created_at,
);

/// One page of an organization's members, by email: up to `limit + 1` rows after the email
/// `after` (the extra row says there is more).
pub async fn members_page(
    conn: &mut AsyncPgConnection,
    org_id: OrgId,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Member>> {
    let mut query = memberships::table
        .inner_join(users::table)
        .filter(memberships::org_id.eq(org_id))
        .order(users::email.asc())
        .select(MEMBER_COLUMNS)
        .limit(limit + 1)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(users::email.gt(after.to_owned()));
    }
    query.load(conn).await
}

/// The outcome of [`add_member`].
#[derive(Debug)]
pub enum AddMember {
    Added(Member),
    NoSuchUser,
    AlreadyMember,
}

/// Adds the existing user with this email to the organization with `role`.
pub async fn add_member(
    conn: &mut AsyncPgConnection,
    org_id: OrgId,
    email: &str,
    role: Role,
) -> QueryResult<AddMember> {
    let Some(user) = find_user_by_email(conn, email).await? else {
        return Ok(AddMember::NoSuchUser);
    };
    let joined_at: Option<DateTime<Utc>> = diesel::insert_into(memberships::table)
        .values((
            memberships::id.eq(MembershipId::new()),
            memberships::org_id.eq(org_id),
            memberships::user_id.eq(user.id),
            memberships::role.eq(role),
        ))
        .on_conflict((memberships::org_id, memberships::user_id))
        .do_nothing()
        .returning(memberships::created_at)
        .get_result(conn)
        .await
        .optional()?;
    Ok(match joined_at {
        Some(joined_at) => AddMember::Added(Member {
            user_id: user.id,
            email: user.email,
            name: user.name,
            role,
            joined_at,
        }),
        None => AddMember::AlreadyMember,
    })
}

/// The roles a membership change is decided on, read with their rows locked
/// (`SELECT … FOR UPDATE`) in the transaction that makes the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedRoles {
    /// The role of the user making the change (`None`: no longer a member).
    pub actor: Option<Role>,
    /// The role of the member changed (`None`: not a member).
    pub target: Option<Role>,
    /// How many owners the organization has.
    pub owners: usize,
}

/// Locks the org's owner rows and those of `actor_id` and `target_id` (in id order, so
/// concurrent changes queue instead of deadlocking) and reads their roles. A concurrent
/// change that committed while this one waited is seen: two demotions of the last two
/// owners cannot both pass.
async fn lock_roles(
    conn: &mut AsyncPgConnection,
    org_id: OrgId,
    actor_id: UserId,
    target_id: UserId,
) -> QueryResult<LockedRoles> {
    let rows: Vec<(UserId, Role)> = memberships::table
        .filter(memberships::org_id.eq(org_id))
        .filter(
            memberships::role
                .eq(Role::Owner)
                .or(memberships::user_id.eq_any([actor_id, target_id])),
        )
        .order(memberships::id.asc())
        .select((memberships::user_id, memberships::role))
        .for_update()
        .load(conn)
        .await?;
    let role_of = |id: UserId| {
        rows.iter()
            .find(|(user, _)| *user == id)
            .map(|(_, role)| *role)
    };
    Ok(LockedRoles {
        actor: role_of(actor_id),
        target: role_of(target_id),
        owners: rows.iter().filter(|(_, role)| *role == Role::Owner).count(),
    })
}

/// Gives `user_id` the role `role` in the organization, in a transaction where `decide`
/// sees the locked roles first and may refuse (rolling back).
pub async fn set_member_role<E>(
    conn: &mut AsyncPgConnection,
    org_id: OrgId,
    actor_id: UserId,
    user_id: UserId,
    role: Role,
    decide: impl FnOnce(&LockedRoles) -> Result<(), E> + Send,
) -> Result<Member, E>
where
    E: From<diesel::result::Error> + Send,
{
    conn.transaction(async |conn| {
        decide(&lock_roles(conn, org_id, actor_id, user_id).await?)?;
        let membership = memberships::table
            .filter(memberships::org_id.eq(org_id))
            .filter(memberships::user_id.eq(user_id));
        diesel::update(membership)
            .set(memberships::role.eq(role))
            .execute(conn)
            .await?;
        let member = memberships::table
            .inner_join(users::table)
            .filter(memberships::org_id.eq(org_id))
            .filter(memberships::user_id.eq(user_id))
            .select(MEMBER_COLUMNS)
            .first(conn)
            .await?;
        Ok(member)
    })
    .await
}

/// Removes `user_id` from the organization, in a transaction where `decide` sees the
/// locked roles first and may refuse (rolling back).
pub async fn remove_member<E>(
    conn: &mut AsyncPgConnection,
    org_id: OrgId,
    actor_id: UserId,
    user_id: UserId,
    decide: impl FnOnce(&LockedRoles) -> Result<(), E> + Send,
) -> Result<(), E>
where
    E: From<diesel::result::Error> + Send,
{
    conn.transaction(async |conn| {
        decide(&lock_roles(conn, org_id, actor_id, user_id).await?)?;
        let membership = memberships::table
            .filter(memberships::org_id.eq(org_id))
            .filter(memberships::user_id.eq(user_id));
        diesel::delete(membership).execute(conn).await?;
        Ok(())
    })
    .await
}

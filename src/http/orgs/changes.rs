//! The changes to an organization and its members, shared by the API's handlers
//! (`http::orgs`) and the web UI's pages: each takes the caller's access (already loaded:
//! 404 for outsiders), applies the role rules (admins manage members, only owners touch
//! owners, anyone may leave, the last owner stays: [`check_member_change`], decided on the
//! locked rows), and records the change in the audit log in the change's own transaction
//! (`db::audit`).

use diesel::QueryResult;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use crate::AppState;
use crate::db::accounts::{self, AddMember, LockedRoles, Member, NewOrganization, Organization};
use crate::db::audit;
use crate::domain::{Actor, AuditAction, AuditEntry, ErrorCode, OrgId, Role, TargetType, UserId};
use crate::error::ApiError;
use crate::http::access::OrgAccess;
use crate::http::projects::forget_project;
use crate::http::validate::{check_name, check_org_slug, parse_role, slug_conflict};

fn last_owner() -> ApiError {
    ApiError::conflict(
        ErrorCode::LastOwner,
        "the organization's last owner cannot leave or be demoted; make another member owner first",
    )
}

/// Whether the actor may give the target `new` (`None`: remove them), judged on the locked
/// roles: admins manage members, only owners touch owners or grant ownership, anyone may
/// leave, and the last owner stays.
pub(crate) fn check_member_change(
    locked: &LockedRoles,
    is_self: bool,
    new: Option<Role>,
) -> Result<(), ApiError> {
    let actor = locked
        .actor
        .ok_or_else(|| ApiError::not_found("no such organization"))?;
    let leaving = is_self && new.is_none();
    if !leaving && actor < Role::Admin {
        return Err(ApiError::forbidden(
            "managing members needs the admin role in the organization",
        ));
    }
    let target = locked
        .target
        .ok_or_else(|| ApiError::not_found("no such member"))?;
    if (target == Role::Owner || new == Some(Role::Owner)) && actor < Role::Owner {
        return Err(ApiError::forbidden(
            "only owners can change or remove owners, or grant ownership",
        ));
    }
    if target == Role::Owner && new != Some(Role::Owner) && locked.owners <= 1 {
        return Err(last_owner());
    }
    Ok(())
}

/// Creates an organization named `name` with the slug `slug` (both checked), owned by
/// `actor`: 400 naming a bad field, 409 `slug_taken`. The `org_created` entry is written
/// first, so a refused insert (a duplicate slug) rolls it back with the rest.
pub(crate) async fn create(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    owner: UserId,
    name: &str,
    slug: &str,
) -> Result<Organization, ApiError> {
    let new = NewOrganization {
        id: OrgId::new(),
        slug: check_org_slug(slug)?,
        name: check_name(name)?,
    };
    let entry = AuditEntry::org(new.id, AuditAction::OrgCreated, TargetType::Org)
        .target(new.id, new.slug)
        .details(json!({ "name": new.name }));
    conn.transaction(async |conn| {
        audit::record(conn, actor, &entry).await?;
        accounts::create_org_with_owner(conn, &new, owner).await
    })
    .await
    .map_err(|e| slug_conflict(e, "organization"))
}

/// Renames the organization (admins): 400 naming `name` when it is not a valid name.
pub(crate) async fn rename(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    access: &OrgAccess,
    name: &str,
) -> Result<Organization, ApiError> {
    access.require(Role::Admin)?;
    let name = check_name(name)?;
    let org = &access.org;
    let entry = AuditEntry::org(org.id, AuditAction::OrgRenamed, TargetType::Org)
        .target(org.id, &org.slug)
        .details(json!({ "from": org.name, "to": name }));
    conn.transaction(async |conn| {
        let renamed = accounts::rename_org(conn, org.id, name).await?;
        audit::record(conn, actor, &entry).await?;
        Ok(renamed)
    })
    .await
}

/// Deletes the organization with everything under it (owners), and forgets its projects'
/// cached keys. Its `org_deleted` entry (with the slug and name) outlives it.
pub(crate) async fn delete(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    access: &OrgAccess,
) -> Result<(), ApiError> {
    access.require(Role::Owner)?;
    let org = &access.org;
    let entry = AuditEntry::org(org.id, AuditAction::OrgDeleted, TargetType::Org)
        .target(org.id, &org.slug)
        .details(json!({ "slug": org.slug, "name": org.name }));
    let projects = conn
        .transaction(async |conn| {
            let projects = accounts::delete_org(conn, org.id).await?;
            audit::record(conn, actor, &entry).await?;
            QueryResult::Ok(projects)
        })
        .await?;
    for project_id in projects {
        forget_project(state, project_id);
    }
    Ok(())
}

/// Adds the registered user with `email` as `role` (admins; owners only by owners).
pub(crate) async fn add(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    access: &OrgAccess,
    email: &str,
    role: &str,
) -> Result<Member, ApiError> {
    access.require(Role::Admin)?;
    let role = parse_role(role)?;
    if role == Role::Owner {
        access.require(Role::Owner)?;
    }
    crate::http::validate::no_nul("email", email)?;
    let org_id = access.org.id;
    let added = conn
        .transaction(async |conn| {
            let added = accounts::add_member(conn, org_id, email, role).await?;
            if let AddMember::Added(member) = &added {
                let entry = AuditEntry::org(org_id, AuditAction::MemberAdded, TargetType::Member)
                    .target(member.user_id, &member.email)
                    .details(json!({ "role": role }));
                audit::record(conn, actor, &entry).await?;
            }
            QueryResult::Ok(added)
        })
        .await?;
    match added {
        AddMember::Added(member) => Ok(member),
        AddMember::NoSuchUser => Err(ApiError::invalid_field(
            "email",
            "no user has registered with this email; they must sign up before being added",
        )),
        AddMember::AlreadyMember => Err(ApiError::conflict(
            ErrorCode::AlreadyMember,
            "this user is already a member of the organization",
        )
        .with_field("email")),
    }
}

/// Gives member `user_id` the role `role` ([`check_member_change`] on the locked roles).
pub(crate) async fn change_role(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    access: &OrgAccess,
    actor_id: UserId,
    user_id: UserId,
    role: &str,
) -> Result<Member, ApiError> {
    access.require(Role::Admin)?;
    let role = parse_role(role)?;
    let is_self = user_id == actor_id;
    let org_id = access.org.id;
    conn.transaction(async |conn| {
        let mut before = None;
        let member = accounts::set_member_role(conn, org_id, actor_id, user_id, role, |locked| {
            before = locked.target;
            check_member_change(locked, is_self, Some(role))
        })
        .await?;
        if before != Some(role) {
            let entry = AuditEntry::org(org_id, AuditAction::MemberRoleChanged, TargetType::Member)
                .target(user_id, &member.email)
                .details(json!({ "from": before, "to": role }));
            audit::record(conn, actor, &entry).await?;
        }
        Ok(member)
    })
    .await
}

/// Removes member `user_id`, or lets the actor leave ([`check_member_change`]).
pub(crate) async fn remove(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    access: &OrgAccess,
    actor_id: UserId,
    user_id: UserId,
) -> Result<(), ApiError> {
    let is_self = user_id == actor_id;
    let org_id = access.org.id;
    conn.transaction(async |conn| {
        let mut before = None;
        accounts::remove_member(conn, org_id, actor_id, user_id, |locked| {
            before = locked.target;
            check_member_change(locked, is_self, None)
        })
        .await?;
        let email = accounts::find_user(conn, user_id)
            .await?
            .map(|u| u.email)
            .unwrap_or_default();
        let entry = AuditEntry::org(org_id, AuditAction::MemberRemoved, TargetType::Member)
            .target(user_id, email)
            .details(json!({ "role": before, "left": is_self }));
        audit::record(conn, actor, &entry).await?;
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::{Admin, Member, Owner};

    #[test]
    fn member_change_rules() {
        // (actor, target, owners, is_self, new role or removal, expected status)
        type Case = (Option<Role>, Option<Role>, usize, bool, Option<Role>, u16);
        let cases: &[Case] = &[
            // Admins manage members and admins, not owners, and cannot grant ownership.
            (Some(Admin), Some(Member), 1, false, Some(Admin), 200),
            (Some(Admin), Some(Admin), 1, false, None, 200),
            (Some(Admin), Some(Owner), 2, false, Some(Member), 403),
            (Some(Admin), Some(Member), 1, false, Some(Owner), 403),
            (Some(Admin), Some(Owner), 2, false, None, 403),
            // Members manage nobody but may leave.
            (Some(Member), Some(Member), 1, false, None, 403),
            (Some(Member), Some(Member), 1, true, None, 200),
            (Some(Member), Some(Member), 1, true, Some(Admin), 403),
            // The last owner stays an owner and stays.
            (Some(Owner), Some(Owner), 1, true, Some(Admin), 409),
            (Some(Owner), Some(Owner), 1, true, None, 409),
            (Some(Owner), Some(Owner), 1, true, Some(Owner), 200),
            (Some(Owner), Some(Owner), 2, false, None, 200),
            (Some(Owner), Some(Member), 1, false, Some(Owner), 200),
            // Gone actor or target.
            (None, Some(Member), 1, false, None, 404),
            (Some(Owner), None, 1, false, None, 404),
        ];
        for &(actor, target, owners, is_self, new, expected) in cases {
            let locked = LockedRoles {
                actor,
                target,
                owners,
            };
            let got = check_member_change(&locked, is_self, new)
                .map_or_else(|e| e.status.as_u16(), |()| 200);
            assert_eq!(got, expected, "{locked:?}, self: {is_self}, new: {new:?}");
        }
    }
}

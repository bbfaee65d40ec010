//! Membership operations: changing a member's account role, removing a member, leaving.
//! Each runs in one transaction and decides with the roles as they are inside it (the
//! account row is locked first, so concurrent changes serialize on PostgreSQL as they do
//! on SQLite). Refusals are [`Refusal`]s with a [`Reason`]; pages and the API render them.

use serde_json::json;

use super::model as members;
pub use super::model::{Cursor, Matched, MemberRow, MembersPage, MembershipDetail, PAGE_SIZE};
use crate::accounts::model as accounts;
use crate::audit::{Actor, Event};
use crate::authz::account::may_assign;
use crate::authz::{AccountPerm, AccountRole, PermSet};
use crate::db::{DbConn, write_tx};
use crate::ids::{AccountId, UserId};
use crate::outcome::{OpResult, Reason, Refusal, conflict, forbidden, refuse};
use crate::users::model::User;

/// Reads that carry no rule of their own: the caller has already been allowed to see the
/// account's members (`read:account_membership`).
pub use super::model::{
    MembershipOf, Suggestion, Without, all_details, member_of_membership, memberships_of, page,
    role_of, row, suggest,
};

/// The roles someone with `role` may give in an invitation (never above their own).
pub fn invite_roles(role: AccountRole) -> Vec<AccountRole> {
    [AccountRole::Member, AccountRole::Admin, AccountRole::Owner]
        .into_iter()
        .filter(|r| may_assign(role, *r))
        .collect()
}

/// The actor's role in the account, read inside the transaction; not a member: 404.
fn actor_role(c: &mut DbConn, account: &AccountId, actor: &User) -> OpResult<AccountRole> {
    match members::role_of(c, account.as_str(), &actor.id)? {
        Some(r) => Ok(r),
        None => refuse(Refusal::NotFound),
    }
}

/// A role change done: the member's row as it is now, and the actor's own role (which
/// changed too when an Owner demoted themselves), so the row renders without a re-read.
pub struct RoleChanged {
    pub member: MemberRow,
    pub my_role: AccountRole,
}

/// Changes `target`'s account role in one transaction: nobody assigns or changes a role
/// above their own (403), the last Owner stays one (409). Recorded as
/// `atrium.member.role_changed`.
pub fn change_role(
    c: &mut DbConn,
    account: &AccountId,
    actor: &User,
    target: &UserId,
    new_role: AccountRole,
    ip: String,
) -> OpResult<RoleChanged> {
    write_tx(c, |c| {
        let (a, t) = (account.as_str(), target.as_str());
        accounts::lock(c, a)?;
        let me = actor_role(c, account, actor)?;
        if !PermSet::of_role(me).has(AccountPerm::UpdateMembership) {
            return refuse(Refusal::Forbidden(None));
        }
        let Some(before) = members::row(c, a, t)? else {
            return refuse(Refusal::NotFound);
        };
        if new_role == AccountRole::Collaborator
            || !may_assign(me, new_role)
            || !may_assign(me, before.role)
        {
            return forbidden(Reason::AboveOwnRole);
        }
        if before.role == new_role {
            return Ok(RoleChanged {
                member: before,
                my_role: me,
            });
        }
        if before.role == AccountRole::Owner && members::count_owners(c, a)? <= 1 {
            return conflict(Reason::LastOwner);
        }
        members::set_role(c, a, t, new_role)?;
        Event::new(
            "atrium.member.role_changed",
            Actor::user(actor),
            "user",
            Some(t.into()),
            before.handle.clone(),
        )
        .account(a)
        .ip(ip)
        .payload(json!({ "from": before.role.as_str(), "to": new_role.as_str() }))
        .record(c)?;
        let my_role = if t == actor.id { new_role } else { me };
        match members::row(c, a, t)? {
            Some(member) => Ok(RoleChanged { member, my_role }),
            None => refuse(Refusal::NotFound),
        }
    })
}

/// Removes `target` from the account in one transaction, with their workspace accesses.
/// Not oneself (409, "Leave account" is for that), not above one's own role (403), not the
/// last Owner (409). Recorded as `atrium.member.removed`.
pub fn remove(
    c: &mut DbConn,
    account: &AccountId,
    actor: &User,
    target: &UserId,
    ip: String,
) -> OpResult<()> {
    write_tx(c, |c| {
        let (a, t) = (account.as_str(), target.as_str());
        accounts::lock(c, a)?;
        let me = actor_role(c, account, actor)?;
        if !PermSet::of_role(me).has(AccountPerm::DeleteMembership) {
            return refuse(Refusal::Forbidden(None));
        }
        let Some(before) = members::row(c, a, t)? else {
            return refuse(Refusal::NotFound);
        };
        if t == actor.id {
            return conflict(Reason::RemoveSelf);
        }
        if !may_assign(me, before.role) {
            return forbidden(Reason::AboveOwnRole);
        }
        if before.role == AccountRole::Owner && members::count_owners(c, a)? <= 1 {
            return conflict(Reason::LastOwner);
        }
        remove_membership(c, a, t)?;
        Event::new(
            "atrium.member.removed",
            Actor::user(actor),
            "user",
            Some(t.to_string()),
            before.handle.clone(),
        )
        .account(a)
        .ip(ip)
        .payload(json!({ "role": before.role.as_str(), "email": before.email }))
        .record(c)?;
        Ok(())
    })
}

/// The actor leaves an organization in one transaction. Not their personal account, and
/// not as its last Owner (409). Recorded as `atrium.member.left`. Already gone: done.
pub fn leave(
    c: &mut DbConn,
    account: &AccountId,
    personal: bool,
    actor: &User,
    ip: String,
) -> OpResult<()> {
    if personal {
        return conflict(Reason::LeavePersonal);
    }
    write_tx(c, |c| {
        let a = account.as_str();
        accounts::lock(c, a)?;
        let Some(me) = members::role_of(c, a, &actor.id)? else {
            return Ok(());
        };
        if me == AccountRole::Owner && members::count_owners(c, a)? <= 1 {
            return conflict(Reason::LastOwnerLeaving);
        }
        remove_membership(c, a, &actor.id)?;
        Event::new(
            "atrium.member.left",
            Actor::user(actor),
            "user",
            Some(actor.id.clone()),
            actor.handle.clone(),
        )
        .account(a)
        .ip(ip)
        .payload(json!({ "role": me.as_str() }))
        .record(c)?;
        Ok(())
    })
}

/// Removes a membership and what hangs on it in this account (its workspace accesses and
/// team memberships).
/// Pending invitations the person sent stop working because acceptance checks that the
/// inviter may still invite. Runs inside the caller's transaction.
pub fn remove_membership(c: &mut DbConn, account_id: &str, user_id: &str) -> OpResult<()> {
    crate::workspaces::model::remove_user_accesses_in_account(c, account_id, user_id)?;
    crate::teams::model::remove_user_from_account_teams(c, account_id, user_id)?;
    members::remove_member(c, account_id, user_id)?;
    Ok(())
}

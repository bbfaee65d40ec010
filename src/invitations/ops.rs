//! Invitation operations, shared by the pages and the JSON API: inviting addresses to the
//! account or to one workspace, revoking, checking a link, accepting and declining. Each
//! change runs under the account lock in one transaction, re-checking that the inviter may
//! still give the role, and records its audit event in it.

use serde_json::json;

use super::mail::queue_mail;
use super::model::{self as invitations, NewInvitation};
use crate::accounts::model::{self as accounts, Account};
use crate::audit::{Actor, Event};
use crate::authz::account::may_assign;
use crate::authz::{AccountPerm, AccountRole, PermSet};
use crate::db::{DbConn, write_tx};
use crate::ids::{AccountId, InvitationId};
use crate::mail;
use crate::members::ops::invite_roles;
use crate::outcome::{OpResult, Reason, Refusal, forbidden, invalid, refuse};
use crate::settings::AppConfig;
use crate::users::domain::Email;
use crate::users::model::User;

/// Reads that carry no rule of their own.
pub use super::model::{Invitation, Status, code_for, find, list};

pub const MAX_ADDRESSES: usize = 50;

pub const NO_ADDRESS: &str = "Enter at least one e-mail address.";

pub const ROLE_CHOICE: &str =
    "Choose a role you may give: Member or Admin (Owner only for Owners).";

pub const ALREADY_MEMBER: &str = "Already a member of this account.";

pub fn invitation_event(
    action: &'static str,
    actor: Actor,
    inv: &Invitation,
    ip: &str,
    payload: serde_json::Value,
) -> Event {
    Event::new(
        action,
        actor,
        "invitation",
        Some(inv.id.clone()),
        inv.email.clone(),
    )
    .account(inv.account_id.clone())
    // A workspace invitation's events belong to that workspace too, like its creation.
    .workspace_opt(inv.workspace_id.clone())
    .ip(ip.to_string())
    .payload(payload)
}

/// What happened to one address of an invite list.
#[derive(Clone, Debug)]
pub struct AddressResult {
    pub address: String,
    pub ok: bool,
    pub message: String,
}

pub fn split_addresses(raw: &str) -> Vec<String> {
    let mut seen = Vec::<String>::new();
    raw.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .for_each(|s| {
            if !seen.iter().any(|x| x.eq_ignore_ascii_case(s)) {
                seen.push(s.to_string());
            }
        });
    seen
}

/// What inviting one address did.
pub enum Invited {
    AlreadyMember,
    Sent {
        inv: Box<Invitation>,
        replaced: bool,
    },
}

/// Invites one address to the account with `role` (inside the caller's transaction, with
/// the account locked): a pending invitation for the same address is revoked and replaced,
/// the e-mail is queued in the outbox, `atrium.invitation.created` is recorded.
pub fn invite_address(
    c: &mut DbConn,
    cfg: &AppConfig,
    account: &Account,
    email: &Email,
    role: AccountRole,
    inviter: &User,
    ip: &str,
) -> OpResult<Invited> {
    if invitations::is_member_email(c, &account.id, email.normalized())? {
        return Ok(Invited::AlreadyMember);
    }
    let mut replaced = false;
    if let Some(old) = invitations::pending_for(c, &account.id, email.normalized(), None)? {
        invitations::respond(c, &old.id, "revoked", None)?;
        mail::cancel_pending(c, &old.id)?;
        replaced = true;
    }
    let (inv, code) = invitations::create(
        c,
        &cfg.link_key,
        &NewInvitation {
            account_id: &account.id,
            email: email.as_str(),
            email_normalized: email.normalized(),
            role,
            invited_by: &inviter.id,
            invited_by_name: &inviter.display_name(),
            ttl: cfg.settings.invitation_ttl,
            workspace: None,
        },
    )?;
    crate::faults::point("invite_after_row");
    queue_mail(c, cfg, &inv, &code, account)?;
    invitation_event(
        "atrium.invitation.created",
        Actor::user(inviter),
        &inv,
        ip,
        json!({ "email": inv.email, "role": role.as_str() }),
    )
    .record(c)?;
    crate::faults::point("invite_before_commit");
    Ok(Invited::Sent {
        inv: Box::new(inv),
        replaced,
    })
}

/// Revokes the account's invitation `iid` in one transaction (its queued e-mail is
/// cancelled, `atrium.invitation.revoked` recorded). Not pending any more: nothing to do.
pub fn revoke(
    c: &mut DbConn,
    account: &AccountId,
    iid: &InvitationId,
    actor: Actor,
    ip: &str,
) -> OpResult<()> {
    write_tx(c, |c| {
        // Under the account lock, like acceptance: an invitee accepting at the same moment
        // then sees either the invitation revoked or themselves already joined.
        accounts::lock(c, account.as_str())?;
        let inv = invitations::find(c, iid.as_str())?
            .filter(|i| i.account_id == account.as_str())
            .ok_or(Refusal::NotFound)?;
        if invitations::respond(c, &inv.id, "revoked", None)? {
            mail::cancel_pending(c, &inv.id)?;
            invitation_event("atrium.invitation.revoked", actor, &inv, ip, json!({})).record(c)?;
        }
        Ok(())
    })
}

/// Why an invitation cannot be used, in words for the invitee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unusable {
    Invalid,
    Expired,
    Revoked,
    Declined,
    Used,
    InviterLostRight,
}

impl Unusable {
    pub fn title(self) -> &'static str {
        match self {
            Unusable::Invalid => "This invitation link is not valid",
            Unusable::Expired => "This invitation has expired",
            Unusable::Revoked => "This invitation was withdrawn",
            Unusable::Declined => "This invitation was declined",
            Unusable::Used => "This invitation has already been used",
            Unusable::InviterLostRight => "This invitation is no longer valid",
        }
    }
}

/// An invitation checked against its code, with the account and what keeps it from use.
pub struct Checked {
    pub inv: Invitation,
    pub account: Account,
    pub problem: Option<Unusable>,
}

pub fn check(c: &mut DbConn, id: &str, code: &str) -> OpResult<Option<Checked>> {
    let Some(inv) = invitations::find(c, id)? else {
        return Ok(None);
    };
    if !inv.code_matches(code) {
        return Ok(None);
    }
    let Some(account) = accounts::find(c, &inv.account_id)? else {
        return Ok(None);
    };
    let problem = match inv.status() {
        Status::Accepted => Some(Unusable::Used),
        Status::Declined => Some(Unusable::Declined),
        Status::Revoked => Some(Unusable::Revoked),
        Status::Expired => Some(Unusable::Expired),
        Status::Pending => {
            // The sender must still be allowed to invite with this role: for a workspace
            // invitation, still manage its members and hold every scope of the role
            // (`workspaces::grants`, read in this transaction).
            let ok = match (&inv.invited_by, &inv.workspace_id) {
                (None, _) => false,
                (Some(uid), Some(wid)) => {
                    match crate::workspaces::grants::Granter::load(
                        c,
                        &inv.account_id,
                        wid,
                        crate::workspaces::access::ActorRef::User(uid),
                    )? {
                        Some(g) if g.has("manage_workspace_users") => {
                            match inv.workspace_role_id.as_deref() {
                                Some(rid) => crate::workspaces::model::role(c, rid)?
                                    .is_some_and(|r| g.may_give(&r)),
                                None => false,
                            }
                        }
                        _ => false,
                    }
                }
                (Some(uid), None) => crate::members::ops::role_of(c, &inv.account_id, uid)?
                    .is_some_and(|r| {
                        PermSet::of_role(r).has(AccountPerm::CreateInvitation)
                            && may_assign(r, inv.role())
                    }),
            };
            if ok {
                None
            } else {
                Some(Unusable::InviterLostRight)
            }
        }
    };
    Ok(Some(Checked {
        inv,
        account,
        problem,
    }))
}

/// Outcome of accepting.
#[derive(Debug)]
pub enum Accepted {
    Joined(String),
    AlreadyMember(String),
    WrongUser,
    Problem(Unusable),
}

/// Where the invitee lands: the workspace, or the account's members page.
pub fn destination(inv: &Invitation) -> String {
    match &inv.workspace_id {
        Some(w) => format!("/account/{}/workspace/{w}/dashboard", inv.account_id),
        None => format!("/account/{}/members", inv.account_id),
    }
}

/// Accepts invitation `id` with `code` as `user` in one write transaction: checks again
/// under the account lock, marks the invitation accepted only if it is still pending,
/// creates the membership.
pub fn accept_invitation(
    c: &mut DbConn,
    id: &str,
    code: &str,
    user: &User,
    ip: &str,
) -> OpResult<Accepted> {
    write_tx(c, |c| accept_tx(c, id, code, user, ip))
}

pub fn accept_tx(
    c: &mut DbConn,
    id: &str,
    code: &str,
    user: &User,
    ip: &str,
) -> OpResult<Accepted> {
    let Some(first) = invitations::find(c, id)? else {
        return Ok(Accepted::Problem(Unusable::Invalid));
    };
    accounts::lock(c, &first.account_id)?;
    let Some(ch) = check(c, id, code)? else {
        return Ok(Accepted::Problem(Unusable::Invalid));
    };
    if ch.inv.email_normalized != user.email_normalized {
        return Ok(Accepted::WrongUser);
    }
    if let Some(p) = ch.problem {
        if p == Unusable::Used && ch.inv.accepted_by.as_deref() == Some(user.id.as_str()) {
            return Ok(Accepted::AlreadyMember(destination(&ch.inv)));
        }
        return Ok(Accepted::Problem(p));
    }
    if !invitations::respond(c, &ch.inv.id, "accepted", Some(&user.id))? {
        // Answered by someone else since it was read: say how.
        let problem = match check(c, id, code)?.and_then(|ch| ch.problem) {
            Some(p) => p,
            None => Unusable::Used,
        };
        return Ok(Accepted::Problem(problem));
    }
    crate::faults::point("accept_after_respond");
    if crate::members::ops::role_of(c, &ch.account.id, &user.id)?.is_none() {
        crate::members::model::add_member(c, &ch.account.id, &user.id, ch.inv.role())?;
    }
    if let (Some(wid), Some(rid)) = (&ch.inv.workspace_id, &ch.inv.workspace_role_id) {
        crate::workspaces::model::set_user_access(c, wid, &user.id, rid)?;
    }
    // The invitee opened a link sent to this address: it is theirs (issue #19, point 5).
    crate::users::model::mark_verified(c, &user.id)?;
    invitation_event(
        "atrium.invitation.accepted",
        Actor::user(user),
        &ch.inv,
        ip,
        json!({ "role": ch.inv.role, "user_id": user.id }),
    )
    .record(c)?;
    crate::faults::point("accept_before_commit");
    Ok(Accepted::Joined(destination(&ch.inv)))
}

/// Invites `email` to one workspace with a workspace role (inside the caller's transaction):
/// a pending invitation for the same address and workspace is replaced. On acceptance the
/// person becomes a Collaborator of the account (unless already a member) with that role.
#[allow(clippy::too_many_arguments)]
pub fn invite_to_workspace(
    c: &mut DbConn,
    cfg: &AppConfig,
    account: &Account,
    workspace_id: &str,
    role_id: &str,
    email: &Email,
    inviter: &User,
    ip: &str,
) -> OpResult<bool> {
    let mut replaced = false;
    if let Some(old) =
        invitations::pending_for(c, &account.id, email.normalized(), Some(workspace_id))?
    {
        invitations::respond(c, &old.id, "revoked", None)?;
        mail::cancel_pending(c, &old.id)?;
        replaced = true;
    }
    let (inv, code) = invitations::create(
        c,
        &cfg.link_key,
        &NewInvitation {
            account_id: &account.id,
            email: email.as_str(),
            email_normalized: email.normalized(),
            role: AccountRole::Collaborator,
            invited_by: &inviter.id,
            invited_by_name: &inviter.display_name(),
            ttl: cfg.settings.invitation_ttl,
            workspace: Some((workspace_id, role_id)),
        },
    )?;
    queue_mail(c, cfg, &inv, &code, account)?;
    Event::new(
        "atrium.invitation.created",
        Actor::user(inviter),
        "invitation",
        Some(inv.id.clone()),
        inv.email.clone(),
    )
    .account(account.id.clone())
    .workspace(workspace_id.to_string())
    .ip(ip.to_string())
    .payload(json!({ "email": inv.email, "workspace_role_id": role_id }))
    .record(c)?;
    Ok(replaced)
}

/// Invites each address of a list to the account with `role`, in one transaction under the
/// account lock: each address answers on its own (not an address, already a member, sent,
/// or sent replacing an earlier pending invitation).
pub fn invite_many(
    c: &mut DbConn,
    cfg: &AppConfig,
    account: &Account,
    addresses: &[String],
    role: AccountRole,
    inviter: &User,
    ip: &str,
) -> OpResult<Vec<AddressResult>> {
    write_tx(c, |c| {
        accounts::lock(c, &account.id)?;
        let mut results = Vec::new();
        for raw in addresses {
            let email = match Email::parse(raw) {
                Ok(e) => e,
                Err(msg) => {
                    results.push(AddressResult {
                        address: raw.clone(),
                        ok: false,
                        message: msg.to_string(),
                    });
                    continue;
                }
            };
            let (ok, message) = match invite_address(c, cfg, account, &email, role, inviter, ip)? {
                Invited::AlreadyMember => (false, ALREADY_MEMBER.to_string()),
                Invited::Sent { replaced: true, .. } => (
                    true,
                    "Invitation sent; it replaces the earlier pending one.".to_string(),
                ),
                Invited::Sent {
                    replaced: false, ..
                } => (true, "Invitation sent.".to_string()),
            };
            results.push(AddressResult {
                address: raw.clone(),
                ok,
                message,
            });
        }
        Ok(results)
    })
}

/// Declines invitation `id` with `code` in one transaction (`atrium.invitation.declined`,
/// by the signed-in user or, without one, by the invited address). Answers what keeps the
/// invitation from use, if anything did.
pub fn decline(
    c: &mut DbConn,
    id: &str,
    code: &str,
    user: Option<&User>,
    ip: &str,
) -> OpResult<Option<Unusable>> {
    write_tx(c, |c| {
        let Some(ch) = check(c, id, code)? else {
            return Ok(Some(Unusable::Invalid));
        };
        if let Some(p) = ch.problem {
            return Ok(Some(p));
        }
        if invitations::respond(c, &ch.inv.id, "declined", None)? {
            let actor = match user {
                Some(u) => Actor::user(u),
                None => Actor::Anonymous {
                    label: ch.inv.email.clone(),
                },
            };
            invitation_event("atrium.invitation.declined", actor, &ch.inv, ip, json!({}))
                .record(c)?;
        }
        Ok(None)
    })
}

/// The account's latest invitations (at most 500) with the delivery state of each e-mail.
pub fn list_with_delivery(
    c: &mut DbConn,
    account_id: &str,
) -> OpResult<(
    Vec<Invitation>,
    std::collections::HashMap<String, mail::Delivery>,
)> {
    let invs = invitations::list(c, account_id, 500)?;
    let ids: Vec<String> = invs.iter().map(|i| i.id.clone()).collect();
    let states = mail::delivery_states(c, &ids)?;
    Ok((invs, states))
}

/// Sends a pending invitation again in one transaction: a new code and expiry (the old
/// link stops working), the queued e-mail replaced, `atrium.invitation.resent` recorded.
/// Not the account's or not pending: 404.
pub fn resend(
    c: &mut DbConn,
    cfg: &AppConfig,
    account: &Account,
    iid: &InvitationId,
    actor: &User,
    ip: &str,
) -> OpResult<()> {
    write_tx(c, |c| {
        let inv = invitations::find(c, iid.as_str())?
            .filter(|i| i.account_id == account.id && i.status == "pending")
            .ok_or(Refusal::NotFound)?;
        let code = invitations::renew(c, &cfg.link_key, &inv.id, cfg.settings.invitation_ttl)?;
        mail::cancel_pending(c, &inv.id)?;
        let inv = invitations::find(c, &inv.id)?.ok_or(Refusal::NotFound)?;
        queue_mail(c, cfg, &inv, &code, account)?;
        invitation_event(
            "atrium.invitation.resent",
            Actor::user(actor),
            &inv,
            ip,
            json!({}),
        )
        .record(c)?;
        Ok(())
    })
}

/// What inviting a whole list did: every invitation, or none because one address
/// (at `index` in the list) already belongs to a member.
pub enum InvitedAll {
    Sent(Vec<Invitation>),
    AlreadyMember { index: usize },
}

/// Invites every `(address, role)` of a list, all or none, in one transaction under the
/// account lock (the API's `invitations` body). The inviter's role is read inside it: not a
/// member any more is 404, no `create:invitation` 403, a role above their own 403.
pub fn invite_all(
    c: &mut DbConn,
    cfg: &AppConfig,
    account: &Account,
    wanted: &[(Email, AccountRole)],
    inviter: &User,
    ip: &str,
) -> OpResult<InvitedAll> {
    write_tx(c, |c| {
        accounts::lock(c, &account.id)?;
        // Decide with current data: the inviter's role now.
        let role = crate::members::model::role_of(c, &account.id, &inviter.id)?;
        let Some((role, perms)) = crate::authz::account::account_permissions(role) else {
            return refuse(Refusal::NotFound);
        };
        if !perms.has(AccountPerm::CreateInvitation) {
            return refuse(Refusal::Forbidden(None));
        }
        if wanted.iter().any(|(_, r)| !invite_roles(role).contains(r)) {
            return forbidden(Reason::AboveOwnRole);
        }
        for (index, (email, _)) in wanted.iter().enumerate() {
            if invitations::is_member_email(c, &account.id, email.normalized())? {
                return Ok(InvitedAll::AlreadyMember { index });
            }
        }
        let mut created = Vec::new();
        for (email, r) in wanted {
            match invite_address(c, cfg, account, email, *r, inviter, ip)? {
                Invited::Sent { inv, .. } => created.push(*inv),
                Invited::AlreadyMember => return refuse(Refusal::Conflict(Reason::Changed)),
            }
        }
        Ok(InvitedAll::Sent(created))
    })
}

/// Invites `email` to the workspace with the role `role_id` in one transaction under the
/// account lock, deciding with current data: the role must be one of the account's, the
/// inviter must manage the workspace's members and hold every scope of the role (403), and
/// the address must not be a member's already. Answers whether an earlier pending
/// invitation was replaced.
#[allow(clippy::too_many_arguments)]
pub fn invite_to_workspace_checked(
    c: &mut DbConn,
    cfg: &AppConfig,
    account: &Account,
    workspace_id: &str,
    role_id: &str,
    email: &Email,
    inviter: &User,
    ip: &str,
) -> OpResult<bool> {
    write_tx(c, |c| {
        accounts::lock(c, &account.id)?;
        let Some(role) = crate::workspaces::model::role(c, role_id)?.filter(|r| {
            r.account_id.is_none() || r.account_id.as_deref() == Some(account.id.as_str())
        }) else {
            return invalid("role_id", crate::workspaces::ops::ROLE_CHOICE);
        };
        let Some(g) = crate::workspaces::grants::Granter::load(
            c,
            &account.id,
            workspace_id,
            crate::workspaces::access::ActorRef::User(&inviter.id),
        )?
        else {
            return refuse(Refusal::NotFound);
        };
        if !g.has("manage_workspace_users") || !g.may_give(&role) {
            return forbidden(Reason::AboveOwnScopes);
        }
        if invitations::is_member_email(c, &account.id, email.normalized())? {
            return invalid(
                "email",
                "Already a member of the account: add them with the form above.",
            );
        }
        invite_to_workspace(c, cfg, account, workspace_id, &role.id, email, inviter, ip)
    })
}

/// Property tests (issue #9) for the multi-address splitter.
#[cfg(test)]
mod proptests {
    use super::split_addresses;
    use proptest::prelude::*;

    fn list() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-zA-Z@.,; \\t\\r\\n\u{a0}\u{3000}\u{200b}]{0,80}",
            prop::collection::vec("[a-zA-Z]{1,8}@[a-z]{1,8}\\.(com|org)", 0..8)
                .prop_flat_map(|v| {
                    let n = v.len().saturating_sub(1);
                    (Just(v), prop::collection::vec("[,; \\t\\r\\n]{1,3}", n..=n))
                })
                .prop_map(|(v, seps)| {
                    let mut out = String::new();
                    for (i, a) in v.iter().enumerate() {
                        out.push_str(a);
                        if let Some(s) = seps.get(i) {
                            out.push_str(s);
                        }
                    }
                    out
                }),
        ]
    }

    proptest! {
        #[test]
        fn splitting_never_panics_and_is_idempotent(raw in list()) {
            let parts = split_addresses(&raw);
            for p in &parts {
                prop_assert!(!p.is_empty());
                prop_assert!(!p.chars().any(|c| c == ',' || c == ';' || c.is_whitespace()));
                prop_assert!(raw.contains(p.as_str()));
            }
            // No address twice, whatever its case.
            for (i, a) in parts.iter().enumerate() {
                prop_assert!(!parts[i + 1..].iter().any(|b| b.eq_ignore_ascii_case(a)));
            }
            // Joined again with any separator, the list splits to itself.
            prop_assert_eq!(split_addresses(&parts.join(", ")), parts.clone());
            prop_assert_eq!(split_addresses(&parts.join("\n")), parts.clone());
        }

        #[test]
        fn every_address_typed_is_kept_once(
            v in prop::collection::vec("[a-z]{1,8}@[a-z]{1,8}\\.com", 1..10)
        ) {
            let parts = split_addresses(&v.join(" ; "));
            for a in &v {
                prop_assert!(parts.contains(a));
            }
            prop_assert!(parts.len() <= v.len());
        }
    }
}

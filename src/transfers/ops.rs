//! Transfer operations: the preview, the move in one transaction, requests and their
//! approval, decline, cancel and expiry, each recorded in both accounts' audit logs.

use chrono::TimeDelta;
use diesel::prelude::*;
use serde_json::json;

use crate::accounts::model::{self as accounts, Account, AccountRole};
use crate::audit::{Actor, Event};
use crate::db::schema::{
    account_memberships, invitations, users, workspace_access, workspace_bot_access,
    workspace_roles, workspace_transfers, workspaces,
};
use crate::db::{DbConn, new_id, now};
use crate::users::domain::Handle;
use crate::workspaces::model::{self as wsm, Workspace};

use super::model::close;
pub use super::model::{
    TransferRequest, admin_emails, find, incoming, open_for_workspace, outgoing,
};

/// How long a transfer request waits for the target's admins.
pub const REQUEST_TTL: TimeDelta = TimeDelta::days(7);

/// A user whose access changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserChange {
    pub user_id: String,
    pub handle: String,
    pub role_name: String,
    /// What happens to them, in plain words.
    pub outcome: String,
}

/// Everything a transfer would change; `problems` block it (field, message).
#[derive(Clone, Debug)]
pub struct Preview {
    pub workspace: Workspace,
    pub target: Account,
    pub final_handle: String,
    pub users_losing: Vec<UserChange>,
    pub users_falling_back: Vec<UserChange>,
    pub bots_losing: Vec<(String, String)>,
    /// The source account's teams with a role on the workspace: `(team name, role name)`.
    /// Teams belong to an account, so their accesses end with the move.
    pub teams_losing: Vec<(String, String)>,
    /// People whose access through such a team ends (one entry per person, naming the
    /// teams), whatever else they keep.
    pub users_losing_team_access: Vec<UserChange>,
    pub invitations_revoked: Vec<(String, String)>,
    pub custom_roles: Vec<String>,
    pub default_role_reset: Option<String>,
    pub handle_conflict: bool,
    pub target_limit: Option<i64>,
    pub target_count: i64,
    pub problems: Vec<(&'static str, String)>,
}

impl Preview {
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The workspace is no longer in the source account (deleted or moved).
    #[error("the workspace no longer exists in this account")]
    Gone,
    #[error("the transfer is not possible: {0:?}")]
    Invalid(Vec<(&'static str, String)>),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Locks the accounts in id order (PostgreSQL; SQLite's write lock already serializes).
pub fn lock_accounts(c: &mut DbConn, a: &str, b: &str) -> QueryResult<()> {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    accounts::lock(c, first)?;
    if second != first {
        accounts::lock(c, second)?;
    }
    Ok(())
}

/// Computes what moving `ws` to `target` changes. `new_handle` (trimmed; empty = keep)
/// replaces the handle.
pub fn preview(
    c: &mut DbConn,
    ws: &Workspace,
    target: &Account,
    new_handle: &str,
) -> QueryResult<Preview> {
    let mut problems = Vec::new();
    if target.id == ws.account_id {
        problems.push((
            "to_account_id",
            "The workspace is already in this account.".to_string(),
        ));
    }
    let new_handle = new_handle.trim();
    let final_handle = if new_handle.is_empty() {
        ws.handle.clone()
    } else {
        match Handle::parse_len(new_handle, 1) {
            Ok(h) => h.as_str().to_string(),
            Err(msg) => {
                problems.push(("new_handle", msg.to_string()));
                ws.handle.clone()
            }
        }
    };
    let handle_conflict = wsm::handle_taken(c, &target.id, &final_handle)?;
    if handle_conflict {
        problems.push((
            "new_handle",
            format!(
                "{} already has a workspace with the handle \u{201c}{final_handle}\u{201d}. Choose a new handle.",
                target.name
            ),
        ));
    }
    let target_count = wsm::count_in_account(c, &target.id)?;
    if let Some(limit) = target.workspace_limit
        && target_count >= limit
    {
        problems.push((
            "to_account_id",
            format!(
                "{} has reached its limit of {limit} workspace{}.",
                target.name,
                if limit == 1 { "" } else { "s" }
            ),
        ));
    }

    // Roles: a custom role of the source account does not exist in the target.
    let default_role = match &ws.default_role_id {
        Some(id) => wsm::role(c, id)?,
        None => None,
    };
    let default_is_source_custom = default_role
        .as_ref()
        .is_some_and(|r| r.account_id.as_deref() == Some(ws.account_id.as_str()));
    let default_after = if default_is_source_custom {
        None
    } else {
        default_role.clone()
    };
    let default_role_reset = default_role
        .as_ref()
        .filter(|_| default_is_source_custom)
        .map(|r| r.name.clone());

    let target_members: Vec<(String, String)> = account_memberships::table
        .filter(account_memberships::account_id.eq(&target.id))
        .filter(
            account_memberships::user_id.eq_any(
                workspace_access::table
                    .filter(workspace_access::workspace_id.eq(&ws.id))
                    .select(workspace_access::user_id),
            ),
        )
        .select((account_memberships::user_id, account_memberships::role))
        .load(c)?;
    let accesses: Vec<(String, String, String, String, Option<String>)> = workspace_access::table
        .inner_join(users::table)
        .inner_join(workspace_roles::table)
        .filter(workspace_access::workspace_id.eq(&ws.id))
        .order(users::handle.asc())
        .select((
            users::id,
            users::handle,
            workspace_roles::id,
            workspace_roles::name,
            workspace_roles::account_id,
        ))
        .load(c)?;
    let mut users_losing = Vec::new();
    let mut users_falling_back = Vec::new();
    let mut custom_roles: Vec<String> = Vec::new();
    if let Some(name) = &default_role_reset {
        custom_roles.push(name.clone());
    }
    for (user_id, handle, _role_id, role_name, role_account) in accesses {
        let membership = target_members
            .iter()
            .find(|(u, _)| *u == user_id)
            .and_then(|(_, r)| AccountRole::parse(r));
        let custom = role_account.as_deref() == Some(ws.account_id.as_str());
        if custom && !custom_roles.contains(&role_name) {
            custom_roles.push(role_name.clone());
        }
        match membership {
            None => users_losing.push(UserChange {
                user_id,
                handle: handle.clone(),
                role_name,
                outcome: format!("{handle} is not a member of {}: loses access.", target.name),
            }),
            Some(role) if custom => {
                let outcome = match role {
                    AccountRole::Owner | AccountRole::Admin => format!(
                        "{handle}'s role {role_name} does not exist in {}: keeps full access as {} {}.",
                        target.name,
                        role.label(),
                        target.name
                    ),
                    AccountRole::Member if default_after.is_some() => format!(
                        "{handle}'s role {role_name} does not exist in {}: falls back to the workspace default, {}.",
                        target.name,
                        default_after
                            .as_ref()
                            .map(|r| r.name.as_str())
                            .unwrap_or_default()
                    ),
                    _ => format!(
                        "{handle}'s role {role_name} does not exist in {}: loses access (the default role is No Access).",
                        target.name
                    ),
                };
                users_falling_back.push(UserChange {
                    user_id,
                    handle,
                    role_name,
                    outcome,
                });
            }
            Some(_) => {}
        }
    }
    let bots_losing: Vec<(String, String)> = workspace_bot_access::table
        .inner_join(crate::db::schema::service_accounts::table)
        .filter(workspace_bot_access::workspace_id.eq(&ws.id))
        .order(crate::db::schema::service_accounts::name_normalized.asc())
        .select((
            crate::db::schema::service_accounts::id,
            crate::db::schema::service_accounts::name,
        ))
        .load(c)?;
    let teams_losing: Vec<(String, String)> =
        crate::teams::model::accesses_of_workspace(c, &ws.id, 0, i64::MAX)?
            .into_iter()
            .map(|a| (a.team_name, a.role_name))
            .collect();
    let mut users_losing_team_access: Vec<UserChange> = Vec::new();
    for (user_id, handle, team) in crate::teams::model::team_only_people(c, &ws.id)? {
        match users_losing_team_access.last_mut() {
            Some(u) if u.user_id == user_id => {
                u.role_name = format!("{}, {team}", u.role_name);
            }
            _ => users_losing_team_access.push(UserChange {
                user_id,
                handle,
                role_name: team,
                outcome: String::new(),
            }),
        }
    }
    for u in &mut users_losing_team_access {
        u.outcome = format!(
            "{} has access through the team {} of this account: that access ends.",
            u.handle, u.role_name
        );
    }
    let invitations_revoked: Vec<(String, String)> = invitations::table
        .filter(invitations::workspace_id.eq(&ws.id))
        .filter(invitations::status.eq("pending"))
        .order(invitations::email_normalized.asc())
        .select((invitations::id, invitations::email))
        .load(c)?;
    Ok(Preview {
        workspace: ws.clone(),
        target: target.clone(),
        final_handle,
        users_losing,
        users_falling_back,
        bots_losing,
        teams_losing,
        users_losing_team_access,
        invitations_revoked,
        custom_roles,
        default_role_reset,
        handle_conflict,
        target_limit: target.workspace_limit,
        target_count,
        problems,
    })
}

/// The workspace `ws_id` if it is (still) in `account_id`.
fn current(c: &mut DbConn, account_id: &str, ws_id: &str) -> QueryResult<Option<Workspace>> {
    wsm::find(c, account_id, ws_id)
}

/// Which workspace goes where.
#[derive(Clone, Copy, Debug)]
pub struct Move<'a> {
    pub source_id: &'a str,
    pub workspace_id: &'a str,
    pub target_id: &'a str,
    /// Empty: keep the handle.
    pub new_handle: &'a str,
}

/// Moves the workspace. Call inside `write_tx`, after [`lock_accounts`]. Re-reads the
/// workspace and recomputes the preview under the locks; applies exactly what it lists;
/// records `atrium.workspace.transferred` in both accounts' audit logs.
pub fn execute(
    c: &mut DbConn,
    m: &Move<'_>,
    actor: &Actor,
    ip: Option<String>,
    request_id: Option<&str>,
) -> Result<Preview, TransferError> {
    let Move {
        source_id,
        workspace_id: ws_id,
        target_id,
        new_handle,
    } = *m;
    let Some(ws) = current(c, source_id, ws_id)? else {
        return Err(TransferError::Gone);
    };
    let Some(target) = accounts::find(c, target_id)? else {
        return Err(TransferError::Invalid(vec![(
            "to_account_id",
            "That account does not exist.".into(),
        )]));
    };
    let p = preview(c, &ws, &target, new_handle)?;
    if !p.is_valid() {
        return Err(TransferError::Invalid(p.problems));
    }
    // Everyone with an access before the move: afterwards none of them has this workspace in
    // the source, so a Collaborator of the source whose only access it was stops being one
    // there, whether they lost the access or keep it as a member of the target.
    let holders = wsm::users_with_access(c, &ws.id)?;
    let removed_users: Vec<&str> = p
        .users_losing
        .iter()
        .chain(p.users_falling_back.iter())
        .map(|u| u.user_id.as_str())
        .collect();
    diesel::delete(
        workspace_access::table
            .filter(workspace_access::workspace_id.eq(&ws.id))
            .filter(workspace_access::user_id.eq_any(&removed_users)),
    )
    .execute(c)?;
    diesel::delete(
        workspace_bot_access::table.filter(workspace_bot_access::workspace_id.eq(&ws.id)),
    )
    .execute(c)?;
    // Teams are the source account's: their accesses end with the move.
    crate::teams::model::remove_accesses_of_workspace(c, &ws.id)?;
    crate::faults::point("transfer_after_accesses");
    for (inv_id, _) in &p.invitations_revoked {
        if crate::invitations::model::respond(c, inv_id, "revoked", None)? {
            crate::mail::cancel_pending(c, inv_id)?;
        }
    }
    let t = now();
    diesel::update(
        workspaces::table
            .filter(workspaces::id.eq(&ws.id))
            .filter(workspaces::account_id.eq(source_id)),
    )
    .set((
        workspaces::account_id.eq(target_id),
        workspaces::handle.eq(&p.final_handle),
        workspaces::updated_at.eq(t),
    ))
    .execute(c)?;
    crate::faults::point("transfer_after_move");
    if p.default_role_reset.is_some() {
        diesel::update(workspaces::table.find(&ws.id))
            .set(workspaces::default_role_id.eq(None::<String>))
            .execute(c)?;
    }
    for uid in &holders {
        wsm::drop_collaborator_without_access(c, source_id, uid)?;
    }
    let payload = json!({
        "from_account_id": source_id,
        "to_account_id": target_id,
        "name": ws.name,
        "old_handle": ws.handle,
        "new_handle": p.final_handle,
        "users_removed": p.users_losing.iter().map(|u| &u.handle).collect::<Vec<_>>(),
        "users_with_custom_roles_removed": p.users_falling_back.iter().map(|u| &u.handle).collect::<Vec<_>>(),
        "service_accounts_removed": p.bots_losing.iter().map(|(_, n)| n).collect::<Vec<_>>(),
        "team_accesses_removed": p.teams_losing.iter().map(|(t, _)| t).collect::<Vec<_>>(),
        "users_losing_team_access": p.users_losing_team_access.iter().map(|u| &u.handle).collect::<Vec<_>>(),
        "invitations_revoked": p.invitations_revoked.len(),
        "default_role_reset": p.default_role_reset,
        "request_id": request_id,
    });
    for account in [source_id, target_id] {
        Event::new(
            "atrium.workspace.transferred",
            actor.clone(),
            "workspace",
            Some(ws.id.clone()),
            ws.name.clone(),
        )
        .account(account.to_string())
        .workspace(ws.id.clone())
        .ip_opt(ip.clone())
        .payload(payload.clone())
        .record(c)?;
    }
    crate::faults::point("transfer_before_commit");
    Ok(p)
}

/// May this user start a transfer out of `source` (needs `delete:workspace` there), and
/// must an admin of `target` approve it (they are not Owner/Admin there)?
pub fn may_initiate(source_role: Option<AccountRole>) -> bool {
    crate::authz::account::account_permissions(source_role)
        .is_some_and(|(_, p)| p.has(crate::authz::account::AccountPerm::DeleteWorkspace))
}

/// True when `role` in the target lets the user take the workspace in without approval.
pub fn may_receive(role: Option<AccountRole>) -> bool {
    crate::authz::account::account_permissions(role)
        .is_some_and(|(_, p)| p.has(crate::authz::account::AccountPerm::CreateWorkspace))
}

/// Accounts a user can transfer to: every account they are Owner, Admin or Member of,
/// except `source`. Owner/Admin: at once; Member: as a request for approval.
pub fn targets_for(
    c: &mut DbConn,
    user_id: &str,
    source: &str,
) -> QueryResult<Vec<(Account, AccountRole)>> {
    Ok(crate::users::model::for_user(c, user_id)?
        .into_iter()
        .filter(|(a, r)| a.id != source && *r != AccountRole::Collaborator)
        .collect())
}

/// Records `action` about request `r` in the audit logs of both accounts.
fn record_request_event(
    c: &mut DbConn,
    action: &'static str,
    actor: &Actor,
    r: &TransferRequest,
    ip: Option<String>,
    detail: serde_json::Value,
) -> QueryResult<()> {
    for account_id in [&r.source_account_id, &r.target_account_id] {
        Event::new(
            action,
            actor.clone(),
            "workspace_transfer",
            Some(r.id.clone()),
            r.workspace_name.clone(),
        )
        .account(account_id.clone())
        .workspace_opt(r.workspace_id.clone())
        .ip_opt(ip.clone())
        .payload(json!({
            "workspace_handle": r.workspace_handle,
            "from_account_id": r.source_account_id,
            "to_account_id": r.target_account_id,
            "new_handle": r.new_handle,
            "detail": detail,
        }))
        .record(c)?;
    }
    Ok(())
}

/// Records a request (in both accounts' logs). Call inside `write_tx` after
/// [`lock_accounts`]; the preview must be valid. At most one pending request a workspace.
pub fn create_request(
    c: &mut DbConn,
    p: &Preview,
    new_handle: &str,
    requester: &crate::users::model::User,
    ip: Option<String>,
) -> Result<TransferRequest, TransferError> {
    let pending: i64 = workspace_transfers::table
        .filter(workspace_transfers::workspace_id.eq(&p.workspace.id))
        .filter(workspace_transfers::status.eq("pending"))
        .filter(workspace_transfers::expires_at.gt(now()))
        .count()
        .get_result(c)?;
    if pending > 0 {
        return Err(TransferError::Invalid(vec![(
            "to_account_id",
            "A transfer of this workspace is already waiting for approval. Cancel it first.".into(),
        )]));
    }
    // An expired request still holds the unique "one pending" slot: close it.
    expire_stale(c)?;
    let t = now();
    let id = new_id();
    let new_handle = Some(new_handle.trim()).filter(|h| !h.is_empty());
    diesel::insert_into(workspace_transfers::table)
        .values((
            workspace_transfers::id.eq(&id),
            workspace_transfers::workspace_id.eq(&p.workspace.id),
            workspace_transfers::workspace_name.eq(&p.workspace.name),
            workspace_transfers::workspace_handle.eq(&p.workspace.handle),
            workspace_transfers::source_account_id.eq(&p.workspace.account_id),
            workspace_transfers::target_account_id.eq(&p.target.id),
            workspace_transfers::new_handle.eq(new_handle),
            workspace_transfers::status.eq("pending"),
            workspace_transfers::requested_by.eq(&requester.id),
            workspace_transfers::requested_by_name.eq(requester.display_name()),
            workspace_transfers::created_at.eq(t),
            workspace_transfers::expires_at.eq(t + REQUEST_TTL),
        ))
        .execute(c)?;
    let r = find(c, &id)?.ok_or(TransferError::Gone)?;
    let actor = crate::audit::Actor::user(requester);
    record_request_event(
        c,
        "atrium.workspace.transfer_requested",
        &actor,
        &r,
        ip.clone(),
        json!({}),
    )?;
    Ok(r)
}

/// Marks pending requests past their expiry as expired, each recorded as
/// `atrium.workspace.transfer_expired` (by the system) in both accounts' logs. Call it
/// inside the transaction that should hold the change (`db::write_tx`).
pub fn expire_stale(c: &mut DbConn) -> QueryResult<usize> {
    let cutoff = now();
    let stale: Vec<TransferRequest> = workspace_transfers::table
        .filter(workspace_transfers::status.eq("pending"))
        .filter(workspace_transfers::expires_at.le(cutoff))
        .order(workspace_transfers::id.asc())
        .select(TransferRequest::as_select())
        .load(c)?;
    let mut expired = 0;
    for r in &stale {
        let n = diesel::update(
            workspace_transfers::table
                .filter(workspace_transfers::id.eq(&r.id))
                .filter(workspace_transfers::status.eq("pending")),
        )
        .set(workspace_transfers::status.eq("expired"))
        .execute(c)?;
        if n == 1 {
            record_request_event(
                c,
                "atrium.workspace.transfer_expired",
                &Actor::System,
                r,
                None,
                json!({}),
            )?;
            expired += 1;
        }
    }
    Ok(expired)
}

/// What became of an approval.
#[derive(Debug)]
pub enum Decision {
    Done(Box<Preview>),
    /// The request could not be carried out; it is closed as failed with this reason.
    Failed(String),
    /// It was no longer open (decided, cancelled or expired).
    NotOpen(String),
}

/// Approves request `request_id` as `approver` in one transaction: locks both accounts,
/// checks the approver is still an Owner or Admin of the target (else the request is gone
/// for them), re-checks the request, the requester's right in the source and the preview,
/// then moves the workspace — or closes the request as failed.
pub fn approve(
    c: &mut DbConn,
    request_id: &str,
    approver: &crate::users::model::User,
    ip: Option<String>,
) -> Result<Decision, TransferError> {
    crate::db::write_tx(c, |c| approve_in_tx(c, request_id, approver, ip))
}

fn approve_in_tx(
    c: &mut DbConn,
    request_id: &str,
    approver: &crate::users::model::User,
    ip: Option<String>,
) -> Result<Decision, TransferError> {
    let Some(r) = find(c, request_id)? else {
        return Err(TransferError::Gone);
    };
    lock_accounts(c, &r.source_account_id, &r.target_account_id)?;
    let Some(r) = find(c, request_id)? else {
        return Err(TransferError::Gone);
    };
    if !may_receive(crate::members::model::role_of(
        c,
        &r.target_account_id,
        &approver.id,
    )?) {
        return Err(TransferError::Gone);
    }
    if r.status == "pending" && r.expires_at <= now() {
        if close(c, &r.id, "expired", None, Some("expired before approval"))? {
            record_request_event(
                c,
                "atrium.workspace.transfer_expired",
                &Actor::System,
                &r,
                None,
                json!({ "reason": "expired before approval" }),
            )?;
        }
        return Ok(Decision::NotOpen("This request expired.".into()));
    }
    if r.status != "pending" {
        return Ok(Decision::NotOpen(format!(
            "This request is already {}.",
            r.status
        )));
    }
    let actor = crate::audit::Actor::user(approver);
    let fail = |c: &mut DbConn, why: String| -> Result<Decision, TransferError> {
        close(c, &r.id, "failed", Some(&approver.id), Some(&why))?;
        record_request_event(
            c,
            "atrium.workspace.transfer_failed",
            &actor,
            &r,
            ip.clone(),
            json!({ "reason": why }),
        )?;
        Ok(Decision::Failed(why))
    };
    let requester_role = match &r.requested_by {
        Some(u) => crate::members::model::role_of(c, &r.source_account_id, u)?,
        None => None,
    };
    if !may_initiate(requester_role) {
        return fail(
            c,
            format!(
                "{} may no longer transfer workspaces out of the source account.",
                r.requested_by_name
            ),
        );
    }
    let Some(ws_id) = r.workspace_id.clone() else {
        return fail(c, "The workspace was deleted.".into());
    };
    match execute(
        c,
        &Move {
            source_id: &r.source_account_id,
            workspace_id: &ws_id,
            target_id: &r.target_account_id,
            new_handle: r.new_handle.as_deref().unwrap_or(""),
        },
        &actor,
        ip.clone(),
        Some(&r.id),
    ) {
        Ok(p) => {
            close(c, &r.id, "done", Some(&approver.id), Some("transferred"))?;
            record_request_event(
                c,
                "atrium.workspace.transfer_approved",
                &actor,
                &r,
                ip.clone(),
                json!({}),
            )?;
            Ok(Decision::Done(Box::new(p)))
        }
        Err(TransferError::Gone) => fail(
            c,
            "The workspace was deleted or moved since the request was made.".into(),
        ),
        Err(TransferError::Invalid(problems)) => fail(
            c,
            problems
                .into_iter()
                .map(|(_, m)| m)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        Err(e) => Err(e),
    }
}

/// Declines (`"declined"`, by an Owner or Admin of the target) or cancels (`"cancelled"`,
/// of the source) an open request in one transaction, the decider's role read inside it
/// (not an Owner or Admin there any more: the request is gone for them). `false`: it was no
/// longer open.
pub fn close_request(
    c: &mut DbConn,
    r: &TransferRequest,
    status: &'static str,
    by: &crate::users::model::User,
    ip: Option<String>,
) -> Result<bool, TransferError> {
    crate::db::write_tx(c, |c| {
        lock_accounts(c, &r.source_account_id, &r.target_account_id)?;
        let side = if status == "declined" {
            &r.target_account_id
        } else {
            &r.source_account_id
        };
        let role = crate::members::model::role_of(c, side, &by.id)?;
        let admin = crate::authz::account::account_permissions(role).is_some_and(|(_, p)| {
            p.has(crate::authz::AccountPerm::CreateWorkspace)
                || p.has(crate::authz::AccountPerm::DeleteWorkspace)
        });
        if !admin {
            return Err(TransferError::Gone);
        }
        if !close(c, &r.id, status, Some(&by.id), None)? {
            return Ok(false);
        }
        let action = if status == "declined" {
            "atrium.workspace.transfer_declined"
        } else {
            "atrium.workspace.transfer_cancelled"
        };
        let actor = crate::audit::Actor::user(by);
        record_request_event(c, action, &actor, r, ip, json!({}))?;
        Ok(true)
    })
}

/// What submitting a transfer did.
pub enum Submitted {
    /// The actor may receive in the target (its Owner or Admin): moved at once.
    Moved(Box<Preview>),
    /// Otherwise: a request for the target's Owners and Admins, who were e-mailed.
    Requested(Box<TransferRequest>),
}

/// Transfers the workspace `workspace_id` of `source` to `target` (where the actor holds
/// `role_in_target`) in one transaction under both accounts' locks: moved at once when the
/// actor may receive there, else requested (the preview must be valid; the target's admins
/// are e-mailed in the same transaction). The workspace gone meanwhile: [`TransferError::Gone`].
#[allow(clippy::too_many_arguments)]
pub fn submit(
    c: &mut DbConn,
    source: &str,
    workspace_id: &str,
    target: &Account,
    role_in_target: AccountRole,
    new_handle: &str,
    user: &crate::users::model::User,
    ip: String,
    base_url: &str,
) -> Result<Submitted, TransferError> {
    crate::db::write_tx(c, |c| {
        lock_accounts(c, source, &target.id)?;
        if may_receive(Some(role_in_target)) {
            let m = Move {
                source_id: source,
                workspace_id,
                target_id: &target.id,
                new_handle,
            };
            let p = execute(c, &m, &Actor::user(user), Some(ip), None)?;
            return Ok(Submitted::Moved(Box::new(p)));
        }
        let Some(ws) = wsm::find(c, source, workspace_id)? else {
            return Err(TransferError::Gone);
        };
        let Some(target) = accounts::find(c, &target.id)? else {
            return Err(TransferError::Gone);
        };
        let p = preview(c, &ws, &target, new_handle)?;
        if !p.is_valid() {
            return Err(TransferError::Invalid(p.problems));
        }
        let r = create_request(c, &p, new_handle, user, Some(ip))?;
        super::mail::notify_admins(c, &r, &target, user, base_url)?;
        Ok(Submitted::Requested(Box::new(r)))
    })
}

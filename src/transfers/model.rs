//! Transfer request queries (the `workspace_transfers` table).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::authz::AccountRole;
use crate::db::schema::{account_memberships, users, workspace_transfers};
use crate::db::{DbConn, now};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = workspace_transfers)]
pub struct TransferRequest {
    pub id: String,
    pub workspace_id: Option<String>,
    pub workspace_name: String,
    pub workspace_handle: String,
    pub source_account_id: String,
    pub target_account_id: String,
    pub new_handle: Option<String>,
    pub status: String,
    pub requested_by: Option<String>,
    pub requested_by_name: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub outcome: Option<String>,
}

impl TransferRequest {
    /// Pending and not yet expired.
    pub fn is_open(&self) -> bool {
        self.status == "pending" && self.expires_at > now()
    }
}

pub fn find(c: &mut DbConn, id: &str) -> QueryResult<Option<TransferRequest>> {
    workspace_transfers::table
        .find(id)
        .select(TransferRequest::as_select())
        .first(c)
        .optional()
}

/// Open requests into `account_id` (for its admins) — newest first.
pub fn incoming(c: &mut DbConn, account_id: &str) -> QueryResult<Vec<TransferRequest>> {
    workspace_transfers::table
        .filter(workspace_transfers::target_account_id.eq(account_id))
        .filter(workspace_transfers::status.eq("pending"))
        .filter(workspace_transfers::expires_at.gt(now()))
        .order(workspace_transfers::created_at.desc())
        .select(TransferRequest::as_select())
        .load(c)
}

/// The open request for a workspace, if any.
pub fn open_for_workspace(c: &mut DbConn, ws_id: &str) -> QueryResult<Option<TransferRequest>> {
    workspace_transfers::table
        .filter(workspace_transfers::workspace_id.eq(ws_id))
        .filter(workspace_transfers::status.eq("pending"))
        .filter(workspace_transfers::expires_at.gt(now()))
        .select(TransferRequest::as_select())
        .first(c)
        .optional()
}

/// Moves a pending request to `status`; false when it was no longer pending.
pub fn close(
    c: &mut DbConn,
    id: &str,
    status: &str,
    by: Option<&str>,
    outcome: Option<&str>,
) -> QueryResult<bool> {
    let n = diesel::update(
        workspace_transfers::table
            .filter(workspace_transfers::id.eq(id))
            .filter(workspace_transfers::status.eq("pending")),
    )
    .set((
        workspace_transfers::status.eq(status),
        workspace_transfers::decided_by.eq(by),
        workspace_transfers::decided_at.eq(Some(now())),
        workspace_transfers::outcome.eq(outcome),
    ))
    .execute(c)?;
    Ok(n == 1)
}

/// E-mail addresses of the Owners and Admins of an account.
pub fn admin_emails(c: &mut DbConn, account_id: &str) -> QueryResult<Vec<String>> {
    account_memberships::table
        .inner_join(users::table)
        .filter(account_memberships::account_id.eq(account_id))
        .filter(
            account_memberships::role
                .eq_any([AccountRole::Owner.as_str(), AccountRole::Admin.as_str()]),
        )
        .order(users::email_normalized.asc())
        .select(users::email)
        .load(c)
}

/// Open requests out of `account_id` (for its admins) — newest first.
pub fn outgoing(c: &mut DbConn, account_id: &str) -> QueryResult<Vec<TransferRequest>> {
    workspace_transfers::table
        .filter(workspace_transfers::source_account_id.eq(account_id))
        .filter(workspace_transfers::status.eq("pending"))
        .filter(workspace_transfers::expires_at.gt(now()))
        .order(workspace_transfers::created_at.desc())
        .select(TransferRequest::as_select())
        .load(c)
}

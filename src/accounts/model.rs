//! Account queries. Functions take a connection so they compose inside one transaction.

use diesel::prelude::*;

use crate::db::schema::{account_memberships, accounts, users};
use crate::db::{DbConn, new_id, now};

pub use crate::authz::AccountRole;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountKind {
    Personal,
    Organization,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Personal => "personal",
            AccountKind::Organization => "organization",
        }
    }
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub handle: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    pub workspace_limit: Option<i64>,
    /// How many days the account keeps its audit events.
    pub audit_retention_days: i32,
    /// How many members the account has, kept by the database (a trigger on
    /// `account_memberships`, migration `…000015_counts`) in the same transaction.
    pub member_count: i64,
    /// How many days its managed Prefect servers keep a flow run after it ended.
    pub flow_run_retention_days: i32,
    /// Its members reach its pages only through its SSO provider (except `bypass:sso`).
    pub sso_required: bool,
    /// Members must use two-factor authentication to use the account's pages.
    pub require_two_factor: bool,
    /// The small integer naming the account in its members' search ids (set by the
    /// database: migrations `…000027_member_search`; never empty once inserted).
    pub number: Option<i64>,
}

impl Account {
    /// The account's id, typed.
    pub fn key(&self) -> crate::ids::AccountId {
        crate::ids::AccountId::from_stored(self.id.clone())
    }

    pub fn is_personal(&self) -> bool {
        self.kind == AccountKind::Personal.as_str()
    }
}

#[derive(Insertable)]
#[diesel(table_name = accounts)]
struct NewAccount<'a> {
    id: &'a str,
    kind: &'a str,
    name: &'a str,
    handle: &'a str,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

/// Creates an account and makes `owner_user_id` its Owner. Returns the new account.
pub fn create(
    conn: &mut DbConn,
    kind: AccountKind,
    name: &str,
    handle: &str,
    owner_user_id: &str,
) -> QueryResult<Account> {
    let id = new_id();
    let t = now();
    diesel::insert_into(accounts::table)
        .values(NewAccount {
            id: &id,
            kind: kind.as_str(),
            name,
            handle,
            created_at: t,
            updated_at: t,
        })
        .execute(conn)?;
    crate::members::model::add_member(conn, &id, owner_user_id, AccountRole::Owner)?;
    accounts::table
        .find(&id)
        .select(Account::as_select())
        .first(conn)
}

/// True when a user or an account already uses `handle` (they share one namespace,
/// because a personal account takes its user's handle).
pub fn handle_taken(conn: &mut DbConn, handle: &str) -> QueryResult<bool> {
    let accounts_using: i64 = accounts::table
        .filter(accounts::handle.eq(handle))
        .count()
        .get_result(conn)?;
    let users_using: i64 = users::table
        .filter(users::handle.eq(handle))
        .count()
        .get_result(conn)?;
    Ok(accounts_using + users_using > 0)
}

/// The user's personal account.
pub fn personal_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<Account>> {
    accounts::table
        .inner_join(account_memberships::table)
        .filter(account_memberships::user_id.eq(user_id))
        .filter(accounts::kind.eq(AccountKind::Personal.as_str()))
        .filter(account_memberships::role.eq(AccountRole::Owner.as_str()))
        .select(Account::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Account>> {
    if crate::db::holds_nul(id) {
        return Ok(None);
    }
    accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)
        .optional()
}

/// Serializes changes that guard account-wide invariants (e.g. "at least one Owner").
/// SQLite already holds the write lock inside `write_tx`; PostgreSQL locks the account row.
pub fn lock(conn: &mut DbConn, account_id: &str) -> QueryResult<()> {
    if let DbConn::Postgres(pg) = conn {
        diesel::sql_query("SELECT id FROM accounts WHERE id = $1 FOR UPDATE")
            .bind::<diesel::sql_types::Text, _>(account_id)
            .execute(pg)?;
    }
    Ok(())
}

/// The account's settings page.
pub struct Settings<'a> {
    pub name: &'a str,
    pub handle: &'a str,
    pub workspace_limit: Option<i64>,
    pub audit_retention_days: i32,
    pub flow_run_retention_days: i32,
    pub require_two_factor: bool,
}

pub fn update(conn: &mut DbConn, id: &str, s: Settings<'_>) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::name.eq(s.name),
            accounts::handle.eq(s.handle),
            accounts::workspace_limit.eq(s.workspace_limit),
            accounts::audit_retention_days.eq(s.audit_retention_days),
            accounts::flow_run_retention_days.eq(s.flow_run_retention_days),
            accounts::require_two_factor.eq(s.require_two_factor),
            accounts::updated_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Deletes the account and, through foreign keys, everything that belongs to it.
pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    diesel::delete(accounts::table.find(id)).execute(conn)?;
    Ok(())
}

/// True when another user or account than `except_account` uses `handle`.
pub fn handle_taken_by_other(
    conn: &mut DbConn,
    handle: &str,
    except_account: &str,
) -> QueryResult<bool> {
    let accounts_using: i64 = accounts::table
        .filter(accounts::handle.eq(handle))
        .filter(accounts::id.ne(except_account))
        .count()
        .get_result(conn)?;
    if accounts_using > 0 {
        return Ok(true);
    }
    // A personal account's handle is its owner's user handle.
    let own_user_handle: Option<String> = accounts::table
        .inner_join(account_memberships::table.inner_join(users::table))
        .filter(accounts::id.eq(except_account))
        .filter(accounts::kind.eq(AccountKind::Personal.as_str()))
        .select(users::handle)
        .first(conn)
        .optional()?;
    if own_user_handle.as_deref() == Some(handle) {
        return Ok(false);
    }
    let users_using: i64 = users::table
        .filter(users::handle.eq(handle))
        .count()
        .get_result(conn)?;
    Ok(users_using > 0)
}

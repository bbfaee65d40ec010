//! Service accounts ("bots" in the API): non-human actors of one account. Their account
//! role is always Member (DESIGN §1); their workspace roles live in `workspace_bot_access`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::apikeys::model::{self as apikeys, ApiKey};
use crate::db::schema::{
    api_keys, service_accounts, workspace_bot_access, workspace_roles, workspaces,
};
use crate::db::{DbConn, new_id, now};
use crate::users::domain::is_invisible_format;
use crate::workspaces::model::WorkspaceRole;

pub const NAME_MAX: usize = 100;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = service_accounts)]
pub struct ServiceAccount {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub name_normalized: String,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// How names are compared for uniqueness in an account.
pub fn normalize(name: &str) -> String {
    name.trim().to_lowercase()
}

/// A service account name: 1–100 characters after trimming, no control characters.
pub fn parse_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("Enter a name.");
    }
    if name.chars().count() > NAME_MAX {
        return Err("Use at most 100 characters.");
    }
    if name
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Err("Use letters, digits, spaces and punctuation only.");
    }
    Ok(name.to_string())
}

pub fn name_taken(
    conn: &mut DbConn,
    account_id: &str,
    name: &str,
    except: Option<&str>,
) -> QueryResult<bool> {
    let n: i64 = service_accounts::table
        .filter(service_accounts::account_id.eq(account_id))
        .filter(service_accounts::name_normalized.eq(normalize(name)))
        .filter(service_accounts::id.ne(except.unwrap_or("")))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Creates a service account with its first key; returns both and the key's plaintext.
pub fn create(
    conn: &mut DbConn,
    account_id: &str,
    name: &str,
    created_by: Option<&str>,
    expires_at: Option<NaiveDateTime>,
) -> QueryResult<(ServiceAccount, ApiKey, String)> {
    let id = new_id();
    let t = now();
    diesel::insert_into(service_accounts::table)
        .values((
            service_accounts::id.eq(&id),
            service_accounts::account_id.eq(account_id),
            service_accounts::name.eq(name),
            service_accounts::name_normalized.eq(normalize(name)),
            service_accounts::created_by.eq(created_by),
            service_accounts::created_at.eq(t),
            service_accounts::updated_at.eq(t),
        ))
        .execute(conn)?;
    let sa = service_accounts::table
        .find(&id)
        .select(ServiceAccount::as_select())
        .first(conn)?;
    let (key, plain) = apikeys::create_bot_key(conn, &id, name, expires_at)?;
    Ok((sa, key, plain))
}

pub fn find(conn: &mut DbConn, account_id: &str, id: &str) -> QueryResult<Option<ServiceAccount>> {
    if crate::db::holds_nul(id) {
        return Ok(None);
    }
    service_accounts::table
        .filter(service_accounts::id.eq(id))
        .filter(service_accounts::account_id.eq(account_id))
        .select(ServiceAccount::as_select())
        .first(conn)
        .optional()
}

/// A service account with its newest key (what the list shows).
#[derive(Clone, Debug)]
pub struct Listed {
    pub sa: ServiceAccount,
    pub key: Option<ApiKey>,
}

/// The account's service accounts by name, each with its newest key. Two statements.
pub fn list(conn: &mut DbConn, account_id: &str) -> QueryResult<Vec<Listed>> {
    let sas: Vec<ServiceAccount> = service_accounts::table
        .filter(service_accounts::account_id.eq(account_id))
        .order((service_accounts::name_normalized, service_accounts::id))
        .select(ServiceAccount::as_select())
        .load(conn)?;
    let keys: Vec<ApiKey> = api_keys::table
        .inner_join(service_accounts::table)
        .filter(service_accounts::account_id.eq(account_id))
        .order((api_keys::created_at.desc(), api_keys::id))
        .select(ApiKey::as_select())
        .load(conn)?;
    Ok(sas
        .into_iter()
        .map(|sa| {
            let key = keys
                .iter()
                .find(|k| k.service_account_id.as_deref() == Some(sa.id.as_str()))
                .cloned();
            Listed { sa, key }
        })
        .collect())
}

pub fn count_in_account(conn: &mut DbConn, account_id: &str) -> QueryResult<i64> {
    service_accounts::table
        .filter(service_accounts::account_id.eq(account_id))
        .count()
        .get_result(conn)
}

pub fn rename(conn: &mut DbConn, id: &str, name: &str) -> QueryResult<usize> {
    diesel::update(service_accounts::table.find(id))
        .set((
            service_accounts::name.eq(name),
            service_accounts::name_normalized.eq(normalize(name)),
            service_accounts::updated_at.eq(now()),
        ))
        .execute(conn)
}

/// New key for `id`; the old keys stop at once (`overlap_until = None`) or at `overlap_until`.
pub fn rotate(
    conn: &mut DbConn,
    sa: &ServiceAccount,
    expires_at: Option<NaiveDateTime>,
    overlap_until: Option<NaiveDateTime>,
) -> QueryResult<(ApiKey, String)> {
    apikeys::retire_bot_keys(conn, &sa.id, overlap_until)?;
    apikeys::create_bot_key(conn, &sa.id, &sa.name, expires_at)
}

/// Deletes the service account, its keys and its workspace accesses.
pub fn delete(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(
        workspace_bot_access::table.filter(workspace_bot_access::service_account_id.eq(id)),
    )
    .execute(conn)?;
    diesel::delete(api_keys::table.filter(api_keys::service_account_id.eq(id))).execute(conn)?;
    diesel::delete(service_accounts::table.find(id)).execute(conn)
}

/// A service account's role on a workspace.
pub fn own_role(
    conn: &mut DbConn,
    workspace_id: &str,
    sa_id: &str,
) -> QueryResult<Option<WorkspaceRole>> {
    workspace_bot_access::table
        .inner_join(workspace_roles::table)
        .filter(workspace_bot_access::workspace_id.eq(workspace_id))
        .filter(workspace_bot_access::service_account_id.eq(sa_id))
        .select(WorkspaceRole::as_select())
        .first(conn)
        .optional()
}

/// One row of a workspace's Service Accounts panel.
#[derive(Clone, Debug)]
pub struct BotAccess {
    pub id: String,
    pub service_account_id: String,
    pub name: String,
    pub role_id: String,
    pub role_name: String,
    pub created_at: NaiveDateTime,
}

type BotAccessRow = (String, String, String, String, String, NaiveDateTime);

fn to_bot_access(
    (id, service_account_id, name, role_id, role_name, created_at): BotAccessRow,
) -> BotAccess {
    BotAccess {
        id,
        service_account_id,
        name,
        role_id,
        role_name,
        created_at,
    }
}

/// Service accounts with a role on the workspace, by name.
pub fn bot_accesses(conn: &mut DbConn, workspace_id: &str) -> QueryResult<Vec<BotAccess>> {
    let rows: Vec<BotAccessRow> = workspace_bot_access::table
        .inner_join(service_accounts::table)
        .inner_join(workspace_roles::table)
        .filter(workspace_bot_access::workspace_id.eq(workspace_id))
        .order((
            service_accounts::name_normalized.asc(),
            service_accounts::id,
        ))
        .select((
            workspace_bot_access::id,
            service_accounts::id,
            service_accounts::name,
            workspace_roles::id,
            workspace_roles::name,
            workspace_bot_access::created_at,
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(to_bot_access).collect())
}

pub fn bot_access(
    conn: &mut DbConn,
    workspace_id: &str,
    sa_id: &str,
) -> QueryResult<Option<BotAccess>> {
    let row: Option<BotAccessRow> = workspace_bot_access::table
        .inner_join(service_accounts::table)
        .inner_join(workspace_roles::table)
        .filter(workspace_bot_access::workspace_id.eq(workspace_id))
        .filter(workspace_bot_access::service_account_id.eq(sa_id))
        .select((
            workspace_bot_access::id,
            service_accounts::id,
            service_accounts::name,
            workspace_roles::id,
            workspace_roles::name,
            workspace_bot_access::created_at,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(to_bot_access))
}

/// One access of the workspace by its own id (the API's `bot_access/{id}`).
pub fn bot_access_by_id(
    conn: &mut DbConn,
    workspace_id: &str,
    access_id: &str,
) -> QueryResult<Option<BotAccess>> {
    let row: Option<BotAccessRow> = workspace_bot_access::table
        .inner_join(service_accounts::table)
        .inner_join(workspace_roles::table)
        .filter(workspace_bot_access::workspace_id.eq(workspace_id))
        .filter(workspace_bot_access::id.eq(access_id))
        .select((
            workspace_bot_access::id,
            service_accounts::id,
            service_accounts::name,
            workspace_roles::id,
            workspace_roles::name,
            workspace_bot_access::created_at,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(to_bot_access))
}

/// How many workspaces each service account of the account has a role on (those with
/// none are absent).
pub fn access_counts(
    conn: &mut DbConn,
    account_id: &str,
) -> QueryResult<std::collections::HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = workspace_bot_access::table
        .inner_join(service_accounts::table)
        .filter(service_accounts::account_id.eq(account_id))
        .group_by(workspace_bot_access::service_account_id)
        .select((
            workspace_bot_access::service_account_id,
            diesel::dsl::count_star(),
        ))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Rows of a service-accounts list page.
pub const LIST_PAGE: i64 = 50;

/// A page of the service-accounts list, and what its links need.
#[derive(Clone, Debug)]
pub struct ListPage {
    /// Each with its newest key and how many workspaces it has a role on.
    pub rows: Vec<(Listed, i64)>,
    /// Service accounts of the account matching the filter.
    pub total: i64,
    pub has_prev: bool,
    pub has_next: bool,
}

/// One page of the account's service accounts by name, paged by keyset on the normalized
/// name (unique in the account: the index `(account_id, name_normalized)` gives the order,
/// so the first and the last page cost the same); `q` matches any part of the name,
/// case-insensitively, every character literal. Four statements: the count, the page, its
/// keys, its workspace counts.
pub fn page(
    conn: &mut DbConn,
    account_id: &str,
    q: &str,
    cursor: &crate::members::model::Cursor,
) -> QueryResult<ListPage> {
    if crate::db::holds_nul(q) {
        return Ok(ListPage {
            rows: Vec::new(),
            total: 0,
            has_prev: false,
            has_next: false,
        });
    }
    let q = normalize(q);
    let base = || {
        let mut query = service_accounts::table
            .filter(service_accounts::account_id.eq(account_id.to_string()))
            .into_boxed();
        if !q.is_empty() {
            query = query.filter(
                service_accounts::name_normalized
                    .like(crate::db::like_contains(&q))
                    .escape('\\'),
            );
        }
        query
    };
    let total: i64 = base().count().get_result(conn)?;
    let (sas, has_prev, has_next) = crate::members::model::keyset_page(
        conn,
        cursor,
        LIST_PAGE,
        |c, after| {
            let mut query = base();
            if let Some(n) = after {
                query = query.filter(service_accounts::name_normalized.gt(n.to_string()));
            }
            query
                .order(service_accounts::name_normalized.asc())
                .limit(LIST_PAGE + 1)
                .select(ServiceAccount::as_select())
                .load(c)
        },
        |c, before| {
            base()
                .filter(service_accounts::name_normalized.lt(before.to_string()))
                .order(service_accounts::name_normalized.desc())
                .limit(LIST_PAGE + 1)
                .select(ServiceAccount::as_select())
                .load(c)
        },
    )?;
    let ids: Vec<String> = sas.iter().map(|s| s.id.clone()).collect();
    let keys: Vec<ApiKey> = api_keys::table
        .filter(api_keys::service_account_id.eq_any(ids.clone()))
        .order((api_keys::created_at.desc(), api_keys::id))
        .select(ApiKey::as_select())
        .load(conn)?;
    let counts: std::collections::HashMap<String, i64> = workspace_bot_access::table
        .filter(workspace_bot_access::service_account_id.eq_any(ids))
        .group_by(workspace_bot_access::service_account_id)
        .select((
            workspace_bot_access::service_account_id,
            diesel::dsl::count_star(),
        ))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let rows = sas
        .into_iter()
        .map(|sa| {
            let key = keys
                .iter()
                .find(|k| k.service_account_id.as_deref() == Some(sa.id.as_str()))
                .cloned();
            let n = counts.get(&sa.id).copied().unwrap_or(0);
            (Listed { sa, key }, n)
        })
        .collect();
    Ok(ListPage {
        rows,
        total,
        has_prev,
        has_next,
    })
}

/// The API's bot filter (`BotFilter`): ids, exact names, a case-insensitive partial name.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub ids: Option<Vec<String>>,
    pub names: Option<Vec<String>>,
    pub like: Option<String>,
}

/// Service accounts of the account matching `f`, by name, each with its newest key.
pub fn filter(
    conn: &mut DbConn,
    account_id: &str,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<Listed>> {
    let mut q = service_accounts::table
        .filter(service_accounts::account_id.eq(account_id))
        .into_boxed();
    if let Some(ids) = &f.ids {
        q = q.filter(service_accounts::id.eq_any(ids.clone()));
    }
    if let Some(names) = &f.names {
        q = q.filter(service_accounts::name.eq_any(names.clone()));
    }
    if let Some(like) = f.like.as_deref().map(normalize).filter(|l| !l.is_empty()) {
        let pattern = format!(
            "%{}%",
            like.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        q = q.filter(service_accounts::name_normalized.like(pattern).escape('\\'));
    }
    let sas: Vec<ServiceAccount> = q
        .order((service_accounts::name_normalized, service_accounts::id))
        .limit(limit)
        .offset(offset)
        .select(ServiceAccount::as_select())
        .load(conn)?;
    let ids: Vec<&str> = sas.iter().map(|s| s.id.as_str()).collect();
    let keys: Vec<ApiKey> = api_keys::table
        .filter(api_keys::service_account_id.eq_any(ids))
        .order((api_keys::created_at.desc(), api_keys::id))
        .select(ApiKey::as_select())
        .load(conn)?;
    Ok(sas
        .into_iter()
        .map(|sa| {
            let key = keys
                .iter()
                .find(|k| k.service_account_id.as_deref() == Some(sa.id.as_str()))
                .cloned();
            Listed { sa, key }
        })
        .collect())
}

/// The account's service accounts without a role on the workspace (candidates to add).
pub fn without_access(
    conn: &mut DbConn,
    account_id: &str,
    workspace_id: &str,
) -> QueryResult<Vec<(String, String)>> {
    let with_access = workspace_bot_access::table
        .filter(workspace_bot_access::workspace_id.eq(workspace_id.to_string()))
        .select(workspace_bot_access::service_account_id);
    service_accounts::table
        .filter(service_accounts::account_id.eq(account_id))
        .filter(service_accounts::id.ne_all(with_access))
        .order(service_accounts::name_normalized.asc())
        .limit(500)
        .select((service_accounts::id, service_accounts::name))
        .load(conn)
}

/// Gives the service account `role_id` on the workspace (insert or update).
pub fn set_bot_access(
    conn: &mut DbConn,
    workspace_id: &str,
    sa_id: &str,
    role_id: &str,
) -> QueryResult<()> {
    let n = diesel::update(
        workspace_bot_access::table
            .filter(workspace_bot_access::workspace_id.eq(workspace_id))
            .filter(workspace_bot_access::service_account_id.eq(sa_id)),
    )
    .set(workspace_bot_access::role_id.eq(role_id))
    .execute(conn)?;
    if n == 0 {
        diesel::insert_into(workspace_bot_access::table)
            .values((
                workspace_bot_access::id.eq(new_id()),
                workspace_bot_access::workspace_id.eq(workspace_id),
                workspace_bot_access::service_account_id.eq(sa_id),
                workspace_bot_access::role_id.eq(role_id),
                workspace_bot_access::created_at.eq(now()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn remove_bot_access(conn: &mut DbConn, workspace_id: &str, sa_id: &str) -> QueryResult<usize> {
    diesel::delete(
        workspace_bot_access::table
            .filter(workspace_bot_access::workspace_id.eq(workspace_id))
            .filter(workspace_bot_access::service_account_id.eq(sa_id)),
    )
    .execute(conn)
}

/// Workspaces a service account has a role on, with their account's name and handle.
pub fn workspaces_of(
    conn: &mut DbConn,
    sa_id: &str,
) -> QueryResult<Vec<(crate::workspaces::model::Workspace, String, String)>> {
    use crate::db::schema::accounts;
    use crate::workspaces::model::Workspace;
    workspace_bot_access::table
        .inner_join(workspaces::table.inner_join(accounts::table))
        .filter(workspace_bot_access::service_account_id.eq(sa_id))
        .order((workspaces::name.asc(), workspaces::id))
        .select((Workspace::as_select(), accounts::name, accounts::handle))
        .load(conn)
}

/// The workspaces a service account has a role on, with that role, by workspace name (its
/// page). One statement.
pub fn roles_of(
    conn: &mut DbConn,
    sa_id: &str,
) -> QueryResult<Vec<(crate::workspaces::model::Workspace, WorkspaceRole)>> {
    use crate::workspaces::model::Workspace;
    workspace_bot_access::table
        .inner_join(workspaces::table)
        .inner_join(workspace_roles::table)
        .filter(workspace_bot_access::service_account_id.eq(sa_id))
        .order((workspaces::name.asc(), workspaces::id))
        .select((Workspace::as_select(), WorkspaceRole::as_select()))
        .load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_free_of_invisible_characters() {
        assert_eq!(parse_name("  ci bot "), Ok("ci bot".to_string()));
        assert!(parse_name("").is_err());
        assert!(parse_name(&"x".repeat(101)).is_err());
        assert!(
            parse_name(&"é".repeat(100)).is_ok(),
            "characters, not bytes"
        );
        for bad in [
            "a\nb",
            "a\u{0}b",
            "ad\u{202e}min",
            "zero\u{200b}width",
            "\u{feff}bom",
        ] {
            assert!(parse_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(normalize(" CI-Bot "), "ci-bot");
    }
}

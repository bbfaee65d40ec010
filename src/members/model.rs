//! Account membership queries (the `account_memberships` table): the members list, one row, roles, adding and removing.

use diesel::prelude::*;

use crate::authz::AccountRole;
use crate::db::schema::{account_memberships, accounts, users};
use crate::db::{DbConn, MultiBackend, new_id, now};
use diesel::sql_types::{Bool, Text};

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

pub const PAGE_SIZE: i64 = 50;

#[derive(Clone, Debug)]
pub struct MemberRow {
    pub user_id: String,
    pub handle: String,
    pub name: String,
    pub email: String,
    pub role: AccountRole,
    pub last_login: Option<chrono::NaiveDateTime>,
}

/// The columns of a member row, as loaded.
type RawRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<chrono::NaiveDateTime>,
);

/// The columns of a [`RawRow`].
#[allow(clippy::type_complexity)]
fn member_columns() -> (
    users::id,
    users::handle,
    users::first_name,
    users::last_name,
    users::email,
    account_memberships::role,
    users::last_login_at,
) {
    (
        users::id,
        users::handle,
        users::first_name,
        users::last_name,
        users::email,
        account_memberships::role,
        users::last_login_at,
    )
}

fn to_row((user_id, handle, first, last, email, role, last_login): RawRow) -> MemberRow {
    MemberRow {
        user_id,
        name: format!("{first} {last}").trim().to_string(),
        handle,
        email,
        role: AccountRole::parse(&role).unwrap_or(AccountRole::Collaborator),
        last_login,
    }
}

/// Where a page of members starts: the first page, after a handle ("Next") or before a
/// handle ("Previous").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Cursor {
    #[default]
    First,
    After(String),
    Before(String),
}

/// One page of a keyset-paged list, in list order, and whether pages lie before and after
/// it. `forward` loads up to `page + 1` rows in list order, from the start or after the key
/// it is given; `backward` up to `page + 1` rows before its key, in reverse order (one row
/// more than a page tells whether there is a page beyond). Shared by the members,
/// workspaces and service-accounts lists.
pub fn keyset_page<T>(
    conn: &mut DbConn,
    cursor: &Cursor,
    page: i64,
    forward: impl FnOnce(&mut DbConn, Option<&str>) -> QueryResult<Vec<T>>,
    backward: impl FnOnce(&mut DbConn, &str) -> QueryResult<Vec<T>>,
) -> QueryResult<(Vec<T>, bool, bool)> {
    let mut rows = match cursor {
        Cursor::First => forward(conn, None)?,
        Cursor::After(k) => forward(conn, Some(k))?,
        Cursor::Before(k) => backward(conn, k)?,
    };
    let beyond = rows.len() as i64 > page;
    rows.truncate(page as usize);
    let (has_prev, has_next) = match cursor {
        Cursor::First => (false, beyond),
        Cursor::After(_) => (true, beyond),
        Cursor::Before(_) => {
            rows.reverse();
            (beyond, true)
        }
    };
    Ok((rows, has_prev, has_next))
}

/// A page of members, and what the page's links need.
#[derive(Clone, Debug)]
pub struct MembersPage {
    pub rows: Vec<MemberRow>,
    /// Members matching the filter (all members when there is none).
    pub total: i64,
    pub has_prev: bool,
    pub has_next: bool,
}

/// The filter, as the query uses it. A query of three characters or more (after
/// [`fold`](crate::db::search::fold)) matches every member whose search key (handle,
/// name, e-mail, folded) holds it anywhere, through the trigram index ([`matching`]); a
/// shorter one cannot use trigrams and is a prefix of the handle, matched as a range of the
/// index `(account_id, handle)` (handles are lower-case ASCII letters, digits and `-`, all
/// below `~`, so every handle starting with `p` lies in `[p, p~)`).
enum Filter {
    None,
    Part(String),
    HandlePrefix(String, String),
}

/// Shortest query the trigram index answers.
pub const MIN_PART: usize = 3;

fn filter_of(q: &str) -> Filter {
    let q = crate::db::search::fold(q);
    if q.is_empty() {
        Filter::None
    } else if q.chars().count() >= MIN_PART {
        Filter::Part(q)
    } else {
        let upper = format!("{q}~");
        Filter::HandlePrefix(q, upper)
    }
}

/// The memberships whose user's search key holds `part` (folded, at least [`MIN_PART`]
/// characters) as a substring; every character of `part` is literal (`%`, `_`, `\` and `"`
/// included). The one place where the backends need different SQL: SQLite asks its FTS5
/// trigram table `users_search` for the phrase (a quoted phrase is matched as a substring by
/// the trigram tokenizer; `"` is doubled inside it), PostgreSQL asks `LIKE` over
/// `users.search_key`, which its `pg_trgm` GIN index answers (`%`, `_` and `\` escaped
/// with `\`, PostgreSQL's default escape character).
/// `sqlite` says which backend the statement is for ([`on_sqlite`]).
pub fn matching<QS>(
    sqlite: bool,
    part: &str,
) -> Box<dyn BoxableExpression<QS, MultiBackend, SqlType = Bool>> {
    use diesel::dsl::sql;
    if sqlite {
        Box::new(
            sql::<Bool>(
                "account_memberships.user_id IN (SELECT user_id FROM users_search WHERE search_key MATCH ",
            )
            .bind::<Text, _>(format!("\"{}\"", part.replace('"', "\"\"")))
            .sql(")"),
        )
    } else {
        {
            let mut pattern = String::with_capacity(part.len() + 2);
            pattern.push('%');
            for c in part.chars() {
                if matches!(c, '%' | '_' | '\\') {
                    pattern.push('\\');
                }
                pattern.push(c);
            }
            pattern.push('%');
            Box::new(
                sql::<Bool>(
                    "account_memberships.user_id IN (SELECT id FROM users WHERE search_key LIKE ",
                )
                .bind::<Text, _>(pattern)
                .sql(")"),
            )
        }
    }
}

/// Who a picker leaves out.
pub enum Without {
    /// Members with an own role on this workspace.
    WorkspaceAccess(String),
    /// Members of this team, and Collaborators (who cannot join teams).
    TeamMembers(String),
}

/// One suggestion of a people picker.
#[derive(Clone, Debug)]
pub struct Suggestion {
    pub user_id: String,
    pub handle: String,
    /// "First Last", or the handle when both are empty.
    pub name: String,
    pub email: String,
}

/// The type-ahead pickers' search: up to `limit` members of the account matching `q` as
/// the members list does (any part of the name, handle or e-mail, folded, through the
/// trigram index; a handle prefix below three characters), by handle, leaving out
/// `without`. An empty `q` suggests the first members by handle.
pub fn suggest(
    conn: &mut DbConn,
    account_id: &str,
    q: &str,
    without: &Without,
    limit: i64,
) -> QueryResult<Vec<Suggestion>> {
    use crate::db::schema::{team_members, workspace_access};
    if crate::db::holds_nul(q) {
        return Ok(Vec::new());
    }
    let sqlite = on_sqlite(conn);
    let mut query = account_memberships::table
        .inner_join(users::table)
        .filter(account_memberships::account_id.eq(account_id.to_string()))
        .into_boxed();
    match filter_of(q) {
        Filter::None => {}
        Filter::Part(part) => query = query.filter(matching(sqlite, &part)),
        Filter::HandlePrefix(low, high) => {
            query = query
                .filter(account_memberships::handle.ge(low))
                .filter(account_memberships::handle.lt(high));
        }
    }
    match without {
        Without::WorkspaceAccess(ws) => {
            query = query.filter(
                account_memberships::user_id.ne_all(
                    workspace_access::table
                        .filter(workspace_access::workspace_id.eq(ws.clone()))
                        .select(workspace_access::user_id),
                ),
            );
        }
        Without::TeamMembers(team) => {
            query = query
                .filter(account_memberships::role.ne(AccountRole::Collaborator.as_str()))
                .filter(
                    account_memberships::user_id.ne_all(
                        team_members::table
                            .filter(team_members::team_id.eq(team.clone()))
                            .select(team_members::user_id),
                    ),
                );
        }
    }
    let rows: Vec<(String, String, String, String, String)> = query
        .order(account_memberships::handle.asc())
        .limit(limit)
        .select((
            users::id,
            users::handle,
            users::first_name,
            users::last_name,
            users::email,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(user_id, handle, first, last, email)| {
            let n = format!("{first} {last}").trim().to_string();
            Suggestion {
                name: if n.is_empty() { handle.clone() } else { n },
                user_id,
                handle,
                email,
            }
        })
        .collect())
}

/// Whether the connection is SQLite's (for [`matching`]).
pub fn on_sqlite(conn: &DbConn) -> bool {
    matches!(conn, DbConn::Sqlite(_))
}

/// One page of members, ordered by handle and paged by keyset on the membership's copy of
/// the handle: every statement is a range of the index `(account_id, handle)`, so page 1 of
/// 10,000 members, a late page and a filtered page cost the same (no sort, no OFFSET).
pub fn page(
    conn: &mut DbConn,
    account_id: &str,
    q: &str,
    cursor: &Cursor,
) -> QueryResult<MembersPage> {
    // Handles and e-mail addresses never hold NUL (and PostgreSQL refuses it in text).
    if crate::db::holds_nul(q) {
        return Ok(MembersPage {
            rows: Vec::new(),
            total: 0,
            has_prev: false,
            has_next: false,
        });
    }
    let filter = filter_of(q);
    let sqlite = on_sqlite(conn);
    let base = || {
        let mut query = account_memberships::table
            .inner_join(users::table)
            .filter(account_memberships::account_id.eq(account_id.to_string()))
            .into_boxed();
        match &filter {
            Filter::None => {}
            Filter::Part(part) => {
                query = query.filter(matching(sqlite, part));
            }
            Filter::HandlePrefix(low, high) => {
                query = query
                    .filter(account_memberships::handle.ge(low.clone()))
                    .filter(account_memberships::handle.lt(high.clone()));
            }
        }
        query
    };
    // Unfiltered, the total is kept on the account; filtered, the count reads the range
    // of the membership index the filter selects.
    let total: i64 = if let Filter::None = filter {
        accounts::table
            .find(account_id)
            .select(accounts::member_count)
            .first(conn)
            .optional()?
            .unwrap_or(0)
    } else {
        let mut count = account_memberships::table
            .filter(account_memberships::account_id.eq(account_id.to_string()))
            .into_boxed();
        match &filter {
            Filter::None => {}
            Filter::Part(part) => {
                count = count.filter(matching(sqlite, part));
            }
            Filter::HandlePrefix(low, high) => {
                count = count
                    .filter(account_memberships::handle.ge(low.clone()))
                    .filter(account_memberships::handle.lt(high.clone()));
            }
        }
        count.count().get_result(conn)?
    };
    let (raw, has_prev, has_next) = keyset_page(
        conn,
        cursor,
        PAGE_SIZE,
        |c, after| {
            let mut query = base();
            if let Some(h) = after {
                query = query.filter(account_memberships::handle.gt(h.to_string()));
            }
            query
                .order(account_memberships::handle.asc())
                .limit(PAGE_SIZE + 1)
                .select(member_columns())
                .load::<RawRow>(c)
        },
        |c, before| {
            base()
                .filter(account_memberships::handle.lt(before.to_string()))
                .order(account_memberships::handle.desc())
                .limit(PAGE_SIZE + 1)
                .select(member_columns())
                .load::<RawRow>(c)
        },
    )?;
    Ok(MembersPage {
        rows: raw.into_iter().map(to_row).collect(),
        total,
        has_prev,
        has_next,
    })
}

/// One member's row.
pub fn row(conn: &mut DbConn, account_id: &str, user_id: &str) -> QueryResult<Option<MemberRow>> {
    let row: Option<RawRow> = account_memberships::table
        .inner_join(users::table)
        .filter(account_memberships::account_id.eq(account_id))
        .filter(account_memberships::user_id.eq(user_id))
        .select(member_columns())
        .first(conn)
        .optional()?;
    Ok(row.map(to_row))
}

/// A membership with what the API shows about it.
#[derive(Clone, Debug)]
pub struct MembershipDetail {
    pub membership_id: String,
    pub user_id: String,
    pub handle: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub role: AccountRole,
    pub last_login: Option<chrono::NaiveDateTime>,
    pub created_at: chrono::NaiveDateTime,
}

type DetailRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<chrono::NaiveDateTime>,
    chrono::NaiveDateTime,
);

/// Every membership of the account, by handle (one statement, in the order of the index
/// `(account_id, handle)`).
pub fn all_details(conn: &mut DbConn, account_id: &str) -> QueryResult<Vec<MembershipDetail>> {
    let rows: Vec<DetailRow> = account_memberships::table
        .inner_join(users::table)
        .filter(account_memberships::account_id.eq(account_id))
        .order(account_memberships::handle.asc())
        .select((
            account_memberships::id,
            users::id,
            users::handle,
            users::first_name,
            users::last_name,
            users::email,
            account_memberships::role,
            users::last_login_at,
            account_memberships::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                membership_id,
                user_id,
                handle,
                first_name,
                last_name,
                email,
                role,
                last_login,
                created_at,
            )| {
                MembershipDetail {
                    membership_id,
                    user_id,
                    handle,
                    first_name,
                    last_name,
                    email,
                    role: AccountRole::parse(&role).unwrap_or(AccountRole::Collaborator),
                    last_login,
                    created_at,
                }
            },
        )
        .collect())
}

pub fn add_member(
    conn: &mut DbConn,
    account_id: &str,
    user_id: &str,
    role: AccountRole,
) -> QueryResult<()> {
    // The member's handle is copied beside the foreign key as the members page's sort key
    // (user handles never change).
    let handle: String = users::table
        .find(user_id)
        .select(users::handle)
        .first(conn)?;
    diesel::insert_into(account_memberships::table)
        .values((
            account_memberships::id.eq(new_id()),
            account_memberships::account_id.eq(account_id),
            account_memberships::user_id.eq(user_id),
            account_memberships::role.eq(role.as_str()),
            account_memberships::created_at.eq(now()),
            account_memberships::handle.eq(handle),
        ))
        .execute(conn)?;
    Ok(())
}

/// The user's role in the account, if they are a member.
pub fn role_of(
    conn: &mut DbConn,
    account_id: &str,
    user_id: &str,
) -> QueryResult<Option<AccountRole>> {
    let role: Option<String> = account_memberships::table
        .filter(account_memberships::account_id.eq(account_id))
        .filter(account_memberships::user_id.eq(user_id))
        .select(account_memberships::role)
        .first(conn)
        .optional()?;
    Ok(role.and_then(|r| AccountRole::parse(&r)))
}

/// The user holding membership `membership_id` of the account.
pub fn member_of_membership(
    conn: &mut DbConn,
    account_id: &str,
    membership_id: &str,
) -> QueryResult<Option<String>> {
    account_memberships::table
        .filter(account_memberships::account_id.eq(account_id))
        .filter(account_memberships::id.eq(membership_id))
        .select(account_memberships::user_id)
        .first(conn)
        .optional()
}

pub fn count_owners(conn: &mut DbConn, account_id: &str) -> QueryResult<i64> {
    account_memberships::table
        .filter(account_memberships::account_id.eq(account_id))
        .filter(account_memberships::role.eq(AccountRole::Owner.as_str()))
        .count()
        .get_result(conn)
}

pub fn set_role(
    conn: &mut DbConn,
    account_id: &str,
    user_id: &str,
    role: AccountRole,
) -> QueryResult<usize> {
    diesel::update(
        account_memberships::table
            .filter(account_memberships::account_id.eq(account_id))
            .filter(account_memberships::user_id.eq(user_id)),
    )
    .set(account_memberships::role.eq(role.as_str()))
    .execute(conn)
}

pub fn remove_member(conn: &mut DbConn, account_id: &str, user_id: &str) -> QueryResult<usize> {
    diesel::delete(
        account_memberships::table
            .filter(account_memberships::account_id.eq(account_id))
            .filter(account_memberships::user_id.eq(user_id)),
    )
    .execute(conn)
}

/// One of a user's memberships, with its account (the API's `/me/accounts`).
pub struct MembershipOf {
    pub membership_id: String,
    pub account_id: String,
    pub account_name: String,
    pub role: String,
    pub account_handle: String,
}

/// The user's memberships: personal account first, then by name.
pub fn memberships_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<MembershipOf>> {
    let rows: Vec<(String, String, String, String, String)> = accounts::table
        .inner_join(account_memberships::table)
        .filter(account_memberships::user_id.eq(user_id))
        .order((
            accounts::kind.desc(),
            accounts::name.asc(),
            accounts::id.asc(),
        ))
        .select((
            account_memberships::id,
            accounts::id,
            accounts::name,
            account_memberships::role,
            accounts::handle,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(membership_id, account_id, account_name, role, account_handle)| MembershipOf {
                membership_id,
                account_id,
                account_name,
                role,
                account_handle,
            },
        )
        .collect())
}

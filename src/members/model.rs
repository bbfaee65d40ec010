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
    RoleOf,
    Option<crate::db::stamp::Stamp>,
);

/// A membership's role, read from the column's text where it lies (no `String` a row: the
/// members page reads 51).
#[derive(diesel::deserialize::FromSqlRow)]
struct RoleOf(AccountRole);

impl RoleOf {
    /// An unknown name (none is stored) reads as the least role.
    fn of(name: &str) -> Self {
        RoleOf(AccountRole::parse(name).unwrap_or(AccountRole::Collaborator))
    }
}

impl diesel::deserialize::FromSql<Text, diesel::sqlite::Sqlite> for RoleOf {
    fn from_sql(
        mut value: <diesel::sqlite::Sqlite as diesel::backend::Backend>::RawValue<'_>,
    ) -> diesel::deserialize::Result<Self> {
        Ok(RoleOf::of(value.read_text()))
    }
}

impl diesel::deserialize::FromSql<Text, diesel::pg::Pg> for RoleOf {
    fn from_sql(
        value: <diesel::pg::Pg as diesel::backend::Backend>::RawValue<'_>,
    ) -> diesel::deserialize::Result<Self> {
        Ok(RoleOf::of(std::str::from_utf8(value.as_bytes())?))
    }
}

impl diesel::deserialize::FromSql<Text, crate::db::MultiBackend> for RoleOf {
    fn from_sql(
        value: <crate::db::MultiBackend as diesel::backend::Backend>::RawValue<'_>,
    ) -> diesel::deserialize::Result<Self> {
        value.from_sql::<Self, Text>()
    }
}

/// The columns of a [`RawRow`], the role read from `role` (the membership's, as one of the
/// tables a statement reads it from).
#[allow(clippy::type_complexity)]
fn member_columns_with<R>(
    role: R,
) -> (
    users::id,
    users::handle,
    users::first_name,
    users::last_name,
    users::email,
    R,
    users::last_login_at,
) {
    (
        users::id,
        users::handle,
        users::first_name,
        users::last_name,
        users::email,
        role,
        users::last_login_at,
    )
}

fn to_row((user_id, handle, first, last, email, role, last_login): RawRow) -> MemberRow {
    MemberRow {
        user_id,
        name: full_name(first, &last),
        handle,
        email,
        role: role.0,
        last_login: last_login.map(|at| at.0),
    }
}

/// "First Last", or whichever of the two is not empty, reusing the first name's buffer
/// (50 rows a page).
fn full_name(mut first: String, last: &str) -> String {
    let (f, l) = (first.trim().len(), last.trim());
    if f != first.len() {
        first = first.trim().to_string();
    }
    if !l.is_empty() {
        if !first.is_empty() {
            first.push(' ');
        }
        first.push_str(l);
    }
    first
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
    /// How many members match: all members when there is no filter; `None` when a search
    /// by part of a name matches more than one page (its hits are not counted: counting
    /// them would cost what the budget of issue #24 forbids, in proportion to the hits).
    pub total: Option<i64>,
    /// What the filter matched, and so the list's order.
    pub matched: Matched,
    pub has_prev: bool,
    pub has_next: bool,
    /// The keys of the first and last rows shown, for the "Previous" and "Next" links: the
    /// handle when the list is in handle order, the search id in a search by part.
    pub first_key: String,
    pub last_key: String,
}

impl MembersPage {
    /// A page with nothing on it, and nothing before or after.
    fn empty(matched: Matched) -> Self {
        MembersPage {
            rows: Vec::new(),
            total: Some(0),
            matched,
            has_prev: false,
            has_next: false,
            first_key: String::new(),
            last_key: String::new(),
        }
    }
}

/// What a members query matched, which also says its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matched {
    /// No filter: every member, by handle.
    All,
    /// One or two characters: the handles starting with them, by handle.
    HandlePrefix,
    /// Three or more: any part of the name, handle or e-mail, in the order the members
    /// joined (the order of the per-account search index).
    Part,
}

/// The filter, as the query uses it. A query of three characters or more (after
/// [`fold`](crate::db::search::fold)) matches every member whose search key (handle,
/// name, e-mail, folded) holds it anywhere, through the per-account trigram index
/// ([`matching`]); a shorter one cannot use trigrams and is a prefix of the handle, matched
/// as a range of the index `(account_id, handle)` (handles are lower-case ASCII letters,
/// digits and `-`, all below `~`, so every handle starting with `p` lies in `[p, p~)`).
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

/// The range of `account_memberships.search_id` holding an account's memberships: its
/// number times 2^32 and the 2^32 numbers after it (migrations `000027_member_search`).
/// `None` for an account that does not exist.
pub fn search_range(conn: &mut DbConn, account_id: &str) -> QueryResult<Option<(i64, i64)>> {
    let number: Option<Option<i64>> = accounts::table
        .find(account_id)
        .select(accounts::number)
        .first(conn)
        .optional()?;
    Ok(number.flatten().map(range_of))
}

/// [`search_range`] of the account numbered `n`.
fn range_of(n: i64) -> (i64, i64) {
    (n << 32, (n << 32) | 0xffff_ffff)
}

/// The query source of the members list and the pickers: memberships joined to their users.
pub type MembersAndUsers =
    diesel::helper_types::InnerJoinQuerySource<account_memberships::table, users::table>;

/// The memberships whose search key (handle, name, e-mail, folded) holds `part` (folded,
/// at least [`MIN_PART`] characters) as a substring, among the search ids `low..=high`
/// (the account's [`search_range`]), as a condition for the people pickers, which filter
/// and order further; every character of `part` is literal (`%`, `_`, `\` and `"`
/// included). SQLite asks its FTS5 trigram table `members_search`, whose rowid is the
/// search id, for the phrase (a quoted phrase is matched as a substring by the trigram
/// tokenizer; `"` is doubled inside it) within the range. PostgreSQL asks `LIKE` over
/// `account_memberships.search_key` within the range (`%`, `_` and `\` escaped with `\`,
/// PostgreSQL's default escape character), through its GIN trigram index or the search-id
/// index (migration 000029) as the planner finds cheaper. The members list's search asks
/// the same per page, in search-id order ([`search_rows`]).
/// The range alone selects the account's memberships.
/// `sqlite` says which backend the statement is for ([`on_sqlite`]).
pub fn matching(
    sqlite: bool,
    part: &str,
    (low, high): (i64, i64),
) -> Box<dyn BoxableExpression<MembersAndUsers, MultiBackend, SqlType = Bool>> {
    use crate::db::schema::{matches, members_search};
    // Every part is Diesel's own (no SQL text), so the statement is prepared once per
    // connection and cached: preparing it anew cost more than running it.
    if sqlite {
        let phrase = crate::db::search::fts_phrase(part);
        let hits = members_search::table
            .filter(matches(
                members_search::search_key,
                phrase.into_sql::<Text>(),
            ))
            .filter(members_search::rowid.ge(low))
            .filter(members_search::rowid.le(high))
            .select(members_search::rowid);
        Box::new(
            account_memberships::search_id
                .assume_not_null()
                .eq_any(hits),
        )
    } else {
        Box::new(
            account_memberships::search_key
                .like(crate::db::like_contains(part))
                .and(
                    account_memberships::search_id
                        .assume_not_null()
                        .between(low, high),
                ),
        )
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
    let filter = filter_of(q);
    let range = match filter {
        Filter::Part(_) => match search_range(conn, account_id)? {
            Some(r) => r,
            None => return Ok(Vec::new()),
        },
        _ => (0, 0),
    };
    let mut query = account_memberships::table
        .inner_join(users::table)
        .filter(account_memberships::account_id.eq(account_id.to_string()))
        .into_boxed();
    match filter {
        Filter::None => {}
        Filter::Part(part) => query = query.filter(matching(sqlite, &part, range)),
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

/// One page of members, paged by keyset (no OFFSET, so a late page costs what page 1
/// does). Unfiltered or by a handle prefix the list is in handle order, every statement a
/// range of the index `(account_id, handle)` of the membership's copy of the handle; a
/// search by part of a name is in the order the members joined, each statement reading only
/// the page's hits from the account's range of the search index ([`matching`]), and is
/// counted only when it fits on one page ([`MembersPage::total`]).
pub fn page(
    conn: &mut DbConn,
    account: &crate::accounts::model::Account,
    q: &str,
    cursor: &Cursor,
) -> QueryResult<MembersPage> {
    // Handles and e-mail addresses never hold NUL (and PostgreSQL refuses it in text).
    if crate::db::holds_nul(q) {
        return Ok(MembersPage::empty(Matched::Part));
    }
    match filter_of(q) {
        Filter::Part(part) => search_page(conn, account, &part, cursor),
        filter => handle_page(conn, account, filter, cursor),
    }
}

/// [`page`] in handle order: every member, or those whose handle starts with a prefix.
/// Every statement is of a fixed type (no boxed statement), so Diesel finds its prepared
/// statement by type instead of writing out its SQL to look it up by text at each request.
fn handle_page(
    conn: &mut DbConn,
    account: &crate::accounts::model::Account,
    filter: Filter,
    cursor: &Cursor,
) -> QueryResult<MembersPage> {
    use account_memberships::handle;
    let account_id = account.id.as_str();
    let members = || {
        account_memberships::table
            .inner_join(users::table)
            .filter(account_memberships::account_id.eq(account_id))
            .limit(PAGE_SIZE + 1)
            .select(member_columns_with(account_memberships::role))
    };
    // Unfiltered, the total is the one kept on the account (read with it when the request
    // began); by a prefix, the count reads the range of the membership index it selects.
    let (total, matched, (raw, has_prev, has_next)) = match &filter {
        Filter::HandlePrefix(low, high) => {
            let (low, high) = (low.as_str(), high.as_str());
            let total: i64 = account_memberships::table
                .filter(account_memberships::account_id.eq(account_id))
                .filter(handle.ge(low))
                .filter(handle.lt(high))
                .count()
                .get_result(conn)?;
            let in_prefix = || members().filter(handle.ge(low)).filter(handle.lt(high));
            let page = keyset_page(
                conn,
                cursor,
                PAGE_SIZE,
                |c, after| match after {
                    None => in_prefix().order(handle.asc()).load::<RawRow>(c),
                    Some(h) => in_prefix()
                        .filter(handle.gt(h))
                        .order(handle.asc())
                        .load::<RawRow>(c),
                },
                |c, before| {
                    in_prefix()
                        .filter(handle.lt(before))
                        .order(handle.desc())
                        .load::<RawRow>(c)
                },
            )?;
            (total, Matched::HandlePrefix, page)
        }
        _ => {
            let page = keyset_page(
                conn,
                cursor,
                PAGE_SIZE,
                |c, after| match after {
                    None => members().order(handle.asc()).load::<RawRow>(c),
                    Some(h) => members()
                        .filter(handle.gt(h))
                        .order(handle.asc())
                        .load::<RawRow>(c),
                },
                |c, before| {
                    members()
                        .filter(handle.lt(before))
                        .order(handle.desc())
                        .load::<RawRow>(c)
                },
            )?;
            (account.member_count, Matched::All, page)
        }
    };
    let rows: Vec<MemberRow> = raw.into_iter().map(to_row).collect();
    Ok(MembersPage {
        first_key: rows.first().map(|r| r.handle.clone()).unwrap_or_default(),
        last_key: rows.last().map(|r| r.handle.clone()).unwrap_or_default(),
        rows,
        total: Some(total),
        matched,
        has_prev,
        has_next,
    })
}

/// [`page`] for a search by part of a name, in search-id order (the order the members
/// joined); the cursor is a search id. A cursor that is not a number, or lies outside the
/// account's range, leaves nothing to show before or after it.
fn search_page(
    conn: &mut DbConn,
    account: &crate::accounts::model::Account,
    part: &str,
    cursor: &Cursor,
) -> QueryResult<MembersPage> {
    let sqlite = on_sqlite(conn);
    let Some((low, high)) = account.number.map(range_of) else {
        return Ok(MembersPage::empty(Matched::Part));
    };
    let key = |k: &str| k.parse::<i64>().ok();
    let load = |c: &mut DbConn, range: (i64, i64), descending: bool| {
        if range.0 > range.1 {
            return Ok(Vec::new());
        }
        search_rows(c, sqlite, part, range, descending)
    };
    let (raw, has_prev, has_next) = keyset_page(
        conn,
        cursor,
        PAGE_SIZE,
        |c, after| match after.map(key) {
            None => load(c, (low, high), false),
            Some(Some(k)) => load(c, (k.saturating_add(1).max(low), high), false),
            Some(None) => Ok(Vec::new()),
        },
        |c, before| match key(before) {
            Some(k) => load(c, (low, k.saturating_sub(1).min(high)), true),
            None => Ok(Vec::new()),
        },
    )?;
    let key_of = |r: Option<&(RawRow, Option<i64>)>| {
        r.and_then(|(_, id)| *id)
            .map(|id| id.to_string())
            .unwrap_or_default()
    };
    let (first_key, last_key) = (key_of(raw.first()), key_of(raw.last()));
    let rows: Vec<MemberRow> = raw.into_iter().map(|(r, _)| to_row(r)).collect();
    Ok(MembersPage {
        total: (!has_prev && !has_next).then_some(rows.len() as i64),
        rows,
        matched: Matched::Part,
        has_prev,
        has_next,
        first_key,
        last_key,
    })
}

/// Up to a page and one of the hits of `part` among the search ids `low..=high`, in
/// search-id order (`descending` for a page back), with their search ids: the members
/// [`matching`] selects, written out per backend as statements of fixed types, so that
/// Diesel finds their prepared statements by type instead of writing out their SQL at
/// every request to look them up (a boxed statement's cost, ~3% of a search's CPU in
/// `perf`). SQLite walks the FTS5 table in rowid order within the range and joins each
/// hit's membership (by the search-id index) and user, stopping after the page.
/// PostgreSQL walks the range of the search-id index, which carries the search key and its
/// trigram signature (migrations 000029, 000031), testing each entry (the signature, then
/// the text where the signature allows: `atrium_search_holds`), and stops after the page:
/// that walk is the plan it keeps for the prepared statement (its generic plan; the
/// pickers' [`matching`] keeps LIKE, which the GIN trigram index can answer). Neither has a
/// condition on `account_id`: SQLite would then walk the index `(account_id, handle)`
/// testing every membership against the hits, and PostgreSQL's generic plan read every
/// membership of the account by its `account_id` index and sort the hits.
fn search_rows(
    c: &mut DbConn,
    sqlite: bool,
    part: &str,
    (low, high): (i64, i64),
    descending: bool,
) -> QueryResult<Vec<(RawRow, Option<i64>)>> {
    use crate::db::schema::{matches, members_search};
    let limit = PAGE_SIZE + 1;
    if sqlite {
        let phrase = crate::db::search::fts_phrase(part);
        let query = members_search::table
            .inner_join(
                account_memberships::table
                    .on(account_memberships::search_id.eq(members_search::rowid.nullable())),
            )
            .inner_join(users::table.on(users::id.eq(account_memberships::user_id)))
            .filter(matches(
                members_search::search_key,
                phrase.into_sql::<Text>(),
            ))
            .filter(members_search::rowid.between(low, high))
            .select((
                member_columns_with(account_memberships::role),
                account_memberships::search_id,
            ))
            .limit(limit);
        if descending {
            query.order(members_search::rowid.desc()).load(c)
        } else {
            query.order(members_search::rowid.asc()).load(c)
        }
    } else {
        use crate::db::schema::{atrium_search_holds, pg_member_search as m};
        let (part_lo, part_hi) = crate::db::search::trigram_signature(part);
        let query = m::table
            .inner_join(users::table)
            .filter(atrium_search_holds(
                m::search_sig_lo,
                m::search_sig_hi,
                m::search_key,
                part_lo,
                part_hi,
                part,
            ))
            .filter(m::search_id.between(low, high))
            .select((member_columns_with(m::role), m::search_id.nullable()))
            .limit(limit);
        if descending {
            query.order(m::search_id.desc()).load(c)
        } else {
            query.order(m::search_id.asc()).load(c)
        }
    }
}

/// One member's row.
pub fn row(conn: &mut DbConn, account_id: &str, user_id: &str) -> QueryResult<Option<MemberRow>> {
    let row: Option<RawRow> = account_memberships::table
        .inner_join(users::table)
        .filter(account_memberships::account_id.eq(account_id))
        .filter(account_memberships::user_id.eq(user_id))
        .select(member_columns_with(account_memberships::role))
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

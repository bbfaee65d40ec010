//! Member queries: one query for a page of members, one for the count.

use diesel::prelude::*;

use crate::accounts::model::AccountRole;
use crate::db::DbConn;
use crate::db::schema::{account_memberships, users};

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

fn like_pattern(q: &str) -> String {
    let escaped: String = q
        .trim()
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

/// One page of members (ordered by handle), and the number of members matching `q`.
pub fn page(
    conn: &mut DbConn,
    account_id: &str,
    q: &str,
    page: i64,
) -> QueryResult<(Vec<MemberRow>, i64)> {
    let pattern = like_pattern(q);
    let filtered = !q.trim().is_empty();
    let base = || {
        let mut query = account_memberships::table
            .inner_join(users::table)
            .filter(account_memberships::account_id.eq(account_id.to_string()))
            .into_boxed();
        if filtered {
            query = query.filter(
                lower(users::handle)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(users::email_normalized.like(pattern.clone()).escape('\\'))
                    .or(lower(users::first_name).like(pattern.clone()).escape('\\'))
                    .or(lower(users::last_name).like(pattern.clone()).escape('\\')),
            );
        }
        query
    };
    // Unfiltered, the count needs no user rows: it reads the membership index only.
    let total: i64 = if filtered {
        base().count().get_result(conn)?
    } else {
        account_memberships::table
            .filter(account_memberships::account_id.eq(account_id))
            .count()
            .get_result(conn)?
    };
    let offset = (page.max(1) - 1) * PAGE_SIZE;
    let rows: Vec<RawRow> = base()
        .order((users::handle.asc(), users::id.asc()))
        .limit(PAGE_SIZE)
        .offset(offset)
        .select(member_columns())
        .load(conn)?;
    let rows = rows.into_iter().map(to_row).collect();
    Ok((rows, total))
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

/// Every membership of the account, by handle (one statement).
pub fn all_details(conn: &mut DbConn, account_id: &str) -> QueryResult<Vec<MembershipDetail>> {
    let rows: Vec<DetailRow> = account_memberships::table
        .inner_join(users::table)
        .filter(account_memberships::account_id.eq(account_id))
        .order((users::handle.asc(), users::id.asc()))
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

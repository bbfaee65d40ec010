//! User queries.

use diesel::prelude::*;

use crate::accounts::model::{self as accounts, Account, AccountKind};
use crate::authz::AccountRole;
use crate::db::schema::{sessions, users};
use crate::db::{DbConn, is_unique_violation, new_id, now};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub email: String,
    pub email_normalized: String,
    pub handle: String,
    pub first_name: String,
    pub last_name: String,
    pub password_hash: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    pub last_login_at: Option<chrono::NaiveDateTime>,
    /// When the address was proved by a link sent to it (or by accepting an invitation
    /// sent to it); `None`: unverified, and the address does not block others.
    pub email_verified_at: Option<chrono::NaiveDateTime>,
}

impl User {
    /// The user's id, typed.
    pub fn key(&self) -> crate::ids::UserId {
        crate::ids::UserId::from_stored(self.id.clone())
    }

    pub fn is_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }

    /// "First Last", or the handle when both names are empty.
    pub fn display_name(&self) -> String {
        let full = format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_string();
        if full.is_empty() {
            self.handle.clone()
        } else {
            full
        }
    }

    pub fn initials(&self) -> String {
        let mut s: String = [&self.first_name, &self.last_name]
            .iter()
            .filter_map(|n| n.chars().next())
            .flat_map(char::to_uppercase)
            .collect();
        if s.is_empty() {
            s = self
                .handle
                .chars()
                .take(2)
                .collect::<String>()
                .to_uppercase();
        }
        s
    }
}

/// What sign-up stores (already parsed and hashed).
pub struct NewUser<'a> {
    pub email: &'a str,
    pub email_normalized: &'a str,
    pub handle: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub password_hash: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum SignupError {
    #[error("email taken")]
    EmailTaken,
    #[error("handle taken")]
    HandleTaken,
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

/// Creates the user and their personal account (the user is its Owner). Call inside a transaction.
pub fn create_with_personal_account(
    conn: &mut DbConn,
    new: &NewUser<'_>,
) -> Result<User, SignupError> {
    let email_used: i64 = users::table
        .filter(users::email_normalized.eq(new.email_normalized))
        .count()
        .get_result(conn)?;
    if email_used > 0 {
        return Err(SignupError::EmailTaken);
    }
    if accounts::handle_taken(conn, new.handle)? {
        return Err(SignupError::HandleTaken);
    }
    let id = new_id();
    let t = now();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(&id),
            users::email.eq(new.email),
            users::email_normalized.eq(new.email_normalized),
            users::handle.eq(new.handle),
            users::first_name.eq(new.first_name),
            users::last_name.eq(new.last_name),
            users::password_hash.eq(new.password_hash),
            users::created_at.eq(t),
            users::updated_at.eq(t),
            users::search_key.eq(crate::db::search::user_key(
                new.handle,
                new.first_name,
                new.last_name,
                new.email,
            )),
        ))
        .execute(conn)
        .map_err(|e| {
            if is_unique_violation(&e) {
                // A concurrent sign-up won the race; report it like the checks above.
                SignupError::EmailTaken
            } else {
                SignupError::Db(e)
            }
        })?;
    let personal_name = format!("{} {}", new.first_name, new.last_name)
        .trim()
        .to_string();
    let personal_name = if personal_name.is_empty() {
        new.handle.to_string()
    } else {
        personal_name
    };
    accounts::create(conn, AccountKind::Personal, &personal_name, new.handle, &id).map_err(
        |e| {
            if is_unique_violation(&e) {
                SignupError::HandleTaken
            } else {
                SignupError::Db(e)
            }
        },
    )?;
    users::table
        .find(&id)
        .select(User::as_select())
        .first(conn)
        .map_err(SignupError::Db)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<User>> {
    if crate::db::holds_nul(id) {
        return Ok(None);
    }
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Finds a user by e-mail (any case) or by handle.
pub fn find_by_login(conn: &mut DbConn, identifier: &str) -> QueryResult<Option<User>> {
    if crate::db::holds_nul(identifier) {
        return Ok(None);
    }
    let key = identifier.trim().to_lowercase();
    users::table
        .filter(users::email_normalized.eq(&key).or(users::handle.eq(&key)))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_email(conn: &mut DbConn, email_normalized: &str) -> QueryResult<Option<User>> {
    if crate::db::holds_nul(email_normalized) {
        return Ok(None);
    }
    users::table
        .filter(users::email_normalized.eq(email_normalized))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn touch_login(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::last_login_at.eq(Some(now())))
        .execute(conn)?;
    Ok(())
}

pub fn set_password_hash(conn: &mut DbConn, id: &str, hash: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now())))
        .execute(conn)?;
    Ok(())
}

pub fn update_names(conn: &mut DbConn, id: &str, first: &str, last: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::first_name.eq(first),
            users::last_name.eq(last),
            users::updated_at.eq(now()),
        ))
        .execute(conn)?;
    crate::db::search::refresh_user(conn, id)
}

/// Ends every stored session of the user.
pub fn end_sessions(conn: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(conn)
}

/// A stored session as the sessions page shows it.
#[derive(Queryable, Clone, Debug)]
pub struct SessionRow {
    /// The digest of the session's key (the key itself is only in the browser's cookie).
    pub id: String,
    pub user_agent: Option<String>,
    pub client_address: Option<String>,
    pub created_at: chrono::NaiveDateTime,
    pub last_seen_at: Option<chrono::NaiveDateTime>,
}

/// The user's sessions that still work (not expired, used since `seen_since`), most
/// recently used first.
pub fn live_sessions(
    conn: &mut DbConn,
    user_id: &str,
    seen_since: chrono::NaiveDateTime,
) -> QueryResult<Vec<SessionRow>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now()))
        .filter(sessions::last_seen_at.gt(seen_since))
        .order((
            sessions::last_seen_at.desc(),
            sessions::created_at.desc(),
            sessions::id.asc(),
        ))
        .select((
            sessions::id,
            sessions::user_agent,
            sessions::client_address,
            sessions::created_at,
            sessions::last_seen_at,
        ))
        .load(conn)
}

/// Ends the user's session `id` (none of another user's); how many ended (0 or 1).
pub fn end_session(conn: &mut DbConn, user_id: &str, id: &str) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id.eq(id)),
    )
    .execute(conn)
}

/// Ends every stored session of the user but `keep`.
pub fn end_sessions_but(conn: &mut DbConn, user_id: &str, keep: &str) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id.ne(keep)),
    )
    .execute(conn)
}

/// Marks the user's current address verified (kept as it is when it already was).
pub fn mark_verified(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    let n = diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::email_verified_at.is_null()),
    )
    .set(users::email_verified_at.eq(Some(now())))
    .execute(conn)?;
    Ok(n == 1)
}

/// Replaces the user's address with a verified one.
pub fn set_verified_email(
    conn: &mut DbConn,
    id: &str,
    email: &str,
    email_normalized: &str,
) -> QueryResult<()> {
    let t = now();
    diesel::update(users::table.find(id))
        .set((
            users::email.eq(email),
            users::email_normalized.eq(email_normalized),
            users::email_verified_at.eq(Some(t)),
            users::updated_at.eq(t),
        ))
        .execute(conn)?;
    crate::db::search::refresh_user(conn, id)
}

/// What [`replace_unverified`] removed.
pub struct Replaced {
    pub id: String,
    pub handle: String,
    pub email: String,
    /// Handles of the accounts deleted with the user: the personal account and every
    /// organization of which the user was the only Owner.
    pub accounts: Vec<String>,
}

/// Deletes an unverified user to free their address (inside the caller's transaction):
/// the personal account, every organization the user alone owns (an account must keep an
/// Owner), then the user, whose memberships, accesses, sessions, keys and e-mailed codes
/// go with them (`ON DELETE CASCADE`); invitations, service accounts and transfer requests
/// they made keep their rows without them (`ON DELETE SET NULL`). Refuses (returns `None`)
/// when the user is verified.
pub fn replace_unverified(conn: &mut DbConn, user: &User) -> QueryResult<Option<Replaced>> {
    use crate::db::schema::{account_memberships as m, accounts as a};
    let Some(current) = find(conn, &user.id)? else {
        return Ok(None);
    };
    if current.is_verified() {
        return Ok(None);
    }
    let owned: Vec<(String, String, String)> = a::table
        .inner_join(m::table.on(m::account_id.eq(a::id)))
        .filter(m::user_id.eq(&current.id))
        .filter(m::role.eq(crate::authz::AccountRole::Owner.as_str()))
        .select((a::id, a::handle, a::kind))
        .load(conn)?;
    let mut deleted = Vec::new();
    for (account_id, handle, kind) in owned {
        crate::accounts::model::lock(conn, &account_id)?;
        let owners: i64 = m::table
            .filter(m::account_id.eq(&account_id))
            .filter(m::role.eq(crate::authz::AccountRole::Owner.as_str()))
            .count()
            .get_result(conn)?;
        if kind == AccountKind::Personal.as_str() || owners <= 1 {
            crate::accounts::model::delete(conn, &account_id)?;
            deleted.push(handle);
        }
    }
    diesel::delete(users::table.find(&current.id)).execute(conn)?;
    Ok(Some(Replaced {
        id: current.id,
        handle: current.handle,
        email: current.email,
        accounts: deleted,
    }))
}

/// The accounts a user belongs to, with their role: personal first, then by name.
/// (`users` because the signed-in user's identity reads them with the user.)
pub fn for_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<(Account, AccountRole)>> {
    Ok(identity(conn, user_id)?
        .map(|(_, accounts)| accounts)
        .unwrap_or_default())
}

/// A user with the accounts they belong to and their role in each.
pub type Identity = (User, Memberships);

/// A user's accounts with their role in each, as read with the user.
pub type Memberships = Vec<(Account, AccountRole)>;

/// The signed-in user and their accounts with their role in each (personal first, then by
/// name), in one statement: what every signed-in page reads before its own work.
/// `None` when the user no longer exists.
pub fn identity(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<Identity>> {
    use crate::db::schema::{account_memberships, accounts};
    if crate::db::holds_nul(user_id) {
        return Ok(None);
    }
    let rows: Vec<(User, Option<Account>, Option<String>)> = users::table
        // A flat chain of left joins: SQLite materialises a parenthesised join on the
        // right of a LEFT JOIN (every membership of every account) instead of probing it.
        .left_join(account_memberships::table)
        .left_join(accounts::table.on(accounts::id.eq(account_memberships::account_id)))
        .filter(users::id.eq(user_id))
        .order((
            accounts::kind.nullable().desc(),
            accounts::name.nullable().asc(),
            accounts::id.nullable().asc(),
        ))
        .select((
            User::as_select(),
            Option::<Account>::as_select(),
            account_memberships::role.nullable(),
        ))
        .load(conn)?;
    let mut rows = rows.into_iter();
    let Some((user, account, role)) = rows.next() else {
        return Ok(None);
    };
    let accounts = std::iter::once((account, role))
        .chain(rows.map(|(_, a, r)| (a, r)))
        .filter_map(|(a, r)| a.zip(r))
        .map(|(a, r)| {
            (
                a,
                AccountRole::parse(&r).unwrap_or(AccountRole::Collaborator),
            )
        })
        .collect();
    Ok(Some((user, accounts)))
}

//! Two-factor queries: a user's TOTP row (`user_totp`), their recovery codes
//! (`recovery_codes`), and which of their accounts require two-factor authentication.

use diesel::prelude::*;

use crate::db::schema::{account_memberships, accounts, recovery_codes, user_totp};
use crate::db::{DbConn, new_id, now};

/// A user's TOTP: the sealed secret, and whether set-up was confirmed with a code.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = user_totp)]
pub struct Totp {
    pub user_id: String,
    pub secret_sealed: String,
    pub confirmed_at: Option<chrono::NaiveDateTime>,
    pub last_used_step: Option<i64>,
    pub created_at: chrono::NaiveDateTime,
}

impl Totp {
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

pub fn find(c: &mut DbConn, user_id: &str) -> QueryResult<Option<Totp>> {
    if crate::db::holds_nul(user_id) {
        return Ok(None);
    }
    user_totp::table
        .find(user_id)
        .select(Totp::as_select())
        .first(c)
        .optional()
}

/// True when the user has confirmed two-factor authentication.
pub fn is_enabled(c: &mut DbConn, user_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        user_totp::table
            .filter(user_totp::user_id.eq(user_id))
            .filter(user_totp::confirmed_at.is_not_null()),
    ))
    .get_result(c)
}

/// Starts (or starts again) a pending set-up with a new sealed secret.
pub fn put_pending(c: &mut DbConn, user_id: &str, sealed: &str) -> QueryResult<()> {
    diesel::delete(user_totp::table.find(user_id)).execute(c)?;
    diesel::insert_into(user_totp::table)
        .values((
            user_totp::user_id.eq(user_id),
            user_totp::secret_sealed.eq(sealed),
            user_totp::created_at.eq(now()),
        ))
        .execute(c)?;
    Ok(())
}

/// Confirms the pending set-up, remembering the step of the code that confirmed it.
pub fn confirm(c: &mut DbConn, user_id: &str, step: i64) -> QueryResult<usize> {
    diesel::update(
        user_totp::table
            .filter(user_totp::user_id.eq(user_id))
            .filter(user_totp::confirmed_at.is_null()),
    )
    .set((
        user_totp::confirmed_at.eq(now()),
        user_totp::last_used_step.eq(step),
    ))
    .execute(c)
}

/// Records `step` as used, only when it is later than the last one used: 1 row when this
/// use wins, 0 when the step was already used (a replay, or a concurrent use of the code).
pub fn use_step(c: &mut DbConn, user_id: &str, step: i64) -> QueryResult<usize> {
    diesel::update(
        user_totp::table
            .filter(user_totp::user_id.eq(user_id))
            .filter(user_totp::confirmed_at.is_not_null())
            .filter(
                user_totp::last_used_step
                    .is_null()
                    .or(user_totp::last_used_step.lt(step)),
            ),
    )
    .set(user_totp::last_used_step.eq(step))
    .execute(c)
}

/// Removes the user's TOTP and recovery codes.
pub fn remove(c: &mut DbConn, user_id: &str) -> QueryResult<usize> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(c)?;
    diesel::delete(user_totp::table.find(user_id)).execute(c)
}

/// Replaces the user's recovery codes with these digests.
pub fn replace_recovery_codes(
    c: &mut DbConn,
    user_id: &str,
    digests: &[String],
) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(c)?;
    let t = now();
    // One statement per code (ten): the backends' shared connection has no batch insert.
    for d in digests {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::id.eq(new_id()),
                recovery_codes::user_id.eq(user_id),
                recovery_codes::digest.eq(d),
                recovery_codes::created_at.eq(t),
            ))
            .execute(c)?;
    }
    Ok(())
}

/// Uses the user's unused recovery code with this digest: 1 when this use wins, 0 when
/// there is no such unused code (wrong, or already used, or used concurrently).
pub fn use_recovery_code(c: &mut DbConn, user_id: &str, digest: &str) -> QueryResult<usize> {
    diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::digest.eq(digest))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now()))
    .execute(c)
}

/// How many of the user's recovery codes are still unused.
pub fn unused_recovery_codes(c: &mut DbConn, user_id: &str) -> QueryResult<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(c)
}

/// The names of the user's accounts that require two-factor authentication, by name.
pub fn requiring_accounts(c: &mut DbConn, user_id: &str) -> QueryResult<Vec<String>> {
    if crate::db::holds_nul(user_id) {
        return Ok(Vec::new());
    }
    accounts::table
        .inner_join(account_memberships::table)
        .filter(account_memberships::user_id.eq(user_id))
        .filter(accounts::require_two_factor.eq(true))
        .order(accounts::name.asc())
        .select(accounts::name)
        .load(c)
}

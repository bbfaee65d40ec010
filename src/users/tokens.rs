//! Single-use codes sent by e-mail: verifying an address, resetting a password, moving to
//! a new address. Like invitation codes, only the code's SHA-256 digest is stored, so a
//! copy of the database cannot be turned into working links; unlike them, nobody needs to
//! copy a link again, so the code is random rather than derived from a salt.

use diesel::prelude::*;

use crate::authn::{digest, random_token};
use crate::db::schema::email_tokens;
use crate::db::{DbConn, new_id, now};

/// What a code is for (the `purpose` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Proves the user's current address.
    Verify,
    /// Sets a new password (and proves the address it was sent to).
    Reset,
    /// Moves the user to the address it was sent to.
    ChangeEmail,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Reset => "reset",
            Purpose::ChangeEmail => "change_email",
        }
    }

    /// How long a link works.
    pub fn ttl(self) -> chrono::TimeDelta {
        match self {
            Purpose::Reset => RESET_TTL,
            Purpose::Verify | Purpose::ChangeEmail => VERIFY_TTL,
        }
    }
}

/// How long a verification (or e-mail change) link works. An unverified account older
/// than this no longer blocks a plain sign-up with its address.
pub const VERIFY_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// How long a password reset link works.
pub const RESET_TTL: chrono::TimeDelta = chrono::TimeDelta::hours(1);

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = email_tokens)]
pub struct EmailToken {
    pub id: String,
    pub user_id: String,
    pub purpose: String,
    /// The address the link was sent to.
    pub email: String,
    pub code_digest: String,
    pub expires_at: chrono::NaiveDateTime,
    pub used_at: Option<chrono::NaiveDateTime>,
    pub created_at: chrono::NaiveDateTime,
}

/// Why a link cannot be used, in words for the person holding it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    Invalid,
    Expired,
    Used,
}

impl Problem {
    pub fn title(self) -> &'static str {
        match self {
            Problem::Invalid => "This link is not valid",
            Problem::Expired => "This link has expired",
            Problem::Used => "This link has already been used",
        }
    }
}

impl EmailToken {
    /// True when `code` is this token's code (compared by digest, in constant time).
    pub fn code_matches(&self, code: &str) -> bool {
        let d = digest(code);
        d.len() == self.code_digest.len()
            && d.bytes()
                .zip(self.code_digest.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// Creates a code for `user_id`, sent to `email`; returns the row and the code. Earlier
/// unused codes of the user for the same purpose stop working (only the newest link does),
/// and their e-mails still waiting are cancelled.
pub fn create(
    conn: &mut DbConn,
    user_id: &str,
    purpose: Purpose,
    email: &str,
) -> QueryResult<(EmailToken, String)> {
    let older: Vec<String> = email_tokens::table
        .filter(email_tokens::user_id.eq(user_id))
        .filter(email_tokens::purpose.eq(purpose.as_str()))
        .filter(email_tokens::used_at.is_null())
        .select(email_tokens::id)
        .load(conn)?;
    for id in &older {
        crate::mail::cancel_pending(conn, id)?;
    }
    if !older.is_empty() {
        diesel::delete(email_tokens::table.filter(email_tokens::id.eq_any(&older)))
            .execute(conn)?;
    }
    let id = new_id();
    let code = random_token(32);
    let t = now();
    diesel::insert_into(email_tokens::table)
        .values((
            email_tokens::id.eq(&id),
            email_tokens::user_id.eq(user_id),
            email_tokens::purpose.eq(purpose.as_str()),
            email_tokens::email.eq(email),
            email_tokens::code_digest.eq(digest(&code)),
            email_tokens::expires_at.eq(t + purpose.ttl()),
            email_tokens::created_at.eq(t),
        ))
        .execute(conn)?;
    let token = email_tokens::table
        .find(&id)
        .select(EmailToken::as_select())
        .first(conn)?;
    Ok((token, code))
}

/// The token `id` for `purposes` if `code` is its code and it can still be used.
pub fn check(
    conn: &mut DbConn,
    id: &str,
    code: &str,
    purposes: &[Purpose],
) -> QueryResult<Result<EmailToken, Problem>> {
    if crate::db::holds_nul(id) {
        return Ok(Err(Problem::Invalid));
    }
    let found = email_tokens::table
        .find(id)
        .select(EmailToken::as_select())
        .first(conn)
        .optional()?;
    let Some(token) =
        found.filter(|t| t.code_matches(code) && purposes.iter().any(|p| p.as_str() == t.purpose))
    else {
        return Ok(Err(Problem::Invalid));
    };
    Ok(if token.used_at.is_some() {
        Err(Problem::Used)
    } else if token.expires_at <= now() {
        Err(Problem::Expired)
    } else {
        Ok(token)
    })
}

/// Marks the token used; false when it already was (someone else used it meanwhile).
pub fn mark_used(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    let n = diesel::update(
        email_tokens::table
            .filter(email_tokens::id.eq(id))
            .filter(email_tokens::used_at.is_null()),
    )
    .set(email_tokens::used_at.eq(Some(now())))
    .execute(conn)?;
    Ok(n == 1)
}

/// The purpose of a stored token.
pub fn purpose_of(token: &EmailToken) -> Option<Purpose> {
    [Purpose::Verify, Purpose::Reset, Purpose::ChangeEmail]
        .into_iter()
        .find(|p| p.as_str() == token.purpose)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_only_itself() {
        let code = random_token(32);
        let t = now();
        let token = EmailToken {
            id: new_id(),
            user_id: new_id(),
            purpose: "reset".into(),
            email: "ana@example.com".into(),
            code_digest: digest(&code),
            expires_at: t,
            used_at: None,
            created_at: t,
        };
        assert!(token.code_matches(&code));
        assert!(!token.code_matches(&code[1..]));
        assert!(!token.code_matches(""));
        assert!(!token.code_matches(&format!("{code}0")));
    }
}

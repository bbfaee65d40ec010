//! Invitation queries. Codes are never stored: a code is an HMAC of a random per-invitation
//! salt under the server's secret key, and only its SHA-256 digest is kept, so a copy of the
//! database alone cannot be turned into working links, while an administrator can still copy
//! a pending invitation's link.

use base64::Engine;
use diesel::prelude::*;
use hmac::{Hmac, Mac};

use crate::authn::{digest, random_token};
use crate::authz::AccountRole;
use crate::db::schema::{account_memberships, invitations, users};
use crate::db::{DbConn, new_id, now};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub id: String,
    pub account_id: String,
    pub email: String,
    pub email_normalized: String,
    pub role: String,
    pub code_salt: String,
    pub code_digest: String,
    pub status: String,
    pub invited_by: Option<String>,
    pub invited_by_name: String,
    pub created_at: chrono::NaiveDateTime,
    pub expires_at: chrono::NaiveDateTime,
    pub responded_at: Option<chrono::NaiveDateTime>,
    pub accepted_by: Option<String>,
    /// Set for an invitation to one workspace (the invitee joins as Collaborator).
    pub workspace_id: Option<String>,
    pub workspace_role_id: Option<String>,
}

/// What a person sees about an invitation's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Accepted,
    Declined,
    Revoked,
    Expired,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pending => "Pending",
            Status::Accepted => "Accepted",
            Status::Declined => "Declined",
            Status::Revoked => "Revoked",
            Status::Expired => "Expired",
        }
    }

    pub fn badge(self) -> &'static str {
        match self {
            Status::Pending => "badge-info",
            Status::Accepted => "badge-success",
            Status::Declined | Status::Revoked => "badge-muted",
            Status::Expired => "badge-warning",
        }
    }
}

impl Invitation {
    pub fn status(&self) -> Status {
        match self.status.as_str() {
            "accepted" => Status::Accepted,
            "declined" => Status::Declined,
            "revoked" => Status::Revoked,
            _ if self.expires_at <= now() => Status::Expired,
            _ => Status::Pending,
        }
    }

    pub fn role(&self) -> AccountRole {
        AccountRole::parse(&self.role).unwrap_or(AccountRole::Member)
    }

    /// True when `code` is this invitation's code (compared by digest, in constant time).
    pub fn code_matches(&self, code: &str) -> bool {
        let d = digest(code);
        d.len() == self.code_digest.len()
            && d.bytes()
                .zip(self.code_digest.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// The code for a salt: base64url(HMAC-SHA256(key, salt)), 32 bytes of entropy.
pub fn code_for(key: &[u8], salt: &str) -> String {
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(m) => m,
        // HMAC accepts keys of any length; this branch cannot be taken.
        Err(_) => return random_token(32),
    };
    mac.update(b"atrium-invitation:");
    mac.update(salt.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

pub struct NewInvitation<'a> {
    pub account_id: &'a str,
    pub email: &'a str,
    pub email_normalized: &'a str,
    pub role: AccountRole,
    pub invited_by: &'a str,
    pub invited_by_name: &'a str,
    pub ttl: std::time::Duration,
    /// For a workspace invitation: the workspace and the role on it.
    pub workspace: Option<(&'a str, &'a str)>,
}

fn expiry(ttl: std::time::Duration) -> chrono::NaiveDateTime {
    now() + chrono::TimeDelta::seconds(ttl.as_secs() as i64)
}

/// Creates a pending invitation; returns it with its code.
pub fn create(
    conn: &mut DbConn,
    key: &[u8],
    new: &NewInvitation<'_>,
) -> QueryResult<(Invitation, String)> {
    let id = new_id();
    let salt = random_token(32);
    let code = code_for(key, &salt);
    diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(&id),
            invitations::account_id.eq(new.account_id),
            invitations::email.eq(new.email),
            invitations::email_normalized.eq(new.email_normalized),
            invitations::role.eq(new.role.as_str()),
            invitations::code_salt.eq(&salt),
            invitations::code_digest.eq(digest(&code)),
            invitations::status.eq("pending"),
            invitations::invited_by.eq(new.invited_by),
            invitations::invited_by_name.eq(new.invited_by_name),
            invitations::created_at.eq(now()),
            invitations::expires_at.eq(expiry(new.ttl)),
            invitations::workspace_id.eq(new.workspace.map(|w| w.0)),
            invitations::workspace_role_id.eq(new.workspace.map(|w| w.1)),
        ))
        .execute(conn)?;
    let inv = invitations::table
        .find(&id)
        .select(Invitation::as_select())
        .first(conn)?;
    Ok((inv, code))
}

/// A new code and expiry for a pending invitation: the old link stops working.
pub fn renew(
    conn: &mut DbConn,
    key: &[u8],
    id: &str,
    ttl: std::time::Duration,
) -> QueryResult<String> {
    let salt = random_token(32);
    let code = code_for(key, &salt);
    diesel::update(invitations::table.find(id))
        .set((
            invitations::code_salt.eq(&salt),
            invitations::code_digest.eq(digest(&code)),
            invitations::expires_at.eq(expiry(ttl)),
            invitations::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(code)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<Invitation>> {
    if crate::db::holds_nul(id) {
        return Ok(None);
    }
    invitations::table
        .find(id)
        .select(Invitation::as_select())
        .first(conn)
        .optional()
}

/// The account's invitations, newest first.
pub fn list(conn: &mut DbConn, account_id: &str, limit: i64) -> QueryResult<Vec<Invitation>> {
    invitations::table
        .filter(invitations::account_id.eq(account_id))
        .order((invitations::created_at.desc(), invitations::id.desc()))
        .limit(limit)
        .select(Invitation::as_select())
        .load(conn)
}

/// The pending invitation for this address to the account (`workspace_id` None) or to one workspace.
pub fn pending_for(
    conn: &mut DbConn,
    account_id: &str,
    email_normalized: &str,
    workspace_id: Option<&str>,
) -> QueryResult<Option<Invitation>> {
    let mut q = invitations::table
        .filter(invitations::account_id.eq(account_id))
        .filter(invitations::email_normalized.eq(email_normalized))
        .filter(invitations::status.eq("pending"))
        .into_boxed();
    q = match workspace_id {
        Some(w) => q.filter(invitations::workspace_id.eq(w.to_string())),
        None => q.filter(invitations::workspace_id.is_null()),
    };
    q.select(Invitation::as_select()).first(conn).optional()
}

/// Moves a pending invitation to `to`; returns false when it was no longer pending.
pub fn respond(conn: &mut DbConn, id: &str, to: &str, by: Option<&str>) -> QueryResult<bool> {
    let n = diesel::update(
        invitations::table
            .filter(invitations::id.eq(id))
            .filter(invitations::status.eq("pending")),
    )
    .set((
        invitations::status.eq(to),
        invitations::responded_at.eq(Some(now())),
        invitations::accepted_by.eq(by),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// True when a user with this e-mail is already a member of the account.
pub fn is_member_email(
    conn: &mut DbConn,
    account_id: &str,
    email_normalized: &str,
) -> QueryResult<bool> {
    let n: i64 = account_memberships::table
        .inner_join(users::table)
        .filter(account_memberships::account_id.eq(account_id))
        .filter(users::email_normalized.eq(email_normalized))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Property tests (issue #9): a code made for an invitation matches it; the same code
/// with any one character changed, removed or added does not.
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn invitation(code: &str, salt: &str) -> Invitation {
        let t = now();
        Invitation {
            id: new_id(),
            account_id: new_id(),
            email: "ana@example.com".into(),
            email_normalized: "ana@example.com".into(),
            role: "member".into(),
            code_salt: salt.into(),
            code_digest: digest(code),
            status: "pending".into(),
            invited_by: None,
            invited_by_name: "Bo".into(),
            created_at: t,
            expires_at: t,
            responded_at: None,
            accepted_by: None,
            workspace_id: None,
            workspace_role_id: None,
        }
    }

    proptest! {
        #[test]
        fn a_code_round_trips_and_any_single_change_is_refused(
            key in prop::collection::vec(any::<u8>(), 0..80),
            salt in any::<String>(),
            at in 0usize..43,
            with in any::<char>(),
            other in any::<String>(),
        ) {
            let code = code_for(&key, &salt);
            prop_assert_eq!(code.len(), 43, "32 bytes in unpadded base64url");
            prop_assert!(code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            prop_assert_eq!(code_for(&key, &salt), code.clone(), "deterministic");
            let inv = invitation(&code, &salt);
            prop_assert!(inv.code_matches(&code));
            let mut chars: Vec<char> = code.chars().collect();
            prop_assume!(chars[at] != with);
            chars[at] = with;
            let changed: String = chars.into_iter().collect();
            prop_assert!(!inv.code_matches(&changed));
            prop_assert!(!inv.code_matches(&code[..42]));
            let longer = format!("{code}A");
            prop_assert!(!inv.code_matches(&longer));
            prop_assert!(!inv.code_matches(""));
            // Any other string: never a panic, a match only for the code itself.
            prop_assert_eq!(inv.code_matches(&other), other == code);
        }
    }
}

//! SSO queries: an account's OpenID Connect integration, its claimed e-mail domains and the
//! provider subjects linked to users (migration `…000025_sso`).

use diesel::prelude::*;

use crate::db::schema::{accounts, sso_domains, sso_identities, sso_integrations};
use crate::db::{DbConn, new_id, now};

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = sso_integrations)]
pub struct Integration {
    pub id: String,
    pub account_id: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret_sealed: String,
    pub client_secret_mask: String,
    pub role: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = sso_domains)]
pub struct Domain {
    pub id: String,
    pub account_id: String,
    pub domain: String,
    pub verify_email: String,
    pub code_digest: Option<String>,
    pub expires_at: Option<chrono::NaiveDateTime>,
    pub verified_at: Option<chrono::NaiveDateTime>,
    pub created_at: chrono::NaiveDateTime,
}

impl Domain {
    pub fn is_verified(&self) -> bool {
        self.verified_at.is_some()
    }
}

/// The integration's fields as saved.
pub struct Saved<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// `None`: keep the stored secret.
    pub secret: Option<(&'a str, &'a str)>,
    pub role: &'a str,
}

pub fn of_account(c: &mut DbConn, account_id: &str) -> QueryResult<Option<Integration>> {
    sso_integrations::table
        .filter(sso_integrations::account_id.eq(account_id))
        .select(Integration::as_select())
        .first(c)
        .optional()
}

pub fn find(c: &mut DbConn, id: &str) -> QueryResult<Option<Integration>> {
    if crate::db::holds_nul(id) {
        return Ok(None);
    }
    sso_integrations::table
        .find(id)
        .select(Integration::as_select())
        .first(c)
        .optional()
}

pub fn insert(c: &mut DbConn, account_id: &str, s: &Saved<'_>) -> QueryResult<Integration> {
    let id = new_id();
    let t = now();
    let (sealed, mask) = s.secret.unwrap_or(("", ""));
    diesel::insert_into(sso_integrations::table)
        .values((
            sso_integrations::id.eq(&id),
            sso_integrations::account_id.eq(account_id),
            sso_integrations::issuer.eq(s.issuer),
            sso_integrations::client_id.eq(s.client_id),
            sso_integrations::client_secret_sealed.eq(sealed),
            sso_integrations::client_secret_mask.eq(mask),
            sso_integrations::role.eq(s.role),
            sso_integrations::created_at.eq(t),
            sso_integrations::updated_at.eq(t),
        ))
        .execute(c)?;
    sso_integrations::table
        .find(&id)
        .select(Integration::as_select())
        .first(c)
}

pub fn update(c: &mut DbConn, id: &str, s: &Saved<'_>) -> QueryResult<()> {
    let t = now();
    diesel::update(sso_integrations::table.find(id))
        .set((
            sso_integrations::issuer.eq(s.issuer),
            sso_integrations::client_id.eq(s.client_id),
            sso_integrations::role.eq(s.role),
            sso_integrations::updated_at.eq(t),
        ))
        .execute(c)?;
    if let Some((sealed, mask)) = s.secret {
        diesel::update(sso_integrations::table.find(id))
            .set((
                sso_integrations::client_secret_sealed.eq(sealed),
                sso_integrations::client_secret_mask.eq(mask),
            ))
            .execute(c)?;
    }
    Ok(())
}

pub fn delete(c: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(sso_integrations::table.find(id)).execute(c)
}

pub fn set_required(c: &mut DbConn, account_id: &str, required: bool) -> QueryResult<()> {
    diesel::update(accounts::table.find(account_id))
        .set(accounts::sso_required.eq(required))
        .execute(c)?;
    Ok(())
}

// ---------- domains ----------

pub fn domains(c: &mut DbConn, account_id: &str) -> QueryResult<Vec<Domain>> {
    sso_domains::table
        .filter(sso_domains::account_id.eq(account_id))
        .order(sso_domains::domain.asc())
        .select(Domain::as_select())
        .load(c)
}

pub fn domain(c: &mut DbConn, account_id: &str, id: &str) -> QueryResult<Option<Domain>> {
    if crate::db::holds_nul(id) {
        return Ok(None);
    }
    sso_domains::table
        .filter(sso_domains::account_id.eq(account_id))
        .filter(sso_domains::id.eq(id))
        .select(Domain::as_select())
        .first(c)
        .optional()
}

/// The account's claim of `domain`, proved or not.
pub fn claim_of(c: &mut DbConn, account_id: &str, domain: &str) -> QueryResult<Option<Domain>> {
    sso_domains::table
        .filter(sso_domains::account_id.eq(account_id))
        .filter(sso_domains::domain.eq(domain))
        .select(Domain::as_select())
        .first(c)
        .optional()
}

/// The proved claim of `domain`, whoever holds it.
pub fn verified(c: &mut DbConn, domain: &str) -> QueryResult<Option<Domain>> {
    if crate::db::holds_nul(domain) {
        return Ok(None);
    }
    sso_domains::table
        .filter(sso_domains::domain.eq(domain))
        .filter(sso_domains::verified_at.is_not_null())
        .select(Domain::as_select())
        .first(c)
        .optional()
}

pub fn by_code(c: &mut DbConn, digest: &str) -> QueryResult<Option<Domain>> {
    sso_domains::table
        .filter(sso_domains::code_digest.eq(digest))
        .select(Domain::as_select())
        .first(c)
        .optional()
}

/// Claims `domain` for the account (or renews the pending claim's code).
pub fn upsert_claim(
    c: &mut DbConn,
    account_id: &str,
    domain: &str,
    email: &str,
    digest: &str,
    expires: chrono::NaiveDateTime,
) -> QueryResult<Domain> {
    match claim_of(c, account_id, domain)? {
        Some(d) => {
            diesel::update(sso_domains::table.find(&d.id))
                .set((
                    sso_domains::verify_email.eq(email),
                    sso_domains::code_digest.eq(Some(digest)),
                    sso_domains::expires_at.eq(Some(expires)),
                ))
                .execute(c)?;
        }
        None => {
            diesel::insert_into(sso_domains::table)
                .values((
                    sso_domains::id.eq(new_id()),
                    sso_domains::account_id.eq(account_id),
                    sso_domains::domain.eq(domain),
                    sso_domains::verify_email.eq(email),
                    sso_domains::code_digest.eq(Some(digest)),
                    sso_domains::expires_at.eq(Some(expires)),
                    sso_domains::created_at.eq(now()),
                ))
                .execute(c)?;
        }
    }
    claim_of(c, account_id, domain)?.ok_or(diesel::result::Error::NotFound)
}

/// Marks the claim proved (the code is spent).
pub fn mark_verified(c: &mut DbConn, id: &str) -> QueryResult<()> {
    diesel::update(sso_domains::table.find(id))
        .set((
            sso_domains::verified_at.eq(Some(now())),
            sso_domains::code_digest.eq(None::<String>),
            sso_domains::expires_at.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(c)?;
    Ok(())
}

pub fn delete_domain(c: &mut DbConn, id: &str) -> QueryResult<usize> {
    diesel::delete(sso_domains::table.find(id)).execute(c)
}

// ---------- identities ----------

/// The user the provider's `subject` is linked to.
pub fn linked_user(
    c: &mut DbConn,
    integration_id: &str,
    subject: &str,
) -> QueryResult<Option<String>> {
    sso_identities::table
        .filter(sso_identities::integration_id.eq(integration_id))
        .filter(sso_identities::subject.eq(subject))
        .select(sso_identities::user_id)
        .first(c)
        .optional()
}

pub fn link(c: &mut DbConn, integration_id: &str, user_id: &str, subject: &str) -> QueryResult<()> {
    diesel::insert_into(sso_identities::table)
        .values((
            sso_identities::id.eq(new_id()),
            sso_identities::integration_id.eq(integration_id),
            sso_identities::user_id.eq(user_id),
            sso_identities::subject.eq(subject),
            sso_identities::created_at.eq(now()),
        ))
        .execute(c)?;
    Ok(())
}

/// Is the user linked to another subject of this provider?
pub fn user_linked(c: &mut DbConn, integration_id: &str, user_id: &str) -> QueryResult<bool> {
    let n: i64 = sso_identities::table
        .filter(sso_identities::integration_id.eq(integration_id))
        .filter(sso_identities::user_id.eq(user_id))
        .count()
        .get_result(c)?;
    Ok(n > 0)
}

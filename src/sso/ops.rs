//! SSO operations (issue #26, docs/SSO.md), shared by the pages and the JSON API: configure,
//! update and delete an account's OpenID Connect integration, require it, claim and prove
//! e-mail domains, and the sign-in's database side (just-in-time provisioning, linking an
//! existing user after their password). Each change is one transaction under the account
//! lock that re-checks the caller's rights with current data and records its audit event.
//!
//! The network side (discovery, the code exchange, the ID token's checks) is
//! [`super::oidc`]; the pages run it before calling in here, so a provider that cannot be
//! reached changes nothing.

use serde_json::json;

use super::model::{self, Domain, Integration, Saved};
use crate::accounts::model::{self as accounts, AccountRole};
use crate::audit::{Actor, Event, Resource};
use crate::authz::account::AccountPerm;
use crate::db::{DbConn, write_tx};
use crate::outcome::{FieldErrors, OpError, OpResult, Reason, Refusal};
pub use crate::teams::ops::Who;
use crate::users::model::{self as users, User};

pub use super::model::{Domain as ClaimedDomain, Integration as SsoIntegration};

/// How long a domain's proof link stays valid.
pub const DOMAIN_LINK_HOURS: i64 = 72;

pub const ROLE_CHOICES: [AccountRole; 3] = [
    AccountRole::Admin,
    AccountRole::Member,
    AccountRole::Collaborator,
];

pub const DOMAIN_TAKEN: &str = "Another account has already proved this domain.";
pub const NO_INTEGRATION: &str = "Configure the identity provider first.";

fn integration_resource(i: &Integration) -> Resource {
    Resource {
        kind: "sso_integration",
        id: Some(i.id.clone()),
        name: i.issuer.clone(),
    }
}

fn domain_resource(d: &Domain) -> Resource {
    Resource {
        kind: "sso_domain",
        id: Some(d.id.clone()),
        name: d.domain.clone(),
    }
}

/// `read:sso` to see (404 otherwise), then `p` (403 otherwise).
fn require(c: &mut DbConn, who: &Who, account_id: &str, p: AccountPerm) -> OpResult<()> {
    who.holder.require(c, account_id, AccountPerm::ReadSso, p)
}

/// The account's integration and domains (`read:sso`).
pub fn view(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
) -> OpResult<(Option<Integration>, Vec<Domain>)> {
    require(c, who, account_id, AccountPerm::ReadSso)?;
    Ok((
        model::of_account(c, account_id)?,
        model::domains(c, account_id)?,
    ))
}

/// The form's fields, checked (the issuer's discovery is checked by the caller first).
#[derive(Debug, Clone)]
pub struct Input {
    pub issuer: String,
    pub client_id: String,
    /// Empty: keep the stored secret (an update).
    pub client_secret: String,
    pub role: String,
    pub required: bool,
}

/// The fields' own rules (no database): a message per field.
pub fn check(
    input: &Input,
    has_secret: bool,
) -> Result<(String, String, AccountRole), FieldErrors> {
    let mut errors = FieldErrors::default();
    let issuer = input.issuer.trim().trim_end_matches('/').to_string();
    if let Err(e) = super::oidc::parse_issuer(&issuer) {
        errors.add("issuer", e.message());
    } else if issuer.len() > 500 {
        errors.add("issuer", "Use at most 500 characters.");
    }
    let client_id = input.client_id.trim().to_string();
    if client_id.is_empty() {
        errors.add("client_id", "Enter the client id the provider gave Atrium.");
    } else if client_id.len() > 255 || client_id.chars().any(char::is_control) {
        errors.add(
            "client_id",
            "Use at most 255 characters, no control characters.",
        );
    }
    let secret = input.client_secret.trim();
    if secret.is_empty() && !has_secret {
        errors.add(
            "client_secret",
            "Enter the client secret the provider gave Atrium.",
        );
    } else if secret.len() > 1000 || secret.chars().any(char::is_control) {
        errors.add(
            "client_secret",
            "Use at most 1,000 characters, no control characters.",
        );
    }
    let role = AccountRole::parse(input.role.trim()).filter(|r| ROLE_CHOICES.contains(r));
    if role.is_none() {
        errors.add("role", "Choose Admin, Member or Collaborator.");
    }
    match role {
        Some(role) if errors.is_empty() => Ok((issuer, client_id, role)),
        _ => Err(errors),
    }
}

/// Saves the integration (`administrate:sso`): creates it (`atrium.sso.configured`) or
/// changes it (`atrium.sso.updated`), and whether the account requires it.
pub fn save(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    input: &Input,
    sealer: &crate::sealed::Sealer,
) -> OpResult<Integration> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        require(c, who, account_id, AccountPerm::AdministrateSso)?;
        let before = model::of_account(c, account_id)?;
        let (issuer, client_id, role) = check(input, before.is_some())?;
        let secret = input.client_secret.trim();
        let sealed =
            (!secret.is_empty()).then(|| (sealer.seal(secret), crate::sealed::mask(secret)));
        let saved = Saved {
            issuer: &issuer,
            client_id: &client_id,
            secret: sealed.as_ref().map(|(s, m)| (s.as_str(), m.as_str())),
            role: role.as_str(),
        };
        let (after, action) = match &before {
            None => (
                model::insert(c, account_id, &saved)?,
                "atrium.sso.configured",
            ),
            Some(b) => {
                model::update(c, &b.id, &saved)?;
                let after = model::find(c, &b.id)?.ok_or(OpError::from(Refusal::NotFound))?;
                (after, "atrium.sso.updated")
            }
        };
        let account = accounts::find(c, account_id)?.ok_or(OpError::from(Refusal::NotFound))?;
        model::set_required(c, account_id, input.required)?;
        Event::about(
            action,
            who.holder.audit_actor(),
            integration_resource(&after),
        )
        .account(account_id)
        .ip(who.ip.clone())
        .payload(json!({
            "issuer": after.issuer,
            "client_id": after.client_id,
            "client_secret": after.client_secret_mask,
            "secret_changed": sealed.is_some(),
            "role": after.role,
            "required": input.required,
            "was_required": account.sso_required,
        }))
        .record(c)?;
        Ok(after)
    })
}

/// Deletes the integration (`administrate:sso`); the account no longer requires SSO, and
/// the links of its users to the provider go with it. Recorded as `atrium.sso.deleted`.
pub fn delete(c: &mut DbConn, who: &Who, account_id: &str, integration_id: &str) -> OpResult<()> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        require(c, who, account_id, AccountPerm::ReadSso)?;
        let found = model::find(c, integration_id)?
            .filter(|i| i.account_id == account_id)
            .ok_or(OpError::from(Refusal::NotFound))?;
        require(c, who, account_id, AccountPerm::AdministrateSso)?;
        model::delete(c, &found.id)?;
        model::set_required(c, account_id, false)?;
        Event::about(
            "atrium.sso.deleted",
            who.holder.audit_actor(),
            integration_resource(&found),
        )
        .account(account_id)
        .ip(who.ip.clone())
        .payload(json!({ "issuer": found.issuer, "client_id": found.client_id }))
        .record(c)?;
        Ok(())
    })
}

// ---------- domains ----------

/// A domain as typed: lower case, without a leading `@`, at least two labels.
pub fn parse_domain(raw: &str) -> Option<String> {
    let d = raw
        .trim()
        .trim_start_matches('@')
        .trim_end_matches('.')
        .to_lowercase();
    let ok = d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    ok.then_some(d)
}

/// The domain of an e-mail address (lower case).
pub fn domain_of(email: &str) -> Option<String> {
    email
        .trim()
        .rsplit_once('@')
        .and_then(|(local, d)| (!local.is_empty()).then(|| parse_domain(d)).flatten())
}

/// Claims a domain (`administrate:sso`) and queues the proof link to `email`, an address at
/// that domain the admin chose. Recorded as `atrium.sso.domain_claimed`. Answers the claim
/// and the link's code (the e-mail carries it; it is not stored, only its digest).
pub fn claim_domain(
    c: &mut DbConn,
    who: &Who,
    account_id: &str,
    domain: &str,
    email: &str,
    cfg: &crate::settings::AppConfig,
) -> OpResult<Domain> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        require(c, who, account_id, AccountPerm::AdministrateSso)?;
        let mut errors = FieldErrors::default();
        let domain = parse_domain(domain);
        if domain.is_none() {
            errors.add("domain", "Enter a domain such as example.com.");
        }
        let email = email.trim().to_lowercase();
        match crate::users::domain::Email::parse(&email) {
            Err(msg) => errors.add("email", msg),
            Ok(_) if domain.is_some() && domain_of(&email) != domain => {
                errors.add("email", "Choose an address at this domain.")
            }
            Ok(_) => {}
        }
        let Some(domain) = domain.filter(|_| errors.is_empty()) else {
            return Err(errors.into());
        };
        if let Some(held) = model::verified(c, &domain)? {
            let mut errors = FieldErrors::default();
            if held.account_id == account_id {
                errors.add("domain", "This account has already proved this domain.");
            } else {
                errors.add("domain", DOMAIN_TAKEN);
            }
            return Err(errors.into());
        }
        let code = crate::authn::random_token(32);
        let expires = crate::db::now() + chrono::Duration::hours(DOMAIN_LINK_HOURS);
        let claim = model::upsert_claim(c, account_id, &domain, &email, &digest(&code), expires)?;
        super::mail::send_domain_link(c, cfg, &claim, &code)?;
        Event::about(
            "atrium.sso.domain_claimed",
            who.holder.audit_actor(),
            domain_resource(&claim),
        )
        .account(account_id)
        .ip(who.ip.clone())
        .payload(json!({ "domain": claim.domain, "email": claim.verify_email }))
        .record(c)?;
        Ok(claim)
    })
}

pub fn digest(code: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(code.as_bytes()))
}

/// The claim a proof link names, while it is valid.
pub fn claim_by_code(c: &mut DbConn, code: &str) -> OpResult<Domain> {
    let found = model::by_code(c, &digest(code))?
        .filter(|d| d.expires_at.is_some_and(|e| e > crate::db::now()))
        .ok_or(OpError::from(Refusal::NotFound))?;
    Ok(found)
}

/// Proves the domain with the link's code (anyone holding the link: it went to an address
/// at the domain). Recorded as `atrium.sso.domain_verified`. Refused when another account
/// proved the domain first.
pub fn verify_domain(c: &mut DbConn, code: &str, ip: &str) -> OpResult<Domain> {
    write_tx(c, |c| {
        let claim = claim_by_code(c, code)?;
        accounts::lock(c, &claim.account_id)?;
        if model::verified(c, &claim.domain)?.is_some() {
            return Err(Refusal::Conflict(Reason::DomainTaken).into());
        }
        model::mark_verified(c, &claim.id)?;
        let after = model::domain(c, &claim.account_id, &claim.id)?
            .ok_or(OpError::from(Refusal::NotFound))?;
        Event::about(
            "atrium.sso.domain_verified",
            Actor::Anonymous {
                label: after.verify_email.clone(),
            },
            domain_resource(&after),
        )
        .account(&after.account_id)
        .ip(ip.to_string())
        .payload(json!({ "domain": after.domain, "email": after.verify_email }))
        .record(c)?;
        Ok(after)
    })
}

/// Removes a domain claim (`administrate:sso`). Recorded as `atrium.sso.domain_removed`.
pub fn remove_domain(c: &mut DbConn, who: &Who, account_id: &str, domain_id: &str) -> OpResult<()> {
    write_tx(c, |c| {
        accounts::lock(c, account_id)?;
        require(c, who, account_id, AccountPerm::ReadSso)?;
        let d = model::domain(c, account_id, domain_id)?.ok_or(OpError::from(Refusal::NotFound))?;
        require(c, who, account_id, AccountPerm::AdministrateSso)?;
        model::delete_domain(c, &d.id)?;
        Event::about(
            "atrium.sso.domain_removed",
            who.holder.audit_actor(),
            domain_resource(&d),
        )
        .account(account_id)
        .ip(who.ip.clone())
        .payload(json!({ "domain": d.domain }))
        .record(c)?;
        Ok(())
    })
}

// ---------- sign-in ----------

/// The integration that signs in addresses of `email`'s domain: the one of the account
/// that proved the domain.
pub fn integration_for_email(c: &mut DbConn, email: &str) -> OpResult<Option<Integration>> {
    let Some(domain) = domain_of(email) else {
        return Ok(None);
    };
    let Some(claim) = model::verified(c, &domain)? else {
        return Ok(None);
    };
    Ok(model::of_account(c, &claim.account_id)?)
}

/// The account's integration, for a sign-in started from one of its pages.
pub fn integration_of_account(c: &mut DbConn, account_id: &str) -> OpResult<Option<Integration>> {
    Ok(model::of_account(c, account_id)?)
}

pub fn integration(c: &mut DbConn, id: &str) -> OpResult<Option<Integration>> {
    Ok(model::find(c, id)?)
}

/// What the provider's checked answer leads to.
#[derive(Debug, Clone)]
pub enum SignIn {
    /// Signed in as this user (linked before, or provisioned now).
    User(User),
    /// A user with this address exists and is not linked: they must prove their password.
    NeedsLink(User),
}

/// The database side of a checked sign-in: the subject's linked user, or a new user
/// (verified address, the integration's role in its account: just-in-time provisioning),
/// or — when a user already has the address — nothing yet ([`SignIn::NeedsLink`]). A
/// linked user who is no longer a member of the account becomes one again with the role.
/// Recorded as `atrium.sso.user_provisioned` and `atrium.sso.logged_in`.
pub fn sign_in(
    c: &mut DbConn,
    integration_id: &str,
    claims: &super::oidc::Claims,
    ip: &str,
) -> OpResult<SignIn> {
    write_tx(c, |c| {
        let i = model::find(c, integration_id)?.ok_or(OpError::from(Refusal::NotFound))?;
        accounts::lock(c, &i.account_id)?;
        let user = match model::linked_user(c, &i.id, &claims.subject)? {
            Some(uid) => users::find(c, &uid)?.ok_or(OpError::from(Refusal::NotFound))?,
            None => {
                let normalized = claims.email.to_lowercase();
                if let Some(existing) = users::find_by_email(c, &normalized)? {
                    return Ok(SignIn::NeedsLink(existing));
                }
                let user = provision(c, claims)?;
                model::link(c, &i.id, &user.id, &claims.subject)?;
                Event::about(
                    "atrium.sso.user_provisioned",
                    Actor::User {
                        id: user.id.clone(),
                        name: user.handle.clone(),
                    },
                    Resource {
                        kind: "user",
                        id: Some(user.id.clone()),
                        name: user.handle.clone(),
                    },
                )
                .account(&i.account_id)
                .ip(ip.to_string())
                .payload(json!({ "email": user.email, "role": i.role, "issuer": i.issuer }))
                .record(c)?;
                user
            }
        };
        join(c, &i, &user)?;
        logged_in(c, &i, &user, ip)?;
        Ok(SignIn::User(user))
    })
}

/// Links the subject to an existing user who proved their password (or an e-mailed link),
/// and signs them in. Recorded as `atrium.sso.identity_linked` and `atrium.sso.logged_in`.
pub fn link(
    c: &mut DbConn,
    integration_id: &str,
    user_id: &str,
    claims: &super::oidc::Claims,
    ip: &str,
) -> OpResult<User> {
    write_tx(c, |c| {
        let i = model::find(c, integration_id)?.ok_or(OpError::from(Refusal::NotFound))?;
        accounts::lock(c, &i.account_id)?;
        let user = users::find(c, user_id)?.ok_or(OpError::from(Refusal::NotFound))?;
        if model::linked_user(c, &i.id, &claims.subject)?.is_some()
            || model::user_linked(c, &i.id, &user.id)?
        {
            return Err(Refusal::Conflict(Reason::AlreadyLinked).into());
        }
        model::link(c, &i.id, &user.id, &claims.subject)?;
        if user.email_verified_at.is_none() && user.email_normalized == claims.email {
            users::mark_verified(c, &user.id)?;
        }
        Event::about(
            "atrium.sso.identity_linked",
            Actor::User {
                id: user.id.clone(),
                name: user.handle.clone(),
            },
            Resource {
                kind: "user",
                id: Some(user.id.clone()),
                name: user.handle.clone(),
            },
        )
        .account(&i.account_id)
        .ip(ip.to_string())
        .payload(json!({ "issuer": i.issuer }))
        .record(c)?;
        join(c, &i, &user)?;
        logged_in(c, &i, &user, ip)?;
        Ok(user)
    })
}

fn join(c: &mut DbConn, i: &Integration, user: &User) -> OpResult<()> {
    if crate::members::model::role_of(c, &i.account_id, &user.id)?.is_none() {
        let role = AccountRole::parse(&i.role).unwrap_or(AccountRole::Collaborator);
        crate::members::model::add_member(c, &i.account_id, &user.id, role)?;
    }
    Ok(())
}

fn logged_in(c: &mut DbConn, i: &Integration, user: &User, ip: &str) -> OpResult<()> {
    users::touch_login(c, &user.id)?;
    Event::about(
        "atrium.sso.logged_in",
        Actor::User {
            id: user.id.clone(),
            name: user.handle.clone(),
        },
        Resource {
            kind: "user",
            id: Some(user.id.clone()),
            name: user.handle.clone(),
        },
    )
    .account(&i.account_id)
    .ip(ip.to_string())
    .payload(json!({ "issuer": i.issuer }))
    .record(c)?;
    Ok(())
}

/// A new user for the provider's person: a handle from the address (made unique), the
/// names it gave, a verified address, a password nobody knows (they may set one with
/// "Forgot your password?").
fn provision(c: &mut DbConn, claims: &super::oidc::Claims) -> OpResult<User> {
    let local = claims.email.split('@').next().unwrap_or("user");
    let mut base: String = local
        .to_lowercase()
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
        .collect();
    base = base.trim_matches('-').chars().take(30).collect();
    base = base.trim_matches('-').to_string();
    if base.len() < 2 || crate::users::domain::Handle::parse(&base).is_err() {
        base = "user".into();
    }
    let hash = crate::authn::password::hash(&crate::authn::random_token(32))
        .map_err(|e| OpError::Internal(anyhow::anyhow!("password hash: {e}")))?;
    for n in 0..20u32 {
        let handle = if n == 0 {
            base.clone()
        } else {
            format!("{base}-{}", crate::authn::random_token(4).to_lowercase())
        };
        if crate::users::domain::Handle::parse(&handle).is_err()
            || accounts::handle_taken(c, &handle)?
        {
            continue;
        }
        let new = users::NewUser {
            email: &claims.email,
            email_normalized: &claims.email,
            handle: &handle,
            first_name: &claims.first_name.chars().take(100).collect::<String>(),
            last_name: &claims.last_name.chars().take(100).collect::<String>(),
            password_hash: &hash,
        };
        match users::create_with_personal_account(c, &new) {
            Ok(user) => {
                users::mark_verified(c, &user.id)?;
                return users::find(c, &user.id)?.ok_or(OpError::from(Refusal::NotFound));
            }
            Err(users::SignupError::HandleTaken) => continue,
            Err(users::SignupError::EmailTaken) => {
                return Err(Refusal::Conflict(Reason::Changed).into());
            }
            Err(users::SignupError::Db(e)) => return Err(e.into()),
        }
    }
    Err(Refusal::Conflict(Reason::Changed).into())
}

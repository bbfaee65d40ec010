//! Who a presented API key stands for: a user or a service account (the API's caller),
//! looked up by the key's digest.

use diesel::prelude::*;

use super::model::{ApiKey, LAST_USED_EVERY, well_formed};
use crate::audit::{Actor, Event};
use crate::authn::digest;
use crate::db::schema::{api_keys, service_accounts, users};
use crate::db::write_tx;
use crate::db::{DbConn, now};
use crate::ids::ApiKeyId;
use crate::outcome::{OpResult, Refusal, refuse};
use crate::service_accounts::model::ServiceAccount;
use crate::users::model::User;
use serde_json::json;

/// Reads that carry no rule of their own.
pub use super::model::{for_service_account, for_user, newest_for_service_account};

/// Whom a live key belongs to.
#[derive(Clone, Debug)]
pub enum KeyHolder {
    User(User),
    ServiceAccount(ServiceAccount),
}

impl KeyHolder {
    /// The holder as the actor the permission function takes.
    pub fn actor_ref(&self) -> crate::workspaces::access::ActorRef<'_> {
        use crate::workspaces::access::ActorRef;
        match self {
            KeyHolder::User(u) => ActorRef::User(&u.id),
            KeyHolder::ServiceAccount(s) => ActorRef::ServiceAccount {
                id: &s.id,
                account_id: &s.account_id,
            },
        }
    }

    /// Who the audit log names.
    pub fn audit_actor(&self) -> crate::audit::Actor {
        match self {
            KeyHolder::User(u) => crate::audit::Actor::user(u),
            KeyHolder::ServiceAccount(s) => crate::audit::Actor::ServiceAccount {
                id: s.id.clone(),
                name: s.name.clone(),
            },
        }
    }

    /// The holder's account permissions in `account_id` (a service account is a Member of
    /// its own account and nothing elsewhere); `NotFound` when the account does not exist
    /// for them.
    pub fn account_perms(
        &self,
        c: &mut DbConn,
        account_id: &str,
    ) -> OpResult<crate::authz::PermSet> {
        use crate::authz::AccountRole;
        let role = match self {
            KeyHolder::User(u) => crate::members::model::role_of(c, account_id, &u.id)?,
            KeyHolder::ServiceAccount(s) => {
                (s.account_id == account_id).then_some(AccountRole::Member)
            }
        };
        crate::authz::account_permissions(role)
            .map(|(_, p)| p)
            .ok_or(Refusal::NotFound.into())
    }

    /// `see` to know the things exist at all (404 otherwise), then `p` (403 otherwise).
    pub fn require(
        &self,
        c: &mut DbConn,
        account_id: &str,
        see: crate::authz::AccountPerm,
        p: crate::authz::AccountPerm,
    ) -> OpResult<()> {
        let perms = self.account_perms(c, account_id)?;
        if !perms.has(see) {
            return refuse(Refusal::NotFound);
        }
        if !perms.has(p) {
            return refuse(Refusal::Forbidden(None));
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct Authenticated {
    pub key: ApiKey,
    pub holder: KeyHolder,
}

/// The holder of `presented`, when it is a live key: one indexed lookup by digest, plus
/// one read of the holder. `last_used_at` is written at most once a minute per key.
pub fn authenticate(conn: &mut DbConn, presented: &str) -> QueryResult<Option<Authenticated>> {
    if !well_formed(presented) {
        return Ok(None);
    }
    let t = now();
    // The key with its holder, in one statement.
    let Some((mut key, user, bot)) = api_keys::table
        .left_join(users::table)
        .left_join(service_accounts::table)
        .filter(api_keys::digest.eq(digest(presented)))
        .select((
            ApiKey::as_select(),
            Option::<User>::as_select(),
            Option::<ServiceAccount>::as_select(),
        ))
        .first::<(ApiKey, Option<User>, Option<ServiceAccount>)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    if key.is_expired_at(t) {
        return Ok(None);
    }
    let holder = match (&key.user_id, &key.service_account_id) {
        (Some(_), _) => user.map(KeyHolder::User),
        (None, Some(_)) => bot.map(KeyHolder::ServiceAccount),
        (None, None) => None,
    };
    let Some(holder) = holder else {
        return Ok(None);
    };
    let stale = t - LAST_USED_EVERY;
    if key.last_used_at.is_none_or(|u| u < stale) {
        // Conditional, so that concurrent requests write it once.
        diesel::update(
            api_keys::table.filter(api_keys::id.eq(&key.id)).filter(
                api_keys::last_used_at
                    .is_null()
                    .or(api_keys::last_used_at.lt(stale)),
            ),
        )
        .set(api_keys::last_used_at.eq(t))
        .execute(conn)?;
        key.last_used_at = Some(t);
    }
    Ok(Some(Authenticated { key, holder }))
}

/// Creates an API key for the user in one transaction (`atrium.api_key.created`, in their
/// personal account's log). Answers the key and its plain text, shown once.
pub fn create_user_key(
    c: &mut DbConn,
    user: &User,
    name: &str,
    expires_at: Option<chrono::NaiveDateTime>,
    ip: String,
) -> OpResult<(ApiKey, String)> {
    write_tx(c, |c| {
        let (key, plain) = super::model::create_user_key(c, &user.id, name, expires_at)?;
        let personal = crate::accounts::model::personal_of(c, &user.id)?.map(|a| a.id);
        Event::new(
            "atrium.api_key.created",
            Actor::user(user),
            "api_key",
            Some(key.id.clone()),
            key.mask(),
        )
        .account_opt(personal)
        .ip(ip)
        .payload(json!({
            "name": key.name,
            "owner": "user",
            "expiration": key.expires_at.map(|t| t.and_utc().to_rfc3339()),
        }))
        .record(c)?;
        Ok((key, plain))
    })
}

/// Deletes one of the user's own API keys in one transaction (`atrium.api_key.deleted`);
/// not theirs: 404. Answers the key as it was.
pub fn delete_user_key(
    c: &mut DbConn,
    user: &User,
    key_id: &ApiKeyId,
    ip: String,
) -> OpResult<ApiKey> {
    write_tx(c, |c| {
        let Some(key) = super::model::for_user(c, &user.id)?
            .into_iter()
            .find(|k| k.id == key_id.as_str())
        else {
            return refuse(Refusal::NotFound);
        };
        super::model::delete_user_key(c, &user.id, &key.id)?;
        let personal = crate::accounts::model::personal_of(c, &user.id)?.map(|a| a.id);
        Event::new(
            "atrium.api_key.deleted",
            Actor::user(user),
            "api_key",
            Some(key.id.clone()),
            key.mask(),
        )
        .account_opt(personal)
        .ip(ip)
        .payload(json!({ "name": key.name, "owner": "user" }))
        .record(c)?;
        Ok(key)
    })
}

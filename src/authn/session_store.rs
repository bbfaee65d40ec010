//! actix-session storage in the `sessions` table.
//!
//! The cookie carries a random key; the table holds only its SHA-256 digest, the
//! state, and the user it belongs to, so log-out, password change and removal end a
//! session for every instance sharing the database at its next request.
//!
//! A row also keeps the User-Agent and client address its log-in came from (set in the state
//! by `users::pages::start_session`, moved to their columns by [`DbSessionStore::save`]), for
//! the sessions page, which ends a session by deleting its row.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use actix_web::web;
use diesel::prelude::*;

use super::who::{Answer, WhoCache, WorkspaceKey};
use super::{SESSION_ADDRESS, SESSION_DEVICE, SESSION_USER, digest, random_token};
use crate::db::schema::sessions;
use crate::db::{Pool, now};
use crate::workspaces::access::{Loaded, workspace_for};

#[derive(Clone)]
pub struct DbSessionStore {
    pool: Pool,
    who: std::sync::Arc<WhoCache>,
    /// A session not used for this long has ended (`ATRIUM_SESSION_IDLE_TIMEOUT`).
    idle: chrono::TimeDelta,
}

impl DbSessionStore {
    /// A store on `pool` remembering who asks in `who` (see [`super::who`]), ending
    /// sessions unused for `idle`.
    pub fn new(pool: Pool, who: std::sync::Arc<WhoCache>, idle: std::time::Duration) -> Self {
        DbSessionStore {
            pool,
            who,
            idle: chrono::TimeDelta::from_std(idle).unwrap_or(chrono::TimeDelta::MAX),
        }
    }
}

type State = HashMap<String, String>;

fn user_of(state: &State) -> Option<String> {
    state
        .get(SESSION_USER)
        .and_then(|v| serde_json::from_str::<String>(v).ok())
}

fn state_of(data: &str) -> Result<State, LoadError> {
    serde_json::from_str(data).map_err(|e| LoadError::Deserialization(e.into()))
}

fn expiry(ttl: &Duration) -> chrono::NaiveDateTime {
    now() + chrono::TimeDelta::seconds(ttl.whole_seconds().max(1))
}

/// Marks a session error caused by a database that cannot answer now (see
/// `web::error::unavailable_as_503`).
pub const UNAVAILABLE: &str = "session storage: database unavailable";

async fn run<T: Send + 'static>(
    pool: Pool,
    f: impl FnOnce(&mut crate::db::DbConn) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    web::block(move || {
        let mut conn = pool
            .get()
            .map_err(|e| anyhow::anyhow!("{UNAVAILABLE}: {e}"))?;
        f(&mut conn).map_err(|e| match e.downcast_ref::<diesel::result::Error>() {
            Some(d) if crate::db::is_unavailable(d) => anyhow::anyhow!("{UNAVAILABLE}: {d}"),
            _ => e,
        })
    })
    .await?
}

/// Who asks, read with the session ([`DbSessionStore::load`]): the signed-in user and their
/// accounts, and — on a workspace page — the workspace with what decides their scopes.
pub struct Preloaded {
    user_id: String,
    /// `None` once taken; `Some(None)` when the user no longer exists.
    identity: Option<Option<crate::users::model::Identity>>,
    /// The (account id, workspace id) the path names, and what [`workspace_for`] found.
    workspace: Option<(WorkspaceKey, Option<Loaded>)>,
}

/// This request's slot: what the path asks for, and what was read with the session.
struct Slot {
    wanted: Option<WorkspaceKey>,
    preloaded: Option<Preloaded>,
    /// The id (key digest) of the stored session this request presented.
    session: Option<String>,
}

tokio::task_local! {
    /// Set while the session loads, taken by the extractors. Lives as long as the request.
    static PRELOADED: std::cell::RefCell<Slot>;
}

/// The account and workspace ids of a `/account/{account_id}/workspace/{workspace_id}/…`
/// path, when both are UUIDs.
fn workspace_in(path: &str) -> Option<WorkspaceKey> {
    let mut parts = path.strip_prefix("/account/")?.splitn(4, '/');
    let (account, kind, workspace) = (parts.next()?, parts.next()?, parts.next()?);
    let uuid = |s: &str| uuid::Uuid::parse_str(s).is_ok();
    (kind == "workspace" && uuid(account) && uuid(workspace))
        .then(|| (account.to_string(), workspace.to_string()))
}

/// Middleware, outside the session middleware: page requests get a slot for who asks, read
/// in the session's own trip to the database, so that a page learns who asks and what they
/// may do in one trip instead of three. The API (keys, no sessions) and static files do
/// not use it.
pub async fn preload_identity<B: actix_web::body::MessageBody>(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<actix_web::dev::ServiceResponse<B>, actix_web::Error> {
    let path = req.path();
    if path.starts_with("/api/") || path.starts_with("/static/") || path == "/healthz" {
        return next.call(req).await;
    }
    let slot = Slot {
        wanted: workspace_in(path),
        preloaded: None,
        session: None,
    };
    PRELOADED
        .scope(std::cell::RefCell::new(slot), next.call(req))
        .await
}

/// The identity read with this request's session, if it was read for `user_id` and not
/// taken yet: `Some(None)` when that user no longer exists.
pub fn take_preloaded(user_id: &str) -> Option<Option<crate::users::model::Identity>> {
    PRELOADED
        .try_with(|slot| {
            let mut slot = slot.borrow_mut();
            let p = slot.preloaded.as_mut().filter(|p| p.user_id == user_id)?;
            // Taken once: a second extractor in the same request reads for itself.
            p.identity.take()
        })
        .ok()
        .flatten()
}

/// The id of the stored session this page request presented (the digest of its key, as in
/// the `sessions` table), once the session was read: the sessions page marks it.
pub fn current_session_id() -> Option<String> {
    PRELOADED
        .try_with(|slot| slot.borrow().session.clone())
        .ok()
        .flatten()
}

/// The workspace read with this request's session for `user_id`, if it was the one the
/// path names and not taken yet: `Some(None)` when it does not exist for them.
pub fn take_preloaded_workspace(
    user_id: &str,
    account_id: &str,
    workspace_id: &str,
) -> Option<Option<Loaded>> {
    PRELOADED
        .try_with(|slot| {
            let mut slot = slot.borrow_mut();
            let p = slot.preloaded.as_mut().filter(|p| p.user_id == user_id)?;
            let ((a, w), _) = p.workspace.as_ref()?;
            if a != account_id || w != workspace_id {
                return None;
            }
            p.workspace.take().map(|(_, loaded)| loaded)
        })
        .ok()
        .flatten()
}

/// Anonymous sessions (a visitor's CSRF token before log-in) are not stored: their state
/// travels in the session key itself, `anon.` + base64url(JSON of the state and its expiry),
/// inside the session cookie, which actix-session encrypts and authenticates with the
/// secret key (its default "private" cookie), so nobody can read or forge it. A table row
/// appears only when a user is in the state, i.e. at log-in. An unauthenticated client can
/// no longer grow the database by viewing pages (tests/it/security.rs,
/// `anonymous_page_views_write_no_session_rows`).
const ANON: &str = "anon.";

#[derive(serde::Serialize, serde::Deserialize)]
struct AnonState {
    state: State,
    /// Unix seconds after which the state is void.
    exp: i64,
}

fn anon_key(state: &State, ttl: &Duration) -> Result<String, serde_json::Error> {
    use base64::Engine;
    let exp = expiry(ttl).and_utc().timestamp();
    let json = serde_json::to_vec(&AnonState {
        state: state.clone(),
        exp,
    })?;
    Ok(format!(
        "{ANON}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    ))
}

/// The state an anonymous key carries: `None` when it is not one, `Some(None)` when it is
/// void (expired, unreadable, or claiming a user — users are only ever in stored sessions).
fn anon_state(key: &str) -> Option<Option<State>> {
    use base64::Engine;
    let encoded = key.strip_prefix(ANON)?;
    let state = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|json| serde_json::from_slice::<AnonState>(&json).ok())
        .filter(|a| a.exp > now().and_utc().timestamp())
        .map(|a| a.state)
        .filter(|s| user_of(s).is_none());
    Some(state)
}

impl SessionStore for DbSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        if let Some(state) = anon_state(session_key.as_ref()) {
            return Ok(state);
        }
        let id = digest(session_key.as_ref());
        let _ = PRELOADED.try_with(|slot| slot.borrow_mut().session = Some(id.clone()));
        // Inside a page request (see [`preload_identity`]) who asks is read with the
        // session, on the same connection and in the same trip — or not at all, when this
        // process still knows the answer ([`super::who`]).
        let wanted = PRELOADED.try_with(|slot| slot.borrow().wanted.clone());
        let epoch = self.who.epoch();
        if let Ok(wanted) = &wanted
            && let Some(known) = self.who.get(&id, epoch, wanted.as_ref())
        {
            if let Some((uid, identity)) = known.user {
                let workspace = wanted
                    .as_ref()
                    .and_then(|k| known.workspaces.into_iter().find(|(w, _)| w == k));
                let p = Preloaded {
                    user_id: uid,
                    identity: Some(identity),
                    workspace,
                };
                let _ = PRELOADED.try_with(|slot| slot.borrow_mut().preloaded = Some(p));
            }
            return state_of(&known.data).map(Some);
        }
        let remember = (wanted.is_ok() && self.who.is_on()).then(|| id.clone());
        let idle = self.idle;
        let (row, preloaded) = run(self.pool.clone(), move |c| {
            let at = now();
            let row: Option<(
                String,
                Option<String>,
                chrono::NaiveDateTime,
                Option<chrono::NaiveDateTime>,
            )> = sessions::table
                .filter(sessions::id.eq(&id))
                .filter(sessions::expires_at.gt(at))
                .filter(sessions::last_seen_at.gt(at - idle))
                .select((
                    sessions::data,
                    sessions::user_id,
                    sessions::expires_at,
                    sessions::last_seen_at,
                ))
                .first(c)
                .optional()?;
            // In use: noted at most once a minute (the idle timeout counts from there).
            if row.as_ref().is_some_and(|r| {
                r.3.is_none_or(|seen| seen < at - chrono::TimeDelta::minutes(1))
            }) {
                diesel::update(sessions::table.filter(sessions::id.eq(&id)))
                    .set(sessions::last_seen_at.eq(at))
                    .execute(c)?;
            }
            let row = row.map(|(data, user, expires, _)| (data, user, expires));
            let (Ok(wanted), Some((_, Some(uid), _))) = (wanted, &row) else {
                return Ok((row, None));
            };
            let identity = crate::users::model::identity(c, uid)?;
            let workspace = match (wanted, &identity) {
                (Some((a, w)), Some((_, memberships))) => {
                    let loaded = workspace_for(c, uid, memberships, &a, &w)?;
                    Some(((a, w), loaded))
                }
                _ => None,
            };
            let preloaded = Preloaded {
                user_id: uid.clone(),
                identity: Some(identity),
                workspace,
            };
            Ok((row, Some(preloaded)))
        })
        .await
        .map_err(LoadError::Other)?;
        let Some((data, _, expires_at)) = row else {
            return Ok(None);
        };
        if let Some(id) = remember {
            let user = preloaded.as_ref().map(|p| {
                let identity = p.identity.clone().flatten();
                (p.user_id.clone(), identity)
            });
            let workspaces = preloaded
                .as_ref()
                .and_then(|p| p.workspace.clone())
                .into_iter()
                .collect();
            let answer = Answer {
                data: data.clone(),
                expires_at,
                user,
                workspaces,
            };
            self.who.put(id, epoch, answer);
        }
        if let Some(p) = preloaded {
            let _ = PRELOADED.try_with(|slot| slot.borrow_mut().preloaded = Some(p));
        }
        state_of(&data).map(Some)
    }

    async fn save(&self, mut state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        // Where the session starts from goes to its row, not into its state.
        let mut take = |k: &str| {
            state
                .remove(k)
                .and_then(|v| serde_json::from_str::<String>(&v).ok())
        };
        let (device, address) = (take(SESSION_DEVICE), take(SESSION_ADDRESS));
        if user_of(&state).is_none() {
            let key = anon_key(&state, ttl).map_err(|e| SaveError::Serialization(e.into()))?;
            return SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()));
        }
        let key = random_token(32);
        let id = digest(&key);
        let data = serde_json::to_string(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let user = user_of(&state);
        let expires = expiry(ttl);
        run(self.pool.clone(), move |c| {
            diesel::insert_into(sessions::table)
                .values((
                    sessions::id.eq(id),
                    sessions::user_id.eq(user),
                    sessions::data.eq(data),
                    sessions::created_at.eq(now()),
                    sessions::expires_at.eq(expires),
                    sessions::last_seen_at.eq(now()),
                    sessions::user_agent.eq(device),
                    sessions::client_address.eq(address),
                ))
                .execute(c)?;
            Ok(())
        })
        .await
        .map_err(SaveError::Other)?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let was_anonymous = session_key.as_ref().starts_with(ANON);
        if was_anonymous || user_of(&state).is_none() {
            // Still anonymous: a new key carries the new state. A stored session whose user
            // was taken out of the state has ended; its row goes.
            if !was_anonymous {
                self.delete(&session_key)
                    .await
                    .map_err(UpdateError::Other)?;
            }
            return self
                .save(state, ttl)
                .await
                .map_err(|e| UpdateError::Other(anyhow::anyhow!("{e}")));
        }
        let id = digest(session_key.as_ref());
        let data =
            serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let user = user_of(&state);
        let expires = expiry(ttl);
        let updated = run(self.pool.clone(), move |c| {
            Ok(diesel::update(sessions::table.filter(sessions::id.eq(id)))
                .set((
                    sessions::data.eq(data),
                    sessions::user_id.eq(user),
                    sessions::expires_at.eq(expires),
                ))
                .execute(c)?)
        })
        .await
        .map_err(UpdateError::Other)?;
        if updated == 0 {
            // The session was ended elsewhere (log-out, password change): do not revive it.
            return self
                .save(HashMap::new(), ttl)
                .await
                .map_err(|e| UpdateError::Other(anyhow::anyhow!("{e}")));
        }
        Ok(session_key)
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &Duration,
    ) -> Result<(), anyhow::Error> {
        if session_key.as_ref().starts_with(ANON) {
            // Anonymous: nothing stored.
            return Ok(());
        }
        let id = digest(session_key.as_ref());
        let expires = expiry(ttl);
        run(self.pool.clone(), move |c| {
            diesel::update(sessions::table.filter(sessions::id.eq(id)))
                .set(sessions::expires_at.eq(expires))
                .execute(c)?;
            Ok(())
        })
        .await
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        if session_key.as_ref().starts_with(ANON) {
            // Anonymous: nothing stored.
            return Ok(());
        }
        let id = digest(session_key.as_ref());
        run(self.pool.clone(), move |c| {
            diesel::delete(sessions::table.filter(sessions::id.eq(id))).execute(c)?;
            Ok(())
        })
        .await
    }
}

/// Deletes expired sessions (housekeeping).
pub fn prune(conn: &mut crate::db::DbConn) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::expires_at.lt(now()))).execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn what_was_read_with_the_session_is_taken_once_and_only_by_its_user() {
        let slot = Slot {
            wanted: None,
            session: None,
            preloaded: Some(Preloaded {
                user_id: "u1".into(),
                // The session's user no longer exists.
                identity: Some(None),
                workspace: Some((("a".into(), "w".into()), None)),
            }),
        };
        PRELOADED
            .scope(std::cell::RefCell::new(slot), async {
                assert!(take_preloaded("u2").is_none(), "another user's");
                assert!(take_preloaded_workspace("u1", "a", "other").is_none());
                assert!(take_preloaded_workspace("u2", "a", "w").is_none());
                assert!(matches!(take_preloaded("u1"), Some(None)), "gone");
                // Taken: a second extractor reads for itself instead of being told
                // the user is gone.
                assert!(take_preloaded("u1").is_none());
                assert!(matches!(
                    take_preloaded_workspace("u1", "a", "w"),
                    Some(None)
                ));
                assert!(take_preloaded_workspace("u1", "a", "w").is_none(), "taken");
            })
            .await;
        // Outside a page request there is no slot.
        assert!(take_preloaded("u1").is_none());
    }

    #[test]
    fn the_workspace_a_path_names_is_read_with_the_session() {
        let (a, w) = (
            "5caf67e1-379d-4a48-b5cd-1245630f9051",
            "b5b4c030-a24b-41d6-b4c9-e9a259d2501c",
        );
        for path in [
            format!("/account/{a}/workspace/{w}/dashboard"),
            format!("/account/{a}/workspace/{w}/settings/members"),
            format!("/account/{a}/workspace/{w}"),
        ] {
            assert_eq!(
                workspace_in(&path),
                Some((a.to_string(), w.to_string())),
                "{path}"
            );
        }
        for path in [
            format!("/account/{a}/members"),
            format!("/account/{a}/workspaces"),
            format!("/account/{a}/workspace/not-a-uuid/dashboard"),
            format!("/account/x/workspace/{w}/dashboard"),
            format!("/accounts/{a}/workspace/{w}/dashboard"),
            "/".to_string(),
        ] {
            assert_eq!(workspace_in(&path), None, "{path}");
        }
    }
}

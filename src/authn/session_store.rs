//! actix-session storage in the `sessions` table.
//!
//! The cookie carries a random key; the table holds only its SHA-256 digest, the
//! state, and the user it belongs to, so log-out, password change and removal end a
//! session for every instance sharing the database at its next request.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use actix_web::web;
use diesel::prelude::*;

use super::{SESSION_USER, digest, random_token};
use crate::db::schema::sessions;
use crate::db::{Pool, now};

#[derive(Clone)]
pub struct DbSessionStore {
    pool: Pool,
}

impl DbSessionStore {
    pub fn new(pool: Pool) -> Self {
        DbSessionStore { pool }
    }
}

type State = HashMap<String, String>;

fn user_of(state: &State) -> Option<String> {
    state
        .get(SESSION_USER)
        .and_then(|v| serde_json::from_str::<String>(v).ok())
}

fn expiry(ttl: &Duration) -> chrono::NaiveDateTime {
    now() + chrono::TimeDelta::seconds(ttl.whole_seconds().max(1))
}

/// Marks a session error caused by a database that cannot answer now (see
/// [`unavailable_as_503`]).
const UNAVAILABLE: &str = "session storage: database unavailable";

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

/// Middleware, outside the session middleware: a session that cannot be loaded or saved
/// because the database cannot answer (pool exhausted, PostgreSQL restarting) is answered
/// 503 with `Retry-After`, like every other request then, instead of actix-session's 500.
pub async fn unavailable_as_503<B: actix_web::body::MessageBody>(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<actix_web::dev::ServiceResponse<B>, actix_web::Error> {
    next.call(req).await.map_err(|e| {
        // actix-session's error shows its cause (our store's error) only in `Debug`.
        let described = format!("{e:?}");
        if described.contains(UNAVAILABLE) {
            crate::web::AppError::Unavailable(described).into()
        } else {
            e
        }
    })
}

/// The signed-in user and their accounts, read with the session ([`DbSessionStore::load`]).
pub struct Preloaded {
    user_id: String,
    identity: Option<crate::authn::extract::Identity>,
}

tokio::task_local! {
    /// This request's [`Preloaded`] identity: set while the session loads, taken once by
    /// the `Auth` extractor. Lives only as long as the request.
    static PRELOADED: std::cell::RefCell<Option<Preloaded>>;
}

/// Middleware, outside the session middleware: page requests get a slot for the identity
/// read with their session, so that knowing who asks costs one trip to the database
/// instead of two. The API (keys, no sessions) and static files do not read it.
pub async fn preload_identity<B: actix_web::body::MessageBody>(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<B>,
) -> Result<actix_web::dev::ServiceResponse<B>, actix_web::Error> {
    let path = req.path();
    if path.starts_with("/api/") || path.starts_with("/static/") || path == "/healthz" {
        return next.call(req).await;
    }
    PRELOADED
        .scope(std::cell::RefCell::new(None), next.call(req))
        .await
}

/// The identity read with this request's session, if it was read for `user_id` and not
/// taken yet: `Some(None)` when that user no longer exists.
pub fn take_preloaded(user_id: &str) -> Option<Option<crate::authn::extract::Identity>> {
    PRELOADED
        .try_with(|slot| slot.borrow_mut().take())
        .ok()
        .flatten()
        .filter(|p| p.user_id == user_id)
        .map(|p| p.identity)
}

impl SessionStore for DbSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<State>, LoadError> {
        let id = digest(session_key.as_ref());
        // Inside a page request (see [`preload_identity`]) the signed-in user and their
        // accounts are read with the session, on the same connection and trip.
        let wanted = PRELOADED.try_with(|_| ()).is_ok();
        let (row, identity) = run(self.pool.clone(), move |c| {
            let row: Option<(String, Option<String>)> = sessions::table
                .filter(sessions::id.eq(id))
                .filter(sessions::expires_at.gt(now()))
                .select((sessions::data, sessions::user_id))
                .first(c)
                .optional()?;
            let identity = match &row {
                Some((_, Some(uid))) if wanted => Some(Preloaded {
                    user_id: uid.clone(),
                    identity: crate::accounts::model::identity(c, uid)?,
                }),
                _ => None,
            };
            Ok((row, identity))
        })
        .await
        .map_err(LoadError::Other)?;
        if let Some(p) = identity {
            let _ = PRELOADED.try_with(|slot| *slot.borrow_mut() = Some(p));
        }
        match row {
            None => Ok(None),
            Some((data, _)) => serde_json::from_str(&data)
                .map(Some)
                .map_err(|e| LoadError::Deserialization(e.into())),
        }
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
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

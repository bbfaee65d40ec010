//! Extractors: who is asking.

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use super::{SESSION_CSRF, SESSION_USER, random_token};
use crate::accounts::model::{self as accounts, Account, AccountRole};
use crate::db::Pool;
use crate::users::model::{self as users, User};
use crate::web::shell::{AccountLink, Shell};
use crate::web::{AppError, db, is_htmx};

/// The session's CSRF token, created on first use.
pub fn csrf_token(session: &Session) -> Result<String, AppError> {
    let existing: Option<String> = session
        .get(SESSION_CSRF)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
    match existing {
        Some(t) => Ok(t),
        None => {
            let t = random_token(32);
            session
                .insert(SESSION_CSRF, &t)
                .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
            Ok(t)
        }
    }
}

fn pool_of(req: &HttpRequest) -> Result<Pool, AppError> {
    req.app_data::<web::Data<Pool>>()
        .map(|p| p.get_ref().clone())
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no database pool configured")))
}

fn session_user(session: &Session) -> Result<Option<String>, AppError> {
    session
        .get(SESSION_USER)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))
}

/// A logged-in user, with what the page shell needs. Requests without a valid session
/// are sent to the log-in page (htmx requests get `HX-Redirect`).
pub struct Auth {
    pub user: User,
    pub shell: Shell,
    pub session: Session,
    pub pool: Pool,
}

/// The signed-in user's accounts with their role in each, as read with the user.
pub type Memberships = Vec<(Account, AccountRole)>;

pub use crate::accounts::model::Identity;

impl Auth {
    /// Authenticates the request: the user and their accounts, read with the session
    /// ([`super::session_store::preload_identity`]: no trip of its own), or read here when
    /// they were not.
    pub async fn identify(req: &HttpRequest) -> Result<(Auth, Memberships), AppError> {
        let session = req.get_session();
        let htmx = is_htmx(req);
        let next = if req.method() == actix_web::http::Method::GET && !htmx {
            req.uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "/".into())
        } else {
            "/".into()
        };
        let login = || AppError::LoginRequired {
            next: next.clone(),
            htmx,
        };
        let Some(uid) = session_user(&session)? else {
            return Err(login());
        };
        let csrf = csrf_token(&session)?;
        let pool = pool_of(req)?;
        let identity = match super::session_store::take_preloaded(&uid) {
            Some(identity) => identity,
            None => db(&pool, move |c| Ok(accounts::identity(c, &uid)?)).await?,
        };
        let Some((user, accts)) = identity else {
            session.purge();
            return Err(login());
        };
        let links = accts
            .iter()
            .map(|(a, r)| AccountLink::from(a, *r))
            .collect();
        let shell = Shell::new(&user, csrf, links);
        Ok((
            Auth {
                user,
                shell,
                session,
                pool,
            },
            accts,
        ))
    }
}

impl FromRequest for Auth {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (auth, _) = Auth::identify(&req).await?;
            Ok(auth)
        })
    }
}

/// Anyone: the logged-in user if there is one, and a CSRF token for forms.
pub struct MaybeUser {
    pub user: Option<User>,
    pub csrf: String,
    pub session: Session,
    pub pool: Pool,
}

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = req.get_session();
            let csrf = csrf_token(&session)?;
            let pool = pool_of(&req)?;
            let user = match session_user(&session)? {
                None => None,
                Some(uid) => match super::session_store::take_preloaded(&uid) {
                    Some(identity) => identity.map(|(user, _)| user),
                    None => db(&pool, move |c| Ok(users::find(c, &uid)?)).await?,
                },
            };
            Ok(MaybeUser {
                user,
                csrf,
                session,
                pool,
            })
        })
    }
}

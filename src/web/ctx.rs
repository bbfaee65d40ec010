//! The request contexts of the pages, in one place: who is asking ([`Auth`], [`MaybeUser`]),
//! inside an account ([`AccountCtx`]) or a workspace ([`WorkspaceCtx`]), with what they may
//! do there — computed by `authz` (account permissions) and `workspaces::access` (the
//! effective scopes), never here. The API's contexts are in [`super::api_ctx`]. What one
//! may not see answers 404; what one may see but not do, 403 ([`gate`]).

use actix_session::{Session, SessionExt};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::LocalBoxFuture;

use crate::accounts::model::{Account, AccountRole};
use crate::authn::{SESSION_CSRF, SESSION_USER, random_token};
use crate::authz::account::{AccountPerm, PermSet, account_permissions};
use crate::authz::workspace::ScopeSet;
use crate::db::Pool;
use crate::outcome::Refusal;
use crate::users::model::{self as users, User};
use crate::web::shell::{AccountLink, Shell};
use crate::web::{AppError, db, is_htmx};
use crate::workspaces::access::{Loaded, workspace_for};
use crate::workspaces::model::{Workspace, WorkspaceRole};

/// How every context refuses: `Ok` when allowed, else `refusal` (404 for what one may not
/// see, 403 for what one may see but not do). Page and API errors both come from a
/// [`Refusal`].
pub fn gate(allowed: bool, refusal: Refusal) -> Result<(), Refusal> {
    if allowed { Ok(()) } else { Err(refusal) }
}

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

pub use crate::users::model::{Identity, Memberships};

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
        let identity = match crate::authn::session_store::take_preloaded(&uid) {
            Some(identity) => identity,
            None => db(&pool, move |c| Ok(crate::users::model::identity(c, &uid)?)).await?,
        };
        let Some((user, accts)) = identity else {
            session.purge();
            return Err(login());
        };
        let links = accts
            .iter()
            .map(|(a, r)| AccountLink::from(a, *r))
            .collect();
        let mut shell = Shell::new(&user, csrf, links);
        // A page (not an htmx fragment, not a change) shows what the last change did.
        if req.method() == actix_web::http::Method::GET && !htmx {
            shell.flash = super::flash::take(&session);
        }
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
                Some(uid) => match crate::authn::session_store::take_preloaded(&uid) {
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

/// The accounts whose SSO provider this session came through.
pub fn sso_accounts(session: &Session) -> Vec<String> {
    session
        .get::<Vec<String>>(crate::authn::SESSION_SSO)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// An account that requires SSO (issue #26): its pages only for a session that came
/// through its provider, or for those with `bypass:sso` (Owners); others are sent to the
/// provider for a fresh SSO step.
pub fn sso_gate(
    req: &HttpRequest,
    session: &Session,
    account: &Account,
    perms: &PermSet,
) -> Result<(), AppError> {
    let came_through = sso_accounts(session).contains(&account.id);
    if !crate::authz::account::sso_keeps_out(account.sso_required, perms, came_through) {
        return Ok(());
    }
    let htmx = is_htmx(req);
    let next = if req.method() == actix_web::http::Method::GET && !htmx {
        req.uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "/".into())
    } else {
        "/".into()
    };
    Err(AppError::SsoRequired {
        account_id: account.id.clone(),
        next,
        htmx,
    })
}

/// An account that requires two-factor authentication is not used by a member who has not
/// set it up: they are sent to set it up (`AppError::TwoFactorRequired`). One statement,
/// only for such accounts.
async fn two_factor_gate(
    req: &HttpRequest,
    auth: &Auth,
    account: &Account,
) -> Result<(), AppError> {
    if !account.require_two_factor {
        return Ok(());
    }
    let uid = auth.user.id.clone();
    let on = db(&auth.pool, move |c| {
        Ok(crate::two_factor::ops::is_enabled(c, &uid)?)
    })
    .await?;
    if on {
        Ok(())
    } else {
        Err(AppError::TwoFactorRequired { htmx: is_htmx(req) })
    }
}

/// A logged-in user inside one account (`/account/{account_id}/…`). Non-members get 404.
pub struct AccountCtx {
    pub auth: Auth,
    pub account: Account,
    pub role: AccountRole,
    pub perms: PermSet,
}

impl AccountCtx {
    /// 403 unless the user has `p`.
    pub fn require(&self, p: AccountPerm) -> Result<(), Refusal> {
        gate(self.perms.has(p), Refusal::Forbidden(None))
    }

    /// 404 unless the user has `p` (for pages: what one may not see does not exist).
    pub fn require_to_see(&self, p: AccountPerm) -> Result<(), Refusal> {
        gate(self.perms.has(p), Refusal::NotFound)
    }

    pub fn can(&self, p: AccountPerm) -> bool {
        self.perms.has(p)
    }
}

impl FromRequest for AccountCtx {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            // The user's memberships come with the user: no statement of its own.
            let (auth, memberships) = Auth::identify(&req).await?;
            let Some(account_id) = req
                .match_info()
                .get("account_id")
                .filter(|id| uuid::Uuid::parse_str(id).is_ok())
            else {
                return Err(AppError::NotFound);
            };
            let Some((account, role)) = memberships.into_iter().find(|(a, _)| a.id == account_id)
            else {
                return Err(AppError::NotFound);
            };
            let Some((role, perms)) = account_permissions(Some(role)) else {
                return Err(AppError::NotFound);
            };
            sso_gate(&req, &auth.session, &account, &perms)?;
            two_factor_gate(&req, &auth, &account).await?;
            let mut auth = auth;
            auth.shell = auth.shell.in_account(account_id);
            Ok(AccountCtx {
                auth,
                account,
                role,
                perms,
            })
        })
    }
}

/// A logged-in user inside `/account/{account_id}/workspace/{workspace_id}/…` with their
/// effective scopes. No scopes: the workspace does not exist for them (404).
pub struct WorkspaceCtx {
    pub auth: Auth,
    pub account: Account,
    pub account_role: Option<AccountRole>,
    pub workspace: Workspace,
    pub own_role: Option<WorkspaceRole>,
    pub default_role: Option<WorkspaceRole>,
    /// The roles the user's teams hold on the workspace.
    pub team_roles: Vec<WorkspaceRole>,
    pub scopes: ScopeSet,
}

impl WorkspaceCtx {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// 404 unless the user has `scope` (pages they may not see do not exist for them).
    pub fn require_to_see(&self, scope: &str) -> Result<(), Refusal> {
        gate(self.has(scope), Refusal::NotFound)
    }

    /// 403 unless the user has `scope`.
    pub fn require(&self, scope: &str) -> Result<(), Refusal> {
        gate(self.has(scope), Refusal::Forbidden(None))
    }

    /// The role the page shows as "your role".
    pub fn role_label(&self) -> String {
        match self.account_role {
            Some(AccountRole::Owner) => "Owner (as account Owner)".into(),
            Some(AccountRole::Admin) => "Owner (as account Admin)".into(),
            _ => match (&self.own_role, &self.default_role) {
                (Some(own), _) if self.team_roles.is_empty() => own.name.clone(),
                (Some(own), _) => format!("{} (and through your teams)", own.name),
                (None, _) if !self.team_roles.is_empty() => {
                    let names: Vec<&str> =
                        self.team_roles.iter().map(|r| r.name.as_str()).collect();
                    format!("{} (through your teams)", names.join(", "))
                }
                (None, Some(d)) => format!("{} (everyone in the account)", d.name),
                (None, None) => "No access".into(),
            },
        }
    }
}

impl FromRequest for WorkspaceCtx {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ids = req
                .match_info()
                .get("account_id")
                .zip(req.match_info().get("workspace_id"))
                .filter(|(a, w)| {
                    uuid::Uuid::parse_str(a).is_ok() && uuid::Uuid::parse_str(w).is_ok()
                })
                .map(|(a, w)| (a.to_string(), w.to_string()));
            // Usually read with the session (one trip for who asks and what they may do);
            // otherwise one more trip here.
            let (auth, memberships) = Auth::identify(&req).await?;
            let Some((account_id, workspace_id)) = ids else {
                return Err(AppError::NotFound);
            };
            let loaded = match crate::authn::session_store::take_preloaded_workspace(
                &auth.user.id,
                &account_id,
                &workspace_id,
            ) {
                Some(loaded) => loaded,
                None => {
                    let (uid, a, w) = (
                        auth.user.id.clone(),
                        account_id.clone(),
                        workspace_id.clone(),
                    );
                    db(&auth.pool, move |c| {
                        Ok(workspace_for(c, &uid, &memberships, &a, &w)?)
                    })
                    .await?
                }
            };
            let Some(Loaded {
                account,
                account_role,
                workspace,
                own_role,
                default_role,
                team_roles,
                scopes,
            }) = loaded
            else {
                return Err(AppError::NotFound);
            };
            if scopes.is_empty() {
                return Err(AppError::NotFound);
            }
            if account.sso_required {
                let perms = account_permissions(account_role)
                    .map(|(_, p)| p)
                    .unwrap_or_default();
                sso_gate(&req, &auth.session, &account, &perms)?;
            }
            two_factor_gate(&req, &auth, &account).await?;
            let mut auth = auth;
            auth.shell = auth.shell.in_account(&account_id);
            auth.shell.workspace = Some(crate::web::shell::WorkspaceLink {
                account_id: account_id.clone(),
                id: workspace.id.clone(),
                name: workspace.name.clone(),
                see_settings: scopes.contains("see_workspace_settings"),
                see_members: scopes.contains("see_workspace_users"),
                see_service_accounts: scopes.contains("see_workspace_service_accounts"),
            });
            Ok(WorkspaceCtx {
                auth,
                account,
                account_role,
                workspace,
                own_role,
                default_role,
                team_roles,
                scopes,
            })
        })
    }
}

/// A change a page makes, as the operation sees it: owned copies of the account, the
/// signed-in user and the client's address, handed over in one value ([`AccountCtx::op`])
/// instead of cloned one by one before each call.
#[derive(Clone)]
pub struct Acting {
    pub account: Account,
    pub user: User,
    pub ip: String,
}

/// [`Acting`] with the workspace of the page ([`WorkspaceCtx::op`]).
#[derive(Clone)]
pub struct WorkspaceActing {
    pub account: Account,
    pub workspace: Workspace,
    pub user: User,
    pub ip: String,
}

impl AccountCtx {
    pub fn acting(&self, req: &HttpRequest) -> Acting {
        Acting {
            account: self.account.clone(),
            user: self.auth.user.clone(),
            ip: crate::web::client_ip(req),
        }
    }

    /// Runs one operation for this page off the async threads; a refusal is the page's error.
    pub async fn op<T, F>(&self, req: &HttpRequest, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &Acting) -> crate::outcome::OpResult<T> + Send + 'static,
    {
        Ok(self.try_op(req, f).await??)
    }

    /// [`Self::op`], handing the refusal back for the page to show.
    pub async fn try_op<T, F>(
        &self,
        req: &HttpRequest,
        f: F,
    ) -> Result<crate::outcome::OpResult<T>, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &Acting) -> crate::outcome::OpResult<T> + Send + 'static,
    {
        run_with(&self.auth.pool, self.acting(req), f).await
    }
}

impl WorkspaceCtx {
    pub fn acting(&self, req: &HttpRequest) -> WorkspaceActing {
        WorkspaceActing {
            account: self.account.clone(),
            workspace: self.workspace.clone(),
            user: self.auth.user.clone(),
            ip: crate::web::client_ip(req),
        }
    }

    /// Runs one operation for this page off the async threads; a refusal is the page's error.
    pub async fn op<T, F>(&self, req: &HttpRequest, f: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &WorkspaceActing) -> crate::outcome::OpResult<T>
            + Send
            + 'static,
    {
        Ok(self.try_op(req, f).await??)
    }

    /// [`Self::op`], handing the refusal back for the page to show.
    pub async fn try_op<T, F>(
        &self,
        req: &HttpRequest,
        f: F,
    ) -> Result<crate::outcome::OpResult<T>, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut crate::db::DbConn, &WorkspaceActing) -> crate::outcome::OpResult<T>
            + Send
            + 'static,
    {
        run_with(&self.auth.pool, self.acting(req), f).await
    }
}

/// Runs `f` with the change `scene` on a pooled connection off the async threads.
async fn run_with<S, T, F>(
    pool: &Pool,
    scene: S,
    f: F,
) -> Result<crate::outcome::OpResult<T>, AppError>
where
    S: Send + 'static,
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConn, &S) -> crate::outcome::OpResult<T> + Send + 'static,
{
    db(pool, move |c| Ok(f(c, &scene))).await
}

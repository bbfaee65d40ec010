//! Calls from Prefect's UI (issue #23): the browser calls the workspace's API address with
//! the signed-in person's session cookie instead of a key. The same scopes apply (the
//! person's, in this workspace) and the same audit log records changes. A cookie rides
//! along with requests other sites make, so a session call must also prove it comes from
//! Atrium's own pages, with what a cross-site form cannot send:
//! - Fetch Metadata must not say `cross-site`, and the Origin (else the Referer) must be
//!   Atrium's own — for a call that changes something, an Origin must be there at all;
//! - a call that changes something carries a JSON body (`Content-Type: application/json`)
//!   or none: an HTML form can only send form or text bodies.
//!
//! The session cookie is `SameSite=Lax` as well, so other sites' subresource and script
//! requests carry no session at all. Websockets are not opened with a session (the UI
//! opens none): they keep to keys.

use std::sync::Arc;

use actix_session::SessionExt;
use actix_web::HttpRequest;
use actix_web::http::{Method, header};

use super::Gateway;
use super::caller::Pass;
use crate::api::ApiError;

/// Whether the request carries a signed-in session (and no key).
pub fn user_of(req: &HttpRequest) -> Option<String> {
    req.get_session()
        .get::<String>(crate::authn::SESSION_USER)
        .ok()
        .flatten()
}

/// Why a session call is refused before anything is read, if it is.
pub fn forgery(req: &HttpRequest) -> Option<&'static str> {
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !crate::web::csrf::from_this_site(req, changes) {
        return Some("A browser session may call this API from Atrium's own pages only.");
    }
    if changes {
        let json_or_none = match req.headers().get(header::CONTENT_TYPE) {
            None => true,
            Some(v) => v.to_str().is_ok_and(|ct| {
                ct.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            }),
        };
        if !json_or_none {
            return Some("A browser session sends JSON to this API.");
        }
    }
    None
}

/// The pass of the signed-in user `user_id` for the workspace: 401 when the user is gone,
/// 404 without access, 403 when the account requires what the session lacks (two-factor
/// set up; having come through its SSO provider, `sso_came_through` the accounts it did).
/// Read each time (the UI's calls are few; keys are the hot path).
pub async fn pass(
    gw: &Gateway,
    user_id: String,
    sso_came_through: Vec<String>,
    account_id: &str,
    workspace_id: &str,
) -> Result<Arc<Pass>, ApiError> {
    let (a, w) = (account_id.to_string(), workspace_id.to_string());
    let sealer = gw.config.sealer.clone();
    let read = crate::api::db(&gw.pool, move |c| {
        let Some(user) = crate::users::ops::find(c, &user_id)? else {
            return Ok(Err(ApiError::Unauthorized));
        };
        let loaded = crate::workspaces::access::load(
            c,
            &a,
            &w,
            crate::workspaces::access::ActorRef::User(&user.id),
        )?;
        let Some(l) = loaded.filter(|l| !l.scopes.is_empty()) else {
            return Ok(Err(ApiError::NotFound));
        };
        // The browser session of a member who has not set up the two-factor authentication
        // the account requires reaches none of its pages, nor their API calls.
        if l.account.require_two_factor && !crate::two_factor::ops::is_enabled(c, &user.id)? {
            return Ok(Err(ApiError::Denied(
                "This account requires two-factor authentication: set it up in your profile."
                    .into(),
            )));
        }
        // An account that requires SSO: the same rule as its pages (`web::ctx::sso_gate`),
        // so a password session cannot reach its workspaces' API from Atrium's pages either.
        let perms = l
            .account_role
            .map(crate::authz::PermSet::of_role)
            .unwrap_or_default();
        let came_through = sso_came_through.contains(&l.account.id);
        if crate::authz::account::sso_keeps_out(l.account.sso_required, &perms, came_through) {
            return Ok(Err(ApiError::Denied(
                "This account requires single sign-on: sign in through its identity provider."
                    .into(),
            )));
        }
        let target = crate::servers::ops::find(c, &l.workspace.id)?
            .and_then(|s| super::caller::target_of(&s, &sealer));
        Ok(Ok(Pass {
            holder: crate::apikeys::ops::KeyHolder::User(user),
            key_id: "session".into(),
            key_name: "Prefect UI (browser session)".into(),
            key_expires_at: None,
            account_id: l.account.id,
            workspace_id: l.workspace.id,
            scopes: l.scopes,
            target,
        }))
    })
    .await??;
    Ok(Arc::new(read))
}

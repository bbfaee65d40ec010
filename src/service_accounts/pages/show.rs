//! `/account/{a}/service-accounts/{id}`: one service account — the workspaces it has a
//! role on (with that role) and its keys' metadata (name, created, expires, last used;
//! never the secret). Seen by whoever sees the account's service accounts (`read:bot`);
//! 404 for everyone else, and for an id that is not one of this account's.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::super::ops::{self, ServiceAccount};
use crate::apikeys::ApiKey;
use crate::authz::AccountPerm;
use crate::outcome::Refusal;
use crate::web::ctx::AccountCtx;
use crate::web::{AppError, Shell, db, render};
use crate::workspaces::ops::{Workspace, WorkspaceRole};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/account/{account_id}/service-accounts/{sa_id}",
        web::get().to(show),
    );
}

#[derive(Template)]
#[template(path = "service_accounts/show.html")]
struct ShowPage {
    shell: Shell,
    account_id: String,
    sa: ServiceAccount,
    created: String,
    access: Vec<(Workspace, WorkspaceRole)>,
    keys: Vec<ApiKey>,
}

async fn show(
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadBot)?;
    let (_, sa_id) = path.into_inner();
    let aid = ctx.account.id.clone();
    let found = db(&ctx.auth.pool, move |c| {
        let Some(sa) = ops::find(c, &aid, &sa_id)? else {
            return Ok(None);
        };
        let access = ops::roles_of(c, &sa.id)?;
        let keys = crate::apikeys::for_service_account(c, &sa.id)?;
        Ok(Some((sa, access, keys)))
    })
    .await?;
    let Some((sa, access, keys)) = found else {
        return Err(Refusal::NotFound.into());
    };
    render(
        StatusCode::OK,
        &ShowPage {
            account_id: ctx.account.id.clone(),
            created: crate::apikeys::when(&Some(sa.created_at)),
            sa,
            access,
            keys,
            shell: ctx.auth.shell.at("service-accounts"),
        },
    )
}

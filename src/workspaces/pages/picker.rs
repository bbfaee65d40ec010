//! The people picker of a workspace's "Add a member" form (issue #24, point 5): up to
//! [`SUGGESTIONS`] members of the account without a role on the workspace, matching the
//! typed text by any part of their name, handle or e-mail (`members::ops::suggest`), as the
//! options of the form's listbox. Those who may not see the workspace's members get 404,
//! those who see them but may not add any 403 (as the form's POST).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::members::ops::{Suggestion, Without, suggest};
use crate::web::ctx::WorkspaceCtx;
use crate::web::{AppError, db, render};

/// Suggestions shown at most.
pub const SUGGESTIONS: i64 = 10;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/account/{account_id}/workspace/{workspace_id}/settings/members/candidates",
        web::get().to(candidates),
    );
}

#[derive(Deserialize, Default)]
struct PickerQuery {
    /// The typed text: the form's own field sends it as `member`.
    #[serde(default)]
    member: String,
}

#[derive(Template)]
#[template(path = "picker/_options.html")]
pub struct Options {
    /// The listbox's id (each option's id starts with it).
    pub list_id: &'static str,
    pub options: Vec<Suggestion>,
}

async fn candidates(
    ctx: WorkspaceCtx,
    query: web::Query<PickerQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_users")?;
    ctx.require("manage_workspace_users")?;
    let (aid, wid) = (ctx.account.id.clone(), ctx.workspace.id.clone());
    let q: String = query.member.chars().take(100).collect();
    let options = db(&ctx.auth.pool, move |c| {
        Ok(suggest(
            c,
            &aid,
            &q,
            &Without::WorkspaceAccess(wid),
            SUGGESTIONS,
        )?)
    })
    .await?;
    render(
        StatusCode::OK,
        &Options {
            list_id: "add-user-options",
            options,
        },
    )
}

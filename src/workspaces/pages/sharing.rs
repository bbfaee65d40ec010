//! Workspace sharing, Members panel: users with an own role; add an account member with a
//! role; change a role inline; remove. Nobody grants a role with scopes they do not have.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::audit::Actor;
use crate::ids::UserId;
use crate::outcome::OpResult;
use crate::web::ctx::WorkspaceCtx;
use crate::web::{AppError, Shell, db, is_htmx, redirect, refusal_text, render};
use crate::workspaces::access::ActorRef;
use crate::workspaces::ops::{self, NOT_A_MEMBER, UserAccess, WorkspaceRole};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/account/{account_id}/workspace/{workspace_id}/settings/members",
        web::get().to(panel),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/members",
        web::post().to(add),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/members/invite",
        web::post().to(invite),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/members/{user_id}/role",
        web::post().to(change),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/members/{user_id}/remove",
        web::post().to(remove),
    );
}

#[derive(Template)]
#[template(path = "workspaces/members.html")]
struct PanelPage {
    shell: Shell,
    base: String,
    csrf: String,
    can_manage: bool,
    rows: Vec<UserAccess>,
    /// Users with a role here (all pages).
    total: i64,
    /// `?after=` for the next page, when there is one.
    next: Option<String>,
    /// This page starts after the first one.
    paged: bool,
    roles: Vec<WorkspaceRole>,
    /// The account members to pick from, when the account is small enough for a list;
    /// `None`: a field for a handle or an e-mail address instead.
    candidates: Option<Vec<(String, String)>>,
    /// The pick list is empty: everyone already has a role here.
    nobody_to_add: bool,
    /// The teams through which the people shown also reach the workspace.
    via: Vec<crate::teams::ops::ViaTeam>,
    /// People who reach the workspace only through a team (first page only).
    only_via: Vec<ViaPerson>,
    error: Option<String>,
    notice: Option<String>,
    /// "Anyone at <account>": the account, the workspace's default role ("No access" when
    /// none), and whether the viewer may change it in the workspace's settings.
    account_name: String,
    anyone_role: String,
    can_change_default: bool,
}

impl PanelPage {
    /// "via <team> (<role>)" of one person with an own role.
    fn via_of(&self, user_id: &str) -> Vec<(String, String)> {
        self.via
            .iter()
            .filter(|v| v.own && v.user_id == user_id)
            .map(|v| (v.team_name.clone(), v.role_name.clone()))
            .collect()
    }
}

/// Someone who reaches the workspace only through teams: (team, role) of each.
pub struct ViaPerson {
    pub user_id: String,
    pub handle: String,
    pub name: String,
    pub teams: Vec<(String, String)>,
}

/// Groups the rows of people without an own role by person (the rows come by handle).
fn only_via(rows: &[crate::teams::ops::ViaTeam]) -> Vec<ViaPerson> {
    let mut out: Vec<ViaPerson> = Vec::new();
    for v in rows.iter().filter(|v| !v.own) {
        let team = (v.team_name.clone(), v.role_name.clone());
        match out.last_mut() {
            Some(p) if p.user_id == v.user_id => p.teams.push(team),
            _ => out.push(ViaPerson {
                user_id: v.user_id.clone(),
                handle: v.handle.clone(),
                name: v.name.clone(),
                teams: vec![team],
            }),
        }
    }
    out
}

/// Rows of the members panel per page.
pub const PANEL_PAGE: i64 = 50;
/// Up to this many account members, "Add a member" offers a list; above, a field.
pub const PICK_LIST_MAX: i64 = 200;
/// At most this many (person, team) rows of access through teams per page.
pub const VIA_MAX: i64 = 1000;

#[derive(Template)]
#[template(path = "workspaces/_member_row.html")]
struct RowFragment {
    base: String,
    csrf: String,
    can_manage: bool,
    a: UserAccess,
    roles: Vec<WorkspaceRole>,
    /// (team, role) of each team through which they also reach the workspace.
    via: Vec<(String, String)>,
    message: Option<String>,
    error: Option<String>,
}

fn base(ctx: &WorkspaceCtx) -> String {
    format!("/account/{}/workspace/{}", ctx.account.id, ctx.workspace.id)
}

/// Roles the viewer may give: those whose scopes they hold themselves.
fn grantable(ctx: &WorkspaceCtx, roles: Vec<WorkspaceRole>) -> Vec<WorkspaceRole> {
    ops::grantable(&ctx.scopes, roles)
}

#[derive(Deserialize, Default)]
struct PanelQuery {
    /// Handle of the last row of the previous page.
    #[serde(default)]
    after: String,
}

async fn show(
    ctx: WorkspaceCtx,
    after: String,
    error: Option<String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_users")?;
    let (aid, wid) = (ctx.account.id.clone(), ctx.workspace.id.clone());
    let can_manage = ctx.has("manage_workspace_users");
    // The account's total came with it (kept by the database).
    let member_count = ctx.account.member_count;
    let after: String = after.chars().take(100).collect();
    let a2 = after.clone();
    // Every statement here is bounded: one page of rows (keyset), a count of index entries,
    // and the pick list only for accounts small enough to list.
    let (mut rows, total, roles, candidates, via) = db(&ctx.auth.pool, move |c| {
        let rows = ops::user_accesses_page(c, &wid, &a2, PANEL_PAGE + 1)?;
        let total = ops::count_user_accesses(c, &wid)?;
        let roles = ops::roles_for_account(c, &aid)?;
        let candidates = if can_manage && member_count <= PICK_LIST_MAX {
            Some(ops::members_without_access(c, &aid, &wid)?)
        } else {
            None
        };
        // Where access comes from besides the own role, in one statement: the teams of the
        // people shown, and who reaches the workspace only through a team.
        let ids: Vec<String> = rows.iter().map(|r| r.user_id.clone()).collect();
        let via = crate::teams::ops::panel_via_teams(c, &wid, &ids, VIA_MAX)?;
        Ok((rows, total, roles, candidates, via))
    })
    .await?;
    let next = if rows.len() as i64 > PANEL_PAGE {
        rows.truncate(PANEL_PAGE as usize);
        rows.last().map(|r| r.handle.clone())
    } else {
        None
    };
    let anyone_role = ctx
        .workspace
        .default_role_id
        .as_deref()
        .and_then(|id| roles.iter().find(|r| r.id == id))
        .map_or_else(|| "No access".to_string(), |r| r.name.clone());
    let roles = grantable(&ctx, roles);
    render(
        status,
        &PanelPage {
            account_name: ctx.account.name.clone(),
            anyone_role,
            can_change_default: ctx.has("write_workspace_settings"),
            base: base(&ctx),
            csrf: ctx.auth.shell.csrf.clone(),
            can_manage,
            rows,
            total,
            next,
            paged: !after.is_empty(),
            roles,
            nobody_to_add: candidates.as_ref().is_some_and(Vec::is_empty),
            candidates,
            only_via: if after.is_empty() {
                only_via(&via)
            } else {
                Vec::new()
            },
            via,
            error,
            notice,
            shell: ctx.auth.shell.at("workspace-members"),
        },
    )
}

async fn panel(ctx: WorkspaceCtx, query: web::Query<PanelQuery>) -> Result<HttpResponse, AppError> {
    show(ctx, query.into_inner().after, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct AddForm {
    /// From the pick list (small accounts).
    #[serde(default)]
    user_id: String,
    /// Typed handle or e-mail address (large accounts).
    #[serde(default)]
    member: String,
    #[serde(default)]
    role_id: String,
}

async fn add(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    form: web::Form<AddForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_users")?;
    ctx.require("manage_workspace_users")?;
    let AddForm {
        user_id: uid,
        member: who,
        role_id: rid,
    } = form.into_inner();
    let outcome: OpResult<()> = ctx
        .try_op(&req, move |c, a| {
            let uid = if uid.is_empty() && !who.trim().is_empty() {
                match ops::member_by_handle_or_email(c, &a.account.id, &who)? {
                    Some(id) => id,
                    None => return crate::outcome::invalid("user_id", NOT_A_MEMBER),
                }
            } else {
                uid
            };
            ops::grant_one(c, &a.workspace, &a.user, &uid, &rid, a.ip.clone())
        })
        .await?;
    match outcome {
        Ok(()) => Ok(crate::web::flash::redirect_noting(
            &req,
            &ctx.auth.session,
            &format!("{}/settings/members", base(&ctx)),
            "Added to the workspace.",
        )),
        Err(e) => {
            show(
                ctx,
                String::new(),
                Some(refusal_text(e)?),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    role_id: String,
}

async fn change(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    path: web::Path<(String, String, String)>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_users")?;
    ctx.require("manage_workspace_users")?;
    let (_, _, user_id) = path.into_inner();
    let (uid, rid) = (user_id.clone(), form.role_id.clone());
    let exists = {
        let (wid, uid) = (ctx.workspace.id.clone(), user_id.clone());
        db(&ctx.auth.pool, move |c| {
            Ok(ops::user_access(c, &wid, &uid)?)
        })
        .await?
    };
    if exists.is_none() {
        return Err(AppError::NotFound);
    }
    let outcome = ctx
        .try_op(&req, move |c, a| {
            ops::grant_one(c, &a.workspace, &a.user, &uid, &rid, a.ip.clone())
        })
        .await?;
    // A refusal is shown beside the row (or on the panel); anything else is the page's error.
    let outcome: Result<(), String> = match outcome {
        Ok(()) => Ok(()),
        Err(e) => Err(refusal_text(e)?),
    };
    if !is_htmx(&req) {
        return match outcome {
            Ok(()) => Ok(redirect(&req, &format!("{}/settings/members", base(&ctx)))),
            Err(why) => {
                show(
                    ctx,
                    String::new(),
                    Some(why),
                    None,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
        };
    }
    let (aid, wid, uid) = (
        ctx.account.id.clone(),
        ctx.workspace.id.clone(),
        user_id.clone(),
    );
    let (roles, current, via) = db(&ctx.auth.pool, move |c| {
        Ok((
            ops::roles_for_account(c, &aid)?,
            ops::user_access(c, &wid, &uid)?,
            crate::teams::ops::via_teams(c, &wid, std::slice::from_ref(&uid))?,
        ))
    })
    .await?;
    let a = current.ok_or(AppError::NotFound)?;
    let roles = grantable(&ctx, roles);
    let via = via
        .into_iter()
        .map(|(_, team, role)| (team, role))
        .collect();
    let (status, message, error) = match outcome {
        Ok(()) => (StatusCode::OK, Some("Role saved.".to_string()), None),
        Err(why) => (StatusCode::UNPROCESSABLE_ENTITY, None, Some(why)),
    };
    render(
        status,
        &RowFragment {
            base: base(&ctx),
            csrf: ctx.auth.shell.csrf.clone(),
            can_manage: true,
            a,
            roles,
            via,
            message,
            error,
        },
    )
}

async fn remove(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_users")?;
    ctx.require("manage_workspace_users")?;
    let user_id = UserId::parse(&path.2).ok_or(AppError::NotFound)?;
    let outcome = ctx
        .try_op(&req, move |c, a| {
            let (by, actor) = (ActorRef::User(&a.user.id), Actor::user(&a.user));
            ops::revoke(c, by, &a.workspace, actor, &user_id, a.ip.clone())
        })
        .await?;
    let refused = match outcome {
        Ok(()) => None,
        Err(e) => Some(refusal_text(e)?),
    };
    match refused {
        Some(why) => {
            show(
                ctx,
                String::new(),
                Some(why),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        None if is_htmx(&req) => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body("")),
        None => {
            show(
                ctx,
                String::new(),
                None,
                Some("Access removed.".into()),
                StatusCode::OK,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role_id: String,
}

/// Invite by e-mail as a Collaborator of the account with a role on this workspace.
async fn invite(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    cfg: web::Data<crate::settings::AppConfig>,
    form: web::Form<InviteForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_users")?;
    ctx.require("manage_workspace_users")?;
    let email = match crate::users::domain::Email::parse(&form.email) {
        Ok(e) => e,
        Err(msg) => {
            return show(
                ctx,
                String::new(),
                Some(msg.into()),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let (cfg2, email2, rid) = (cfg.clone(), email.clone(), form.role_id.clone());
    let outcome = ctx
        .try_op(&req, move |c, a| {
            crate::invitations::ops::invite_to_workspace_checked(
                c,
                &cfg2,
                &a.account,
                &a.workspace.id,
                &rid,
                &email2,
                &a.user,
                &a.ip,
            )
        })
        .await?;
    let outcome: Result<bool, String> = match outcome {
        Ok(replaced) => Ok(replaced),
        Err(e) => Err(refusal_text(e)?),
    };
    match outcome {
        Ok(replaced) => {
            let msg = if replaced {
                format!(
                    "Invitation sent to {}; it replaces the earlier pending one.",
                    email.as_str()
                )
            } else {
                format!("Invitation sent to {}.", email.as_str())
            };
            show(ctx, String::new(), None, Some(msg), StatusCode::OK).await
        }
        Err(why) => {
            show(
                ctx,
                String::new(),
                Some(why),
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

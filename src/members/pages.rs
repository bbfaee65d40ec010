//! `/account/{id}/members`: list and filter, change a role inline, remove, leave.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::ops::{self, Cursor, Matched, MemberRow, invite_roles};
use crate::authz::account::may_assign;
use crate::authz::{AccountPerm, AccountRole};
use crate::ids::UserId;
use crate::outcome::{FieldErrors, OpResult};
use crate::web::ctx::AccountCtx;
use crate::web::{AppError, Shell, db, is_htmx, redirect, refusal_text, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/{account_id}/members", web::get().to(list))
        .route(
            "/account/{account_id}/members/{user_id}/role",
            web::post().to(change_role),
        )
        .route(
            "/account/{account_id}/members/{user_id}/remove",
            web::post().to(remove),
        )
        .route(
            "/account/{account_id}/members/{user_id}/remove",
            web::get().to(remove_page),
        )
        .route(
            "/account/{account_id}/members/{user_id}/role",
            web::get().to(role_page),
        )
        .route("/account/{account_id}/leave", web::post().to(leave))
        .route("/account/{account_id}/leave", web::get().to(leave_page));
}

/// The leave form is on the members page.
async fn leave_page(ctx: AccountCtx) -> Result<HttpResponse, AppError> {
    Ok(crate::web::back_to(&format!(
        "/account/{}/members",
        ctx.account.id
    )))
}

/// What the viewer may do, for rendering rows.
#[derive(Clone)]
pub struct Viewer {
    pub user_id: String,
    pub role: AccountRole,
    pub can_update: bool,
    pub can_remove: bool,
    /// The roles this viewer may give, highest first (worked out once per page).
    assignable: Vec<AccountRole>,
}

impl Viewer {
    fn of(ctx: &AccountCtx) -> Self {
        Viewer {
            user_id: ctx.auth.user.id.clone(),
            role: ctx.role,
            can_update: ctx.can(AccountPerm::UpdateMembership),
            can_remove: ctx.can(AccountPerm::DeleteMembership),
            assignable: [AccountRole::Owner, AccountRole::Admin, AccountRole::Member]
                .into_iter()
                .filter(|r| may_assign(ctx.role, *r))
                .collect(),
        }
    }

    /// Roles this viewer may pick for `row` (empty when they may not change it).
    pub fn choices(&self, row: &MemberRow) -> &[AccountRole] {
        if !self.can_update || !may_assign(self.role, row.role) {
            return &[];
        }
        &self.assignable
    }

    pub fn may_remove(&self, row: &MemberRow) -> bool {
        self.can_remove && row.user_id != self.user_id && may_assign(self.role, row.role)
    }
}

/// The start of a row's addresses (`…/{user_id}/role`, `…/{user_id}/remove`): relative to
/// the list page (`members/`, 46 bytes shorter per address, 50 rows a page) when the page is
/// answered at an address of the account's own level (the list, `leave`) or swapped into
/// it by htmx; absolute when it is answered at a member's address (a refused change
/// without JavaScript).
fn row_base(req: &HttpRequest, account_id: &str) -> String {
    if is_htmx(req) || !req.path().contains("/members/") {
        "members/".into()
    } else {
        format!("/account/{account_id}/members/")
    }
}

#[derive(Template)]
#[template(path = "members/_row.html")]
struct RowFragment {
    /// What a row's addresses start with (`members/`, relative to the list page; or
    /// absolute where the page is answered at another address): see [`row_base`].
    base: String,
    viewer: Viewer,
    m: MemberRow,
    message: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "members/index.html")]
struct MembersPage {
    shell: Shell,
    account_id: String,
    account_name: String,
    personal: bool,
    csrf: String,
    can_invite: bool,
    /// The Invitations tab is there for those who may see invitations (others get 404).
    see_invitations: bool,
    invite_roles: Vec<AccountRole>,
    /// The filter's text.
    q: String,
    /// The list: the same fragment htmx asks for alone (`HX-Target: members-table`).
    table: TableFragment,
    message: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "members/_table.html")]
struct TableFragment {
    account_id: String,
    base: String,
    viewer: Viewer,
    rows: Vec<MemberRow>,
    /// How many match (`None`: a search matching more than a page, not counted).
    total: Option<i64>,
    /// What the filter matched, and so the list's order (the status line says it).
    matched: Matched,
    /// Rows per page ("More than 50 members" when a search is not counted).
    page_size: i64,
    q: String,
    /// The keys of the first and last rows shown ("Previous" and "Next" page around them).
    first: String,
    last: String,
    has_prev: bool,
    has_next: bool,
    /// This page's address (filter and cursor): the table reloads itself from it when a
    /// member is removed (`atrium:members-changed`), so its count stays true.
    here: String,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    /// "Next": the page after this key (a handle; a search id in a search by part).
    #[serde(default)]
    after: Option<String>,
    /// "Previous": the page before this key.
    #[serde(default)]
    before: Option<String>,
}

async fn list(
    req: HttpRequest,
    ctx: AccountCtx,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    // A handle is at most 100 characters; anything longer is not one.
    let bounded = |h: &Option<String>| h.as_ref().map(|h| h.chars().take(100).collect::<String>());
    let cursor = match (bounded(&query.after), bounded(&query.before)) {
        (Some(h), _) if !h.is_empty() && !crate::db::holds_nul(&h) => Cursor::After(h),
        (_, Some(h)) if !h.is_empty() && !crate::db::holds_nul(&h) => Cursor::Before(h),
        _ => Cursor::First,
    };
    render_list(&req, ctx, &query.q, &cursor, None, None, StatusCode::OK).await
}

async fn render_list(
    req: &HttpRequest,
    ctx: AccountCtx,
    q: &str,
    cursor: &Cursor,
    message: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    let q: String = q.chars().take(100).collect();
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let here = format!(
        "/account/{}/members?q={}{}",
        ctx.account.id,
        enc(&q),
        match cursor {
            Cursor::After(h) => format!("&after={}", enc(h)),
            Cursor::Before(h) => format!("&before={}", enc(h)),
            Cursor::First => String::new(),
        }
    );
    let (account, q2, cursor) = (ctx.account.clone(), q.clone(), cursor.clone());
    let page = db(&ctx.auth.pool, move |c| {
        Ok(ops::page(c, &account, &q2, &cursor)?)
    })
    .await?;
    let table = TableFragment {
        account_id: ctx.account.id.clone(),
        base: row_base(req, &ctx.account.id),
        viewer: Viewer::of(&ctx),
        rows: page.rows,
        total: page.total,
        matched: page.matched,
        page_size: ops::PAGE_SIZE,
        q: q.clone(),
        first: page.first_key,
        last: page.last_key,
        has_prev: page.has_prev,
        has_next: page.has_next,
        here,
    };
    let fragment = is_htmx(req)
        && req
            .headers()
            .get("HX-Target")
            .is_some_and(|v| v.as_bytes() == b"members-table");
    if fragment {
        return render(status, &table);
    }
    render(
        status,
        &MembersPage {
            account_id: ctx.account.id.clone(),
            account_name: ctx.account.name.clone(),
            personal: ctx.account.is_personal(),
            csrf: ctx.auth.shell.csrf.clone(),
            can_invite: ctx.can(AccountPerm::CreateInvitation),
            see_invitations: ctx.can(AccountPerm::ReadInvitation),
            invite_roles: invite_roles(ctx.role),
            q,
            table,
            message,
            error,
            shell: ctx.auth.shell.at("members"),
        },
    )
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
}

async fn change_role(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    ctx.require(AccountPerm::UpdateMembership)?;
    let target = UserId::parse(&path.1).ok_or(AppError::NotFound)?;
    let outcome = match AccountRole::parse(&form.role) {
        None => Err(FieldErrors::one("role", "Choose Owner, Admin or Member.").into()),
        Some(role) => {
            let t = target.clone();
            ctx.try_op(&req, move |c, a| {
                ops::change_role(c, &a.account.key(), &a.user, &t, role, a.ip.clone())
            })
            .await?
        }
    };
    let outcome = outcome.map(|done| Some((done.member, done.my_role)));
    respond_row(&req, ctx, &target, outcome, "Role saved.").await
}

/// Answers a membership change: the row again (htmx; with the refusal's message beside it)
/// or the list.
/// The event a members table reloads itself on (`templates/members/_table.html`).
const MEMBERS_CHANGED: &str = "atrium:members-changed";

async fn respond_row(
    req: &HttpRequest,
    ctx: AccountCtx,
    target: &UserId,
    outcome: OpResult<Option<(MemberRow, AccountRole)>>,
    done_message: &str,
) -> Result<HttpResponse, AppError> {
    let htmx = is_htmx(req);
    let back = format!("/account/{}/members", ctx.account.id);
    let why = match outcome {
        Ok(Some((m, my_role))) if htmx => {
            let mut viewer = Viewer::of(&ctx);
            viewer.role = my_role;
            let perms = crate::authz::PermSet::of_role(my_role);
            viewer.can_update = perms.has(AccountPerm::UpdateMembership);
            viewer.can_remove = perms.has(AccountPerm::DeleteMembership);
            return render(
                StatusCode::OK,
                &RowFragment {
                    base: row_base(req, &ctx.account.id),
                    viewer,
                    m,
                    message: Some(done_message.into()),
                    error: None,
                },
            );
        }
        Ok(None) if htmx => {
            return Ok(crate::web::flash::note_and(
                HttpResponse::Ok().body(""),
                done_message,
                MEMBERS_CHANGED,
            ));
        }
        Ok(_) => return Ok(redirect(req, &back)),
        Err(e) => refusal_text(e)?,
    };
    if htmx {
        let (id, t) = (ctx.account.id.clone(), target.clone());
        let row = db(&ctx.auth.pool, move |c| Ok(ops::row(c, &id, t.as_str())?))
            .await?
            .ok_or(AppError::NotFound)?;
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &RowFragment {
                base: row_base(req, &ctx.account.id),
                viewer: Viewer::of(&ctx),
                m: row,
                message: None,
                error: Some(why),
            },
        );
    }
    render_list(
        req,
        ctx,
        "",
        &Cursor::First,
        None,
        Some(why),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

#[derive(Template)]
#[template(path = "members/remove.html")]
struct RemovePage {
    shell: Shell,
    account_id: String,
    account_name: String,
    m: MemberRow,
}

/// The confirmation a removal asks for without JavaScript (with it, the page's dialog asks
/// and the row's link is POSTed): who is removed, Cancel and "Remove member".
async fn remove_page(
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    ctx.require(AccountPerm::DeleteMembership)?;
    let target = UserId::parse(&path.1).ok_or(AppError::NotFound)?;
    let (id, t) = (ctx.account.id.clone(), target.clone());
    let m = db(&ctx.auth.pool, move |c| Ok(ops::row(c, &id, t.as_str())?))
        .await?
        .ok_or(AppError::NotFound)?;
    if !Viewer::of(&ctx).may_remove(&m) {
        return Ok(crate::web::back_to(&format!(
            "/account/{}/members",
            ctx.account.id
        )));
    }
    render(
        StatusCode::OK,
        &RemovePage {
            account_id: ctx.account.id.clone(),
            account_name: ctx.account.name.clone(),
            m,
            shell: ctx.auth.shell.at("members"),
        },
    )
}

#[derive(Template)]
#[template(path = "members/role.html")]
struct RolePage {
    shell: Shell,
    account_id: String,
    account_name: String,
    m: MemberRow,
    choices: Vec<AccountRole>,
    /// The role chosen on the list (`?role=`), else the member's own.
    chosen: AccountRole,
}

#[derive(Deserialize)]
struct RoleQuery {
    #[serde(default)]
    role: String,
}

/// Changing a role without JavaScript: the list's "Change" button asks for this page
/// (`?role=` the one chosen), whose form saves it (with JavaScript the list saves inline).
async fn role_page(
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
    query: web::Query<RoleQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    ctx.require(AccountPerm::UpdateMembership)?;
    let target = UserId::parse(&path.1).ok_or(AppError::NotFound)?;
    let (id, t) = (ctx.account.id.clone(), target.clone());
    let m = db(&ctx.auth.pool, move |c| Ok(ops::row(c, &id, t.as_str())?))
        .await?
        .ok_or(AppError::NotFound)?;
    let viewer = Viewer::of(&ctx);
    let choices = viewer.choices(&m).to_vec();
    if choices.is_empty() {
        return Ok(crate::web::back_to(&format!(
            "/account/{}/members",
            ctx.account.id
        )));
    }
    let chosen = AccountRole::parse(&query.role)
        .filter(|r| choices.contains(r))
        .unwrap_or(m.role);
    render(
        StatusCode::OK,
        &RolePage {
            account_id: ctx.account.id.clone(),
            account_name: ctx.account.name.clone(),
            m,
            choices,
            chosen,
            shell: ctx.auth.shell.at("members"),
        },
    )
}

async fn remove(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    ctx.require(AccountPerm::DeleteMembership)?;
    let target = UserId::parse(&path.1).ok_or(AppError::NotFound)?;
    let t = target.clone();
    let outcome = ctx
        .try_op(&req, move |c, a| {
            ops::remove(c, &a.account.key(), &a.user, &t, a.ip.clone())
        })
        .await?;
    match outcome {
        Ok(()) if !is_htmx(&req) => {
            render_list(
                &req,
                ctx,
                "",
                &Cursor::First,
                Some("Member removed.".into()),
                None,
                StatusCode::OK,
            )
            .await
        }
        other => respond_row(&req, ctx, &target, other.map(|()| None), "Member removed.").await,
    }
}

async fn leave(req: HttpRequest, ctx: AccountCtx) -> Result<HttpResponse, AppError> {
    let outcome = ctx
        .try_op(&req, move |c, a| {
            let personal = a.account.is_personal();
            ops::leave(c, &a.account.key(), personal, &a.user, a.ip.clone())
        })
        .await?;
    match outcome {
        Ok(()) => Ok(redirect(&req, "/")),
        Err(e) => {
            let why = refusal_text(e)?;
            render_list(
                &req,
                ctx,
                "",
                &Cursor::First,
                None,
                Some(why),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

//! `/account/{id}/service-accounts`: list (masked key, expiration, last used, workspaces),
//! create (name, expiration, optional workspace and role), rename, rotate the key, delete.
//! `read:bot` to see the page, `create:bot` / `update:bot` / `delete:bot` for the actions
//! (403 when one sees the page but may not act). The changes are in [`super::service`].

pub mod sharing;
pub mod show;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::ops::{self, Field, NewServiceAccount, ServiceAccount, Who};
use crate::apikeys::{ApiKey, KeyHolder, Reveal};
use crate::authz::AccountPerm;
use crate::ids::ServiceAccountId;
use crate::outcome::OpError;
use crate::settings::AppConfig;
use crate::web::ctx::{AccountCtx, Acting};
use crate::web::list::ListQuery;
use crate::web::{AppError, FieldErrors, Shell, client_ip, db, render};
use crate::workspaces::ops::{self as workspaces, Workspace, WorkspaceRole};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/account/{account_id}/service-accounts",
        web::get().to(index),
    )
    .route(
        "/account/{account_id}/service-accounts",
        web::post().to(create),
    )
    .route(
        "/account/{account_id}/service-accounts/{sa_id}/rename",
        web::post().to(rename),
    )
    .route(
        "/account/{account_id}/service-accounts/{sa_id}/rotate",
        web::post().to(rotate),
    )
    .route(
        "/account/{account_id}/service-accounts/{sa_id}/delete",
        web::post().to(delete),
    );
}

/// The create form's "No workspace" choice.
pub const NO_WORKSPACE: &str = "none";

/// Where the create form's workspace list stops.
const MAX_WORKSPACES: i64 = 500;

/// The page's field name for an operation's field error (its key: [`Field::key`]).
pub fn page_field(key: &'static str) -> &'static str {
    match Field::of_key(key) {
        Some(Field::Name) => "name",
        Some(Field::Expiration) => "expiration",
        Some(Field::Workspace) => "workspace_id",
        Some(Field::Role) => "role_id",
        Some(Field::Overlap) => "overlap_hours",
        Some(Field::ServiceAccount) => "service_account_id",
        None => key,
    }
}

/// An operation's field errors under the page's field names.
pub fn field_errors(list: FieldErrors) -> FieldErrors {
    let mut e = FieldErrors::default();
    for (key, msg) in list.0 {
        e.add(page_field(key), msg);
    }
    e
}

/// A refusal the page shows, or an error it answers with.
pub enum Refusal {
    Fields(FieldErrors),
    Message(&'static str),
}

/// Splits an operation's error into what the page shows (beside fields, or as a message)
/// and what is the page's error.
pub fn refusal(e: OpError) -> Result<Refusal, AppError> {
    use crate::outcome::Refusal as R;
    match e {
        OpError::Refused(R::Invalid(f) | R::InvalidItem(_, f)) => {
            Ok(Refusal::Fields(field_errors(f)))
        }
        OpError::Refused(R::Forbidden(Some(r)) | R::Conflict(r)) => {
            Ok(Refusal::Message(r.message()))
        }
        other => Err(other.into()),
    }
}

/// One row of the list.
pub struct Row {
    pub sa: ServiceAccount,
    pub key: Option<ApiKey>,
    pub workspaces: i64,
}

impl Row {
    pub fn mask(&self) -> String {
        self.key.as_ref().map(ApiKey::mask).unwrap_or_default()
    }
    pub fn expiration(&self) -> String {
        self.key
            .as_ref()
            .map(ApiKey::expires_label)
            .unwrap_or_else(|| "—".into())
    }
    pub fn expired(&self) -> bool {
        self.key.as_ref().is_none_or(ApiKey::is_expired)
    }
    pub fn last_used(&self) -> String {
        self.key
            .as_ref()
            .map(ApiKey::last_used_label)
            .unwrap_or_else(|| "Never".into())
    }
}

/// The values and messages of a row form that was refused (shown open, with the messages).
#[derive(Default)]
pub struct RowEdit {
    pub sa_id: String,
    pub kind: &'static str,
    pub name: String,
    pub expiration: String,
    pub overlap_hours: String,
    pub errors: FieldErrors,
}

#[derive(Deserialize, Default, Clone)]
struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expiration: String,
    #[serde(default)]
    workspace_id: String,
    #[serde(default)]
    role_id: String,
}

#[derive(Template)]
#[template(path = "service_accounts/index.html")]
struct IndexPage {
    shell: Shell,
    account_id: String,
    account_name: String,
    csrf: String,
    can_create: bool,
    can_update: bool,
    can_delete: bool,
    /// The search's text.
    q: String,
    /// The list: the same fragment htmx asks for alone (`HX-Target: sa-table`).
    table: SaTable,
    /// The service account whose Rename / Rotate key / Delete forms are open (`?manage=`,
    /// or the one a refused form was for): one panel, not forms on every row.
    managed: Option<Row>,
    /// The list's address (search and page), for links that come back to it.
    here: String,
    workspaces: Vec<Workspace>,
    roles: Vec<WorkspaceRole>,
    form: CreateForm,
    errors: FieldErrors,
    edit: RowEdit,
    reveal: Option<Reveal>,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "service_accounts/_table.html")]
struct SaTable {
    account_id: String,
    rows: Vec<Row>,
    total: i64,
    q: String,
    /// The list's search and page as query-string text (`q=…&after=…`).
    list_query: String,
    /// The first and last names shown, normalized ("Previous" and "Next" around them).
    first: String,
    last: String,
    has_prev: bool,
    has_next: bool,
    /// Whether the viewer may act on a service account (the rows offer "Manage").
    can_manage: bool,
}

impl IndexPage {
    fn editing(&self, sa_id: &str, kind: &str) -> bool {
        self.edit.sa_id == sa_id && self.edit.kind == kind
    }

    fn row_error(&self, sa_id: &str, kind: &str, field: &str) -> Option<&str> {
        if self.editing(sa_id, kind) {
            self.edit.errors.get(field)
        } else {
            None
        }
    }

    fn rename_value(&self, row: &Row) -> String {
        if self.editing(&row.sa.id, "rename") {
            self.edit.name.clone()
        } else {
            row.sa.name.clone()
        }
    }

    fn rotate_value(&self, sa_id: &str, field: &str) -> String {
        if !self.editing(sa_id, "rotate") {
            return if field == "overlap_hours" {
                "0".into()
            } else {
                String::new()
            };
        }
        match field {
            "expiration" => self.edit.expiration.clone(),
            _ => self.edit.overlap_hours.clone(),
        }
    }
}

/// What the page shows besides the list.
#[derive(Default)]
struct Extras {
    /// The list's search and page, and the service account to manage.
    list: IndexQuery,
    form: Option<CreateForm>,
    errors: FieldErrors,
    edit: RowEdit,
    reveal: Option<Reveal>,
    notice: Option<String>,
    error: Option<String>,
}

/// The list page's address: the search, the page, the service account to manage.
#[derive(Deserialize, Default, Clone)]
struct IndexQuery {
    #[serde(flatten)]
    list: ListQuery,
    #[serde(default)]
    manage: Option<String>,
}

async fn show(
    req: &HttpRequest,
    ctx: AccountCtx,
    extras: Extras,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadBot)?;
    let can_create = ctx.can(AccountPerm::CreateBot);
    let can_manage = ctx.can(AccountPerm::UpdateBot) || ctx.can(AccountPerm::DeleteBot);
    let aid = ctx.account.id.clone();
    let (q, cursor) = extras.list.list.parts();
    let manage = if extras.edit.sa_id.is_empty() {
        extras.list.manage.clone().filter(|_| can_manage)
    } else {
        Some(extras.edit.sa_id.clone())
    };
    let q2 = q.clone();
    let (page, managed, wss, roles) = db(&ctx.auth.pool, move |c| {
        let page = ops::page(c, &aid, &q2, &cursor)?;
        let managed = match manage.filter(|id| !id.is_empty()) {
            Some(id) => {
                let one = ops::filter(
                    c,
                    &aid,
                    &ops::Filter {
                        ids: Some(vec![id.clone()]),
                        ..ops::Filter::default()
                    },
                    1,
                    0,
                )?;
                match one.into_iter().next() {
                    Some(l) => {
                        let n = ops::workspaces_of(c, &id)?.len() as i64;
                        Some(Some(Row {
                            sa: l.sa,
                            key: l.key,
                            workspaces: n,
                        }))
                    }
                    None => None,
                }
            }
            None => Some(None),
        };
        let (wss, roles) = if can_create {
            (
                workspaces::in_account(c, &aid, MAX_WORKSPACES)?,
                workspaces::roles_for_account(c, &aid)?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        Ok((page, managed, wss, roles))
    })
    .await?;
    // `?manage=` names a service account of another account, or none: not found.
    let managed = managed.ok_or(AppError::NotFound)?;
    let rows: Vec<Row> = page
        .rows
        .into_iter()
        .map(|(l, n)| Row {
            workspaces: n,
            sa: l.sa,
            key: l.key,
        })
        .collect();
    let list_query = extras.list.list.encoded();
    let table = SaTable {
        account_id: ctx.account.id.clone(),
        first: rows
            .first()
            .map(|r| r.sa.name_normalized.clone())
            .unwrap_or_default(),
        last: rows
            .last()
            .map(|r| r.sa.name_normalized.clone())
            .unwrap_or_default(),
        rows,
        total: page.total,
        q: q.clone(),
        list_query: list_query.clone(),
        has_prev: page.has_prev,
        has_next: page.has_next,
        can_manage,
    };
    if crate::web::is_htmx(req)
        && req
            .headers()
            .get("HX-Target")
            .is_some_and(|v| v.as_bytes() == b"sa-table")
    {
        return render(status, &table);
    }
    render(
        status,
        &IndexPage {
            account_id: ctx.account.id.clone(),
            account_name: ctx.account.name.clone(),
            csrf: ctx.auth.shell.csrf.clone(),
            can_create,
            can_update: ctx.can(AccountPerm::UpdateBot),
            can_delete: ctx.can(AccountPerm::DeleteBot),
            q,
            table,
            managed,
            here: format!("/account/{}/service-accounts?{list_query}", ctx.account.id),
            workspaces: wss,
            roles,
            form: extras.form.unwrap_or_default(),
            errors: extras.errors,
            edit: extras.edit,
            reveal: extras.reveal,
            notice: extras.notice,
            error: extras.error,
            shell: ctx.auth.shell.at("service-accounts"),
        },
    )
}

async fn index(
    req: HttpRequest,
    ctx: AccountCtx,
    query: web::Query<IndexQuery>,
) -> Result<HttpResponse, AppError> {
    show(
        &req,
        ctx,
        Extras {
            list: query.into_inner(),
            ..Extras::default()
        },
        StatusCode::OK,
    )
    .await
}

fn who(req: &HttpRequest, ctx: &AccountCtx) -> Who {
    Who {
        holder: KeyHolder::User(ctx.auth.user.clone()),
        ip: client_ip(req),
    }
}

/// The operations' caller: the signed-in user, from where the page was asked.
fn who_of(a: &Acting) -> Who {
    Who {
        holder: KeyHolder::User(a.user.clone()),
        ip: a.ip.clone(),
    }
}

/// The login command's workspace for a service account: its first workspace, else a
/// placeholder under the account's handle.
fn login_workspace(account_handle: &str, first: Option<&Workspace>) -> String {
    match first {
        Some(w) => format!("{account_handle}/{}", w.handle),
        None => format!("{account_handle}/<workspace-handle>"),
    }
}

async fn create(
    req: HttpRequest,
    ctx: AccountCtx,
    cfg: web::Data<AppConfig>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadBot)?;
    ctx.require(AccountPerm::CreateBot)?;
    let form = form.into_inner();
    let expires_at = match crate::apikeys::parse_expiration_date(&form.expiration) {
        Ok(t) => t,
        Err(msg) => {
            let mut errors = FieldErrors::default();
            if let Err(m) = ops::parse_name(&form.name) {
                errors.add("name", m);
            }
            errors.add("expiration", msg);
            return refused_create(&req, ctx, form, errors).await;
        }
    };
    // "No workspace" ignores the role select (it always has a value).
    let access = (!form.workspace_id.is_empty() && form.workspace_id != NO_WORKSPACE)
        .then(|| (form.workspace_id.clone(), form.role_id.clone()));
    let input = NewServiceAccount {
        name: form.name.clone(),
        expires_at,
        access,
    };
    let result = ctx
        .try_op(&req, move |c, a| {
            ops::create(c, &who_of(a), &a.account.id, input)
        })
        .await?;
    match result {
        Ok(created) => {
            let first = created.access.as_ref().map(|(w, _)| w);
            let reveal = Reveal::new(
                format!("Service account “{}” created", created.sa.name),
                created.plain.clone(),
                &login_workspace(&ctx.account.handle, first),
                &cfg.base(),
            );
            show(
                &req,
                ctx,
                Extras {
                    reveal: Some(reveal),
                    ..Extras::default()
                },
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let errors = match refusal(e)? {
                Refusal::Fields(f) => f,
                Refusal::Message(m) => {
                    let mut f = FieldErrors::default();
                    f.add("role_id", m);
                    f
                }
            };
            refused_create(&req, ctx, form, errors).await
        }
    }
}

async fn refused_create(
    req: &HttpRequest,
    ctx: AccountCtx,
    form: CreateForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    show(
        req,
        ctx,
        Extras {
            form: Some(form),
            errors,
            ..Extras::default()
        },
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

#[derive(Deserialize)]
struct RenameForm {
    #[serde(default)]
    name: String,
}

async fn rename(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
    form: web::Form<RenameForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadBot)?;
    ctx.require(AccountPerm::UpdateBot)?;
    let (_, sa_id) = path.into_inner();
    let (sa, name) = (
        ServiceAccountId::from_stored(sa_id.clone()),
        form.name.clone(),
    );
    let result = ctx
        .try_op(&req, move |c, a| {
            ops::rename(c, &who_of(a), &a.account.id, &sa, &name)
        })
        .await?;
    match result {
        Ok(sa) => {
            show(
                &req,
                ctx,
                Extras {
                    notice: Some(format!("Renamed to “{}”.", sa.name)),
                    ..Extras::default()
                },
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let errors = match refusal(e)? {
                Refusal::Fields(f) => f,
                Refusal::Message(m) => {
                    let mut f = FieldErrors::default();
                    f.add("name", m);
                    f
                }
            };
            show(
                &req,
                ctx,
                Extras {
                    edit: RowEdit {
                        sa_id,
                        kind: "rename",
                        name: form.name.clone(),
                        errors,
                        ..RowEdit::default()
                    },
                    ..Extras::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(Deserialize)]
struct RotateForm {
    #[serde(default)]
    expiration: String,
    #[serde(default)]
    overlap_hours: String,
}

/// Hours the old key keeps working: empty or 0 = it stops now; at most 48.
fn parse_overlap_hours(raw: &str) -> Result<i64, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(0);
    }
    let hours: i64 = raw
        .parse()
        .map_err(|_| "Enter a whole number of hours from 0 to 48.")?;
    if hours < 0 {
        return Err("Enter a whole number of hours from 0 to 48.");
    }
    if hours > 48 {
        return Err(ops::OVERLAP_TOO_LONG);
    }
    Ok(hours)
}

async fn rotate(
    req: HttpRequest,
    ctx: AccountCtx,
    cfg: web::Data<AppConfig>,
    path: web::Path<(String, String)>,
    form: web::Form<RotateForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadBot)?;
    ctx.require(AccountPerm::UpdateBot)?;
    let (_, sa_id) = path.into_inner();
    let mut errors = FieldErrors::default();
    let expires_at = crate::apikeys::parse_expiration_date(&form.expiration)
        .map_err(|m| errors.add("expiration", m))
        .ok();
    let hours = parse_overlap_hours(&form.overlap_hours)
        .map_err(|m| errors.add("overlap_hours", m))
        .ok();
    let refused = |errors: FieldErrors| RowEdit {
        sa_id: sa_id.clone(),
        kind: "rotate",
        expiration: form.expiration.clone(),
        overlap_hours: form.overlap_hours.clone(),
        errors,
        ..RowEdit::default()
    };
    let (Some(expires_at), Some(hours)) = (expires_at, hours) else {
        // Make sure the service account exists for the caller before showing the form open.
        let (aid, id) = (ctx.account.id.clone(), sa_id.clone());
        db(&ctx.auth.pool, move |c| Ok(ops::find(c, &aid, &id)?))
            .await?
            .ok_or(AppError::NotFound)?;
        return show(
            &req,
            ctx,
            Extras {
                edit: refused(errors),
                ..Extras::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let overlap = (hours > 0).then(|| chrono::TimeDelta::hours(hours));
    let (who, aid, id) = (who(&req, &ctx), ctx.account.id.clone(), sa_id.clone());
    let result = db(&ctx.auth.pool, move |c| {
        let r = ops::rotate(
            c,
            &who,
            &aid,
            &ServiceAccountId::from_stored(id.clone()),
            expires_at,
            overlap,
        );
        let first = match &r {
            Ok(_) => ops::workspaces_of(c, &id)?
                .into_iter()
                .next()
                .map(|(w, _, _)| w),
            Err(_) => None,
        };
        Ok((r, first))
    })
    .await?;
    match result {
        (Ok(rotated), first) => {
            let mut reveal = Reveal::new(
                format!("New key for “{}”", rotated.sa.name),
                rotated.plain.clone(),
                &login_workspace(&ctx.account.handle, first.as_ref()),
                &cfg.base(),
            );
            reveal.title = match rotated.old_until {
                Some(t) => format!(
                    "New key for “{}”: the old key works until {}",
                    rotated.sa.name,
                    crate::apikeys::when(&Some(t))
                ),
                None => format!(
                    "New key for “{}”: the old key no longer works",
                    rotated.sa.name
                ),
            };
            show(
                &req,
                ctx,
                Extras {
                    reveal: Some(reveal),
                    ..Extras::default()
                },
                StatusCode::OK,
            )
            .await
        }
        (Err(e), _) => {
            let errors = match refusal(e)? {
                Refusal::Fields(f) => f,
                Refusal::Message(m) => {
                    let mut f = FieldErrors::default();
                    f.add("expiration", m);
                    f
                }
            };
            show(
                &req,
                ctx,
                Extras {
                    edit: refused(errors),
                    ..Extras::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn delete(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadBot)?;
    ctx.require(AccountPerm::DeleteBot)?;
    let sa_id = ServiceAccountId::parse(&path.1).ok_or(AppError::NotFound)?;
    let result = ctx
        .try_op(&req, move |c, a| {
            ops::delete(c, &who_of(a), &a.account.id, &sa_id)
        })
        .await?;
    let extras = match result {
        Ok(sa) => Extras {
            notice: Some(format!(
                "Service account “{}” deleted; its keys no longer work.",
                sa.name
            )),
            ..Extras::default()
        },
        Err(e) => match refusal(e)? {
            Refusal::Fields(_) => Extras::default(),
            Refusal::Message(m) => Extras {
                error: Some(m.into()),
                ..Extras::default()
            },
        },
    };
    show(&req, ctx, extras, StatusCode::OK).await
}

//! Organization accounts: create, settings (rename, handle), delete.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::ops;
use crate::authz::AccountPerm;
use crate::authz::account::{
    may_require_two_factor, may_set_audit_retention, may_set_run_retention,
};
use crate::users::domain::{Handle, Name};
use crate::web::ctx::AccountCtx;
use crate::web::ctx::Auth;
use crate::web::{
    AppError, FieldErrors, Shell, client_ip, db, page, redirect, render, with_fields,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/accounts/new", web::get().to(new_page))
        .route("/accounts/new", web::post().to(create))
        .route("/account/{account_id}", web::get().to(account_home))
        .route(
            "/account/{account_id}/settings",
            web::get().to(settings_page),
        )
        .route("/account/{account_id}/settings", web::post().to(update))
        .route("/account/{account_id}/delete", web::post().to(delete))
        .route("/account/{account_id}/delete", web::get().to(delete_page));
}

/// The delete form is on the settings page.
async fn delete_page(ctx: AccountCtx) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadAccount)?;
    Ok(crate::web::back_to(&format!(
        "/account/{}/settings#delete-account",
        ctx.account.id
    )))
}

#[derive(Deserialize, Default, Clone)]
pub struct AccountForm {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub handle: String,
    /// Settings page only: empty = unlimited.
    #[serde(default)]
    pub workspace_limit: String,
    /// Settings page only: days the audit log keeps events (empty = the default).
    #[serde(default)]
    pub audit_retention_days: String,
    /// Settings page only: days the account's Prefect servers keep a flow run after it
    /// ended (empty = the default).
    #[serde(default)]
    pub flow_run_retention_days: String,
    /// Settings page only: the checkbox "Require two-factor authentication for members"
    /// (absent: off).
    #[serde(default)]
    pub require_two_factor: Option<String>,
}

pub const TWO_FACTOR_OWNERS_ONLY: &str =
    "Only Owners change whether members must use two-factor authentication.";

/// Reads the checkbox: absent or empty is off, `on` (what browsers send) is on.
fn parse_checkbox(raw: Option<&str>) -> Result<bool, &'static str> {
    match raw.map(str::trim) {
        None | Some("") | Some("off") | Some("false") | Some("0") => Ok(false),
        Some("on") | Some("true") | Some("1") => Ok(true),
        Some(_) => Err("Tick the box or leave it clear."),
    }
}

/// Parses how many days audit events are kept (empty = the default).
pub const RETENTION_OWNERS_ONLY: &str = "Only Owners change how long audit events are kept.";

fn parse_retention(raw: &str) -> Result<i32, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(crate::audit::retention::DEFAULT_DAYS);
    }
    match raw.parse::<i32>() {
        Ok(n) if crate::audit::retention::DAYS.contains(&n) => Ok(n),
        _ => Err("Enter a whole number of days from 1 to 3650, or leave it empty for 365."),
    }
}

pub const RUN_RETENTION_OWNERS_ONLY: &str = "Only Owners change how long flow runs are kept.";

/// Parses how many days flow runs are kept (empty = the default).
fn parse_run_retention(raw: &str) -> Result<i32, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(crate::servers::retention::DEFAULT_DAYS);
    }
    match raw.parse::<i32>() {
        Ok(n) if crate::servers::retention::DAYS.contains(&n) => Ok(n),
        _ => Err("Enter a whole number of days from 1 to 3650, or leave it empty for 90."),
    }
}

/// Parses the optional workspace limit (empty = unlimited).
fn parse_limit(raw: &str) -> Result<Option<i64>, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<i64>() {
        Ok(n) if (1..=100_000).contains(&n) => Ok(Some(n)),
        _ => Err("Enter a whole number from 1 to 100000, or leave it empty for no limit."),
    }
}

fn parse(form: &AccountForm) -> Result<(Name, Handle), FieldErrors> {
    let mut errors = FieldErrors::default();
    let name = Name::parse(&form.name, "a name", true)
        .map_err(|e| errors.add("name", e))
        .ok();
    let handle = Handle::parse(&form.handle)
        .map_err(|e| errors.add("handle", e))
        .ok();
    match (name, handle) {
        (Some(n), Some(h)) => Ok((n, h)),
        _ => Err(errors),
    }
}

#[derive(Template)]
#[template(path = "accounts/new.html")]
struct NewAccountPage {
    shell: Shell,
    form: AccountForm,
    errors: FieldErrors,
}

async fn new_page(auth: Auth) -> Result<HttpResponse, AppError> {
    page(&NewAccountPage {
        shell: auth.shell,
        form: AccountForm::default(),
        errors: FieldErrors::default(),
    })
}

async fn create(
    req: HttpRequest,
    auth: Auth,
    form: web::Form<AccountForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let (name, handle) = match parse(&form) {
        Ok(v) => v,
        Err(errors) => {
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &NewAccountPage {
                    shell: auth.shell,
                    form,
                    errors,
                },
            );
        }
    };
    let (user, ip) = (auth.user.clone(), client_ip(&req));
    let created = db(&auth.pool, move |c| {
        Ok(ops::create(c, &name, &handle, &user, ip))
    })
    .await?;
    match with_fields(created)? {
        Ok(account) => Ok(crate::web::flash::redirect_noting(
            &req,
            &auth.session,
            &format!("/account/{}/members", account.id),
            &format!(
                "Organization “{}” created. You are its Owner.",
                account.name
            ),
        )),
        Err(errors) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &NewAccountPage {
                shell: auth.shell,
                form,
                errors,
            },
        ),
    }
}

async fn account_home(ctx: AccountCtx) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", format!("/account/{}/members", ctx.account.id)))
        .finish())
}

#[derive(Template)]
#[template(path = "accounts/settings.html")]
struct SettingsPage {
    shell: Shell,
    account_id: String,
    account_handle: String,
    personal: bool,
    can_update: bool,
    can_delete: bool,
    /// Only Owners change the audit retention.
    can_set_retention: bool,
    /// Only Owners change the flow run retention.
    can_set_run_retention: bool,
    /// Only Owners of organizations require two-factor authentication of members.
    can_require_two_factor: bool,
    form: AccountForm,
    errors: FieldErrors,
    delete_error: Option<String>,
    notice: Option<String>,
}

impl SettingsPage {
    fn of(ctx: AccountCtx) -> Self {
        SettingsPage {
            account_id: ctx.account.id.clone(),
            account_handle: ctx.account.handle.clone(),
            personal: ctx.account.is_personal(),
            can_update: ctx.can(AccountPerm::UpdateAccount),
            can_delete: ctx.can(AccountPerm::DeleteAccount) && !ctx.account.is_personal(),
            can_set_retention: may_set_audit_retention(ctx.role),
            can_set_run_retention: may_set_run_retention(ctx.role),
            can_require_two_factor: may_require_two_factor(ctx.role),
            form: AccountForm {
                name: ctx.account.name.clone(),
                handle: ctx.account.handle.clone(),
                workspace_limit: ctx
                    .account
                    .workspace_limit
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
                audit_retention_days: ctx.account.audit_retention_days.to_string(),
                flow_run_retention_days: ctx.account.flow_run_retention_days.to_string(),
                require_two_factor: ctx.account.require_two_factor.then(|| "on".into()),
            },
            errors: FieldErrors::default(),
            delete_error: None,
            notice: None,
            shell: ctx.auth.shell.at("account-settings"),
        }
    }
}

async fn settings_page(ctx: AccountCtx) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadAccount)?;
    page(&SettingsPage::of(ctx))
}

async fn update(
    req: HttpRequest,
    ctx: AccountCtx,
    form: web::Form<AccountForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadAccount)?;
    ctx.require(AccountPerm::UpdateAccount)?;
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let parsed = parse(&form);
    let (name, handle) = match parsed {
        Ok(v) => v,
        Err(e) => {
            errors = e;
            let mut p = SettingsPage::of(ctx);
            p.form = form;
            p.errors = errors;
            return render(StatusCode::UNPROCESSABLE_ENTITY, &p);
        }
    };
    if ctx.account.is_personal() && handle.as_str() != ctx.account.handle {
        errors.add("handle", "A personal account keeps its owner's handle.");
    }
    let limit = parse_limit(&form.workspace_limit)
        .map_err(|e| errors.add("workspace_limit", e))
        .ok()
        .flatten();
    let retention = parse_retention(&form.audit_retention_days)
        .map_err(|e| errors.add("audit_retention_days", e))
        .unwrap_or(ctx.account.audit_retention_days);
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if retention != ctx.account.audit_retention_days && !may_set_audit_retention(ctx.role) {
        errors.add("audit_retention_days", RETENTION_OWNERS_ONLY);
        status = StatusCode::FORBIDDEN;
    }
    let run_retention = parse_run_retention(&form.flow_run_retention_days)
        .map_err(|e| errors.add("flow_run_retention_days", e))
        .unwrap_or(ctx.account.flow_run_retention_days);
    if run_retention != ctx.account.flow_run_retention_days && !may_set_run_retention(ctx.role) {
        errors.add("flow_run_retention_days", RUN_RETENTION_OWNERS_ONLY);
        status = StatusCode::FORBIDDEN;
    }
    // A personal account has no other members: the setting is for organizations.
    let require_two_factor = if ctx.account.is_personal() {
        ctx.account.require_two_factor
    } else {
        parse_checkbox(form.require_two_factor.as_deref())
            .map_err(|e| errors.add("require_two_factor", e))
            .unwrap_or(ctx.account.require_two_factor)
    };
    if require_two_factor != ctx.account.require_two_factor && !may_require_two_factor(ctx.role) {
        errors.add("require_two_factor", TWO_FACTOR_OWNERS_ONLY);
        status = StatusCode::FORBIDDEN;
    }
    if !errors.is_empty() {
        let mut p = SettingsPage::of(ctx);
        p.form = form;
        p.errors = errors;
        return render(status, &p);
    }
    let settings = ops::NewSettings {
        name,
        handle,
        workspace_limit: limit,
        audit_retention_days: retention,
        flow_run_retention_days: run_retention,
        require_two_factor,
    };
    let saved = ctx
        .try_op(&req, move |c, a| {
            ops::update(c, &a.account, &settings, &a.user, a.ip.clone())
        })
        .await?;
    let saved = with_fields(saved)?;
    let mut p = SettingsPage::of(ctx);
    if let Err(errors) = saved {
        p.form = form;
        p.errors = errors;
        render(StatusCode::UNPROCESSABLE_ENTITY, &p)
    } else {
        p.form = AccountForm {
            name: form.name.trim().into(),
            handle: form.handle.trim().into(),
            workspace_limit: limit.map(|n| n.to_string()).unwrap_or_default(),
            audit_retention_days: retention.to_string(),
            flow_run_retention_days: run_retention.to_string(),
            require_two_factor: require_two_factor.then(|| "on".into()),
        };
        p.account_handle = p.form.handle.clone();
        p.notice = Some("Account settings saved.".into());
        if let Some(cur) = p.shell.current.as_mut() {
            cur.name = p.form.name.clone();
        }
        page(&p)
    }
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    confirm_handle: String,
}

async fn delete(
    req: HttpRequest,
    ctx: AccountCtx,
    cfg: web::Data<crate::settings::AppConfig>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadAccount)?;
    ctx.require(AccountPerm::DeleteAccount)?;
    if ctx.account.is_personal() {
        let mut p = SettingsPage::of(ctx);
        p.delete_error = Some("A personal account cannot be deleted.".into());
        return render(StatusCode::UNPROCESSABLE_ENTITY, &p);
    }
    let back = format!("/account/{}/settings", ctx.account.id);
    if let Some(r) =
        crate::web::sudo::require(&req, &ctx.auth.session, &ctx.auth.shell, &cfg, &back)?
    {
        return Ok(r);
    }
    if form.confirm_handle.trim() != ctx.account.handle {
        let mut p = SettingsPage::of(ctx);
        p.delete_error = Some("Type the account's handle exactly to confirm.".into());
        return render(StatusCode::UNPROCESSABLE_ENTITY, &p);
    }
    ctx.op(&req, move |c, a| {
        ops::delete(c, &a.account, &a.user, a.ip.clone())
    })
    .await?;
    Ok(redirect(&req, "/"))
}

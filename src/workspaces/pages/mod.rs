//! Workspace pages: the account's workspace list and create form, onboarding's create
//! form, the dashboard and the switcher.

pub mod picker;
pub mod settings;
pub mod sharing;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::ops::{self, Reachable, Workspace};
pub use super::ops::{HANDLE_TAKEN, ValidWorkspace, WorkspaceForm, validate};
use crate::authz::{AccountPerm, PermSet};
use crate::settings::AppConfig;
use crate::web::ctx::AccountCtx;
use crate::web::ctx::Auth;
use crate::web::ctx::WorkspaceCtx;
use crate::web::shell::AccountLink;
use crate::web::{AppError, FieldErrors, Shell, client_ip, db, page, render, with_fields};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/{account_id}/workspaces", web::get().to(list))
        .route(
            "/account/{account_id}/workspaces",
            web::post().to(create_in_account),
        )
        .route(
            "/onboarding/workspace",
            web::post().to(create_from_onboarding),
        )
        .route(
            "/account/{account_id}/workspace/{workspace_id}/dashboard",
            web::get().to(dashboard),
        )
        .route("/switcher", web::get().to(switcher))
        .configure(picker::routes);
}

pub const SWITCHER_LIMIT: i64 = 50;

/// Accounts in which the user may create workspaces.
pub fn creatable_accounts(shell: &Shell) -> Vec<AccountLink> {
    shell
        .accounts
        .iter()
        .filter(|a| PermSet::of_role(a.role).has(AccountPerm::CreateWorkspace))
        .cloned()
        .collect()
}

/// Creates the workspace in one transaction (handle and limit checked inside it).
async fn create(
    req: &HttpRequest,
    auth: &Auth,
    account_id: String,
    valid: ValidWorkspace,
) -> Result<Result<Workspace, FieldErrors>, AppError> {
    let (user, ip) = (auth.user.clone(), client_ip(req));
    with_fields(
        db(&auth.pool, move |c| {
            Ok(ops::create(c, &account_id, &user, &valid, ip))
        })
        .await?,
    )
}

fn dashboard_path(ws: &Workspace) -> String {
    format!("/account/{}/workspace/{}/dashboard", ws.account_id, ws.id)
}

// ---------- the account's workspaces ----------

#[derive(Template)]
#[template(path = "workspaces/index.html")]
struct WorkspacesPage {
    shell: Shell,
    account_id: String,
    account_name: String,
    can_create: bool,
    /// The filter's text.
    q: String,
    /// The list: the same fragment htmx asks for alone (`HX-Target: workspaces-table`).
    table: WorkspacesTable,
    form: WorkspaceForm,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "workspaces/_table.html")]
struct WorkspacesTable {
    account_id: String,
    rows: Vec<Workspace>,
    total: i64,
    q: String,
    /// The first and last handles shown ("Previous" and "Next" page around them).
    first: String,
    last: String,
    has_prev: bool,
    has_next: bool,
    /// Managed Prefect servers by workspace id: their state.
    servers: std::collections::HashMap<String, String>,
}

impl WorkspacesTable {
    /// What the list says of a workspace's managed Prefect server.
    fn server_of(&self, workspace_id: &str) -> &str {
        match self.servers.get(workspace_id).map(String::as_str) {
            Some("running") => "Running",
            Some("starting") => "Starting",
            Some("failed") => "Failed",
            Some(_) => "Stopped",
            None => "Not started",
        }
    }
}

use crate::web::list::ListQuery;

async fn list_page(
    req: &HttpRequest,
    ctx: AccountCtx,
    query: &ListQuery,
    form: WorkspaceForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (q, cursor) = query.parts();
    let (uid, aid, q2) = (ctx.auth.user.id.clone(), ctx.account.id.clone(), q.clone());
    let (page, servers) = db(&ctx.auth.pool, move |c| {
        let page = ops::list_page(c, &uid, &aid, &q2, &cursor)?;
        let ids: Vec<String> = page.rows.iter().map(|w| w.id.clone()).collect();
        let servers = crate::servers::ops::managed_of(c, &ids)?
            .into_iter()
            .map(|m| (m.workspace_id, m.state))
            .collect();
        Ok((page, servers))
    })
    .await?;
    let table = WorkspacesTable {
        account_id: ctx.account.id.clone(),
        first: page
            .rows
            .first()
            .map(|w| w.handle.clone())
            .unwrap_or_default(),
        last: page
            .rows
            .last()
            .map(|w| w.handle.clone())
            .unwrap_or_default(),
        rows: page.rows,
        total: page.total,
        q: q.clone(),
        has_prev: page.has_prev,
        has_next: page.has_next,
        servers,
    };
    if crate::web::is_htmx(req)
        && req
            .headers()
            .get("HX-Target")
            .is_some_and(|v| v.as_bytes() == b"workspaces-table")
    {
        return render(status, &table);
    }
    render(
        status,
        &WorkspacesPage {
            account_id: ctx.account.id.clone(),
            account_name: ctx.account.name.clone(),
            can_create: ctx.can(AccountPerm::CreateWorkspace),
            q,
            table,
            form,
            errors,
            shell: ctx.auth.shell.at("workspaces"),
        },
    )
}

async fn list(
    req: HttpRequest,
    ctx: AccountCtx,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    list_page(
        &req,
        ctx,
        &query,
        WorkspaceForm::default(),
        FieldErrors::default(),
        StatusCode::OK,
    )
    .await
}

async fn create_in_account(
    req: HttpRequest,
    ctx: AccountCtx,
    form: web::Form<WorkspaceForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require(AccountPerm::CreateWorkspace)?;
    let form = form.into_inner();
    let valid = match validate(&form) {
        Ok(v) => v,
        Err(errors) => {
            return list_page(
                &req,
                ctx,
                &ListQuery::default(),
                form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match create(&req, &ctx.auth, ctx.account.id.clone(), valid).await? {
        Ok(ws) => Ok(crate::web::flash::redirect_noting(
            &req,
            &ctx.auth.session,
            &dashboard_path(&ws),
            &format!("Workspace “{}” created.", ws.name),
        )),
        Err(errors) => {
            list_page(
                &req,
                ctx,
                &ListQuery::default(),
                form,
                errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

// ---------- onboarding ----------

#[derive(Template)]
#[template(path = "workspaces/onboarding.html")]
pub struct OnboardingPage {
    pub shell: Shell,
    pub first_name: String,
    pub accounts: Vec<AccountLink>,
    pub form: WorkspaceForm,
    pub errors: FieldErrors,
}

pub fn onboarding_page(auth: Auth, form: WorkspaceForm, errors: FieldErrors) -> OnboardingPage {
    let accounts = creatable_accounts(&auth.shell);
    OnboardingPage {
        first_name: auth.user.first_name.clone(),
        accounts,
        form,
        errors,
        shell: auth.shell,
    }
}

async fn create_from_onboarding(
    req: HttpRequest,
    auth: Auth,
    form: web::Form<WorkspaceForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let mut valid = validate(&form);
    if !creatable_accounts(&auth.shell)
        .iter()
        .any(|a| a.id == form.account_id)
    {
        let mut errors = match valid {
            Err(e) => e,
            Ok(_) => FieldErrors::default(),
        };
        errors.add(
            "account_id",
            "Choose an account in which you may create workspaces.",
        );
        valid = Err(errors);
    }
    let valid = match valid {
        Ok(v) => v,
        Err(errors) => {
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &onboarding_page(auth, form, errors),
            );
        }
    };
    match create(&req, &auth, form.account_id.clone(), valid).await? {
        Ok(ws) => Ok(crate::web::flash::redirect_noting(
            &req,
            &auth.session,
            &dashboard_path(&ws),
            &format!("Workspace “{}” created.", ws.name),
        )),
        Err(errors) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &onboarding_page(auth, form, errors),
        ),
    }
}

/// Where "/" goes for a logged-in user: the last workspace used that they can still
/// reach, else onboarding.
pub async fn home_for(pool: &crate::db::Pool, user_id: &str) -> Result<String, AppError> {
    let uid = user_id.to_string();
    let first = db(pool, move |c| Ok(ops::reachable(c, &uid, "", 1)?)).await?;
    Ok(match first.first() {
        Some(r) => dashboard_path(&r.workspace),
        None => "/onboarding".into(),
    })
}

// ---------- dashboard ----------

#[derive(Template)]
#[template(path = "workspaces/dashboard.html")]
struct DashboardPage {
    shell: Shell,
    account_handle: String,
    ws: Workspace,
    role: String,
    members: i64,
    service_accounts: i64,
    login_command: String,
    api_url: String,
    /// `<public url>/api`, for `PREFECT_CLOUD_API_URL`.
    cloud_url: String,
    /// The workspace's work, read from its Prefect server (`None`: not read, see `server_note`).
    work: Option<crate::servers::view::Work>,
    /// What the dashboard says of the server when it shows no work.
    server_note: String,
    /// `/account/{a}/workspace/{w}`.
    base: String,
}

/// The workspace's work from its server, when one runs (a dashboard view starts none).
async fn work_of(
    ctx: &WorkspaceCtx,
    cfg: &AppConfig,
    up: &crate::egress::Upstream,
    spawner: &crate::servers::spawner::Spawner,
) -> Result<(Option<crate::servers::view::Work>, String), AppError> {
    if !ctx.has("see_flows") {
        return Ok((None, String::new()));
    }
    let wid = ctx.workspace.id.clone();
    let server = db(&ctx.auth.pool, move |c| {
        Ok(crate::servers::ops::find(c, &wid)?)
    })
    .await?;
    let place = match server {
        Some(s) => {
            let allowed = url::Url::parse(&s.url)
                .ok()
                .is_some_and(|u| up.egress.check_literal(&u).is_ok());
            match cfg.sealer.open(&s.auth_sealed).filter(|_| allowed) {
                Some(auth) => crate::servers::view::Place { url: s.url, auth },
                None => return Ok((None, "Its Prefect server cannot be reached.".into())),
            }
        }
        None if spawner.enabled() => match spawner.running_address(&ctx.workspace.id).await {
            Some(a) => crate::servers::view::Place {
                url: a.url,
                auth: a.auth,
            },
            None => {
                return Ok((
                    None,
                    "Its Prefect server is stopped: the next call to the workspace starts it."
                        .into(),
                ));
            }
        },
        None => {
            return Ok((
                None,
                "No Prefect server is connected to this workspace yet.".into(),
            ));
        }
    };
    Ok(match crate::servers::view::work(&up.http, &place).await {
        Ok(w) => (Some(w), String::new()),
        Err(e) => (None, format!("Its Prefect server could not be read: {e}.")),
    })
}

async fn dashboard(
    ctx: WorkspaceCtx,
    cfg: web::Data<AppConfig>,
    up: web::Data<crate::egress::Upstream>,
    spawner: web::Data<crate::servers::spawner::Spawner>,
) -> Result<HttpResponse, AppError> {
    let (uid, wid) = (ctx.auth.user.id.clone(), ctx.workspace.id.clone());
    db(&ctx.auth.pool, move |c| Ok(ops::note_visit(c, &uid, &wid)?)).await?;
    // Both totals came with the workspace (kept by the database on every change).
    let (members, service_accounts) = (
        ctx.workspace.user_access_count,
        ctx.workspace.bot_access_count,
    );
    let api_url = format!(
        "{}/api/accounts/{}/workspaces/{}",
        cfg.base(),
        ctx.account.id,
        ctx.workspace.id
    );
    let login_command = format!(
        "prefect cloud login -k <your API key> --workspace {}/{}",
        ctx.account.handle, ctx.workspace.handle
    );
    let (work, server_note) = work_of(&ctx, &cfg, &up, &spawner).await?;
    page(&DashboardPage {
        work,
        server_note,
        base: format!("/account/{}/workspace/{}", ctx.account.id, ctx.workspace.id),
        role: ctx.role_label(),
        account_handle: ctx.account.handle.clone(),
        ws: ctx.workspace.clone(),
        members,
        service_accounts,
        login_command,
        api_url,
        cloud_url: format!("{}/api", cfg.base()),
        shell: ctx.auth.shell.at("dashboard"),
    })
}

// ---------- switcher ----------

#[derive(Deserialize)]
struct SwitcherQuery {
    #[serde(default)]
    q: String,
}

pub struct SwitcherGroup {
    pub account_name: String,
    pub items: Vec<Reachable>,
}

#[derive(Template)]
#[template(path = "workspaces/_switcher.html")]
struct SwitcherFragment {
    groups: Vec<SwitcherGroup>,
    q: String,
    can_create: Option<String>,
    /// The workspace of the page the switcher is on (marked in the list).
    current: Option<String>,
    /// How many are listed, and whether more match (the list then says so).
    shown: i64,
    more: bool,
    /// Where "see all workspaces" goes.
    all_href: Option<String>,
}

/// The account of the page htmx says the request comes from
/// (`/account/{a}/…` in `HX-Current-URL`).
fn current_account(req: &HttpRequest) -> Option<String> {
    let url = url::Url::parse(req.headers().get("HX-Current-URL")?.to_str().ok()?).ok()?;
    let mut parts = url.path_segments()?;
    while let Some(p) = parts.next() {
        if p == "account" {
            return parts.next().map(str::to_string);
        }
    }
    None
}

/// The workspace of the page htmx says the request comes from
/// (`/account/{a}/workspace/{w}/…` in `HX-Current-URL`).
fn current_workspace(req: &HttpRequest) -> Option<String> {
    let url = url::Url::parse(req.headers().get("HX-Current-URL")?.to_str().ok()?).ok()?;
    let mut parts = url.path_segments()?;
    while let Some(p) = parts.next() {
        if p == "workspace" {
            return parts.next().map(str::to_string);
        }
    }
    None
}

/// The switcher's list: reachable workspaces grouped by account, most recently used
/// first, at most 50, filtered on the server.
async fn switcher(
    req: HttpRequest,
    auth: Auth,
    q: web::Query<SwitcherQuery>,
) -> Result<HttpResponse, AppError> {
    let (uid, query) = (
        auth.user.id.clone(),
        q.q.chars().take(100).collect::<String>(),
    );
    let q2 = query.clone();
    // One row past the limit says whether the list stops short ("Showing the first 50"),
    // without counting every reachable workspace: a count re-checks the reachability of all
    // of them (own role, default role, teams) and cost 3× the whole fragment at 1,000
    // workspaces (bench/results, switcher fragment).
    let mut rows = db(&auth.pool, move |c| {
        Ok(ops::reachable(c, &uid, &q2, SWITCHER_LIMIT + 1)?)
    })
    .await?;
    let more = rows.len() as i64 > SWITCHER_LIMIT;
    rows.truncate(SWITCHER_LIMIT as usize);
    let shown = rows.len() as i64;
    let mut groups: Vec<SwitcherGroup> = Vec::new();
    for r in rows {
        match groups.iter_mut().find(|g| g.account_name == r.account_name) {
            Some(g) => g.items.push(r),
            None => groups.push(SwitcherGroup {
                account_name: r.account_name.clone(),
                items: vec![r],
            }),
        }
    }
    let can_create = creatable_accounts(&auth.shell)
        .first()
        .map(|a| format!("/account/{}/workspaces#create", a.id));
    // "See all workspaces": the list of the account of the page the switcher is on, else
    // of the user's first account.
    let all_href = current_account(&req)
        .filter(|id| auth.shell.accounts.iter().any(|a| &a.id == id))
        .or_else(|| auth.shell.accounts.first().map(|a| a.id.clone()))
        .map(|id| {
            format!(
                "/account/{id}/workspaces?q={}",
                url::form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
            )
        });
    render(
        StatusCode::OK,
        &SwitcherFragment {
            groups,
            q: query,
            can_create,
            current: current_workspace(&req),
            shown,
            more,
            all_href,
        },
    )
}

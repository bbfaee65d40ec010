//! Workspace Settings, Prefect server: the server behind the workspace (its address, the
//! masked auth string, the version it reported, connected or unreachable since …), and the
//! form that connects one — checked before it is saved — or disconnects it.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::ops::{self, Connection, Server};
use super::probe;
use crate::audit::Actor;
use crate::egress::Upstream;
use crate::outcome::{OpError, Refusal};
use crate::settings::AppConfig;
use crate::web::ctx::WorkspaceCtx;
use crate::web::{AppError, FieldErrors, Shell, db, render};
use crate::workspaces::access::ActorRef;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/account/{account_id}/workspace/{workspace_id}/settings/server",
        web::get().to(show),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/server",
        web::post().to(connect),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/server/disconnect",
        web::post().to(disconnect),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/server/restart",
        web::post().to(restart),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/settings/server/contents",
        web::get().to(contents),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/runs/flow-run/{object_id}",
        web::get().to(object_page),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/flows/flow/{object_id}",
        web::get().to(object_page),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/deployments/deployment/{object_id}",
        web::get().to(object_page),
    )
    .route(
        "/account/{account_id}/workspace/{workspace_id}/work-pools/work-pool/{object_id}",
        web::get().to(object_page),
    );
}

#[derive(serde::Deserialize, Default)]
struct ConnectForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    auth_string: String,
}

#[derive(Template)]
#[template(path = "servers/server.html")]
struct ServerPage {
    shell: Shell,
    base: String,
    workspace_name: String,
    can_manage: bool,
    server: Option<Server>,
    url: String,
    errors: FieldErrors,
    notice: Option<String>,
    allow_list_empty: bool,
    /// The account's flow run retention (days).
    retention_days: i32,
    /// Managed servers are on (no server connected by hand: Atrium starts one).
    managed_on: bool,
    /// The managed server's row, when it was ever started.
    managed: Option<ops::Managed>,
}

impl ServerPage {
    /// How long the managed server keeps flow runs (the account's setting), and whether
    /// the running server still has to pick up a change.
    fn retention(&self) -> String {
        let days = self.retention_days;
        let pending = self
            .managed
            .as_ref()
            .is_some_and(|m| m.state == "running" && m.retention_days.is_some_and(|d| d != days));
        format!(
            "{days} day{} after they end (the account's setting){}",
            if days == 1 { "" } else { "s" },
            if pending {
                "; the running server applies a change at its next quiet moment"
            } else {
                ""
            }
        )
    }
}

impl ServerPage {
    /// The managed server's state as shown.
    fn managed_state(&self) -> String {
        let Some(m) = &self.managed else {
            return "Not started yet: the first call to the workspace starts it.".into();
        };
        let at = |t: Option<chrono::NaiveDateTime>| {
            t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default()
        };
        match m.state.as_str() {
            "running" => {
                let up = m
                    .started_at
                    .map(|t| crate::db::now() - t)
                    .map(|d| {
                        let s = d.num_seconds().max(0);
                        format!("{}h {:02}m {:02}s", s / 3600, s % 3600 / 60, s % 60)
                    })
                    .unwrap_or_default();
                format!("Running since {} (up {up})", at(m.started_at))
            }
            "starting" => "Starting".into(),
            "failed" => format!(
                "Failed at {} ({} failed start{})",
                at(m.stopped_at),
                m.failures,
                if m.failures == 1 { "" } else { "s" }
            ),
            _ => format!(
                "Stopped{} — the next call starts it",
                m.stopped_at
                    .map(|t| format!(" since {}", at(Some(t))))
                    .unwrap_or_default()
            ),
        }
    }

    fn since(&self) -> String {
        self.server
            .as_ref()
            .and_then(|s| s.unreachable_since)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default()
    }
}

async fn render_page(
    ctx: &WorkspaceCtx,
    cfg: &AppConfig,
    url: Option<String>,
    errors: FieldErrors,
    notice: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let wid = ctx.workspace.id.clone();
    let (server, managed) = db(&ctx.auth.pool, move |c| {
        Ok((ops::find(c, &wid)?, ops::find_managed(c, &wid)?))
    })
    .await?;
    let base = format!("/account/{}/workspace/{}", ctx.account.id, ctx.workspace.id);
    render(
        status,
        &ServerPage {
            shell: ctx.auth.shell.clone().at("workspace-settings"),
            base,
            workspace_name: ctx.workspace.name.clone(),
            can_manage: ctx.has(ops::MANAGE),
            url: url.unwrap_or_else(|| server.as_ref().map(|s| s.url.clone()).unwrap_or_default()),
            server,
            errors,
            notice,
            allow_list_empty: cfg.settings.prefect_server_allow.is_empty(),
            managed_on: cfg.settings.prefect_bin.is_some(),
            managed,
            retention_days: ctx.account.flow_run_retention_days,
        },
    )
}

async fn show(ctx: WorkspaceCtx, cfg: web::Data<AppConfig>) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_settings")?;
    render_page(
        &ctx,
        &cfg,
        None,
        FieldErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

/// Checks the server (health and version, at an allowed address, no redirects), then
/// records it. A blank auth string keeps the one already stored.
async fn connect(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    cfg: web::Data<AppConfig>,
    up: web::Data<Upstream>,
    form: web::Form<ConnectForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_settings")?;
    ctx.require(ops::MANAGE)?;
    let form = form.into_inner();
    let invalid = |errors: FieldErrors| {
        render_page(
            &ctx,
            &cfg,
            Some(form.url.clone()),
            errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    };
    let url = match ops::normalize_url(&form.url) {
        Ok(u) => u,
        Err(e) => return invalid(e).await,
    };
    let auth = if form.auth_string.is_empty() {
        let wid = ctx.workspace.id.clone();
        let stored = db(&ctx.auth.pool, move |c| Ok(ops::find(c, &wid)?)).await?;
        match stored.and_then(|s| cfg.sealer.open(&s.auth_sealed)) {
            Some(a) => a,
            None => return invalid(FieldErrors::one("auth_string", ops::AUTH_REQUIRED)).await,
        }
    } else {
        if let Err(e) = ops::validate_auth(&form.auth_string) {
            return invalid(e).await;
        }
        form.auth_string.clone()
    };
    let version = match probe::check(&up, &url, &auth).await {
        Ok(v) => v,
        Err(e) => {
            let (field, msg) = e.field_message();
            return invalid(FieldErrors::one(field, msg)).await;
        }
    };
    let conn = Connection {
        url: ops::url_text(&url),
        auth_sealed: cfg.sealer.seal(&auth),
        auth_mask: crate::sealed::mask(&auth),
        version: version.clone(),
    };
    let saved = ctx
        .try_op(&req, move |c, a| {
            ops::connect(
                c,
                ActorRef::User(&a.user.id),
                Some(a.user.id.clone()),
                &a.workspace,
                conn,
                Actor::user(&a.user),
                a.ip.clone(),
            )
        })
        .await?;
    match saved {
        Ok(_) => {}
        Err(OpError::Refused(Refusal::Invalid(fields))) => return invalid(fields).await,
        Err(e) => return Err(e.into()),
    }
    render_page(
        &ctx,
        &cfg,
        None,
        FieldErrors::default(),
        Some(format!("Connected to Prefect {version}.")),
        StatusCode::OK,
    )
    .await
}

async fn disconnect(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    cfg: web::Data<AppConfig>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_settings")?;
    ctx.require(ops::MANAGE)?;
    ctx.op(&req, move |c, a| {
        ops::disconnect(
            c,
            ActorRef::User(&a.user.id),
            &a.workspace,
            Actor::user(&a.user),
            a.ip.clone(),
        )
    })
    .await?;
    render_page(
        &ctx,
        &cfg,
        None,
        FieldErrors::default(),
        Some("The Prefect server was disconnected.".into()),
        StatusCode::OK,
    )
    .await
}

/// Restarts the workspace's managed server and waits for it (bounded).
async fn restart(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    cfg: web::Data<AppConfig>,
    spawner: web::Data<super::spawner::Spawner>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_settings")?;
    ctx.require(ops::MANAGE)?;
    if !spawner.enabled() {
        return Err(AppError::NotFound);
    }
    ctx.op(&req, move |c, a| {
        ops::restart(
            c,
            ActorRef::User(&a.user.id),
            &a.workspace,
            Actor::user(&a.user),
            a.ip.clone(),
        )
    })
    .await?;
    let notice = match spawner.into_inner().restart(&ctx.workspace.id).await {
        Ok(_) => "The Prefect server was restarted.".to_string(),
        Err(e) => format!("The Prefect server did not start: {e}."),
    };
    render_page(
        &ctx,
        &cfg,
        None,
        FieldErrors::default(),
        Some(notice),
        StatusCode::OK,
    )
    .await
}

#[derive(Template)]
#[template(path = "servers/_contents.html")]
struct ContentsFragment {
    intro: String,
    counts: Vec<super::view::Count>,
    error: Option<String>,
}

/// What the delete section says first: a server connected by hand (its address) keeps its
/// data; a managed one goes with the workspace.
fn intro_of(connected: Option<&str>) -> String {
    match connected {
        Some(url) => format!(
            "Its Prefect server is run by its operator at {url}: deleting this workspace leaves that server and its data as they are. It holds:"
        ),
        None => "Its managed Prefect server and everything in it are deleted with it:".into(),
    }
}

/// What the workspace's Prefect server holds (the delete section loads it): counted by
/// the server. A managed server is started for it; a server connected by hand keeps its
/// data when the workspace goes, and the fragment says so.
async fn contents(
    ctx: WorkspaceCtx,
    cfg: web::Data<AppConfig>,
    up: web::Data<Upstream>,
    spawner: web::Data<super::spawner::Spawner>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see("see_workspace_settings")?;
    ctx.require(ops::MANAGE)?;
    let (intro, counts, error) =
        match place_of(&ctx.auth.pool, &ctx.workspace.id, &cfg, &up, &spawner).await? {
            Where::NoServer => (
                "No Prefect server holds data for this workspace.".to_string(),
                Vec::new(),
                None,
            ),
            Where::Unreachable(connected, e) => {
                (intro_of(connected.as_deref()), Vec::new(), Some(e))
            }
            Where::At(connected, place) => match super::view::counts(&up.http, &place).await {
                Ok(c) => (intro_of(connected.as_deref()), c, None),
                Err(e) => (intro_of(connected.as_deref()), Vec::new(), Some(e)),
            },
        };
    render(
        StatusCode::OK,
        &ContentsFragment {
            intro,
            counts,
            error,
        },
    )
}

// ---------- the objects the `prefect` CLI links to ----------

#[derive(Template)]
#[template(path = "servers/object.html")]
struct ObjectPage {
    shell: Shell,
    workspace_name: String,
    /// "Flow run", "Flow", "Deployment", "Work pool".
    kind: &'static str,
    /// The object's name, or its id when it has none.
    title: String,
    /// (label, value) rows.
    facts: Vec<(String, String)>,
    /// Log lines (flow runs).
    logs: Vec<String>,
    /// Why nothing is shown (not found, no server).
    notice: Option<String>,
}

/// Where the workspace's server is, for a page read.
pub enum Where {
    /// It answers there; the address when it was connected by hand.
    At(Option<String>, super::view::Place),
    /// The workspace has none (none connected, managed servers off).
    NoServer,
    /// It has one that cannot be reached; the address when connected by hand, and why.
    Unreachable(Option<String>, String),
}

/// The workspace's server: connected by hand, or managed (started when it is not running:
/// opening a page that reads it is a call).
pub async fn place_of(
    pool: &crate::db::Pool,
    workspace_id: &str,
    cfg: &AppConfig,
    up: &Upstream,
    spawner: &web::Data<super::spawner::Spawner>,
) -> Result<Where, AppError> {
    let wid = workspace_id.to_string();
    let server = db(pool, move |c| Ok(ops::find(c, &wid)?)).await?;
    Ok(match server {
        Some(s) => {
            let allowed = url::Url::parse(&s.url)
                .ok()
                .is_some_and(|u| up.egress.check_literal(&u).is_ok());
            match (allowed, cfg.sealer.open(&s.auth_sealed)) {
                (false, _) => Where::Unreachable(Some(s.url), "its address is not allowed".into()),
                (true, None) => {
                    Where::Unreachable(Some(s.url), "its auth string cannot be opened".into())
                }
                (true, Some(auth)) => {
                    Where::At(Some(s.url.clone()), super::view::Place { url: s.url, auth })
                }
            }
        }
        None if spawner.enabled() => match spawner.clone().into_inner().address(workspace_id).await
        {
            Ok(a) => Where::At(
                None,
                super::view::Place {
                    url: a.url,
                    auth: a.auth,
                },
            ),
            Err(e) => Where::Unreachable(None, e.to_string()),
        },
        None => Where::NoServer,
    })
}

/// The fields of a Prefect object shown as facts (strings and numbers; nested state name).
fn facts_of(v: &serde_json::Value, fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .filter_map(|(label, pointer)| {
            let f = v.pointer(pointer)?;
            let text = match f {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((label.to_string(), text))
        })
        .collect()
}

struct Kind {
    label: &'static str,
    scope: &'static str,
    /// The server's path for the object (`{}`: its id or name).
    path: &'static str,
    fields: &'static [(&'static str, &'static str)],
}

const FLOW_RUN: Kind = Kind {
    label: "Flow run",
    scope: "see_flows",
    path: "flow_runs/{}",
    fields: &[
        ("Id", "/id"),
        ("State", "/state/name"),
        ("Flow id", "/flow_id"),
        ("Deployment id", "/deployment_id"),
        ("Work pool", "/work_pool_name"),
        ("Expected start", "/expected_start_time"),
        ("Started", "/start_time"),
        ("Ended", "/end_time"),
        ("Run time (s)", "/total_run_time"),
    ],
};
const FLOW: Kind = Kind {
    label: "Flow",
    scope: "see_flows",
    path: "flows/{}",
    fields: &[("Id", "/id"), ("Created", "/created")],
};
const DEPLOYMENT: Kind = Kind {
    label: "Deployment",
    scope: "see_deployments",
    path: "deployments/{}",
    fields: &[
        ("Id", "/id"),
        ("Flow id", "/flow_id"),
        ("Work pool", "/work_pool_name"),
        ("Work queue", "/work_queue_name"),
        ("Status", "/status"),
        ("Entrypoint", "/entrypoint"),
        ("Description", "/description"),
    ],
};
const WORK_POOL: Kind = Kind {
    label: "Work pool",
    scope: "see_work_pools",
    path: "work_pools/{}",
    fields: &[
        ("Id", "/id"),
        ("Type", "/type"),
        ("Status", "/status"),
        ("Paused", "/is_paused"),
        ("Concurrency limit", "/concurrency_limit"),
    ],
};

async fn object(
    ctx: WorkspaceCtx,
    cfg: web::Data<AppConfig>,
    up: web::Data<Upstream>,
    spawner: web::Data<super::spawner::Spawner>,
    object_id: String,
    kind: Kind,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(kind.scope)?;
    let mut page = ObjectPage {
        shell: ctx.auth.shell.clone().at("dashboard"),
        workspace_name: ctx.workspace.name.clone(),
        kind: kind.label,
        title: object_id.clone(),
        facts: Vec::new(),
        logs: Vec::new(),
        notice: None,
    };
    // One path segment, as the CLI prints it: a name or an id, never a path of its own.
    let segment_ok = !object_id.is_empty()
        && object_id.len() <= 200
        && !object_id.contains(['/', '?', '#', '%']);
    let place = match place_of(&ctx.auth.pool, &ctx.workspace.id, &cfg, &up, &spawner).await? {
        Where::At(_, p) => p,
        Where::NoServer => {
            // Nothing is wrong: the workspace holds no objects yet.
            page.notice = Some(format!(
                "This workspace has no Prefect server yet, so no {}.",
                kind.label.to_lowercase()
            ));
            return render(StatusCode::OK, &page);
        }
        Where::Unreachable(_, why) => {
            page.notice = Some(format!(
                "The workspace's Prefect server could not be read: {why}."
            ));
            return render(StatusCode::SERVICE_UNAVAILABLE, &page);
        }
    };
    let read = if segment_ok {
        super::view::get(&up.http, &place, &kind.path.replace("{}", &object_id)).await
    } else {
        super::view::Read::Missing
    };
    let status = match read {
        super::view::Read::Found(v) => {
            page.title = v
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or(&object_id)
                .to_string();
            page.facts = facts_of(&v, kind.fields);
            if kind.label == FLOW_RUN.label {
                page.logs = super::view::run_logs(&up.http, &place, &object_id).await;
            }
            StatusCode::OK
        }
        super::view::Read::Missing => {
            page.notice = Some(format!(
                "This workspace has no {} {object_id}.",
                kind.label.to_lowercase()
            ));
            StatusCode::NOT_FOUND
        }
        super::view::Read::Unreachable(why) => {
            page.notice = Some(format!(
                "The workspace's Prefect server could not be read: {why}."
            ));
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    render(status, &page)
}

/// The page of the object a `prefect` CLI link names; which kind, from the route matched.
async fn object_page(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    cfg: web::Data<AppConfig>,
    up: web::Data<Upstream>,
    spawner: web::Data<super::spawner::Spawner>,
    ui: web::Data<crate::prefect_ui::pages::Ui>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    // With Prefect's UI on, the CLI's links open it (issue #23); these pages are the
    // fallback without it.
    if let Some(bundle) = &ui.0 {
        let tail = req
            .path()
            .splitn(6, '/')
            .nth(5)
            .unwrap_or_default()
            .to_string();
        return crate::prefect_ui::pages::index_or_file(&ctx, bundle, &tail);
    }
    let kind = match req
        .match_pattern()
        .as_deref()
        .and_then(|p| p.split('/').nth(5))
    {
        Some("runs") => FLOW_RUN,
        Some("flows") => FLOW,
        Some("deployments") => DEPLOYMENT,
        _ => WORK_POOL,
    };
    object(ctx, cfg, up, spawner, path.into_inner().2, kind).await
}

/// What reading a workspace's Prefect server needs, as one extractor (pages of other
/// domains that read a server: the transfer preview).
pub struct Reach {
    pub cfg: web::Data<AppConfig>,
    pub up: web::Data<Upstream>,
    pub spawner: web::Data<super::spawner::Spawner>,
}

impl actix_web::FromRequest for Reach {
    type Error = AppError;
    type Future = std::future::Ready<Result<Reach, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let reach = (|| {
            Some(Reach {
                cfg: req.app_data::<web::Data<AppConfig>>()?.clone(),
                up: req.app_data::<web::Data<Upstream>>()?.clone(),
                spawner: req
                    .app_data::<web::Data<super::spawner::Spawner>>()?
                    .clone(),
            })
        })();
        std::future::ready(reach.ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("the Prefect server settings are missing"))
        }))
    }
}

impl Reach {
    /// The workspace's server (a managed one is started: see [`place_of`]).
    pub async fn place_of(
        &self,
        pool: &crate::db::Pool,
        workspace_id: &str,
    ) -> Result<Where, AppError> {
        place_of(pool, workspace_id, &self.cfg, &self.up, &self.spawner).await
    }
}

//! The routes of Prefect's UI under `/account/{a}/workspace/{w}/` (issue #23).
//!
//! Atrium's own workspace pages (dashboard, settings, sharing, members) keep their
//! addresses and win where the UI has a route of the same name: reloading
//! `…/dashboard` or `…/settings` shows Atrium's page, while the UI's own links to its
//! dashboard and settings work inside it (they never leave the page). Every other address
//! below the workspace is the UI: its files (`assets/…`, `ico/…`), its `ui-settings`, and
//! for any other path its `index.html`, whose router shows the page (`runs/flow-run/{id}`,
//! `deployments/deployment/{id}`, …). Each needs access to the workspace (404 otherwise, as
//! every workspace address); what the UI may do is decided by the gateway, with the
//! person's scopes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::Bundle;
use crate::settings::AppConfig;
use crate::web::AppError;
use crate::web::ctx::WorkspaceCtx;

/// The narrowest policy the UI works under: its scripts and styles are files of the
/// bundle, but Vue sets inline styles (`style-src 'unsafe-inline'`), the run graph draws
/// into `blob:` workers and images, icons are `data:` URIs, and every call goes to
/// Atrium's own origin (`connect-src 'self'`: the analytics and collection hosts stay
/// unreachable). No inline script, no frames, no plugins, forms post only here.
pub const UI_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; \
form-action 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

/// The UI bundle, when Atrium serves Prefect's UI.
pub struct Ui(pub Option<Bundle>);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/ico/{name}", web::get().to(icon))
        .route("/favicon.ico", web::get().to(favicon))
        .route("/favicon-dark.ico", web::get().to(favicon))
        .route(
            "/account/{account_id}/workspace/{workspace_id}/ui-settings",
            web::get().to(ui_settings),
        );
}

/// The catch-all, registered after every other route.
pub fn fallback(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/account/{account_id}/workspace/{workspace_id}/{tail:.*}",
        web::get().to(serve),
    );
}

fn base_of(ctx: &WorkspaceCtx) -> String {
    format!("/account/{}/workspace/{}", ctx.account.id, ctx.workspace.id)
}

fn file_response(
    bytes: impl actix_web::body::MessageBody + 'static,
    content_type: &str,
    immutable: bool,
) -> HttpResponse {
    let mut r = HttpResponse::Ok();
    r.content_type(content_type.to_string())
        .insert_header(("Content-Security-Policy", UI_CSP));
    if immutable {
        // Vite names its files by their content; the workspace's path is part of the URL.
        r.insert_header(("Cache-Control", "private, max-age=31536000, immutable"));
    }
    r.body(bytes)
}

/// Prefect's UI for the workspace: a file of the bundle, or its `index.html` with a link
/// back to Atrium.
pub async fn serve(
    ctx: WorkspaceCtx,
    ui: web::Data<Ui>,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    let Some(bundle) = &ui.0 else {
        return Err(AppError::NotFound);
    };
    index_or_file(&ctx, bundle, &path.into_inner().2)
}

/// The UI's page for `tail` (the CLI's links come here too).
pub fn index_or_file(
    ctx: &WorkspaceCtx,
    bundle: &Bundle,
    tail: &str,
) -> Result<HttpResponse, AppError> {
    let base = base_of(ctx);
    let is_file = tail.starts_with("assets/")
        || tail.starts_with("ico/")
        || (!tail.contains('/') && tail.contains('.'));
    if is_file {
        let (bytes, ct) = bundle.file(tail, &base).ok_or(AppError::NotFound)?;
        return Ok(file_response(bytes, ct, tail.starts_with("assets/")));
    }
    let (bytes, ct) = bundle
        .file("index.html", &base)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the UI bundle lost index.html")))?;
    let html = String::from_utf8_lossy(&bytes)
        .replacen(
            "</head>",
            "<link rel=\"stylesheet\" href=\"/static/prefect-ui.css\"></head>",
            1,
        )
        .replacen(
            "</body>",
            &format!(
                "<a id=\"atrium-back\" href=\"{base}/dashboard\">Back to {} in Atrium</a></body>",
                askama::filters::escape(&ctx.workspace.name, askama::filters::Html)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            ),
            1,
        );
    Ok(file_response(html.into_bytes(), ct, false))
}

/// What the UI reads first: its API address (the workspace's, through the gateway, with
/// the session) and that it needs no basic auth and no CSRF token of Prefect's.
async fn ui_settings(
    ctx: WorkspaceCtx,
    ui: web::Data<Ui>,
    cfg: web::Data<AppConfig>,
) -> Result<HttpResponse, AppError> {
    if ui.0.is_none() {
        return Err(AppError::NotFound);
    }
    let base = base_of(&ctx);
    let api = format!(
        "{}/api/accounts/{}/workspaces/{}",
        cfg.base().trim_end_matches('/'),
        ctx.account.id,
        ctx.workspace.id
    );
    Ok(HttpResponse::build(StatusCode::OK).json(serde_json::json!({
        "api_url": api,
        "csrf_enabled": false,
        "auth": null,
        "flags": [],
        "default_ui": "v1",
        "available_uis": ["v1"],
        "v1_base_url": base,
        "v2_base_url": null,
    })))
}

/// The state icons and favicons the UI asks for at the site's root.
async fn icon(ui: web::Data<Ui>, name: web::Path<String>) -> Result<HttpResponse, AppError> {
    let bundle = ui.0.as_ref().ok_or(AppError::NotFound)?;
    let (bytes, ct) = bundle
        .file(&format!("ico/{name}"), "")
        .ok_or(AppError::NotFound)?;
    Ok(file_response(bytes, ct, false))
}

async fn favicon(req: HttpRequest, ui: web::Data<Ui>) -> Result<HttpResponse, AppError> {
    let bundle = ui.0.as_ref().ok_or(AppError::NotFound)?;
    let (bytes, ct) = bundle
        .file(&format!("ico{}", req.path()), "")
        .ok_or(AppError::NotFound)?;
    Ok(file_response(bytes, ct, false))
}

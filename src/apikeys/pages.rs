//! `/profile/api-keys`: a user's personal API keys. Create (name, expiration date or
//! never) shows the key once with the client configuration; the list shows masks only;
//! delete stops a key at once. Each change is audited in its own transaction.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{ApiKey, Reveal};
use crate::db::DbConn;
use crate::settings::AppConfig;
use crate::web::ctx::Auth;
use crate::web::{AppError, FieldErrors, Shell, client_ip, db, op, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/profile/api-keys", web::get().to(index))
        .route("/profile/api-keys", web::post().to(create))
        .route("/profile/api-keys/{key_id}/delete", web::post().to(delete));
}

/// What the login command names when the user reaches no workspace yet.
pub const WORKSPACE_PLACEHOLDER: &str = "<account-handle>/<workspace-handle>";

#[derive(Template)]
#[template(path = "apikeys/index.html")]
struct KeysPage {
    shell: Shell,
    keys: Vec<ApiKey>,
    name: String,
    expiration: String,
    errors: FieldErrors,
    reveal: Option<Reveal>,
    notice: Option<String>,
}

#[derive(Deserialize, Default)]
struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expiration: String,
}

async fn show(
    auth: Auth,
    form: CreateForm,
    errors: FieldErrors,
    reveal: Option<Reveal>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let uid = auth.user.id.clone();
    let keys = db(&auth.pool, move |c| Ok(super::ops::for_user(c, &uid)?)).await?;
    render(
        status,
        &KeysPage {
            keys,
            name: form.name,
            expiration: form.expiration,
            errors,
            reveal,
            notice,
            shell: auth.shell.at("api-keys"),
        },
    )
}

async fn index(auth: Auth) -> Result<HttpResponse, AppError> {
    show(
        auth,
        CreateForm::default(),
        FieldErrors::default(),
        None,
        None,
        StatusCode::OK,
    )
    .await
}

/// The workspace the login command names: the one the user used last (or the first they
/// reach), as `account-handle/workspace-handle`.
fn login_workspace(c: &mut DbConn, user_id: &str) -> Result<String, AppError> {
    let first = crate::workspaces::ops::reachable(c, user_id, "", 1)?;
    Ok(match first.first() {
        Some(r) => format!("{}/{}", r.account_handle, r.workspace.handle),
        None => WORKSPACE_PLACEHOLDER.to_string(),
    })
}

async fn create(
    req: HttpRequest,
    auth: Auth,
    cfg: web::Data<AppConfig>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, AppError> {
    // A new key acts as the user for as long as it lives: the password again if it is old.
    if let Some(r) =
        crate::web::sudo::require(&req, &auth.session, &auth.shell, &cfg, "/profile/api-keys")?
    {
        return Ok(r);
    }
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let name = crate::service_accounts::ops::parse_name(&form.name)
        .map_err(|m| errors.add("name", m))
        .ok();
    let expires_at = super::parse_expiration_date(&form.expiration)
        .map_err(|m| errors.add("expiration", m))
        .ok();
    let (Some(name), Some(expires_at)) = (name, expires_at) else {
        return show(
            auth,
            form,
            errors,
            None,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let (user, ip) = (auth.user.clone(), client_ip(&req));
    let (key, plain, workspace) = db(&auth.pool, move |c| {
        let (key, plain) = super::ops::create_user_key(c, &user, &name, expires_at, ip)?;
        Ok((key, plain, login_workspace(c, &user.id)?))
    })
    .await?;
    let reveal = Reveal::new(
        format!("API key “{}” created", key.name),
        plain,
        &workspace,
        &cfg.base(),
    );
    show(
        auth,
        CreateForm::default(),
        FieldErrors::default(),
        Some(reveal),
        None,
        StatusCode::OK,
    )
    .await
}

async fn delete(
    req: HttpRequest,
    auth: Auth,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let key_id = crate::ids::ApiKeyId::parse(&path.into_inner()).ok_or(AppError::NotFound)?;
    let (user, ip) = (auth.user.clone(), client_ip(&req));
    let deleted = op(&auth.pool, move |c| {
        super::ops::delete_user_key(c, &user, &key_id, ip)
    })
    .await?;
    show(
        auth,
        CreateForm::default(),
        FieldErrors::default(),
        None,
        Some(format!("API key “{}” deleted.", deleted.name)),
        StatusCode::OK,
    )
    .await
}

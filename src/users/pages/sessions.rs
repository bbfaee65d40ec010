//! `/profile/sessions` (issue #26, point 4): the signed-in user's live sessions — device,
//! address, created, last seen — with "End" for each other session and "End all other
//! sessions". The current session is ended by logging out, not from here. A session that
//! is not one of the user's other live sessions answers 404 and nothing changes.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::authn::session_store::current_session_id;
use crate::settings::AppConfig;
use crate::users::sessions::{self as sessions, SessionInfo};
use crate::web::ctx::Auth;
use crate::web::{AppError, Shell, client_ip, db, op, page};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/profile/sessions", web::get().to(index))
        .route("/profile/sessions/end-others", web::post().to(end_others))
        .route(
            "/profile/sessions/{session_id}/end",
            web::post().to(end_one),
        );
}

#[derive(Template)]
#[template(path = "profile/sessions.html")]
struct SessionsPage {
    shell: Shell,
    sessions: Vec<SessionInfo>,
    notice: Option<String>,
}

impl SessionsPage {
    fn others(&self) -> usize {
        self.sessions.iter().filter(|s| !s.current).count()
    }
}

async fn show(
    auth: Auth,
    cfg: &AppConfig,
    notice: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (uid, idle, current) = (
        auth.user.id.clone(),
        cfg.settings.session_idle_timeout,
        current_session_id(),
    );
    let list = db(&auth.pool, move |c| {
        Ok(sessions::live(c, &uid, idle, current.as_deref())?)
    })
    .await?;
    page(&SessionsPage {
        shell: auth.shell.at("sessions"),
        sessions: list,
        notice,
    })
}

async fn index(auth: Auth, cfg: web::Data<AppConfig>) -> Result<HttpResponse, AppError> {
    show(auth, &cfg, None).await
}

/// A session id as the table holds it: the hex SHA-256 of its key.
fn is_session_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn end_one(
    req: HttpRequest,
    auth: Auth,
    cfg: web::Data<AppConfig>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let current = current_session_id().ok_or(AppError::NotFound)?;
    if !is_session_id(&id) || id == current {
        return Err(AppError::NotFound);
    }
    let (user, ip, idle) = (
        auth.user.clone(),
        client_ip(&req),
        cfg.settings.session_idle_timeout,
    );
    let ended = op(&auth.pool, move |c| {
        sessions::end_one(c, &user, &id, &current, idle, &ip)
    })
    .await?;
    let notice = format!(
        "The session on {} was ended. That browser is logged out.",
        ended.device
    );
    show(auth, &cfg, Some(notice)).await
}

async fn end_others(
    req: HttpRequest,
    auth: Auth,
    cfg: web::Data<AppConfig>,
) -> Result<HttpResponse, AppError> {
    let current = current_session_id().ok_or(AppError::NotFound)?;
    let (user, ip, idle) = (
        auth.user.clone(),
        client_ip(&req),
        cfg.settings.session_idle_timeout,
    );
    let n = op(&auth.pool, move |c| {
        sessions::end_others(c, &user, &current, idle, &ip)
    })
    .await?;
    let notice = match n {
        0 => "You have no other sessions.".to_string(),
        1 => "1 other session was ended.".to_string(),
        n => format!("{n} other sessions were ended."),
    };
    show(auth, &cfg, Some(notice)).await
}

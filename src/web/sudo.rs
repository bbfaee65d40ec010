//! "Sudo mode" (issue #19, point 6): sensitive actions of the pages (creating an API key,
//! deleting an account or a workspace, changing the e-mail address) ask for the password
//! again when it was last entered longer ago than `ATRIUM_SUDO_MINUTES`.
//!
//! The time of the last entry lives in the session state: set at log-in and sign-up
//! (`users::pages::start_session`) and at each confirmation (`POST /auth/confirm`).
//! The JSON API is not affected: it is authenticated by bearer keys, not sessions.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::settings::AppConfig;
use crate::web::{AppError, FieldErrors, Shell, is_htmx, render};

/// Session key: when the password was last entered (Unix seconds).
pub const SESSION_PASSWORD_AT: &str = "pw_at";

/// Records that the password was entered now.
pub fn note_password_entry(session: &Session) -> Result<(), AppError> {
    session
        .insert(SESSION_PASSWORD_AT, chrono::Utc::now().timestamp())
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))
}

/// True when the password was entered within `window`.
pub fn is_fresh(session: &Session, window: std::time::Duration) -> bool {
    let Ok(Some(at)) = session.get::<i64>(SESSION_PASSWORD_AT) else {
        return false;
    };
    let age = chrono::Utc::now().timestamp() - at;
    (0..window.as_secs() as i64).contains(&age)
}

#[derive(Template)]
#[template(path = "auth/confirm.html")]
pub struct ConfirmPage {
    pub shell: Shell,
    pub next: String,
    pub minutes: u64,
    pub errors: FieldErrors,
}

pub fn minutes(cfg: &AppConfig) -> u64 {
    cfg.settings.sudo_window.as_secs().div_ceil(60)
}

/// The confirmation page's address, coming back to `next`.
pub fn confirm_url(next: &str) -> String {
    format!(
        "/auth/confirm?next={}",
        url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
    )
}

/// For a sensitive change: `None` when the password was entered recently enough, else
/// the answer to give instead of doing it — the "Confirm your password" page (403; its
/// form comes back to `next`, the page of the action), or for htmx an `HX-Redirect` to it.
pub fn require(
    req: &HttpRequest,
    session: &Session,
    shell: &Shell,
    cfg: &AppConfig,
    next: &str,
) -> Result<Option<HttpResponse>, AppError> {
    if is_fresh(session, cfg.settings.sudo_window) {
        return Ok(None);
    }
    let next = crate::authn::safe_next(Some(next));
    if is_htmx(req) {
        return Ok(Some(
            HttpResponse::Ok()
                .insert_header(("HX-Redirect", confirm_url(&next)))
                .finish(),
        ));
    }
    render(
        StatusCode::FORBIDDEN,
        &ConfirmPage {
            shell: shell.clone(),
            next,
            minutes: minutes(cfg),
            errors: FieldErrors::default(),
        },
    )
    .map(Some)
}

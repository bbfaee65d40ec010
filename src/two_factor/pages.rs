//! The pages of two-factor authentication: Profile → Two-factor authentication
//! (`/profile/two-factor`: set up with a QR code and the secret in text, confirm with a
//! code, recovery codes shown once, regenerate them, turn it off — the changes in sudo
//! mode), and the log-in's second step (`/auth/two-factor`).
//!
//! The second step: when the password of a user with two-factor authentication is right,
//! the log-in handler (`users::pages::login`) starts no session; it keeps who is logging in
//! and when in the still-anonymous session state ([`SESSION_PENDING_USER`], [`PENDING_FOR`]
//! long) and sends the browser here. A right code or an unused recovery code starts the
//! session (`users::pages::start_session`); wrong ones are throttled per user and per
//! client address (`rate_limit::Bucket::TwoFactor`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::ops::{self, Proof, SecondStep, Status};
use super::totp;
use crate::authn::rate_limit::{self, Bucket, Limit};
use crate::settings::AppConfig;
use crate::users::pages::start_session;
use crate::web::ctx::{Auth, MaybeUser};
use crate::web::{
    AppError, FieldErrors, Shell, client_ip, db, page, redirect, refusal_text, render,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/two-factor", web::get().to(second_step_page))
        .route("/auth/two-factor", web::post().to(second_step))
        .route("/profile/two-factor", web::get().to(index))
        .route("/profile/two-factor/setup", web::post().to(setup))
        .route("/profile/two-factor/confirm", web::post().to(confirm))
        .route(
            "/profile/two-factor/recovery-codes",
            web::post().to(regenerate),
        )
        .route("/profile/two-factor/disable", web::post().to(disable));
}

/// Session keys of a log-in waiting for its second step: the user, when the password was
/// right (Unix seconds), and where to go afterwards.
pub const SESSION_PENDING_USER: &str = "tf_uid";
pub const SESSION_PENDING_AT: &str = "tf_at";
pub const SESSION_PENDING_NEXT: &str = "tf_next";
/// How long the second step may wait after the password (seconds).
pub const PENDING_FOR: i64 = 300;

pub const TOO_MANY_CODES: &str = "Too many wrong codes. Wait a minute and try again.";
pub const ENTER_CODE: &str = "Enter the 6-digit code from your authenticator app.";

fn session_err(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("session: {e}"))
}

/// Marks the anonymous session as waiting for the second step of `user_id`'s log-in.
pub fn begin_second_step(
    session: &actix_session::Session,
    user_id: &str,
    next: &str,
) -> Result<(), AppError> {
    session
        .insert(SESSION_PENDING_USER, user_id)
        .and_then(|_| session.insert(SESSION_PENDING_AT, chrono::Utc::now().timestamp()))
        .and_then(|_| session.insert(SESSION_PENDING_NEXT, next))
        .map_err(session_err)
}

fn clear_pending(session: &actix_session::Session) {
    session.remove(SESSION_PENDING_USER);
    session.remove(SESSION_PENDING_AT);
    session.remove(SESSION_PENDING_NEXT);
}

/// The user whose log-in waits for its second step, and where to go next; `None` (and the
/// marker forgotten) when there is none or it is older than [`PENDING_FOR`].
fn pending(session: &actix_session::Session) -> Option<(String, String)> {
    let uid = session.get::<String>(SESSION_PENDING_USER).ok().flatten();
    let at = session.get::<i64>(SESSION_PENDING_AT).ok().flatten();
    let next = session
        .get::<String>(SESSION_PENDING_NEXT)
        .ok()
        .flatten()
        .unwrap_or_else(|| "/".into());
    let age = at.map(|at| chrono::Utc::now().timestamp() - at);
    match (uid, age) {
        (Some(uid), Some(age)) if (0..PENDING_FOR).contains(&age) => {
            Some((uid, crate::authn::safe_next(Some(&next))))
        }
        (None, None) => None,
        _ => {
            clear_pending(session);
            None
        }
    }
}

fn to_login() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", "/auth/login"))
        .finish()
}

// ---------- the log-in's second step ----------

#[derive(Template)]
#[template(path = "auth/two_factor.html")]
struct SecondStepPage {
    csrf: String,
    errors: FieldErrors,
    /// Show the recovery code form open (it was used).
    recovery: bool,
}

async fn second_step_page(mu: MaybeUser) -> Result<HttpResponse, AppError> {
    if pending(&mu.session).is_none() {
        return Ok(to_login());
    }
    page(&SecondStepPage {
        csrf: mu.csrf,
        errors: FieldErrors::default(),
        recovery: false,
    })
}

#[derive(Deserialize, Default)]
struct SecondStepForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    recovery_code: String,
}

async fn second_step(
    req: HttpRequest,
    mu: MaybeUser,
    cfg: web::Data<AppConfig>,
    form: web::Form<SecondStepForm>,
) -> Result<HttpResponse, AppError> {
    let Some((uid, next)) = pending(&mu.session) else {
        return Ok(to_login());
    };
    let SecondStepForm {
        code,
        recovery_code,
    } = form.into_inner();
    let (proof, field) = if !recovery_code.trim().is_empty() {
        (Proof::RecoveryCode(recovery_code), "recovery_code")
    } else {
        (Proof::Code(code), "code")
    };
    let show = |status: StatusCode, msg: &str| {
        let mut resp = render(
            status,
            &SecondStepPage {
                csrf: mu.csrf.clone(),
                errors: FieldErrors::one(field, msg),
                recovery: field == "recovery_code",
            },
        )?;
        if status == StatusCode::TOO_MANY_REQUESTS {
            resp.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from_static("60"),
            );
        }
        Ok::<_, AppError>(resp)
    };
    if matches!(&proof, Proof::Code(c) if c.trim().is_empty()) {
        return show(StatusCode::UNPROCESSABLE_ENTITY, ENTER_CODE);
    }
    // The attempt takes its slot first (like a password): a burst of guesses gets at most
    // the limit checked, and a right code after the limit waits too.
    let (ip, uid2) = (client_ip(&req), uid.clone());
    let ip2 = ip.clone();
    let taken = db(&mu.pool, move |c| {
        let user = crate::users::ops::find(c, &uid2)?;
        let slot = rate_limit::take(
            c,
            Bucket::TwoFactor,
            &ip2,
            &format!("user:{uid2}"),
            Limit::per_minute(ops::ATTEMPTS_PER_MINUTE),
        )?;
        Ok((user, slot))
    })
    .await?;
    let user = match taken {
        (None, _) => {
            clear_pending(&mu.session);
            return Ok(to_login());
        }
        (Some(_), None) => return show(StatusCode::TOO_MANY_REQUESTS, TOO_MANY_CODES),
        (Some(user), Some(slot)) => (user, slot),
    };
    let ((user, slot), sealer) = (user, cfg.sealer.clone());
    let user2 = user.clone();
    let outcome = crate::web::op(&mu.pool, move |c| {
        ops::second_step(c, &user2, &sealer, &proof, slot, &ip)
    })
    .await?;
    match outcome {
        SecondStep::Passed => {
            clear_pending(&mu.session);
            start_session(&req, &mu.session, &user.id)?;
            Ok(redirect(&req, &next))
        }
        SecondStep::Refused(msg) => show(StatusCode::UNPROCESSABLE_ENTITY, msg),
    }
}

// ---------- Profile → Two-factor authentication ----------

#[derive(Template)]
#[template(path = "profile/two_factor.html")]
struct TwoFactorPage {
    shell: Shell,
    status: Status,
    /// The secret of a pending set-up, grouped for typing.
    secret_text: String,
    /// Its QR code (`data:` address of an SVG).
    qr: String,
    /// The `otpauth://` address, for apps that take a link.
    uri: String,
    /// Recovery codes made just now: shown this once.
    codes: Vec<String>,
    errors: FieldErrors,
    /// A refusal of the whole page's action (turning off while required, …).
    error: Option<String>,
    notice: Option<String>,
}

impl TwoFactorPage {
    fn of(auth: &Auth, status: Status) -> Self {
        let (secret_text, qr, uri) = match &status.pending_secret {
            Some(secret) => {
                let uri = totp::otpauth_uri(secret, &auth.user.email);
                (
                    totp::grouped(secret),
                    totp::qr_data_uri(&uri).unwrap_or_default(),
                    uri,
                )
            }
            None => Default::default(),
        };
        TwoFactorPage {
            shell: auth.shell.clone().at("two-factor"),
            status,
            secret_text,
            qr,
            uri,
            codes: Vec::new(),
            errors: FieldErrors::default(),
            error: None,
            notice: None,
        }
    }

    fn required_by(&self) -> String {
        self.status.required_by.join(", ")
    }
}

async fn load(auth: &Auth, cfg: &AppConfig) -> Result<TwoFactorPage, AppError> {
    let (uid, sealer) = (auth.user.id.clone(), cfg.sealer.clone());
    let status = crate::web::op(&auth.pool, move |c| ops::status(c, &uid, &sealer)).await?;
    Ok(TwoFactorPage::of(auth, status))
}

async fn index(auth: Auth, cfg: web::Data<AppConfig>) -> Result<HttpResponse, AppError> {
    page(&load(&auth, &cfg).await?)
}

const BACK: &str = "/profile/two-factor";

/// The page again with a refusal's message (409) — nothing changed.
async fn refused(
    auth: &Auth,
    cfg: &AppConfig,
    e: crate::outcome::OpError,
) -> Result<HttpResponse, AppError> {
    let mut p = load(auth, cfg).await?;
    p.error = Some(refusal_text(e)?);
    render(StatusCode::CONFLICT, &p)
}

async fn setup(
    req: HttpRequest,
    auth: Auth,
    cfg: web::Data<AppConfig>,
) -> Result<HttpResponse, AppError> {
    if let Some(r) = crate::web::sudo::require(&req, &auth.session, &auth.shell, &cfg, BACK)? {
        return Ok(r);
    }
    let (user, sealer, ip) = (auth.user.clone(), cfg.sealer.clone(), client_ip(&req));
    let started = db(&auth.pool, move |c| {
        Ok(ops::start_setup(c, &user, &sealer, &ip))
    })
    .await?;
    match started {
        Ok(_) => Ok(redirect(&req, BACK)),
        Err(e) => refused(&auth, &cfg, e).await,
    }
}

#[derive(Deserialize, Default)]
struct ConfirmForm {
    #[serde(default)]
    code: String,
}

async fn confirm(
    req: HttpRequest,
    auth: Auth,
    cfg: web::Data<AppConfig>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let code = form.into_inner().code;
    if code.trim().is_empty() {
        let mut p = load(&auth, &cfg).await?;
        p.errors = FieldErrors::one("code", ENTER_CODE);
        return render(StatusCode::UNPROCESSABLE_ENTITY, &p);
    }
    let (user, sealer, ip) = (auth.user.clone(), cfg.sealer.clone(), client_ip(&req));
    let confirmed = db(&auth.pool, move |c| {
        Ok(ops::confirm_setup(c, &user, &sealer, &code, &ip))
    })
    .await?;
    match confirmed {
        Ok(codes) => {
            let mut p = load(&auth, &cfg).await?;
            p.codes = codes;
            p.notice = Some("Two-factor authentication is on.".into());
            page(&p)
        }
        Err(crate::outcome::OpError::Refused(crate::outcome::Refusal::Invalid(errors))) => {
            let mut p = load(&auth, &cfg).await?;
            p.errors = errors;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err(e) => refused(&auth, &cfg, e).await,
    }
}

async fn regenerate(
    req: HttpRequest,
    auth: Auth,
    cfg: web::Data<AppConfig>,
) -> Result<HttpResponse, AppError> {
    if let Some(r) = crate::web::sudo::require(&req, &auth.session, &auth.shell, &cfg, BACK)? {
        return Ok(r);
    }
    let (user, ip) = (auth.user.clone(), client_ip(&req));
    let made = db(&auth.pool, move |c| {
        Ok(ops::regenerate_recovery_codes(c, &user, &ip))
    })
    .await?;
    match made {
        Ok(codes) => {
            let mut p = load(&auth, &cfg).await?;
            p.codes = codes;
            p.notice = Some("New recovery codes were made. The old ones no longer work.".into());
            page(&p)
        }
        Err(e) => refused(&auth, &cfg, e).await,
    }
}

async fn disable(
    req: HttpRequest,
    auth: Auth,
    cfg: web::Data<AppConfig>,
) -> Result<HttpResponse, AppError> {
    if let Some(r) = crate::web::sudo::require(&req, &auth.session, &auth.shell, &cfg, BACK)? {
        return Ok(r);
    }
    let (user, ip) = (auth.user.clone(), client_ip(&req));
    let done = db(&auth.pool, move |c| Ok(ops::disable(c, &user, &ip))).await?;
    match done {
        Ok(()) => {
            let mut p = load(&auth, &cfg).await?;
            p.notice = Some("Two-factor authentication is off.".into());
            page(&p)
        }
        Err(e) => refused(&auth, &cfg, e).await,
    }
}

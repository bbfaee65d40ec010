//! E-mail verification, "Forgot password", the change of e-mail address and the password
//! confirmation of sudo mode (issue #19, points 5 and 6).
//!
//! Links carry a single-use code ([`crate::users::tokens`]) in their query string (request logs
//! show paths only). Opening a link changes nothing — mail scanners open links — the page
//! behind it has a button (or the new-password form) that posts the code back.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::ProfilePage;
use crate::authn::{password, safe_next};
use crate::settings::AppConfig;
use crate::users::domain::{Email, NewPassword};
use crate::users::ops as users;
use crate::users::tokens::{self, Problem, Purpose};
use crate::web::ctx::{Auth, MaybeUser};
use crate::web::sudo;
use crate::web::{AppError, FieldErrors, client_ip, db, op, page, redirect, render};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/verify/{verify_id}", web::get().to(verify_page))
        .route("/auth/verify/{verify_id}", web::post().to(verify))
        .route("/auth/forgot", web::get().to(forgot_page))
        .route("/auth/forgot", web::post().to(forgot))
        .route("/auth/reset/{reset_id}", web::get().to(reset_page))
        .route("/auth/reset/{reset_id}", web::post().to(reset))
        .route("/auth/confirm", web::get().to(confirm_page))
        .route("/auth/confirm", web::post().to(confirm))
        .route("/profile/email", web::post().to(change_email))
        .route("/profile/email/verify", web::post().to(resend_verification));
}

/// The answer of "Forgot password", whether or not the address has an account.
pub const FORGOT_SENT: &str = "If an account exists for that address, we sent a link to it. \
     The link works once, for one hour.";
pub const FORGOT_TOO_MANY: &str =
    "Too many requests from your address. Wait a minute and try again.";
pub const EMAIL_TAKEN: &str = "An account with this e-mail already exists.";
pub const TOO_MANY_MAILS: &str = "Too many e-mails in a short time. Wait a minute and try again.";

// ---------- the e-mails ----------

// ---------- pages behind the links ----------

#[derive(Template)]
#[template(path = "auth/link.html")]
struct LinkPage {
    csrf: String,
    title: String,
    message: String,
    /// Where the button posts the code; `None`: no form, a link instead.
    action: Option<String>,
    code: String,
    button: String,
    link_href: String,
    link_text: String,
}

impl LinkPage {
    fn message(csrf: String, title: &str, message: &str, href: &str, text: &str) -> Self {
        LinkPage {
            csrf,
            title: title.into(),
            message: message.into(),
            action: None,
            code: String::new(),
            button: String::new(),
            link_href: href.into(),
            link_text: text.into(),
        }
    }

    fn problem(csrf: String, p: Problem) -> Result<HttpResponse, AppError> {
        let message = match p {
            Problem::Invalid => {
                "Check that you copied the whole link from the e-mail. Links stop working when a newer one is sent."
            }
            Problem::Expired => {
                "Ask for a new link: from your profile to verify an address, from the log-in page to reset a password."
            }
            Problem::Used => "Each link works once. Ask for a new one if you still need it.",
        };
        render(
            status_of(p),
            &LinkPage::message(csrf, p.title(), message, "/", "Go to Atrium"),
        )
    }
}

#[derive(Deserialize, Default)]
struct CodeQuery {
    #[serde(default)]
    code: String,
}

async fn verify_page(
    mu: MaybeUser,
    path: web::Path<String>,
    q: web::Query<CodeQuery>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (id2, code) = (id.clone(), q.code.clone());
    let found = op(&mu.pool, move |c| users::usable(c, &id2, &code)).await?;
    let (token, _) = match found {
        Ok(t) => t,
        Err(p) => return LinkPage::problem(mu.csrf, p),
    };
    let change = tokens::purpose_of(&token) == Some(Purpose::ChangeEmail);
    page(&LinkPage {
        csrf: mu.csrf,
        title: if change {
            "Confirm your new e-mail address".into()
        } else {
            "Verify your e-mail address".into()
        },
        message: if change {
            format!(
                "Your Atrium account moves to {} when you confirm.",
                token.email
            )
        } else {
            format!("Confirm that {} is your address.", token.email)
        },
        action: Some(format!("/auth/verify/{id}")),
        code: q.code.clone(),
        button: if change {
            "Use this address".into()
        } else {
            "Verify e-mail address".into()
        },
        link_href: String::new(),
        link_text: String::new(),
    })
}

#[derive(Deserialize, Default)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn verify(
    req: HttpRequest,
    mu: MaybeUser,
    path: web::Path<String>,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (code, ip) = (form.code.clone(), client_ip(&req));
    let outcome = op(&mu.pool, move |c| users::verify_link(c, &id, &code, &ip)).await?;
    match outcome {
        users::Verified::Problem(p) => LinkPage::problem(mu.csrf, p),
        users::Verified::Taken => render(
            StatusCode::CONFLICT,
            &LinkPage::message(
                mu.csrf,
                "This address is already in use",
                "Another verified account uses this address, so yours keeps its current one.",
                "/profile",
                "Go to your profile",
            ),
        ),
        users::Verified::Done { email, changed } => page(&LinkPage::message(
            mu.csrf,
            if changed {
                "Your e-mail address was changed"
            } else {
                "Your e-mail address is verified"
            },
            &if changed {
                format!("Your Atrium account now uses {email}.")
            } else {
                format!("{email} is verified. Thank you.")
            },
            "/",
            "Go to Atrium",
        )),
    }
}

// ---------- forgot password ----------

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    csrf: String,
    email: String,
    errors: FieldErrors,
    notice: Option<String>,
    error: Option<String>,
}

async fn forgot_page(mu: MaybeUser) -> Result<HttpResponse, AppError> {
    page(&ForgotPage {
        csrf: mu.csrf,
        email: String::new(),
        errors: FieldErrors::default(),
        notice: None,
        error: None,
    })
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

async fn forgot(
    req: HttpRequest,
    mu: MaybeUser,
    cfg: web::Data<AppConfig>,
    form: web::Form<ForgotForm>,
) -> Result<HttpResponse, AppError> {
    let email = match Email::parse(&form.email) {
        Ok(e) => e,
        Err(msg) => {
            let mut errors = FieldErrors::default();
            errors.add("email", msg);
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ForgotPage {
                    csrf: mu.csrf,
                    email: form.email.clone(),
                    errors,
                    notice: None,
                    error: None,
                },
            );
        }
    };
    let ip = client_ip(&req);
    let limit = cfg.settings.login_attempts_per_minute;
    let cfg2 = cfg.clone();
    let allowed = op(&mu.pool, move |c| {
        users::request_reset(c, &cfg2, &email, &ip, limit)
    })
    .await?;
    if !allowed {
        let mut resp = render(
            StatusCode::TOO_MANY_REQUESTS,
            &ForgotPage {
                csrf: mu.csrf,
                email: form.email.clone(),
                errors: FieldErrors::default(),
                notice: None,
                error: Some(FORGOT_TOO_MANY.into()),
            },
        )?;
        resp.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_static("60"),
        );
        return Ok(resp);
    }
    page(&ForgotPage {
        csrf: mu.csrf,
        email: String::new(),
        errors: FieldErrors::default(),
        notice: Some(FORGOT_SENT.into()),
        error: None,
    })
}

// ---------- reset ----------

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    csrf: String,
    id: String,
    code: String,
    email: String,
    errors: FieldErrors,
}

async fn reset_page(
    mu: MaybeUser,
    path: web::Path<String>,
    q: web::Query<CodeQuery>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (id2, code) = (id.clone(), q.code.clone());
    let found = db(&mu.pool, move |c| {
        Ok(tokens::check(c, &id2, &code, &[Purpose::Reset])?)
    })
    .await?;
    match found {
        Err(p) => LinkPage::problem(mu.csrf, p),
        Ok(token) => page(&ResetPage {
            csrf: mu.csrf,
            id,
            code: q.code.clone(),
            email: token.email,
            errors: FieldErrors::default(),
        }),
    }
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

async fn reset(
    req: HttpRequest,
    mu: MaybeUser,
    path: web::Path<String>,
    form: web::Form<ResetForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let ResetForm {
        code,
        password: pw,
        password_confirm,
    } = form.into_inner();
    let (id2, code2) = (id.clone(), code.clone());
    let found = db(&mu.pool, move |c| {
        Ok(tokens::check(c, &id2, &code2, &[Purpose::Reset])?)
    })
    .await?;
    let token = match found {
        Ok(t) => t,
        Err(p) => return LinkPage::problem(mu.csrf, p),
    };
    let mut errors = FieldErrors::default();
    let new = NewPassword::parse(&pw)
        .map_err(|e| errors.add("password", e))
        .ok();
    if new.is_some() && pw != password_confirm {
        errors.add(
            "password_confirm",
            "The two passwords differ. Type the same one twice.",
        );
    }
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &ResetPage {
                csrf: mu.csrf,
                id,
                code,
                email: token.email,
                errors,
            },
        );
    };
    let hash = web::block(move || password::hash(new.as_str()))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing: {e}")))?;
    let ip = client_ip(&req);
    let outcome = op(&mu.pool, move |c| {
        users::reset_password(c, &id, &code, &hash, &ip)
    })
    .await?;
    match outcome {
        Err(p) => LinkPage::problem(mu.csrf, p),
        Ok(()) => {
            if mu.user.is_some() {
                mu.session.purge();
            }
            page(&LinkPage::message(
                String::new(),
                "Your password was changed",
                "Every session of your account was logged out. Log in with your new password.",
                "/auth/login",
                "Log in",
            ))
        }
    }
}

// ---------- confirming the password (sudo mode) ----------

#[derive(Deserialize, Default)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

async fn confirm_page(
    auth: Auth,
    cfg: web::Data<AppConfig>,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    page(&sudo::ConfirmPage {
        shell: auth.shell,
        next: safe_next(Some(&q.next)),
        minutes: sudo::minutes(&cfg),
        errors: FieldErrors::default(),
    })
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn confirm(
    req: HttpRequest,
    auth: Auth,
    cfg: web::Data<AppConfig>,
    form: web::Form<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let ConfirmForm { password: pw, next } = form.into_inner();
    let next = safe_next(Some(&next));
    let limit = cfg.settings.login_attempts_per_minute;
    let uid = auth.user.id.clone();
    // A slot is taken before the hash is computed: at most `limit` checks a minute.
    let allowed = op(&auth.pool, move |c| {
        users::take_confirm_slot(c, &uid, limit)
    })
    .await?;
    let show = |status: StatusCode, errors: FieldErrors, shell| {
        render(
            status,
            &sudo::ConfirmPage {
                shell,
                next: next.clone(),
                minutes: sudo::minutes(&cfg),
                errors,
            },
        )
    };
    if !allowed {
        let mut errors = FieldErrors::default();
        errors.add("password", crate::users::pages::TOO_MANY);
        let mut resp = show(StatusCode::TOO_MANY_REQUESTS, errors, auth.shell.clone())?;
        resp.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_static("60"),
        );
        return Ok(resp);
    }
    let stored = auth.user.password_hash.clone();
    let ok = web::block(move || {
        pw.len() <= crate::users::domain::MAX_PASSWORD_BYTES && password::verify(&pw, &stored)
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    let (user, ip) = (auth.user.clone(), client_ip(&req));
    op(&auth.pool, move |c| {
        users::record_confirmation(c, &user, ok, &ip)
    })
    .await?;
    if !ok {
        let mut errors = FieldErrors::default();
        errors.add("password", "That is not your password.");
        return show(StatusCode::UNPROCESSABLE_ENTITY, errors, auth.shell.clone());
    }
    sudo::note_password_entry(&auth.session)?;
    Ok(redirect(&req, &next))
}

// ---------- the profile: verification again, a new address ----------

async fn resend_verification(
    req: HttpRequest,
    auth: Auth,
    cfg: web::Data<AppConfig>,
) -> Result<HttpResponse, AppError> {
    if auth.user.is_verified() {
        let mut p = ProfilePage::of(auth);
        p.notice = Some("Your e-mail address is already verified.".into());
        return page(&p);
    }
    let (user, ip, cfg2) = (auth.user.clone(), client_ip(&req), cfg.clone());
    let sent = op(&auth.pool, move |c| {
        users::resend_verification(c, &cfg2, &user, &ip)
    })
    .await?;
    let email = auth.user.email.clone();
    let mut p = ProfilePage::of(auth);
    if !sent {
        p.errors.add("resend", TOO_MANY_MAILS);
        return render(StatusCode::TOO_MANY_REQUESTS, &p);
    }
    p.notice = Some(format!(
        "We sent a new verification link to {email}. It works for 24 hours."
    ));
    page(&p)
}

#[derive(Deserialize)]
struct EmailForm {
    #[serde(default)]
    new_email: String,
}

async fn change_email(
    req: HttpRequest,
    auth: Auth,
    cfg: web::Data<AppConfig>,
    form: web::Form<EmailForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(r) = sudo::require(&req, &auth.session, &auth.shell, &cfg, "/profile")? {
        return Ok(r);
    }
    let refuse = |auth: Auth, msg: &str, status: StatusCode| {
        let mut p = ProfilePage::of(auth);
        p.new_email = form.new_email.clone();
        p.errors.add("new_email", msg.to_string());
        render(status, &p)
    };
    let new = match Email::parse(&form.new_email) {
        Ok(e) => e,
        Err(msg) => return refuse(auth, msg, StatusCode::UNPROCESSABLE_ENTITY),
    };
    if new.normalized() == auth.user.email_normalized {
        return refuse(
            auth,
            "This is already your address.",
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let (user, ip, cfg2, new2) = (auth.user.clone(), client_ip(&req), cfg.clone(), new.clone());
    let outcome = op(&auth.pool, move |c| {
        users::request_email_change(c, &cfg2, &user, &new2, &ip)
    })
    .await?;
    match outcome {
        users::Requested::Taken => refuse(auth, EMAIL_TAKEN, StatusCode::UNPROCESSABLE_ENTITY),
        users::Requested::Limited => refuse(auth, TOO_MANY_MAILS, StatusCode::TOO_MANY_REQUESTS),
        users::Requested::Sent => {
            let old = auth.user.email.clone();
            let mut p = ProfilePage::of(auth);
            p.notice = Some(format!(
                "We sent a link to {}. Your address changes when you open it; until then it stays {old}.",
                new.as_str()
            ));
            page(&p)
        }
    }
}

/// The status of a page behind a link that cannot be used: 404 for a link that never
/// worked, 410 for one that expired or was used.
fn status_of(p: Problem) -> StatusCode {
    match p {
        Problem::Invalid => StatusCode::NOT_FOUND,
        Problem::Expired | Problem::Used => StatusCode::GONE,
    }
}

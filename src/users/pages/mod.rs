//! Sign-up, log-in, log-out, the profile page and onboarding.

pub mod security;
pub mod sessions;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::domain::{Email, Handle, Name, NewPassword};
use super::ops::{self as users, User};
pub use super::ops::{SignupKind, ValidSignup};
use crate::outcome::OpResult;

use crate::authn::rate_limit::{Bucket, Limit};
use crate::authn::{
    SESSION_ADDRESS, SESSION_CSRF, SESSION_DEVICE, SESSION_USER, password, random_token,
    rate_limit, safe_next,
};
use crate::settings::AppConfig;
use crate::settings::SignupPolicy;
use crate::web::ctx::{Auth, MaybeUser};
use crate::web::{
    AppError, FieldErrors, Shell, client_ip, db, op, page, redirect, render, with_fields,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/auth/signup", web::get().to(signup_page))
        .route("/auth/signup", web::post().to(signup))
        .route("/auth/login", web::get().to(login_page))
        .route("/auth/login", web::post().to(login))
        .route("/auth/logout", web::post().to(logout))
        .route("/onboarding", web::get().to(onboarding))
        .route("/profile", web::get().to(profile_page))
        .route("/profile", web::post().to(update_profile))
        .route("/profile/password", web::post().to(change_password));
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    pub next: Option<String>,
}

impl NextQuery {
    fn local(&self) -> Option<String> {
        self.next
            .as_deref()
            .map(|n| safe_next(Some(n)))
            .filter(|n| n != "/")
    }
}

/// Starts an authenticated session: a new session id, the user, a new CSRF token, and the
/// device and address it starts from (the sessions page lists them).
/// Returns the new CSRF token.
pub fn start_session(
    req: &HttpRequest,
    session: &actix_session::Session,
    user_id: &str,
) -> Result<String, AppError> {
    session.renew();
    // A new session has come through no SSO provider (`sso::pages` notes it after this).
    session.remove(crate::authn::SESSION_SSO);
    let csrf = random_token(32);
    let device = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .map(|v| crate::users::sessions::clean_user_agent(v.as_bytes()))
        .filter(|ua| !ua.is_empty());
    session
        .insert(SESSION_USER, user_id)
        .and_then(|_| session.insert(SESSION_CSRF, &csrf))
        .and_then(|_| session.insert(SESSION_ADDRESS, client_ip(req)))
        .and_then(|_| match &device {
            Some(ua) => session.insert(SESSION_DEVICE, ua),
            None => Ok(()),
        })
        .map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
    // Every session starts with the password just entered (sudo mode counts from here).
    crate::web::sudo::note_password_entry(session)?;
    Ok(csrf)
}

async fn home(mu: MaybeUser) -> Result<HttpResponse, AppError> {
    // A database error is an error here, never "not logged in".
    let to = match &mu.user {
        Some(user) => crate::workspaces::pages::home_for(&mu.pool, &user.id).await?,
        None => "/auth/login".into(),
    };
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", to))
        .finish())
}

// ---------- sign-up ----------

#[derive(Deserialize, Default, Clone)]
pub struct SignupForm {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub handle: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Template)]
#[template(path = "auth/signup.html")]
pub struct SignupPage {
    pub csrf: String,
    pub form: SignupForm,
    pub errors: FieldErrors,
    pub next: Option<String>,
    pub closed: bool,
    pub email_fixed: bool,
    /// Where the form posts (the invitation sign-up posts elsewhere).
    pub action: Option<String>,
    /// Invitation sign-up: an unverified account holds the address and will be replaced.
    pub replaces_unverified: bool,
}

async fn signup_page(
    mu: MaybeUser,
    q: web::Query<NextQuery>,
    cfg: web::Data<AppConfig>,
) -> Result<HttpResponse, AppError> {
    if mu.user.is_some() {
        return Ok(HttpResponse::SeeOther()
            .insert_header(("Location", safe_next(q.next.as_deref())))
            .finish());
    }
    page(&SignupPage {
        csrf: mu.csrf,
        form: SignupForm::default(),
        errors: FieldErrors::default(),
        next: q.local(),
        closed: cfg.settings.signup == SignupPolicy::InviteOnly,
        email_fixed: false,
        action: None,
        replaces_unverified: false,
    })
}

pub fn validate_signup(form: &SignupForm) -> Result<ValidSignup, FieldErrors> {
    let mut errors = FieldErrors::default();
    let email = Email::parse(&form.email)
        .map_err(|e| errors.add("email", e))
        .ok();
    let handle = Handle::parse(&form.handle)
        .map_err(|e| errors.add("handle", e))
        .ok();
    let first = Name::parse(&form.first_name, "your first name", true)
        .map_err(|e| errors.add("first_name", e))
        .ok();
    let last = Name::parse(&form.last_name, "your last name", false)
        .map_err(|e| errors.add("last_name", e))
        .ok();
    let password = NewPassword::parse(&form.password)
        .map_err(|e| errors.add("password", e))
        .ok();
    match (email, handle, first, last, password) {
        (Some(email), Some(handle), Some(first), Some(last), Some(password))
            if errors.is_empty() =>
        {
            Ok(ValidSignup {
                email,
                handle,
                first,
                last,
                password,
            })
        }
        _ => Err(errors),
    }
}

/// Creates the user and personal account in one transaction, with its audit event.
/// `extra` runs inside the same transaction (e.g. accepting an invitation). An unverified
/// user holding the address is replaced as `kind` says, in the same transaction.
pub async fn create_user(
    pool: &crate::db::Pool,
    cfg: web::Data<AppConfig>,
    valid: ValidSignup,
    ip: String,
    kind: SignupKind,
    extra: impl FnOnce(&mut crate::db::DbConn, &User) -> OpResult<()> + Send + 'static,
) -> Result<Result<User, FieldErrors>, AppError> {
    let pw = valid.password.as_str().to_string();
    let hash = web::block(move || password::hash(&pw))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("hashing: {e}")))?;
    let cfg = cfg.into_inner();
    with_fields(
        db(pool, move |c| {
            Ok(crate::users::ops::sign_up(
                c, &cfg, &valid, &hash, ip, kind, extra,
            ))
        })
        .await?,
    )
}

async fn signup(
    req: HttpRequest,
    mu: MaybeUser,
    q: web::Query<NextQuery>,
    cfg: web::Data<AppConfig>,
    form: web::Form<SignupForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let closed = cfg.settings.signup == SignupPolicy::InviteOnly;
    let show = |errors: FieldErrors, form: SignupForm, status: StatusCode| {
        let mut form = form;
        form.password.clear();
        render(
            status,
            &SignupPage {
                csrf: mu.csrf.clone(),
                form,
                errors,
                next: q.local(),
                closed,
                email_fixed: false,
                action: None,
                replaces_unverified: false,
            },
        )
    };
    if closed {
        return show(FieldErrors::default(), form, StatusCode::FORBIDDEN);
    }
    let valid = match validate_signup(&form) {
        Ok(v) => v,
        Err(errors) => return show(errors, form, StatusCode::UNPROCESSABLE_ENTITY),
    };
    // Each sign-up costs a password hash and a row: a client address gets a few an hour.
    let (ip, per_hour) = (client_ip(&req), cfg.settings.signups_per_hour);
    let ip2 = ip.clone();
    let slot = db(&mu.pool, move |c| {
        Ok(rate_limit::take(
            c,
            Bucket::Signup,
            &ip2,
            &ip2,
            Limit::per_hour(per_hour),
        )?)
    })
    .await?;
    if slot.is_none() {
        let mut errors = FieldErrors::default();
        errors.add("email", TOO_MANY_SIGNUPS);
        return show(errors, form, StatusCode::TOO_MANY_REQUESTS);
    }
    let created = create_user(
        &mu.pool,
        cfg.clone(),
        valid,
        ip,
        SignupKind::Plain,
        |_, _| Ok(()),
    )
    .await?;
    match created {
        Err(errors) => show(errors, form, StatusCode::UNPROCESSABLE_ENTITY),
        Ok(user) => {
            start_session(&req, &mu.session, &user.id)?;
            let to = q.local().unwrap_or_else(|| "/onboarding".into());
            Ok(redirect(&req, &to))
        }
    }
}

// ---------- log-in / log-out ----------

#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    pub csrf: String,
    pub login: String,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub next: Option<String>,
    pub signup_open: bool,
}

async fn login_page(
    mu: MaybeUser,
    q: web::Query<NextQuery>,
    cfg: web::Data<AppConfig>,
) -> Result<HttpResponse, AppError> {
    if mu.user.is_some() {
        return Ok(HttpResponse::SeeOther()
            .insert_header(("Location", safe_next(q.next.as_deref())))
            .finish());
    }
    page(&LoginPage {
        csrf: mu.csrf,
        login: String::new(),
        error: None,
        notice: None,
        next: q.local(),
        signup_open: cfg.settings.signup == SignupPolicy::Open,
    })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

pub const BAD_LOGIN: &str = "Wrong e-mail, handle or password.";
pub const TOO_MANY: &str = "Too many failed log-in attempts. Wait a minute and try again.";
pub const TOO_MANY_SIGNUPS: &str =
    "Too many accounts were created from your address. Try again in an hour.";
pub const TOO_MANY_CHECKS: &str = "Too many wrong passwords. Wait a minute and try again.";

enum Lookup {
    Limited,
    Found(Option<Box<User>>, rate_limit::Slot, TwoFactor),
}

/// What two-factor authentication asks of a log-in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TwoFactor {
    /// Nothing: no second step, no account requiring it.
    None,
    /// The user has it on: the second step comes after the password.
    SecondStep,
    /// The user has it off and an account of theirs requires it: set it up first.
    SetUp,
}

async fn login(
    req: HttpRequest,
    mu: MaybeUser,
    q: web::Query<NextQuery>,
    cfg: web::Data<AppConfig>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let LoginForm {
        login,
        password: pw,
    } = form.into_inner();
    let ip = client_ip(&req);
    // Control characters (NUL above all, which PostgreSQL cannot store) never match a
    // handle or an address; kept visible as U+FFFD in the throttle and the audit log.
    let identifier: String = login
        .trim()
        .to_lowercase()
        .chars()
        .take(254)
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect();
    let limit = cfg.settings.login_attempts_per_minute;
    let signup_open = cfg.settings.signup == SignupPolicy::Open;
    let show = |status: StatusCode, msg: &str| {
        let mut resp = render(
            status,
            &LoginPage {
                csrf: mu.csrf.clone(),
                login: login.clone(),
                error: Some(msg.to_string()),
                notice: None,
                next: q.local(),
                signup_open,
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

    // The attempt takes its slot before the password is checked (`rate_limit::take`):
    // concurrent guesses cannot all pass a count that none of them has added to yet. The
    // per-account count keys on the user the handle or address names, so both share it.
    let (ip2, id2) = (ip.clone(), identifier.clone());
    let lookup = db(&mu.pool, move |c| {
        let user = users::find_by_login(c, &id2)?;
        let key = rate_limit::login_key(user.as_ref().map(|u| u.id.as_str()), &id2);
        let Some(slot) = rate_limit::take(c, Bucket::Login, &ip2, &key, Limit::per_minute(limit))?
        else {
            return Ok(Lookup::Limited);
        };
        let two_factor = match &user {
            Some(u) if crate::two_factor::ops::is_enabled(c, &u.id)? => TwoFactor::SecondStep,
            Some(u) if !crate::two_factor::ops::requiring_accounts(c, &u.id)?.is_empty() => {
                TwoFactor::SetUp
            }
            _ => TwoFactor::None,
        };
        Ok(Lookup::Found(user.map(Box::new), slot, two_factor))
    })
    .await?;
    let (user, slot, two_factor) = match lookup {
        Lookup::Limited => return show(StatusCode::TOO_MANY_REQUESTS, TOO_MANY),
        Lookup::Found(u, slot, tf) => (u.map(|b| *b), slot, tf),
    };
    let pw_too_long = pw.len() > crate::users::domain::MAX_PASSWORD_BYTES;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let (ok, rehash) = web::block(move || match stored {
        Some(h) if !pw_too_long => {
            let ok = password::verify(&pw, &h);
            let rehash = if ok && password::needs_rehash(&h) {
                password::hash(&pw).ok()
            } else {
                None
            };
            (ok, rehash)
        }
        _ => {
            password::verify_dummy(&pw);
            (false, None)
        }
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;

    let (ip3, user2) = (ip.clone(), user.clone());
    op(&mu.pool, move |c| {
        users::record_login(
            c,
            user2.as_ref(),
            ok,
            slot,
            rehash.as_deref(),
            &identifier,
            ip3,
            two_factor == TwoFactor::SecondStep,
        )
    })
    .await?;

    match (ok, user) {
        // No session yet: the code from the app first (`two_factor::pages`).
        (true, Some(u)) if two_factor == TwoFactor::SecondStep => {
            crate::two_factor::pages::begin_second_step(
                &mu.session,
                &u.id,
                &safe_next(q.next.as_deref()),
            )?;
            Ok(redirect(&req, "/auth/two-factor"))
        }
        // An account of theirs requires two-factor authentication: set it up first.
        (true, Some(u)) if two_factor == TwoFactor::SetUp => {
            start_session(&req, &mu.session, &u.id)?;
            Ok(redirect(&req, "/profile/two-factor"))
        }
        (true, Some(u)) => {
            start_session(&req, &mu.session, &u.id)?;
            Ok(redirect(&req, &safe_next(q.next.as_deref())))
        }
        _ => show(StatusCode::OK, BAD_LOGIN),
    }
}

#[derive(Deserialize, Default)]
struct LogoutForm {
    #[serde(default)]
    next: Option<String>,
}

async fn logout(
    req: HttpRequest,
    mu: MaybeUser,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, AppError> {
    if let Some(user) = mu.user.clone() {
        let ip = client_ip(&req);
        op(&mu.pool, move |c| users::record_logout(c, &user, &ip)).await?;
    }
    mu.session.purge();
    let to = match form.next.as_deref().map(|n| safe_next(Some(n))) {
        Some(n) if n != "/" => n,
        _ => "/auth/login".into(),
    };
    Ok(redirect(&req, &to))
}

// ---------- onboarding ----------

async fn onboarding(auth: Auth) -> Result<HttpResponse, AppError> {
    use crate::workspaces::pages::{WorkspaceForm, onboarding_page};
    let form = WorkspaceForm {
        account_id: auth
            .shell
            .accounts
            .first()
            .map(|a| a.id.clone())
            .unwrap_or_default(),
        ..WorkspaceForm::default()
    };
    page(&onboarding_page(auth, form, FieldErrors::default()))
}

// ---------- profile ----------

#[derive(Template)]
#[template(path = "profile/index.html")]
pub(crate) struct ProfilePage {
    pub shell: Shell,
    pub email: String,
    pub verified: bool,
    pub new_email: String,
    pub handle: String,
    pub first_name: String,
    pub last_name: String,
    pub errors: FieldErrors,
    pub notice: Option<String>,
}

impl ProfilePage {
    pub(crate) fn of(auth: Auth) -> Self {
        ProfilePage {
            email: auth.user.email.clone(),
            verified: auth.user.is_verified(),
            new_email: String::new(),
            handle: auth.user.handle.clone(),
            first_name: auth.user.first_name.clone(),
            last_name: auth.user.last_name.clone(),
            shell: auth.shell.at("profile"),
            errors: FieldErrors::default(),
            notice: None,
        }
    }
}

async fn profile_page(auth: Auth) -> Result<HttpResponse, AppError> {
    page(&ProfilePage::of(auth))
}

#[derive(Deserialize)]
struct NamesForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

async fn update_profile(
    req: HttpRequest,
    auth: Auth,
    form: web::Form<NamesForm>,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    let first = Name::parse(&form.first_name, "your first name", true)
        .map_err(|e| errors.add("first_name", e))
        .ok();
    let last = Name::parse(&form.last_name, "your last name", false)
        .map_err(|e| errors.add("last_name", e))
        .ok();
    let (Some(first), Some(last)) = (first, last) else {
        let mut p = ProfilePage::of(auth);
        p.first_name = form.first_name.clone();
        p.last_name = form.last_name.clone();
        p.errors = errors;
        return render(StatusCode::UNPROCESSABLE_ENTITY, &p);
    };
    let user = auth.user.clone();
    let ip = client_ip(&req);
    op(&auth.pool, move |c| {
        users::update_names(c, &user, &first, &last, &ip)
    })
    .await?;
    let mut p = ProfilePage::of(auth);
    p.first_name = form.first_name.trim().to_string();
    p.last_name = form.last_name.trim().to_string();
    p.notice = Some("Your details were saved.".into());
    page(&p)
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

async fn change_password(
    req: HttpRequest,
    auth: Auth,
    cfg: web::Data<AppConfig>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let PasswordForm {
        current_password,
        new_password,
    } = form.into_inner();
    let stored = auth.user.password_hash.clone();
    let mut errors = FieldErrors::default();
    let new = NewPassword::parse(&new_password)
        .map_err(|e| errors.add("new_password", e))
        .ok();
    // The current password is a guess like a log-in's: throttled per address and user,
    // the slot taken before the check.
    let (ip, uid, limit) = (
        client_ip(&req),
        auth.user.id.clone(),
        cfg.settings.login_attempts_per_minute,
    );
    let ip2 = ip.clone();
    let slot = db(&auth.pool, move |c| {
        Ok(rate_limit::take(
            c,
            Bucket::PasswordCheck,
            &ip2,
            &format!("user:{uid}"),
            Limit::per_minute(limit),
        )?)
    })
    .await?;
    let Some(slot) = slot else {
        errors.add("current_password", TOO_MANY_CHECKS);
        let mut p = ProfilePage::of(auth);
        p.errors = errors;
        return render(StatusCode::TOO_MANY_REQUESTS, &p);
    };
    let checked = web::block(move || {
        let ok = current_password.len() <= crate::users::domain::MAX_PASSWORD_BYTES
            && password::verify(&current_password, &stored);
        let hash = match (&new, ok) {
            (Some(n), true) => password::hash(n.as_str()).ok(),
            _ => None,
        };
        (ok, hash)
    })
    .await
    .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    let (ok, hash) = checked;
    if !ok {
        errors.add("current_password", "That is not your current password.");
    }
    let Some(hash) = hash.filter(|_| errors.is_empty()) else {
        let mut p = ProfilePage::of(auth);
        p.errors = errors;
        return render(StatusCode::UNPROCESSABLE_ENTITY, &p);
    };
    let user = auth.user.clone();
    op(&auth.pool, move |c| {
        users::change_password(c, &user, &hash, slot, &ip)
    })
    .await?;
    // This session continues under a new id; every other session of the user has ended.
    let csrf = start_session(&req, &auth.session, &auth.user.id)?;
    let mut p = ProfilePage::of(auth);
    p.shell.csrf = csrf;
    p.notice = Some("Your password was changed. Your other sessions were logged out.".into());
    page(&p)
}

//! SSO pages (issue #26): Account settings → Single sign-on (the provider, its domains,
//! whether it is required), the domain proof link, and the sign-in through the provider —
//! "Sign in with SSO" (the e-mail first), the callback, and linking an existing user after
//! their password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::oidc::{self, Claims, Pending, Refused, Rp};
use super::ops::{self, ClaimedDomain, SsoIntegration, Who};
use crate::authn::{SESSION_SSO, safe_next};
use crate::authz::account::AccountPerm;
use crate::egress::Upstream;
use crate::settings::AppConfig;
use crate::web::ctx::{AccountCtx, Auth, MaybeUser, sso_accounts};
use crate::web::{
    AppError, FieldErrors, Shell, client_ip, op, page, redirect, render, with_fields,
};

const SESSION_PENDING: &str = "sso_pending";
const SESSION_LINK: &str = "sso_link";

const LINK_GONE: &str =
    "This link is not valid: it was used already, it expired, or a newer one was sent.";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/account/{account_id}/settings/sso",
        web::get().to(settings_page),
    )
    .route("/account/{account_id}/settings/sso", web::post().to(save))
    .route(
        "/account/{account_id}/settings/sso/delete",
        web::post().to(delete),
    )
    .route(
        "/account/{account_id}/settings/sso/domains",
        web::post().to(claim_domain),
    )
    .route(
        "/account/{account_id}/settings/sso/domains/{domain_id}/remove",
        web::post().to(remove_domain),
    )
    .route("/sso/domains/verify", web::get().to(verify_page))
    .route("/sso/domains/verify", web::post().to(verify))
    .route("/auth/sso", web::get().to(sso_page))
    .route("/auth/sso", web::post().to(sso_start))
    .route(
        "/auth/sso/account/{account_id}",
        web::get().to(sso_for_account),
    )
    .route("/auth/sso/callback", web::get().to(callback))
    .route("/auth/sso/link", web::get().to(link_page))
    .route("/auth/sso/link", web::post().to(link));
}

fn session_err(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("session: {e}"))
}

// ---------- settings ----------

#[derive(Deserialize, Default, Clone)]
pub struct IntegrationForm {
    #[serde(default)]
    pub issuer: String,
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub client_secret: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub required: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
pub struct DomainForm {
    #[serde(default)]
    pub domain: String,
    #[serde(default)]
    pub email: String,
}

#[derive(Template)]
#[template(path = "sso/settings.html")]
struct SettingsPage {
    shell: Shell,
    account_id: String,
    can_edit: bool,
    integration: Option<SsoIntegration>,
    domains: Vec<ClaimedDomain>,
    form: IntegrationForm,
    required: bool,
    errors: FieldErrors,
    domain_form: DomainForm,
    domain_errors: FieldErrors,
    redirect_uri: String,
    roles: Vec<(&'static str, &'static str)>,
    notice: Option<String>,
}

async fn load(
    req: &HttpRequest,
    ctx: &AccountCtx,
    cfg: &AppConfig,
) -> Result<SettingsPage, AppError> {
    let (integration, domains) = ctx
        .op(req, |c, a| {
            ops::view(c, &Who::user(&a.user, a.ip.clone()), &a.account.id)
        })
        .await?;
    let form = match &integration {
        Some(i) => IntegrationForm {
            issuer: i.issuer.clone(),
            client_id: i.client_id.clone(),
            client_secret: String::new(),
            role: i.role.clone(),
            required: None,
        },
        None => IntegrationForm {
            role: "member".into(),
            ..Default::default()
        },
    };
    let mut shell = ctx.auth.shell.clone();
    shell.active = "sso";
    Ok(SettingsPage {
        shell,
        account_id: ctx.account.id.clone(),
        can_edit: ctx.can(AccountPerm::AdministrateSso),
        integration,
        domains,
        form,
        required: ctx.account.sso_required,
        errors: FieldErrors::default(),
        domain_form: DomainForm::default(),
        domain_errors: FieldErrors::default(),
        redirect_uri: oidc::redirect_uri(&cfg.base()),
        roles: ops::ROLE_CHOICES
            .iter()
            .map(|r| (r.as_str(), r.label()))
            .collect(),
        notice: None,
    })
}

async fn settings_page(
    req: HttpRequest,
    ctx: AccountCtx,
    cfg: web::Data<AppConfig>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadSso)?;
    page(&load(&req, &ctx, &cfg).await?)
}

async fn save(
    req: HttpRequest,
    ctx: AccountCtx,
    cfg: web::Data<AppConfig>,
    up: web::Data<Upstream>,
    form: web::Form<IntegrationForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadSso)?;
    ctx.require(AccountPerm::AdministrateSso)?;
    let mut form = form.into_inner();
    form.role = form.role.trim().to_ascii_lowercase();
    let mut p = load(&req, &ctx, &cfg).await?;
    let input = ops::Input {
        issuer: form.issuer.clone(),
        client_id: form.client_id.clone(),
        client_secret: form.client_secret.clone(),
        role: form.role.clone(),
        required: form.required.is_some(),
    };
    // The fields' own rules first, then the provider itself (nothing is saved when it
    // cannot be reached or is not an OpenID provider).
    let mut errors = match ops::check(&input, p.integration.is_some()) {
        Ok(_) => FieldErrors::default(),
        Err(e) => e,
    };
    if errors.is_empty()
        && let Err(e) = oidc::discover(&up, input.issuer.trim()).await
    {
        errors.add("issuer", e.message());
    }
    if errors.is_empty() {
        let sealer = cfg.sealer.clone();
        let saved = ctx
            .try_op(&req, move |c, a| {
                ops::save(
                    c,
                    &Who::user(&a.user, a.ip.clone()),
                    &a.account.id,
                    &input,
                    &sealer,
                )
            })
            .await?;
        match with_fields(saved)? {
            Ok(i) => {
                p.form.issuer = i.issuer.clone();
                p.form.client_id = i.client_id.clone();
                p.form.role = i.role.clone();
                p.required = form.required.is_some();
                p.integration = Some(i);
                p.notice = Some("Single sign-on saved.".into());
                return page(&p);
            }
            Err(e) => errors = e,
        }
    }
    p.form = IntegrationForm {
        client_secret: String::new(),
        ..form
    };
    p.required = p.form.required.is_some();
    p.errors = errors;
    render(StatusCode::UNPROCESSABLE_ENTITY, &p)
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    integration_id: String,
}

async fn delete(
    req: HttpRequest,
    ctx: AccountCtx,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadSso)?;
    ctx.require(AccountPerm::AdministrateSso)?;
    let id = form.into_inner().integration_id;
    ctx.op(&req, move |c, a| {
        ops::delete(c, &Who::user(&a.user, a.ip.clone()), &a.account.id, &id)
    })
    .await?;
    Ok(redirect(
        &req,
        &format!("/account/{}/settings/sso", ctx.account.id),
    ))
}

async fn claim_domain(
    req: HttpRequest,
    ctx: AccountCtx,
    cfg: web::Data<AppConfig>,
    form: web::Form<DomainForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadSso)?;
    ctx.require(AccountPerm::AdministrateSso)?;
    let form = form.into_inner();
    let (domain, email) = (form.domain.clone(), form.email.clone());
    let cfg2 = cfg.clone();
    let claimed = ctx
        .try_op(&req, move |c, a| {
            ops::claim_domain(
                c,
                &Who::user(&a.user, a.ip.clone()),
                &a.account.id,
                &domain,
                &email,
                &cfg2,
            )
        })
        .await?;
    let claimed = with_fields(claimed)?;
    let mut p = load(&req, &ctx, &cfg).await?;
    match claimed {
        Ok(d) => {
            p.notice = Some(format!(
                "A link was sent to {}. The domain {} is claimed once it is opened.",
                d.verify_email, d.domain
            ));
            page(&p)
        }
        Err(e) => {
            p.domain_form = form;
            p.domain_errors = e;
            render(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
    }
}

async fn remove_domain(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadSso)?;
    ctx.require(AccountPerm::AdministrateSso)?;
    let (_, domain_id) = path.into_inner();
    ctx.op(&req, move |c, a| {
        ops::remove_domain(
            c,
            &Who::user(&a.user, a.ip.clone()),
            &a.account.id,
            &domain_id,
        )
    })
    .await?;
    Ok(redirect(
        &req,
        &format!("/account/{}/settings/sso", ctx.account.id),
    ))
}

// ---------- the domain proof link ----------

#[derive(Deserialize, Default)]
struct CodeQuery {
    #[serde(default)]
    code: String,
}

#[derive(Template)]
#[template(path = "sso/verify.html")]
struct VerifyPage {
    csrf: String,
    code: String,
    domain: String,
    done: bool,
    error: Option<String>,
}

async fn verify_page(mu: MaybeUser, q: web::Query<CodeQuery>) -> Result<HttpResponse, AppError> {
    let code = q.into_inner().code;
    let code2 = code.clone();
    let claim = op(&mu.pool, move |c| Ok(ops::claim_by_code(c, &code2).ok())).await?;
    let Some(claim) = claim else {
        return render(
            StatusCode::GONE,
            &VerifyPage {
                csrf: mu.csrf,
                code: String::new(),
                domain: String::new(),
                done: false,
                error: Some(LINK_GONE.into()),
            },
        );
    };
    page(&VerifyPage {
        csrf: mu.csrf,
        code,
        domain: claim.domain,
        done: false,
        error: None,
    })
}

async fn verify(
    req: HttpRequest,
    mu: MaybeUser,
    form: web::Form<CodeQuery>,
) -> Result<HttpResponse, AppError> {
    let code = form.into_inner().code;
    let ip = client_ip(&req);
    let code2 = code.clone();
    let done = op(&mu.pool, move |c| Ok(ops::verify_domain(c, &code2, &ip))).await?;
    match done {
        Ok(d) => page(&VerifyPage {
            csrf: mu.csrf,
            code: String::new(),
            domain: d.domain,
            done: true,
            error: None,
        }),
        Err(e) => {
            let msg = crate::web::refusal_text(e)?;
            render(
                StatusCode::CONFLICT,
                &VerifyPage {
                    csrf: mu.csrf,
                    code,
                    domain: String::new(),
                    done: false,
                    error: Some(msg),
                },
            )
        }
    }
}

// ---------- signing in ----------

#[derive(Deserialize, Default)]
pub struct NextQuery {
    pub next: Option<String>,
}

#[derive(Template)]
#[template(path = "sso/start.html")]
struct StartPage {
    csrf: String,
    email: String,
    error: Option<String>,
    next: Option<String>,
}

fn local_next(n: Option<&str>) -> Option<String> {
    n.map(|n| safe_next(Some(n))).filter(|n| n != "/")
}

async fn sso_page(mu: MaybeUser, q: web::Query<NextQuery>) -> Result<HttpResponse, AppError> {
    page(&StartPage {
        csrf: mu.csrf,
        email: String::new(),
        error: None,
        next: local_next(q.next.as_deref()),
    })
}

#[derive(Deserialize, Default)]
struct StartForm {
    #[serde(default)]
    email: String,
}

fn rp_of<'a>(i: &'a SsoIntegration, secret: &'a str, uri: &'a str) -> Rp<'a> {
    Rp {
        issuer: &i.issuer,
        client_id: &i.client_id,
        client_secret: secret,
        redirect_uri: uri,
    }
}

#[derive(Template)]
#[template(path = "sso/continue.html")]
struct ContinuePage {
    url: String,
}

/// Sends the browser to the integration's provider, remembering what the callback must
/// match in the session. After a form (`interstitial`), with a page that continues there by
/// itself: the pages' `form-action 'self'` forbids a form's redirect to another origin.
async fn go_to_provider(
    mu: &MaybeUser,
    cfg: &AppConfig,
    up: &Upstream,
    i: &SsoIntegration,
    next: &str,
    hint: Option<&str>,
    interstitial: bool,
) -> Result<Result<HttpResponse, String>, AppError> {
    let Some(secret) = cfg.sealer.open(&i.client_secret_sealed) else {
        return Ok(Err(
            "This account's SSO settings cannot be read (the secret key changed): ask its administrator to enter the client secret again.".into(),
        ));
    };
    let uri = oidc::redirect_uri(&cfg.base());
    let rp = rp_of(i, &secret, &uri);
    match oidc::start(up, &rp, &i.id, next, hint).await {
        Ok((url, pending)) => {
            mu.session
                .insert(SESSION_PENDING, &pending)
                .map_err(session_err)?;
            if interstitial {
                return Ok(Ok(page(&ContinuePage { url })?));
            }
            Ok(Ok(HttpResponse::SeeOther()
                .insert_header(("Location", url))
                .finish()))
        }
        Err(e) => Ok(Err(format!(
            "Your identity provider could not be reached: {}",
            e.message()
        ))),
    }
}

async fn sso_start(
    mu: MaybeUser,
    q: web::Query<NextQuery>,
    cfg: web::Data<AppConfig>,
    up: web::Data<Upstream>,
    form: web::Form<StartForm>,
) -> Result<HttpResponse, AppError> {
    let email = form.into_inner().email.trim().to_lowercase();
    let next = local_next(q.next.as_deref());
    let show = |mu: &MaybeUser, msg: String| {
        render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &StartPage {
                csrf: mu.csrf.clone(),
                email: email.clone(),
                error: Some(msg),
                next: next.clone(),
            },
        )
    };
    let email2 = email.clone();
    let found = op(&mu.pool, move |c| ops::integration_for_email(c, &email2)).await?;
    let Some(i) = found else {
        return show(
            &mu,
            "No account signs in addresses of this domain with single sign-on. Log in with your password.".into(),
        );
    };
    let to = next.clone().unwrap_or_else(|| "/".into());
    match go_to_provider(&mu, &cfg, &up, &i, &to, Some(&email), true).await? {
        Ok(r) => Ok(r),
        Err(msg) => show(&mu, msg),
    }
}

/// A fresh SSO step for a member of an account that requires it (where its pages send
/// them); 404 for anyone else.
async fn sso_for_account(
    req: HttpRequest,
    auth: Auth,
    mu: MaybeUser,
    path: web::Path<String>,
    q: web::Query<NextQuery>,
    cfg: web::Data<AppConfig>,
    up: web::Data<Upstream>,
) -> Result<HttpResponse, AppError> {
    let account_id = path.into_inner();
    let to = local_next(q.next.as_deref()).unwrap_or_else(|| format!("/account/{account_id}"));
    // Not a member, or no provider: nothing to do here (the same answer for both).
    let member = auth.shell.accounts.iter().any(|a| a.id == account_id);
    let a2 = account_id.clone();
    let found = match member {
        true => op(&mu.pool, move |c| ops::integration_of_account(c, &a2)).await?,
        false => None,
    };
    let Some(i) = found else {
        return Ok(redirect(&req, "/"));
    };
    let hint = auth.user.email.clone();
    match go_to_provider(&mu, &cfg, &up, &i, &to, Some(&hint), false).await? {
        Ok(r) => Ok(r),
        Err(msg) => refused_page(&mu, StatusCode::BAD_GATEWAY, msg),
    }
}

#[derive(Template)]
#[template(path = "sso/refused.html")]
struct RefusedPage {
    message: String,
}

fn refused_page(
    _mu: &MaybeUser,
    status: StatusCode,
    message: String,
) -> Result<HttpResponse, AppError> {
    render(status, &RefusedPage { message })
}

#[derive(Deserialize, Default)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// What a person who must prove their password to link waits with, in the session.
#[derive(serde::Serialize, serde::Deserialize)]
struct PendingLink {
    integration_id: String,
    user_id: String,
    subject: String,
    email: String,
    first_name: String,
    last_name: String,
    next: String,
}

/// Adds the account to the session's SSO accounts (after a sign-in through its provider).
fn note_sso(session: &actix_session::Session, account_id: &str) -> Result<(), AppError> {
    let mut list = sso_accounts(session);
    if !list.iter().any(|a| a == account_id) {
        list.push(account_id.to_string());
    }
    session.insert(SESSION_SSO, list).map_err(session_err)
}

/// Signs `user_id` in (a new session unless the session is already theirs) and notes that
/// it came through the account's provider.
fn sign_in_session(
    req: &HttpRequest,
    mu: &MaybeUser,
    user_id: &str,
    account_id: &str,
) -> Result<(), AppError> {
    let same = mu.user.as_ref().is_some_and(|u| u.id == user_id);
    if !same {
        crate::users::pages::start_session(req, &mu.session, user_id)?;
    }
    note_sso(&mu.session, account_id)
}

async fn callback(
    req: HttpRequest,
    mu: MaybeUser,
    q: web::Query<CallbackQuery>,
    cfg: web::Data<AppConfig>,
    up: web::Data<Upstream>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    // The pending sign-in is spent whatever happens: a callback is answered once.
    let pending: Option<Pending> = mu.session.get(SESSION_PENDING).ok().flatten();
    mu.session.remove(SESSION_PENDING);
    let refuse = |r: Refused| refused_page(&mu, StatusCode::BAD_REQUEST, r.message());
    let Some(pending) = pending else {
        return refuse(Refused::State);
    };
    let state_ok = q.state.as_deref().is_some_and(|s| {
        use subtle_eq::ct_eq;
        ct_eq(s.as_bytes(), pending.state.as_bytes())
    });
    if !state_ok {
        return refuse(Refused::State);
    }
    if let Some(e) = q.error {
        let what = q.error_description.unwrap_or(e);
        let what: String = what.chars().filter(|c| !c.is_control()).take(200).collect();
        return refuse(Refused::Provider(what));
    }
    let Some(code) = q.code else {
        return refuse(Refused::Code);
    };
    let iid = pending.integration_id.clone();
    let Some(i) = op(&mu.pool, move |c| ops::integration(c, &iid)).await? else {
        return refuse(Refused::State);
    };
    let Some(secret) = cfg.sealer.open(&i.client_secret_sealed) else {
        return refuse(Refused::Discovery(oidc::DiscoveryFailed::Unreachable));
    };
    let uri = oidc::redirect_uri(&cfg.base());
    let rp = rp_of(&i, &secret, &uri);
    let claims = match oidc::finish(&up, &rp, &pending, &code).await {
        Ok(c) => c,
        Err(r) => return refuse(r),
    };
    let ip = client_ip(&req);
    let (iid, claims2, ip2) = (i.id.clone(), claims.clone(), ip.clone());
    let outcome = op(&mu.pool, move |c| ops::sign_in(c, &iid, &claims2, &ip2)).await?;
    match outcome {
        ops::SignIn::User(user) => {
            sign_in_session(&req, &mu, &user.id, &i.account_id)?;
            Ok(redirect(&req, &safe_next(Some(&pending.next))))
        }
        ops::SignIn::NeedsLink(user) => {
            let link = PendingLink {
                integration_id: i.id.clone(),
                user_id: user.id.clone(),
                subject: claims.subject,
                email: claims.email,
                first_name: claims.first_name,
                last_name: claims.last_name,
                next: pending.next,
            };
            mu.session
                .insert(SESSION_LINK, &link)
                .map_err(session_err)?;
            Ok(redirect(&req, "/auth/sso/link"))
        }
    }
}

/// Constant-time comparison of the `state` values.
mod subtle_eq {
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[derive(Template)]
#[template(path = "sso/link.html")]
struct LinkPage {
    csrf: String,
    email: String,
    error: Option<String>,
}

async fn link_page(req: HttpRequest, mu: MaybeUser) -> Result<HttpResponse, AppError> {
    let pending: Option<PendingLink> = mu.session.get(SESSION_LINK).ok().flatten();
    let Some(pending) = pending else {
        return Ok(redirect(&req, "/auth/sso"));
    };
    page(&LinkPage {
        csrf: mu.csrf,
        email: pending.email,
        error: None,
    })
}

#[derive(Deserialize, Default)]
struct LinkForm {
    #[serde(default)]
    password: String,
}

async fn link(
    req: HttpRequest,
    mu: MaybeUser,
    cfg: web::Data<AppConfig>,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, AppError> {
    use crate::authn::rate_limit::{self, Bucket, Limit};
    let pending: Option<PendingLink> = mu.session.get(SESSION_LINK).ok().flatten();
    let Some(pending) = pending else {
        return Err(AppError::NotFound);
    };
    let pw = form.into_inner().password;
    // The password is guessed no faster here than on the log-in page: the attempt takes a
    // slot of the same per-user and per-address count before it is checked.
    let limit = cfg.settings.login_attempts_per_minute;
    let (ip, key) = (
        client_ip(&req),
        rate_limit::login_key(Some(&pending.user_id), ""),
    );
    let slot = op(&mu.pool, move |c| {
        Ok(rate_limit::take(
            c,
            Bucket::Login,
            &ip,
            &key,
            Limit::per_minute(limit),
        )?)
    })
    .await?;
    let Some(slot) = slot else {
        let mut resp = render(
            StatusCode::TOO_MANY_REQUESTS,
            &LinkPage {
                csrf: mu.csrf.clone(),
                email: pending.email,
                error: Some(crate::users::pages::TOO_MANY.into()),
            },
        )?;
        resp.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_static("60"),
        );
        return Ok(resp);
    };
    let uid = pending.user_id.clone();
    let user = op(&mu.pool, move |c| Ok(crate::users::ops::find(c, &uid)?)).await?;
    let Some(user) = user else {
        mu.session.remove(SESSION_LINK);
        return Err(AppError::NotFound);
    };
    let stored = user.password_hash.clone();
    let too_long = pw.len() > crate::users::domain::MAX_PASSWORD_BYTES;
    let ok = web::block(move || !too_long && crate::authn::password::verify(&pw, &stored))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    if !ok {
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &LinkPage {
                csrf: mu.csrf.clone(),
                email: pending.email,
                error: Some("Wrong password.".into()),
            },
        );
    }
    op(&mu.pool, move |c| Ok(rate_limit::release(c, slot)?)).await?;
    let claims = Claims {
        subject: pending.subject.clone(),
        email: pending.email.clone(),
        first_name: pending.first_name.clone(),
        last_name: pending.last_name.clone(),
    };
    let ip = client_ip(&req);
    let (iid, uid) = (pending.integration_id.clone(), pending.user_id.clone());
    let linked = op(&mu.pool, move |c| {
        Ok(ops::link(c, &iid, &uid, &claims, &ip))
    })
    .await?;
    mu.session.remove(SESSION_LINK);
    let user = match linked {
        Ok(u) => u,
        Err(e) => {
            let msg = crate::web::refusal_text(e)?;
            return refused_page(&mu, StatusCode::CONFLICT, msg);
        }
    };
    let iid = pending.integration_id.clone();
    let Some(i) = op(&mu.pool, move |c| ops::integration(c, &iid)).await? else {
        return Err(AppError::NotFound);
    };
    sign_in_session(&req, &mu, &user.id, &i.account_id)?;
    Ok(redirect(&req, &safe_next(Some(&pending.next))))
}

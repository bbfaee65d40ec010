//! The OpenID Connect relying party (issue #26): discovery, the authorization request
//! (code flow, PKCE, `state`, `nonce`) and the callback's checks — the code exchanged at the
//! provider's token endpoint, the ID token's signature checked against the provider's
//! published keys, its issuer, audience, expiry and nonce — all by the maintained
//! `openidconnect` crate. Its HTTP goes through Atrium's own client ([`Upstream`]): every
//! address checked against the operator's allow-list after name resolution (and literal
//! addresses before), no redirect followed, bounded times and sizes.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest, HttpResponse, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use crate::egress::{Blocked, BlockedError, Upstream};

/// The largest answer read from a provider (discovery, keys, tokens).
const MAX_BODY: usize = 1024 * 1024;

/// Why a request to the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum Fetch {
    #[error("{}", .0.message())]
    Blocked(Blocked),
    #[error("no answer")]
    Unreachable,
    #[error("answer too large")]
    TooLarge,
}

fn failure(e: &reqwest::Error) -> Fetch {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if let Some(b) = s.downcast_ref::<BlockedError>() {
            return Fetch::Blocked(b.0.clone());
        }
        source = s.source();
    }
    Fetch::Unreachable
}

/// One request through Atrium's client: the URL's literal address checked (names are
/// checked by the client's resolver at each connection), no redirect followed.
async fn send(up: Upstream, req: HttpRequest) -> Result<HttpResponse, Fetch> {
    let url = url::Url::parse(&req.uri().to_string()).map_err(|_| Fetch::Unreachable)?;
    up.egress.check_literal(&url).map_err(Fetch::Blocked)?;
    let (parts, body) = req.into_parts();
    let mut rb = up
        .http
        .request(parts.method, url)
        .timeout(std::time::Duration::from_secs(10));
    for (k, v) in parts.headers.iter() {
        rb = rb.header(k, v);
    }
    let mut res = rb.body(body).send().await.map_err(|e| failure(&e))?;
    let status = res.status();
    let headers = res.headers().clone();
    let mut out: Vec<u8> = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| failure(&e))? {
        if out.len() + chunk.len() > MAX_BODY {
            return Err(Fetch::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    let mut resp = HttpResponse::new(out);
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    Ok(resp)
}

fn client_of(up: &Upstream) -> impl Fn(HttpRequest) -> BoxedSend {
    let up = up.clone();
    move |req| Box::pin(send(up.clone(), req))
}

type BoxedSend =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<HttpResponse, Fetch>> + Send>>;

/// What a provider's discovery failed on, as the message beside the issuer field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryFailed {
    NotAUrl,
    Blocked(Blocked),
    Unreachable,
    /// Not an OpenID provider's discovery document (or its issuer is not this URL).
    NotAProvider(String),
}

impl DiscoveryFailed {
    pub fn message(&self) -> String {
        match self {
            DiscoveryFailed::NotAUrl => {
                "Enter the issuer URL, e.g. https://idp.example.com/realms/acme.".into()
            }
            DiscoveryFailed::Blocked(b) => b.message(),
            DiscoveryFailed::Unreachable => {
                "Atrium could not reach this issuer (its discovery document or its keys).".into()
            }
            DiscoveryFailed::NotAProvider(why) => format!(
                "This address does not serve an OpenID Connect discovery document for itself ({why})."
            ),
        }
    }
}

fn discovery_failed(e: openidconnect::DiscoveryError<Fetch>) -> DiscoveryFailed {
    use openidconnect::DiscoveryError as D;
    match e {
        D::Request(Fetch::Blocked(b)) => DiscoveryFailed::Blocked(b),
        D::Request(_) => DiscoveryFailed::Unreachable,
        D::UrlParse(_) => DiscoveryFailed::NotAUrl,
        D::Response(status, _, _) => {
            DiscoveryFailed::NotAProvider(format!("it answered {}", status.as_u16()))
        }
        D::Parse(_) => DiscoveryFailed::NotAProvider("not a discovery document".into()),
        D::Validation(v) => DiscoveryFailed::NotAProvider(v),
        D::Other(o) => DiscoveryFailed::NotAProvider(o),
        _ => DiscoveryFailed::Unreachable,
    }
}

/// The issuer URL as entered, checked to be an `http(s)` URL Atrium may connect to.
pub fn parse_issuer(raw: &str) -> Result<IssuerUrl, DiscoveryFailed> {
    let raw = raw.trim();
    let url = url::Url::parse(raw).map_err(|_| DiscoveryFailed::NotAUrl)?;
    crate::egress::server_host(&url).map_err(|_| DiscoveryFailed::NotAUrl)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(DiscoveryFailed::NotAUrl);
    }
    IssuerUrl::new(raw.trim_end_matches('/').to_string()).map_err(|_| DiscoveryFailed::NotAUrl)
}

/// The provider's discovery document and keys.
pub async fn discover(
    up: &Upstream,
    issuer: &str,
) -> Result<CoreProviderMetadata, DiscoveryFailed> {
    let issuer = parse_issuer(issuer)?;
    let http = client_of(up);
    CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(discovery_failed)
}

/// Where the provider sends the browser back (the redirect URI registered there).
pub fn redirect_uri(base: &str) -> String {
    format!("{base}/auth/sso/callback")
}

/// What the browser is sent to the provider with, and what the callback must match.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub integration_id: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// Where to go after signing in.
    pub next: String,
    /// The address the person entered, if they entered one.
    pub login_hint: Option<String>,
}

/// The connection details of an integration, its secret opened.
pub struct Rp<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub redirect_uri: &'a str,
}

/// Starts a sign-in: the URL to send the browser to, and what the callback must match.
pub async fn start(
    up: &Upstream,
    rp: &Rp<'_>,
    integration_id: &str,
    next: &str,
    login_hint: Option<&str>,
) -> Result<(String, Pending), DiscoveryFailed> {
    let meta = discover(up, rp.issuer).await?;
    let redirect =
        RedirectUrl::new(rp.redirect_uri.to_string()).map_err(|_| DiscoveryFailed::NotAUrl)?;
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(rp.client_id.to_string()),
        Some(ClientSecret::new(rp.client_secret.to_string())),
    )
    .set_redirect_uri(redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge);
    if let Some(h) = login_hint {
        req = req.add_extra_param("login_hint", h.to_string());
    }
    let (url, state, nonce) = req.url();
    Ok((
        url.to_string(),
        Pending {
            integration_id: integration_id.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            next: next.to_string(),
            login_hint: login_hint.map(str::to_string),
        },
    ))
}

/// Who the provider says signed in (after every check passed).
#[derive(Debug, Clone)]
pub struct Claims {
    pub subject: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

/// Why a callback was refused (each shown to the person, none changing anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No sign-in was started in this browser, or `state` does not match it.
    State,
    /// The provider answered with an error (the person cancelled, or was refused there).
    Provider(String),
    Discovery(DiscoveryFailed),
    /// The token endpoint refused the code (spent, expired, or not this client's).
    Code,
    /// No ID token, or it failed a check (signature, issuer, audience, expiry, nonce).
    Token(String),
    /// The provider gave no verified e-mail address.
    NoVerifiedEmail,
}

impl Refused {
    pub fn message(&self) -> String {
        match self {
            Refused::State => "This sign-in link is not valid in this browser (it was used already, or another sign-in started since). Start again.".into(),
            Refused::Provider(e) => format!("Your identity provider refused the sign-in ({e})."),
            Refused::Discovery(d) => format!("Your identity provider could not be reached: {}", d.message()),
            Refused::Code => "Your identity provider refused the sign-in code (it was used already or expired). Start again.".into(),
            Refused::Token(why) => format!("The identity provider's answer failed Atrium's checks ({why})."),
            Refused::NoVerifiedEmail => "Your identity provider did not give a verified e-mail address.".into(),
        }
    }
}

/// Finishes a sign-in: exchanges `code` (with the PKCE verifier) and checks the ID token.
/// The caller has already matched `state` against `pending`.
pub async fn finish(
    up: &Upstream,
    rp: &Rp<'_>,
    pending: &Pending,
    code: &str,
) -> Result<Claims, Refused> {
    let meta = discover(up, rp.issuer).await.map_err(Refused::Discovery)?;
    let redirect = RedirectUrl::new(rp.redirect_uri.to_string())
        .map_err(|_| Refused::Discovery(DiscoveryFailed::NotAUrl))?;
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(rp.client_id.to_string()),
        Some(ClientSecret::new(rp.client_secret.to_string())),
    )
    .set_redirect_uri(redirect);
    let http = client_of(up);
    let token = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|_| Refused::Code)?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
        .request_async(&http)
        .await
        .map_err(|_| Refused::Code)?;
    let id_token = token
        .id_token()
        .ok_or_else(|| Refused::Token("no ID token".into()))?;
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &Nonce::new(pending.nonce.clone()))
        .map_err(|e| Refused::Token(token_error(&e)))?;
    let email = match (claims.email(), claims.email_verified()) {
        (Some(e), Some(true)) => e.as_str().trim().to_lowercase(),
        _ => return Err(Refused::NoVerifiedEmail),
    };
    let name = |c: Option<&openidconnect::LocalizedClaim<openidconnect::EndUserGivenName>>| {
        c.and_then(|l| l.get(None))
            .map(|n| n.as_str().trim().to_string())
    };
    let first_name = name(claims.given_name()).unwrap_or_default();
    let last_name = claims
        .family_name()
        .and_then(|l| l.get(None))
        .map(|n| n.as_str().trim().to_string())
        .unwrap_or_default();
    Ok(Claims {
        subject: claims.subject().as_str().to_string(),
        email,
        first_name,
        last_name,
    })
}

fn token_error(e: &openidconnect::ClaimsVerificationError) -> String {
    use openidconnect::ClaimsVerificationError as E;
    match e {
        E::Expired(_) => "the ID token has expired".into(),
        E::InvalidAudience(_) => "the ID token is meant for another client".into(),
        E::InvalidIssuer(_) => "the ID token comes from another issuer".into(),
        E::InvalidNonce(_) => "the ID token's nonce does not match".into(),
        E::SignatureVerification(_) => "the ID token's signature does not verify".into(),
        _ => "the ID token is not valid".into(),
    }
}

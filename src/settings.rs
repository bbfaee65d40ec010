//! Typed settings read from the environment (DESIGN §6), checked at start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;
use url::Url;

/// Which database backend a URL selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignupPolicy {
    Open,
    InviteOnly,
}

/// How outgoing e-mail leaves the process.
#[derive(Clone, Debug)]
pub enum MailTransport {
    /// `.eml` files written to a folder.
    Outbox(PathBuf),
    /// An SMTP server (`smtp://`, `smtps://`).
    Smtp(String),
}

#[derive(Clone)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub backend: Backend,
    /// `None` means: derived from the bound address once the port is known.
    pub public_url: Option<Url>,
    pub mail: MailTransport,
    pub mail_from: String,
    pub secret_key: Option<Secret>,
    pub signup: SignupPolicy,
    pub invitation_ttl: Duration,
    pub session_ttl: Duration,
    /// Failed log-ins allowed per minute, per IP address and per account.
    pub login_attempts_per_minute: i64,
    /// Sign-ups one client address may make per hour.
    pub signups_per_hour: i64,
    /// Peers whose `X-Forwarded-For` / `Forwarded` headers are believed (reverse proxies).
    pub trusted_proxies: TrustedProxies,
    /// A session unused for this long has ended (besides `session_ttl`, the absolute limit).
    pub session_idle_timeout: Duration,
    pub db_pool_size: u32,
    /// HTTP worker threads.
    pub workers: usize,
    /// How often the mail sender looks for due messages.
    pub mail_poll: Duration,
    /// First retry delay after a failed delivery; doubles per attempt (capped at 15 minutes).
    pub mail_retry_base: Duration,
    /// Attempts before a message is marked failed for good.
    pub mail_max_attempts: u32,
    /// How long a sender holds a message it is sending before another may take it (the
    /// time a killed instance's message waits).
    pub mail_claim: Duration,
    /// How long a request waits for a database connection before it answers 503.
    pub db_pool_timeout: Duration,
    /// How long after the password was entered the sensitive actions of the pages (new
    /// API key, deleting an account or workspace, changing the e-mail address) go ahead
    /// without asking for it again.
    pub sudo_window: Duration,
    /// The hosts and networks a workspace's Prefect server may be connected at
    /// (`ATRIUM_PREFECT_SERVER_ALLOW`; by default none: `egress`).
    pub prefect_server_allow: crate::egress::Egress,
    /// The largest request body the workspace gateway forwards (`ATRIUM_GATEWAY_MAX_BODY_MB`,
    /// default 64 MiB): flows send large payloads, so not the pages' 64 KiB.
    pub gateway_max_body: usize,
    /// The `prefect` executable managed Prefect servers are started with
    /// (`ATRIUM_PREFECT_BIN`; `scripts/run` installs the pinned package and sets it). Unset:
    /// no managed servers, only servers connected by hand.
    pub prefect_bin: Option<PathBuf>,
    /// Prefect's UI bundle served for each workspace (`ATRIUM_PREFECT_UI_DIR`, the
    /// `prefect/server/ui` folder of the installed package; `scripts/run` sets it). Unset:
    /// no UI, the CLI's links open Atrium's own object pages.
    pub prefect_ui_dir: Option<PathBuf>,
    /// A managed server unused this long is stopped (`ATRIUM_MANAGED_IDLE_MINUTES`, 30).
    pub managed_idle: Duration,
    /// At most this many managed servers run on one instance
    /// (`ATRIUM_MANAGED_MAX_RUNNING`, 8); the least recently used is stopped first.
    pub managed_max_running: usize,
    /// How long a call waits for a managed server to start (120 s).
    pub managed_start_timeout: Duration,
    /// How often a managed server's vacuum service deletes flow runs past the account's
    /// retention (`ATRIUM_MANAGED_VACUUM_SECONDS`, 3600).
    pub managed_vacuum_every: Duration,
    /// A managed server whose flow run retention changed is restarted once it has had no
    /// call for this long and runs no flow run (`ATRIUM_MANAGED_QUIET_SECONDS`, 5: shorter
    /// than the pause between a worker's polls).
    pub managed_quiet: Duration,
}

#[derive(Debug, Error)]
pub enum SettingsError {
    #[error("ATRIUM_BIND={0:?} is not an address like 127.0.0.1:8000")]
    Bind(String),
    #[error("ATRIUM_DATABASE_URL must start with sqlite:// or postgres:// (got scheme {0:?})")]
    DatabaseScheme(String),
    #[error("ATRIUM_PUBLIC_URL={0:?} is not an http(s) URL")]
    PublicUrl(String),
    #[error("ATRIUM_SMTP_URL={0:?} must start with smtp:// or smtps://")]
    SmtpUrl(String),
    #[error("ATRIUM_SIGNUP={0:?} must be `open` or `invite`")]
    Signup(String),
    #[error("{0}={1:?} is not a whole number {2}")]
    Number(&'static str, String, &'static str),
    #[error("ATRIUM_SECRET_KEY must be at least 64 characters")]
    SecretKey,
    #[error("ATRIUM_TRUSTED_PROXIES: {0}")]
    TrustedProxies(String),
    #[error("ATRIUM_PREFECT_SERVER_ALLOW: {0}")]
    PrefectServerAllow(String),
}

/// The reverse proxies whose word on the client's address is believed
/// (`ATRIUM_TRUSTED_PROXIES`: addresses or networks, e.g. `127.0.0.1, 10.0.0.0/8, ::1`).
/// Empty (the default): no forwarding header is believed, the socket peer is the client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(std::net::IpAddr, u8)>);

impl TrustedProxies {
    pub fn parse(raw: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (addr, bits) = match item.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (item, None),
            };
            let ip: std::net::IpAddr = addr
                .parse()
                .map_err(|_| format!("{item:?} is not an IP address or network"))?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                None => max,
                Some(b) => b
                    .parse::<u8>()
                    .ok()
                    .filter(|b| *b <= max)
                    .ok_or_else(|| format!("{item:?} has a bad prefix length"))?,
            };
            nets.push((ip, bits));
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Is `ip` one of the trusted proxies?
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.0.iter().any(|(net, bits)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*bits)).unwrap_or(0);
                u32::from(*n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*bits)).unwrap_or(0);
                u128::from(*n) & mask == u128::from(a) & mask
            }
            _ => false,
        })
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, so tests can vary them without touching the environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let bind_raw = non_empty("ATRIUM_BIND").unwrap_or_else(|| "127.0.0.1:8000".into());
        let bind: SocketAddr = bind_raw
            .trim()
            .parse()
            .map_err(|_| SettingsError::Bind(bind_raw.clone()))?;
        let data_dir =
            PathBuf::from(non_empty("ATRIUM_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = non_empty("ATRIUM_DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("atrium.db").display()));
        let backend = backend_of(&database_url)?;
        let public_url = match non_empty("ATRIUM_PUBLIC_URL") {
            Some(raw) => {
                let url =
                    Url::parse(raw.trim()).map_err(|_| SettingsError::PublicUrl(raw.clone()))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(SettingsError::PublicUrl(raw));
                }
                Some(url)
            }
            None => None,
        };
        let mail = match non_empty("ATRIUM_SMTP_URL") {
            Some(raw) if raw.starts_with("smtp://") || raw.starts_with("smtps://") => {
                MailTransport::Smtp(raw)
            }
            Some(raw) => return Err(SettingsError::SmtpUrl(raw)),
            None => MailTransport::Outbox(data_dir.join("outbox")),
        };
        let mail_from =
            non_empty("ATRIUM_MAIL_FROM").unwrap_or_else(|| "Atrium <atrium@localhost>".into());
        let secret_key = match non_empty("ATRIUM_SECRET_KEY") {
            Some(k) if k.len() >= 64 => Some(Secret(k.into_bytes())),
            Some(_) => return Err(SettingsError::SecretKey),
            None => None,
        };
        let signup = match non_empty("ATRIUM_SIGNUP").as_deref().map(str::trim) {
            None | Some("open") => SignupPolicy::Open,
            Some("invite") => SignupPolicy::InviteOnly,
            Some(other) => return Err(SettingsError::Signup(other.into())),
        };
        let number =
            |key: &'static str, default: u64, what: &'static str| -> Result<u64, SettingsError> {
                match non_empty(key) {
                    None => Ok(default),
                    Some(raw) => match raw.trim().parse::<u64>() {
                        Ok(n) if n > 0 => Ok(n),
                        _ => Err(SettingsError::Number(key, raw, what)),
                    },
                }
            };
        let invitation_ttl = Duration::from_secs(number(
            "ATRIUM_INVITATION_TTL",
            7 * 24 * 3600,
            "of seconds greater than 0",
        )?);
        let session_ttl = Duration::from_secs(number(
            "ATRIUM_SESSION_TTL",
            14 * 24 * 3600,
            "of seconds greater than 0",
        )?);
        let login_attempts_per_minute =
            number("ATRIUM_LOGIN_ATTEMPTS_PER_MINUTE", 10, "greater than 0")? as i64;
        let signups_per_hour = number("ATRIUM_SIGNUPS_PER_HOUR", 20, "greater than 0")? as i64;
        let trusted_proxies = match non_empty("ATRIUM_TRUSTED_PROXIES") {
            Some(v) => TrustedProxies::parse(&v).map_err(SettingsError::TrustedProxies)?,
            None => TrustedProxies::default(),
        };
        let session_idle_timeout = Duration::from_secs(number(
            "ATRIUM_SESSION_IDLE_TIMEOUT",
            8 * 3600,
            "of seconds greater than 0",
        )?);
        let db_pool_size = number("ATRIUM_DB_POOL_SIZE", 16, "greater than 0")? as u32;
        let cores = std::thread::available_parallelism()
            .map(|n| n.get() as u64)
            .unwrap_or(2);
        let workers = number("ATRIUM_WORKERS", cores, "greater than 0")? as usize;
        let mail_poll =
            Duration::from_millis(number("ATRIUM_MAIL_POLL_MS", 1000, "of milliseconds")?);
        let mail_retry_base = Duration::from_millis(number(
            "ATRIUM_MAIL_RETRY_BASE_MS",
            5000,
            "of milliseconds",
        )?);
        let mail_max_attempts = number("ATRIUM_MAIL_MAX_ATTEMPTS", 12, "greater than 0")? as u32;
        let mail_claim = Duration::from_millis(number(
            "ATRIUM_MAIL_CLAIM_MS",
            120_000,
            "of milliseconds greater than 0",
        )?);
        let db_pool_timeout = Duration::from_millis(number(
            "ATRIUM_DB_POOL_TIMEOUT_MS",
            3000,
            "of milliseconds greater than 0",
        )?);
        let sudo_window = Duration::from_secs(
            60 * number("ATRIUM_SUDO_MINUTES", 10, "of minutes greater than 0")?,
        );
        let prefect_server_allow = match non_empty("ATRIUM_PREFECT_SERVER_ALLOW") {
            Some(v) => {
                crate::egress::Egress::parse(&v).map_err(SettingsError::PrefectServerAllow)?
            }
            None => crate::egress::Egress::default(),
        };
        let gateway_max_body = 1024
            * 1024
            * number("ATRIUM_GATEWAY_MAX_BODY_MB", 64, "of MiB greater than 0")? as usize;
        let prefect_bin = non_empty("ATRIUM_PREFECT_BIN").map(PathBuf::from);
        let prefect_ui_dir = non_empty("ATRIUM_PREFECT_UI_DIR").map(PathBuf::from);
        let managed_idle = Duration::from_secs(
            60 * number(
                "ATRIUM_MANAGED_IDLE_MINUTES",
                30,
                "of minutes greater than 0",
            )?,
        );
        let managed_max_running =
            number("ATRIUM_MANAGED_MAX_RUNNING", 8, "of servers greater than 0")? as usize;
        let managed_vacuum_every = Duration::from_secs(number(
            "ATRIUM_MANAGED_VACUUM_SECONDS",
            3600,
            "of seconds greater than 0",
        )?);
        let managed_quiet = Duration::from_secs(number(
            "ATRIUM_MANAGED_QUIET_SECONDS",
            5,
            "of seconds greater than 0",
        )?);
        Ok(Settings {
            bind,
            data_dir,
            database_url,
            backend,
            public_url,
            mail,
            mail_from,
            secret_key,
            signup,
            invitation_ttl,
            session_ttl,
            login_attempts_per_minute,
            signups_per_hour,
            trusted_proxies,
            session_idle_timeout,
            db_pool_size,
            workers,
            mail_poll,
            mail_retry_base,
            mail_max_attempts,
            mail_claim,
            db_pool_timeout,
            sudo_window,
            prefect_server_allow,
            gateway_max_body,
            prefect_bin,
            prefect_ui_dir,
            managed_idle,
            managed_max_running,
            managed_start_timeout: Duration::from_secs(120),
            managed_vacuum_every,
            managed_quiet,
        })
    }
}

/// Picks the backend from the URL scheme; anything else is refused.
pub fn backend_of(url: &str) -> Result<Backend, SettingsError> {
    let scheme = url.split("://").next().unwrap_or_default();
    if !url.contains("://") {
        return Err(SettingsError::DatabaseScheme(url.into()));
    }
    match scheme {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        other => Err(SettingsError::DatabaseScheme(other.into())),
    }
}

/// Settings plus what was derived from them at start.
pub struct AppConfig {
    pub settings: Settings,
    pub public_url: url::Url,
    /// Key for invitation codes (derived from the secret key).
    pub link_key: Vec<u8>,
    /// Seals the Prefect servers' auth strings (key derived from the secret key).
    pub sealer: crate::sealed::Sealer,
}

impl AppConfig {
    /// `public_url` without a trailing slash, for building links.
    pub fn base(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(move |k| owned.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn the_prefect_server_allow_list_is_checked_at_start() {
        let s = with(&[]).expect("defaults parse");
        assert!(s.prefect_server_allow.is_empty());
        let s = with(&[(
            "ATRIUM_PREFECT_SERVER_ALLOW",
            "10.0.0.0/8, prefect.internal",
        )])
        .expect("a list");
        assert!(
            s.prefect_server_allow
                .permits("prefect.internal", "172.16.0.1".parse().expect("ip"))
        );
        assert!(matches!(
            with(&[("ATRIUM_PREFECT_SERVER_ALLOW", "10.0.0.0/33")]),
            Err(SettingsError::PrefectServerAllow(_))
        ));
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let s = with(&[]).expect("defaults parse");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(s.backend, Backend::Sqlite);
        assert!(s.database_url.ends_with("data/atrium.db"));
        assert!(matches!(s.mail, MailTransport::Outbox(_)));
        assert_eq!(s.signup, SignupPolicy::Open);
        assert_eq!(s.sudo_window, Duration::from_secs(600));
    }

    #[test]
    fn bad_values_are_refused_with_a_clear_message() {
        let e = with(&[("ATRIUM_DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(e.to_string().contains("sqlite:// or postgres://"));
        assert!(with(&[("ATRIUM_BIND", "nope")]).is_err());
        assert!(with(&[("ATRIUM_SIGNUP", "closed")]).is_err());
        assert!(with(&[("ATRIUM_PUBLIC_URL", "ftp://x")]).is_err());
        assert!(with(&[("ATRIUM_SMTP_URL", "http://x")]).is_err());
    }
}

//! `Application::build(settings)`: the one place where the server, its middleware and
//! its route table are put together. Tests build the same application on port 0.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_session::SessionMiddleware;
use actix_session::config::PersistentSession;
use actix_web::body::MessageBody;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlers, Next, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use url::Url;

use crate::authn::session_store::DbSessionStore;
use crate::db::{self, Pool};
use crate::settings::{AppConfig, Settings};
use crate::web::csrf::{self, PublicOrigin};
use crate::web::{AppError, error::render_error, headers, limits};

pub struct Application {
    queries: db::QueryCounter,
    port: u16,
    public_url: Url,
    pool: Pool,
    server: Server,
    spawner: web::Data<crate::servers::spawner::Spawner>,
}

/// Logs to stderr with `RUST_LOG` (default `info`). Safe to call twice.
pub fn init_tracing() {
    init_tracing_default("info")
}

/// Logs with `RUST_LOG`, or `default` when it is unset.
pub fn init_tracing_default(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Colours only on a terminal: log files and journald get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .try_init();
}

fn load_or_create_key(settings: &Settings) -> anyhow::Result<Key> {
    if let Some(secret) = &settings.secret_key {
        return Key::try_from(secret.0.as_slice()).context("ATRIUM_SECRET_KEY is too short");
    }
    let path = settings.data_dir.join("secret.key");
    if let Ok(hex_key) = std::fs::read_to_string(&path) {
        let bytes = hex::decode(hex_key.trim()).context("secret.key is not hex")?;
        return Key::try_from(bytes.as_slice()).context("secret.key is too short");
    }
    let hex_key = crate::authn::random_token(64);
    std::fs::write(&path, &hex_key)
        .with_context(|| format!("could not write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    let bytes = hex::decode(hex_key).context("generated key")?;
    Key::try_from(bytes.as_slice()).context("generated key")
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "could not create the data directory {}",
                settings.data_dir.display()
            )
        })?;
        let (backend, url, size, timeout) = (
            settings.backend,
            settings.database_url.clone(),
            settings.db_pool_size,
            settings.db_pool_timeout,
        );
        let queries = db::QueryCounter::default();
        let counter = queries.clone();
        let url2 = url.clone();
        let pool = tokio::task::spawn_blocking(move || {
            db::connect_counted(backend, &url, size, timeout, counter)
        })
        .await
        .context("database start-up task")??;
        // The background tasks (mail sender, housekeeping) have connections of their own:
        // they never wait behind requests nor hold a request's connection, and the
        // statement counter (`Application::query_counter`) sees requests only.
        let background = tokio::task::spawn_blocking(move || {
            db::connect_counted(backend, &url2, 2, timeout, db::QueryCounter::default())
        })
        .await
        .context("database start-up task")??;
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("could not listen on {}", settings.bind))?;
        let addr = listener.local_addr()?;
        let public_url = match &settings.public_url {
            Some(u) => u.clone(),
            None => Url::parse(&format!("http://{addr}/")).context("public URL")?,
        };
        let key = load_or_create_key(&settings)?;
        let secure = public_url.scheme() == "https";
        let ttl = actix_web::cookie::time::Duration::seconds(settings.session_ttl.as_secs() as i64);
        let origin = PublicOrigin(public_url.origin().ascii_serialization());
        let link_key = {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(b"atrium-link-key:");
            h.update(key.master());
            h.finalize().to_vec()
        };
        let config = web::Data::new(AppConfig {
            settings: settings.clone(),
            public_url: public_url.clone(),
            link_key,
            sealer: crate::sealed::Sealer::new(key.master()),
        });
        let pool_data = web::Data::new(pool.clone());
        // Who asks, remembered between requests: SQLite only (`authn::who`).
        let signal = db::change_signal(backend, &settings.database_url);
        let who = web::Data::new(crate::authn::who::WhoCache::new(signal));
        let origin = web::Data::new(origin);
        let trusted_proxies = web::Data::new(settings.trusted_proxies.clone());
        // The workspace gateway: the client it reaches Prefect servers with, and who asks,
        // remembered (the access version read on the background pool).
        let upstream = web::Data::new(
            crate::egress::Upstream::new(settings.prefect_server_allow.clone())
                .context("the HTTP client for Prefect servers")?,
        );
        // Managed Prefect servers (started on the first call that needs one).
        let spawner = web::Data::new(crate::servers::spawner::Spawner::new(
            crate::servers::spawner::SpawnSettings {
                prefect_bin: settings.prefect_bin.clone(),
                data_dir: settings.data_dir.clone(),
                backend: settings.backend,
                database_url: settings.database_url.clone(),
                idle: settings.managed_idle,
                max_running: settings.managed_max_running,
                start_timeout: settings.managed_start_timeout,
                vacuum_every: settings.managed_vacuum_every,
                quiet: settings.managed_quiet,
            },
            background.clone(),
            crate::sealed::Sealer::new(key.master()),
        ));
        spawner.clone().into_inner().spawn_supervisor();
        // Prefect's UI per workspace (issue #23), when its bundle is configured.
        let ui = web::Data::new(crate::prefect_ui::pages::Ui(
            settings.prefect_ui_dir.as_deref().and_then(|dir| {
                crate::prefect_ui::Bundle::open(dir)
                    .map_err(|e| tracing::warn!("Prefect's UI is off: {}: {e}", dir.display()))
                    .ok()
            }),
        ));
        let spawner_handle = spawner.clone();
        let callers = web::Data::new(crate::gateway::caller::Callers::new());
        callers
            .clone()
            .into_inner()
            .spawn_poller(background.clone());
        let idle_timeout = settings.session_idle_timeout;
        let server = HttpServer::new(move || {
            let sessions = SessionMiddleware::builder(
                DbSessionStore::new(
                    pool_data.get_ref().clone(),
                    who.clone().into_inner(),
                    idle_timeout,
                ),
                key.clone(),
            )
            .cookie_name(if secure {
                "__Host-atrium".into()
            } else {
                "atrium_session".into()
            })
            .cookie_secure(secure)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_path("/".into())
            .session_lifecycle(PersistentSession::default().session_ttl(ttl))
            .build();
            let errors = [
                StatusCode::UNAUTHORIZED,
                StatusCode::FORBIDDEN,
                StatusCode::NOT_FOUND,
                StatusCode::METHOD_NOT_ALLOWED,
                StatusCode::TOO_MANY_REQUESTS,
                StatusCode::INTERNAL_SERVER_ERROR,
                StatusCode::SERVICE_UNAVAILABLE,
                StatusCode::BAD_REQUEST,
                StatusCode::PAYLOAD_TOO_LARGE,
            ]
            .into_iter()
            .fold(ErrorHandlers::new(), |h, s| h.handler(s, render_error));
            App::new()
                .app_data(config.clone())
                .app_data(pool_data.clone())
                .app_data(who.clone())
                .app_data(origin.clone())
                .app_data(trusted_proxies.clone())
                .app_data(web::Data::new(upstream.for_this_worker()))
                .app_data(spawner.clone())
                .app_data(ui.clone())
                .app_data(callers.clone())
                .app_data(form_config())
                .app_data(web::PayloadConfig::new(limits::MAX_BODY))
                .configure(routes)
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(AppError::NotFound)
                }))
                .wrap(from_fn(crate::gateway::shortcut))
                .wrap(from_fn(csrf::guard))
                .wrap(sessions)
                .wrap(from_fn(crate::authn::session_store::preload_identity))
                .wrap(from_fn(crate::web::error::unavailable_as_503))
                .wrap(from_fn(limits::body_limit))
                .wrap(errors)
                .wrap(from_fn(cache_and_log))
                .wrap(headers::security_headers(secure))
        })
        // Answers go out as soon as they are written: the gateway streams a response's head
        // and body in separate writes, which Nagle's algorithm would hold back for the
        // client's delayed acknowledgement (~40 ms).
        .on_connect(|conn, _| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .listen(listener)?
        .workers(settings.workers)
        .shutdown_timeout(5)
        .run();
        spawn_housekeeping(background.clone());
        crate::mail::spawn_sender(background, &settings);
        Ok(Application {
            queries,
            port: addr.port(),
            public_url,
            pool,
            server,
            spawner: spawner_handle,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn public_url(&self) -> &Url {
        &self.public_url
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Statements run so far through this application's pool.
    pub fn query_counter(&self) -> db::QueryCounter {
        self.queries.clone()
    }

    pub fn pool(&self) -> Pool {
        self.pool.clone()
    }

    /// Serves until stopped (a signal or the server handle), then stops the managed Prefect
    /// servers this instance runs.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.spawner.stop_all().await;
        served
    }

    /// The spawner of managed Prefect servers (tests look at what it runs).
    pub fn spawner(&self) -> std::sync::Arc<crate::servers::spawner::Spawner> {
        self.spawner.clone().into_inner()
    }
}

/// Form bodies: at most [`limits::MAX_BODY`]; a larger one (sent without a length, so the
/// `body_limit` middleware could not refuse it up front) gets the same 413 page.
fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(limits::MAX_BODY)
        .error_handler(|err, req| {
            if let actix_web::error::UrlencodedError::Overflow { .. } = err {
                actix_web::error::InternalError::from_response(err, limits::too_large(req.path()))
                    .into()
            } else {
                err.into()
            }
        })
}

/// The route table: every domain registers its routes here.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{name}", web::get().to(crate::web::assets::serve))
        .route("/healthz", web::get().to(healthz));
    crate::api::routes(cfg);
    crate::users::pages::routes(cfg);
    crate::users::pages::security::routes(cfg);
    crate::users::pages::sessions::routes(cfg);
    crate::two_factor::pages::routes(cfg);
    crate::accounts::pages::routes(cfg);
    crate::members::pages::routes(cfg);
    crate::invitations::pages::routes(cfg);
    crate::workspaces::pages::routes(cfg);
    crate::workspaces::pages::settings::routes(cfg);
    crate::servers::pages::routes(cfg);
    crate::workspaces::pages::sharing::routes(cfg);
    crate::roles::pages::routes(cfg);
    crate::transfers::pages::routes(cfg);
    crate::apikeys::pages::routes(cfg);
    crate::service_accounts::pages::routes(cfg);
    crate::service_accounts::pages::sharing::routes(cfg);
    crate::service_accounts::pages::show::routes(cfg);
    crate::teams::pages::routes(cfg);
    crate::sso::pages::routes(cfg);
    crate::audit::pages::routes(cfg);
    crate::prefect_ui::pages::routes(cfg);
    // Last: every other address below a workspace is Prefect's UI.
    crate::prefect_ui::pages::fallback(cfg);
}

async fn healthz(pool: web::Data<Pool>) -> Result<HttpResponse, AppError> {
    crate::web::db(&pool, |c| {
        use diesel::connection::SimpleConnection;
        c.batch_execute("SELECT 1")?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ok"))
}

/// Adds `Cache-Control` and logs each request (path only: query strings may hold secrets).
async fn cache_and_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_string();
    let mut res = next.call(req).await?;
    let (name, value) = headers::cache_control(&path);
    if !res.headers().contains_key(&name) {
        res.headers_mut().insert(name, value);
    }
    tracing::info!(
        "{} {} {} {}ms",
        method,
        path,
        res.status().as_u16(),
        start.elapsed().as_millis()
    );
    Ok(res)
}

/// Deletes expired sessions and old log-in failures every few minutes, expires stale
/// transfers, applies the audit retention and merges the search index's segments.
fn spawn_housekeeping(pool: Pool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            let pool = pool.clone();
            let result = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                let mut c = pool.get()?;
                crate::authn::session_store::prune(&mut c)?;
                crate::authn::rate_limit::prune(&mut c)?;
                // The expiry and its audit events commit together.
                db::write_tx(&mut c, crate::transfers::ops::expire_stale)?;
                let purged = crate::audit::retention::sweep(
                    &mut c,
                    crate::db::now(),
                    crate::audit::retention::BATCH,
                )?;
                if purged > 0 {
                    tracing::info!("audit retention: deleted {purged} events");
                }
                // A few bounded steps; what remains waits for the next tick.
                crate::db::search::merge_index(&mut c, 4)?;
                Ok(())
            })
            .await;
            if let Ok(Err(e)) = result {
                tracing::warn!("housekeeping failed: {e:#}");
            }
        }
    });
}

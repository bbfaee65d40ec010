//! Test support: the real application on port 0 with a fresh database (SQLite file, or
//! a PostgreSQL database created for the test and dropped after), an HTTP client that
//! keeps cookies and sends the CSRF token like a browser, an in-process SMTP server and
//! a real headless Chromium.
#![allow(dead_code)]

pub mod browser;
pub mod invariants;
pub mod listener;
pub mod oidc;
pub mod prefect;
pub mod process;
pub mod reference;
pub mod routes;
pub mod smtp;

use std::sync::{Arc, Mutex};

use atrium::settings::{Backend, Settings};
use atrium::{Application, db::Pool};
use diesel::prelude::*;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// Waits until what the server remembers about who asks (SQLite: `authn::who`) has expired:
/// for tests that move time on by editing the database, as a minute passing would.
pub async fn let_remembered_answers_expire() {
    if matches!(backend(), Backend::Sqlite) {
        tokio::time::sleep(atrium::authn::who::MAX_AGE).await;
    }
}

pub fn backend() -> Backend {
    match std::env::var("ATRIUM_TEST_DATABASE").as_deref() {
        Ok("postgres") | Ok("postgresql") => Backend::Postgres,
        _ => Backend::Sqlite,
    }
}

/// The PostgreSQL test server's URL, with `sslmode=disable` and `gssencmode=disable` unless
/// it says otherwise. By default libpq negotiates GSSAPI (krb5) and then TLS (OpenSSL) on
/// every TCP connection; the suite's test servers are on loopback with trust auth, where
/// that is pure overhead, and it put those libraries under the apps' background tasks
/// (which keep reconnecting to their dropped databases) while the test binary's exit ran
/// the libraries' exit handlers: one PostgreSQL run of the suite ended with every test
/// passed and the binary killed by SIGSEGV after its summary (the next run exited 0).
fn postgres_admin_url() -> String {
    let base = std::env::var("ATRIUM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let Ok(mut url) = url::Url::parse(&base) else {
        return base;
    };
    let has = |k: &str| url.query_pairs().any(|(name, _)| name == k);
    let (ssl, gss) = (has("sslmode"), has("gssencmode"));
    {
        let mut q = url.query_pairs_mut();
        if !ssl {
            q.append_pair("sslmode", "disable");
        }
        if !gss {
            q.append_pair("gssencmode", "disable");
        }
    }
    url.to_string()
}

/// A database made for one test, dropped with it.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
}

impl TestDb {
    pub fn create(dir: &std::path::Path) -> TestDb {
        match backend() {
            Backend::Sqlite => TestDb {
                url: format!("sqlite://{}", dir.join("atrium.db").display()),
                pg_name: None,
            },
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("atrium_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn =
                    PgConnection::establish(&admin).expect("connect to the PostgreSQL test server");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let mut url = url::Url::parse(&admin).expect("postgres url");
                url.set_path(&format!("/{name}"));
                TestDb {
                    url: url.to_string(),
                    pg_name: Some(name),
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let admin = postgres_admin_url();
            // Run on a plain thread: Drop may happen inside the async runtime.
            let _ = std::thread::spawn(move || {
                if let Ok(mut conn) = PgConnection::establish(&admin) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn);
                    // The databases of the managed Prefect servers the test started
                    // (`servers::spawner`: `<first 30 characters>_ws_<id>`).
                    #[derive(QueryableByName)]
                    struct Db {
                        #[diesel(sql_type = diesel::sql_types::Text)]
                        datname: String,
                    }
                    let prefix = format!("{}_ws_", &name[..name.len().min(30)]);
                    let managed: Vec<Db> = diesel::sql_query(
                        "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
                    )
                    .bind::<diesel::sql_types::Text, _>(&prefix)
                    .load(&mut conn)
                    .unwrap_or_default();
                    for db in managed {
                        let _ = diesel::sql_query(format!(
                            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                            db.datname
                        ))
                        .execute(&mut conn);
                    }
                }
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub port: u16,
    pub pool: Pool,
    pub client: Client,
    pub settings: Settings,
    pub queries: atrium::db::QueryCounter,
    handle: actix_web::dev::ServerHandle,
    /// Run the invariant checker when the test ends (see [`TestApp::skip_invariants`]).
    check_invariants: std::sync::atomic::AtomicBool,
    // Dropped after `Drop::drop` has run, so the checker still sees the database.
    _db: TestDb,
    pub dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Every test ends with the invariant checker (SECURITY.md §3.1), on the database
        // the test leaves behind. A test that already failed reports its own failure.
        let check = self
            .check_invariants
            .load(std::sync::atomic::Ordering::Relaxed);
        let found = if check && !std::thread::panicking() {
            self.invariant_violations()
        } else {
            Vec::new()
        };
        // `stop` sends the command at once; the returned future only waits for it.
        drop(self.handle.stop(false));
        const SHOWN: usize = 20;
        let more = match found.len().saturating_sub(SHOWN) {
            0 => String::new(),
            n => format!("\n  … and {n} more"),
        };
        assert!(
            found.is_empty(),
            "the data breaks Atrium's invariants at the end of this test:\n  {}{more}\n",
            found
                .iter()
                .take(SHOWN)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
}

pub fn test_settings(dir: &std::path::Path, db_url: &str) -> Settings {
    let mut s = Settings::from_lookup(|_| None).expect("default settings");
    s.bind = "127.0.0.1:0".parse().expect("addr");
    s.data_dir = dir.to_path_buf();
    s.database_url = db_url.to_string();
    s.backend = backend();
    s.mail = atrium::settings::MailTransport::Outbox(dir.join("outbox"));
    s.db_pool_size = 4;
    s.workers = 1;
    // Tests sign up many people from 127.0.0.1; the sign-up throttle has its own test
    // (security::password_checks_and_sign_ups_are_throttled).
    s.signups_per_hour = 1_000_000;
    s
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(change: impl FnOnce(&mut Settings)) -> TestApp {
    atrium::app::init_tracing_default("warn");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDb::create(dir.path());
    let mut settings = test_settings(dir.path(), &db.url);
    change(&mut settings);
    let app = Application::build(settings.clone())
        .await
        .expect("application starts");
    let port = app.port();
    let base = app.public_url().as_str().trim_end_matches('/').to_string();
    let pool = app.pool();
    let handle = app.handle();
    let queries = app.query_counter();
    tokio::spawn(app.run_until_stopped());
    let client = Client::new(&base);
    TestApp {
        base,
        port,
        pool,
        client,
        settings,
        queries,
        handle,
        check_invariants: std::sync::atomic::AtomicBool::new(true),
        _db: db,
        dir,
    }
}

impl TestApp {
    /// A second instance of the application on the same database and data folder (its own
    /// port, memos and background tasks), as when Atrium is scaled out: (its base URL, its
    /// statement counter). It runs until the test's runtime ends.
    pub async fn second_instance(&self) -> (String, atrium::db::QueryCounter) {
        let mut settings = self.settings.clone();
        settings.bind = "127.0.0.1:0".parse().expect("addr");
        settings.public_url = None;
        let app = Application::build(settings)
            .await
            .expect("second instance starts");
        let base = app.public_url().as_str().trim_end_matches('/').to_string();
        let queries = app.query_counter();
        tokio::spawn(app.run_until_stopped());
        (base, queries)
    }

    /// Stops the application as a signal would (the managed servers it runs stop with it).
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A second, independent browser-like client (its own cookies).
    pub fn new_client(&self) -> Client {
        Client::new(&self.base)
    }

    /// What the invariant checker finds now (empty when the data is sound).
    pub fn invariant_violations(&self) -> Vec<String> {
        match self.pool.get() {
            Ok(mut c) => invariants::check(&mut c),
            Err(e) => vec![format!("no connection for the invariant checker: {e}")],
        }
    }

    /// For a test that breaks the data on purpose: do not run the invariant checker when
    /// it ends. Say why at the call.
    pub fn skip_invariants(&self) {
        self.check_invariants
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn conn(&self) -> atrium::db::PooledConn {
        self.pool.get().expect("db connection")
    }

    /// Runs a scalar SQL count, e.g. `count("SELECT COUNT(*) AS n FROM users")`.
    pub fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut c = self.conn();
        diesel::sql_query(sql)
            .get_result::<N>(&mut c)
            .expect("count query")
            .n
    }

    /// Signs up a user through the real form and returns the logged-in client.
    pub async fn signup(&self, email: &str, handle: &str, password: &str) -> Client {
        sign_up(&self.base, email, handle, password).await
    }
}

/// Signs up a user through the real form of the server at `base` and returns the
/// logged-in client.
pub async fn sign_up(base: &str, email: &str, handle: &str, password: &str) -> Client {
    let c = Client::new(base);
    let r = c
        .post_form(
            "/auth/signup",
            &[
                ("email", email),
                ("handle", handle),
                ("first_name", "Test"),
                ("last_name", handle),
                ("password", password),
            ],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "sign-up of {email} on {base} failed: {}",
        r.text
    );
    c
}

/// Runs a SQL query of one text column named `t`, e.g. `SELECT id AS t FROM users …`.
pub fn text(app: &TestApp, sql: &str) -> String {
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        t: String,
    }
    diesel::sql_query(sql)
        .get_result::<T>(&mut app.conn())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .t
}

/// The workspace id in a dashboard path `/account/{a}/workspace/{w}/dashboard`.
pub fn ws_id(dashboard: &str) -> String {
    dashboard
        .split('/')
        .nth(4)
        .expect("workspace id")
        .to_string()
}

/// What a response looked like.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Page {
    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// A browser-like HTTP client: keeps cookies, does not follow redirects, remembers the
/// CSRF token of the last page it saw and sends it with forms.
#[derive(Clone)]
pub struct Client {
    base: String,
    pub inner: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    csrf: Arc<Mutex<Option<String>>>,
}

pub fn extract_csrf(html: &str) -> Option<String> {
    for marker in ["name=\"csrf_token\" value=\"", "\"X-CSRF-Token\":\""] {
        if let Some(i) = html.find(marker) {
            let rest = &html[i + marker.len()..];
            let end = rest.find('"')?;
            return Some(rest[..end].to_string());
        }
    }
    None
}

impl Client {
    /// The server's base URL (what an `Origin` header of its own pages says).
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn new(base: &str) -> Client {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let inner = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            // Drop idle connections before the server's 5 s keep-alive closes them, so a
            // request after a long pause never races the close (IncompleteMessage).
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .expect("http client");
        Client {
            base: base.to_string(),
            inner,
            jar,
            csrf: Arc::new(Mutex::new(None)),
        }
    }

    async fn finish(&self, r: reqwest::Response) -> Page {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        if let Some(t) = extract_csrf(&text) {
            *self.csrf.lock().expect("lock") = Some(t);
        } else if status.is_redirection() || headers.contains_key("hx-redirect") {
            // A browser would now show a new page, with the session's current token.
            *self.csrf.lock().expect("lock") = None;
        }
        Page {
            status,
            headers,
            text,
        }
    }

    pub async fn get(&self, path: &str) -> Page {
        let r = self
            .inner
            .get(format!("{}{}", self.base, path))
            .send()
            .await
            .expect("GET");
        self.finish(r).await
    }

    /// The status of a GET, or `None` when the connection failed (refused, reset, or no
    /// answer within 10 s).
    pub async fn try_get(&self, path: &str, headers: &[(&str, &str)]) -> Option<StatusCode> {
        let mut rb = self.inner.get(format!("{}{}", self.base, path));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        rb.timeout(std::time::Duration::from_secs(10))
            .send()
            .await
            .ok()
            .map(|r| r.status())
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut rb = self.inner.get(format!("{}{}", self.base, path));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.expect("GET");
        self.finish(r).await
    }

    /// The CSRF token this client would send (fetching a page first if it has none).
    pub async fn csrf(&self) -> String {
        let known = self.csrf.lock().expect("lock").clone();
        match known {
            Some(t) => t,
            None => {
                for page in ["/auth/login", "/profile"] {
                    self.get(page).await;
                    if let Some(t) = self.csrf.lock().expect("lock").clone() {
                        return t;
                    }
                }
                panic!("no page with a CSRF token")
            }
        }
    }

    /// Posts a form with the CSRF token, as a browser would.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post_raw(path, &all, &[("Origin", &self.base.clone())])
            .await
    }

    /// Posts as htmx does: the token in the `X-CSRF-Token` header.
    pub async fn post_htmx(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let token = self.csrf().await;
        self.post_raw(
            path,
            fields,
            &[
                ("HX-Request", "true"),
                ("X-CSRF-Token", &token),
                ("Origin", &self.base.clone()),
            ],
        )
        .await
    }

    /// Posts exactly what is given (no token added).
    pub async fn post_raw(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut rb = self
            .inner
            .post(format!("{}{}", self.base, path))
            .form(fields);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.expect("POST");
        self.finish(r).await
    }

    /// The session cookie's value, if any.
    pub fn session_cookie(&self) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = url::Url::parse(&self.base).expect("base url");
        let header = self.jar.cookies(&url)?;
        let s = header.to_str().ok()?.to_string();
        s.split("; ")
            .find_map(|kv| kv.strip_prefix("atrium_session="))
            .map(str::to_string)
    }

    /// A client that presents the given session cookie value (e.g. a stolen one).
    pub fn with_session_cookie(base: &str, value: &str) -> Client {
        let c = Client::new(base);
        let url = url::Url::parse(base).expect("base url");
        c.jar
            .add_cookie_str(&format!("atrium_session={value}; Path=/"), &url);
        c
    }
}

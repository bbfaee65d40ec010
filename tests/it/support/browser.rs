//! Real headless Chromium driven over WebDriver (fantoccini), for end-to-end
//! tests.
//!
//! Every `Browser` owns its own `chromedriver` process (on its own free port)
//! and its own Chromium profile in a fresh temporary directory, so tests can
//! run in parallel. Dropping a `Browser` (or calling [`Browser::close`]) kills
//! chromedriver and every process it started.
//!
//! Binaries: `/usr/bin/chromium` and `/usr/bin/chromedriver`, overridable
//! with the `ATRIUM_CHROMIUM` and `ATRIUM_CHROMEDRIVER` environment variables.
//!
//! All element lookups poll for up to 10 s (pages may be updated by htmx) and
//! panic with what was looked for, the page URL and what *was* available.
//!
//! NOTE: needs `rustls` as a dev-dependency (see `install_crypto_provider`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::{Element, ElementRef};
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use tempfile::TempDir;

/// How long element lookups and `wait_for_*` poll before giving up.
const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);
/// How long chromedriver may take to answer `GET /status`.
const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long creating the WebDriver session (i.e. launching Chromium) may take.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);
/// W3C WebDriver web element identifier.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const BODY_EXCERPT_CHARS: usize = 2000;

/// A headless Chromium session. See the module docs.
pub struct Browser {
    pub client: Client,
    /// Declared before `dir` so chromedriver (and Chromium) are dead before
    /// the profile directory is removed.
    driver: Driver,
    dir: TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Kills Chromium too: it does not exit by itself when chromedriver
        // dies. (The fantoccini session task's own DELETE then just fails.)
        self.driver.kill();
    }
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("chromedriver_port", &self.driver.port)
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Browser {
    /// Spawns chromedriver on a free port, waits for it, and opens a headless
    /// Chromium session with a fresh profile.
    pub async fn start() -> Browser {
        Browser::start_with(&[]).await
    }

    /// [`Browser::start`] with the system's colour scheme set to dark (`prefers-color-scheme:
    /// dark` in pages).
    pub async fn start_dark() -> Browser {
        Browser::start_with(&[
            "--force-dark-mode",
            "--blink-settings=preferredColorScheme=0",
        ])
        .await
    }

    async fn start_with(extra: &[&str]) -> Browser {
        install_crypto_provider();
        let chromium = env_or("ATRIUM_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = env_or("ATRIUM_CHROMEDRIVER", "/usr/bin/chromedriver");
        let dir = tempfile::Builder::new()
            .prefix("atrium-browser-")
            .tempdir()
            .expect("Browser: could not create a temporary directory");

        // From here on `driver` kills chromedriver if we panic.
        let driver = Driver::spawn(&chromedriver, dir.path()).await;
        let webdriver_url = format!("http://127.0.0.1:{}", driver.port);

        let mut last_error = String::new();
        for attempt in 1..=2 {
            // A fresh profile per attempt: a crashed Chromium may leave a lock.
            let profile = dir.path().join(format!("profile-{attempt}"));
            let mut args: Vec<String> = [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1280,900",
            ]
            .iter()
            .chain(extra)
            .map(|a| a.to_string())
            .collect();
            args.push(format!("--user-data-dir={}", profile.display()));
            let caps = json!({
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": args,
                },
            });
            let Value::Object(caps) = caps else {
                unreachable!()
            };
            let mut builder = ClientBuilder::rustls()
                .expect("Browser: could not set up fantoccini's HTTP connector");
            builder.capabilities(caps);
            match tokio::time::timeout(SESSION_TIMEOUT, builder.connect(&webdriver_url)).await {
                Ok(Ok(client)) => {
                    return Browser {
                        client,
                        driver,
                        dir,
                    };
                }
                Ok(Err(e)) => last_error = format!("session creation failed: {e}"),
                Err(_) => {
                    last_error = format!("session creation timed out after {SESSION_TIMEOUT:?}")
                }
            }
        }
        panic!(
            "Browser: could not start Chromium ({chromium}) via chromedriver ({chromedriver}) \
             at {webdriver_url}: {last_error}\n--- chromedriver log (tail) ---\n{}",
            driver.log_tail()
        );
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.client.goto(url).await {
            panic!("Browser: could not navigate to {url}: {e}");
        }
    }

    /// Fills the form control labelled `label` with `value` (clears it first).
    ///
    /// The control is found by the exact (whitespace-normalised) text of a
    /// `<label>` (via its `for` attribute or by being nested in it), or by the
    /// control's `aria-label` / `aria-labelledby`. Waits for it to be visible,
    /// enabled and not read-only.
    pub async fn fill(&self, label: &str, value: &str) {
        let what = format!("form control labelled {label:?}");
        let deadline = Instant::now() + WAIT;
        loop {
            let el = self.find(Kind::Control, label, None, &what, deadline).await;
            let result = async {
                el.clear().await?;
                if value.is_empty() {
                    Ok(())
                } else {
                    el.send_keys(value).await
                }
            }
            .await;
            match result {
                Ok(()) => return,
                Err(e) if retryable(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await
                }
                Err(e) => {
                    panic!(
                        "{}",
                        self.failure(&format!("could not type {value:?} into the {what}: {e}"))
                            .await
                    )
                }
            }
        }
    }

    /// Chooses the `<option>` whose visible text is `option_text` in the
    /// `<select>` labelled `label` (found like in [`Browser::fill`]), by
    /// clicking it as a user would, so `input`/`change` events fire.
    pub async fn select(&self, label: &str, option_text: &str) {
        self.select_checked(label, option_text, true).await;
    }

    /// Chooses the option like [`Browser::select`] without checking it stays chosen: for
    /// a change the page puts back when it is not made.
    pub async fn select_once(&self, label: &str, option_text: &str) {
        self.select_checked(label, option_text, false).await;
    }

    async fn select_checked(&self, label: &str, option_text: &str, check: bool) {
        let what = format!("<select> labelled {label:?}");
        let deadline = Instant::now() + WAIT;
        loop {
            let select = self.find(Kind::Select, label, None, &what, deadline).await;
            let option_what = format!("option {option_text:?} in the {what}");
            let option = self
                .find(
                    Kind::Option,
                    option_text,
                    Some(&select),
                    &option_what,
                    deadline,
                )
                .await;
            match option.click().await {
                Ok(()) => {}
                Err(e) if retryable(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                Err(e) => panic!(
                    "{}",
                    self.failure(&format!("could not choose the {option_what}: {e}"))
                        .await
                ),
            }
            if !check {
                return;
            }
            let selected = self
                .client
                .execute(
                    "return arguments[0].selected === true;",
                    vec![json!(option)],
                )
                .await;
            match selected {
                Ok(Value::Bool(true)) => return,
                Err(e) if retryable(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await
                }
                other => {
                    panic!(
                        "{}",
                        self.failure(&format!(
                            "clicked the {option_what} but it is not selected ({other:?})"
                        ))
                        .await
                    )
                }
            }
        }
    }

    /// Clicks the `<button>`, `input[type=submit|button|reset|image]` or
    /// `[role=button]` whose accessible name is `name`: its normalised text
    /// content, `aria-label`, `aria-labelledby` text, or (for inputs) its
    /// `value`/`alt`; failing that, whose name is `name: …` (a control naming what it
    /// shows). Visible, enabled matches are preferred, and waited for.
    pub async fn click_button(&self, name: &str) {
        self.click(Kind::Button, name, &format!("button named {name:?}"))
            .await
    }

    /// Clicks the `<a>` whose normalised text, `aria-label`,
    /// `aria-labelledby` text or image `alt` equals `name`.
    pub async fn click_link(&self, name: &str) {
        self.click(Kind::Link, name, &format!("link named {name:?}"))
            .await
    }

    /// Polls `check` every [`POLL`] until it holds; after [`WAIT`], fails with the page's
    /// state and "`what()` within 10 s".
    async fn poll_until<Fut: std::future::Future<Output = bool>>(
        &self,
        what: impl FnOnce() -> String,
        mut check: impl FnMut() -> Fut,
    ) {
        let deadline = Instant::now() + WAIT;
        loop {
            if check().await {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}",
                    self.failure(&format!("{} within {WAIT:?}", what())).await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Polls (≤ 10 s) until the page has loaded and run its scripts and htmx has taken up
    /// the element `selector` finds (htmx binds its attributes when it processes an
    /// element). After a form's plain POST and redirect, the new page's text can be read
    /// before its deferred scripts ran: a control changed then is submitted by the browser
    /// itself (a reload), not by htmx.
    pub async fn wait_for_htmx_on(&self, selector: &str) {
        let script = "var el = document.querySelector(arguments[0]); \
             return document.readyState === 'complete' && !!window.htmx && !!el \
             && !!el['htmx-internal-data'];";
        self.poll_until(
            || format!("htmx did not take up {selector:?}"),
            move || async move {
                matches!(
                    self.client.execute(script, vec![json!(selector)]).await,
                    Ok(Value::Bool(true))
                )
            },
        )
        .await
    }

    /// Polls (≤ 10 s) until `document.body.innerText` contains `text`.
    pub async fn wait_for_text(&self, text: &str) {
        self.poll_until(
            || format!("text {text:?} did not appear"),
            move || async move { matches!(self.try_body_text().await, Ok(body) if body.contains(text)) },
        )
        .await
    }

    /// Polls (≤ 10 s) until `pred(current_url)` holds.
    pub async fn wait_for_url(&self, pred: impl Fn(&str) -> bool) {
        let pred = &pred;
        self.poll_until(
            || "the URL did not match the predicate".to_string(),
            move || async move {
                matches!(self.client.current_url().await, Ok(url) if pred(url.as_str()))
            },
        )
        .await
    }

    /// `document.body.innerText` of the current page.
    pub async fn text(&self) -> String {
        match self.try_body_text().await {
            Ok(text) => text,
            Err(e) => panic!(
                "Browser: could not read the page text of {}: {e}",
                self.url_or_unknown().await
            ),
        }
    }

    pub async fn current_url(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => panic!("Browser: could not get the current URL: {e}"),
        }
    }

    /// Saves a PNG screenshot of the viewport to `path` (creating parent
    /// directories).
    pub async fn screenshot(&self, path: &Path) {
        let png = match self.client.screenshot().await {
            Ok(png) => png,
            Err(e) => panic!(
                "Browser: could not take a screenshot of {}: {e}",
                self.url_or_unknown().await
            ),
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("Browser: could not create {}: {e}", parent.display()));
        }
        std::fs::write(path, png)
            .unwrap_or_else(|e| panic!("Browser: could not write {}: {e}", path.display()));
    }

    /// Ends the WebDriver session (Chromium quits) and kills chromedriver.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(10), self.client.clone().close()).await;
        // `Drop` kills chromedriver and anything left over.
    }

    /// The directory holding the Chromium profile and chromedriver's logs;
    /// removed when the `Browser` is dropped.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The tail of chromedriver's log, for debugging.
    pub fn driver_log(&self) -> String {
        self.driver.log_tail()
    }

    // ---------------------------------------------------------------------

    async fn click(&self, kind: Kind, name: &str, what: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let el = self.find(kind, name, None, what, deadline).await;
            match el.click().await {
                Ok(()) => return,
                Err(e) if retryable(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(POLL).await
                }
                Err(e) => panic!(
                    "{}",
                    self.failure(&format!("could not click the {what}: {e}"))
                        .await
                ),
            }
        }
    }

    /// Polls until an element of `kind` named `wanted` is visible and usable,
    /// or panics at `deadline` explaining what was found instead.
    async fn find(
        &self,
        kind: Kind,
        wanted: &str,
        scope: Option<&Element>,
        what: &str,
        deadline: Instant,
    ) -> Element {
        let mut last;
        loop {
            match self.query(kind, wanted, scope, false).await {
                Ok(found) => {
                    if let Some(el) = found.ready {
                        return el;
                    }
                    if found.unusable > 0 {
                        last = format!(
                            "{} matching element(s), but none visible and enabled",
                            found.unusable
                        );
                    } else {
                        last = String::from("no matching element");
                    }
                }
                // Typically the page is navigating; try again.
                Err(e) => last = format!("lookup failed: {e}"),
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        let available = match self.query(kind, wanted, scope, true).await {
            Ok(found) => format!("{:?}", found.available),
            Err(e) => format!("<could not list: {e}>"),
        };
        panic!(
            "{}",
            self.failure(&format!(
                "{what} not found within {WAIT:?} ({last}).\nAvailable {}: {available}",
                kind.plural()
            ))
            .await
        )
    }

    async fn query(
        &self,
        kind: Kind,
        wanted: &str,
        scope: Option<&Element>,
        diagnose: bool,
    ) -> Result<Found, CmdError> {
        let scope = scope.map_or(Value::Null, |el| json!(el));
        let args = vec![json!(kind.as_str()), json!(wanted), scope, json!(diagnose)];
        let value = self.client.execute(FIND_JS, args).await?;
        let elements = value["els"].as_array().cloned().unwrap_or_default();
        let ready_flags = value["ready"].as_array().cloned().unwrap_or_default();
        let mut ready = None;
        let mut unusable = 0;
        for (el, is_ready) in elements.iter().zip(ready_flags) {
            let Some(id) = el.get(ELEMENT_KEY).and_then(Value::as_str) else {
                continue;
            };
            if is_ready == Value::Bool(true) {
                if ready.is_none() {
                    let id = ElementRef::from(id.to_string());
                    ready = Some(Element::from_element_id(self.client.clone(), id));
                }
            } else {
                unusable += 1;
            }
        }
        let available = value["available"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Found {
            ready,
            unusable,
            available,
        })
    }

    async fn try_body_text(&self) -> Result<String, CmdError> {
        let value = self
            .client
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }

    async fn url_or_unknown(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.to_string(),
            Err(e) => format!("<unknown URL: {e}>"),
        }
    }

    /// A panic message: `problem`, the current URL and the start of the page
    /// text.
    async fn failure(&self, problem: &str) -> String {
        let url = self.url_or_unknown().await;
        let body = match self.try_body_text().await {
            Ok(text) => {
                let excerpt: String = text.chars().take(BODY_EXCERPT_CHARS).collect();
                if excerpt.len() < text.len() {
                    format!("{excerpt}…")
                } else {
                    excerpt
                }
            }
            Err(e) => format!("<could not read page text: {e}>"),
        };
        format!(
            "Browser: {problem}\nPage URL: {url}\n--- page text ---\n{body}\n--- end of page text ---"
        )
    }
}

/// fantoccini's `ClientBuilder::rustls()` calls `rustls::ClientConfig::builder()`,
/// which panics when the process has no default crypto provider and rustls is
/// compiled with both `ring` and `aws-lc-rs` — the case in this dependency
/// graph (lettre/reqwest enable `ring`, fantoccini's hyper-rustls `aws-lc-rs`).
/// Installing one is idempotent; an `Err` means one is already installed.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Quotes `s` as an XPath 1.0 string literal, whatever quotes it contains
/// (`concat('a', "'", 'b')` when it has both kinds). For callers writing
/// their own `Locator::XPath`.
pub fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|part| format!("'{part}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

fn env_or(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// Errors worth retrying while the page settles (htmx swaps, animations).
fn retryable(e: &CmdError) -> bool {
    match e {
        CmdError::Standard(wd) => matches!(
            wd.error,
            ErrorStatus::StaleElementReference
                | ErrorStatus::ElementClickIntercepted
                | ErrorStatus::ElementNotInteractable
                | ErrorStatus::NoSuchElement
                | ErrorStatus::JavascriptError
        ),
        _ => false,
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Control,
    Select,
    Option,
    Button,
    Link,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Control => "control",
            Kind::Select => "select",
            Kind::Option => "option",
            Kind::Button => "button",
            Kind::Link => "link",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Kind::Control => "form control labels",
            Kind::Select => "select labels",
            Kind::Option => "options",
            Kind::Button => "buttons",
            Kind::Link => "links",
        }
    }
}

struct Found {
    /// First visible, usable match (preferring document order).
    ready: Option<Element>,
    /// Matches that are hidden, disabled or read-only.
    unusable: usize,
    /// With `diagnose`: names of everything of that kind on the page.
    available: Vec<String>,
}

/// arguments: kind, wanted text, scope element (for options) or null,
/// diagnose flag. Returns {els, ready, available}.
const FIND_JS: &str = r#"
const [kind, wantedRaw, scope, diagnose] = arguments;
const norm = (s) => (s == null ? '' : String(s)).replace(/[\s\u00a0]+/g, ' ').trim();
const wanted = norm(wantedRaw);
const SKIP = new Set(['SELECT', 'TEXTAREA', 'OPTION', 'DATALIST', 'SCRIPT', 'STYLE', 'TEMPLATE', 'NOSCRIPT']);
const textOf = (root) => {
  if (!root) return '';
  let out = '';
  const walk = (n) => {
    for (const c of n.childNodes) {
      if (c.nodeType === Node.TEXT_NODE) out += c.data;
      else if (c.nodeType === Node.ELEMENT_NODE && !SKIP.has(c.tagName)) walk(c);
    }
  };
  walk(root);
  return norm(out);
};
const byIds = (ids) => norm(String(ids || '').split(/\s+/).filter(Boolean)
  .map((id) => textOf(document.getElementById(id))).join(' '));
const visible = (el) => !!el && el.isConnected && (typeof el.checkVisibility === 'function'
  ? el.checkVisibility({ visibilityProperty: true, checkVisibilityCSS: true })
  : el.getClientRects().length > 0);
const isControl = (el) => !!el && ((el.tagName === 'INPUT' && el.type !== 'hidden')
  || el.tagName === 'SELECT' || el.tagName === 'TEXTAREA' || el.isContentEditable === true);
const ariaNames = (el) => {
  const names = [];
  if (el.hasAttribute('aria-label')) names.push(norm(el.getAttribute('aria-label')));
  if (el.hasAttribute('aria-labelledby')) names.push(byIds(el.getAttribute('aria-labelledby')));
  return names;
};
const els = [];
const add = (el) => { if (el && !els.includes(el)) els.push(el); };
let ready = (el) => visible(el);
let available = [];

if (kind === 'control' || kind === 'select') {
  const fits = kind === 'select' ? (el) => !!el && el.tagName === 'SELECT' : isControl;
  const labels = Array.from(document.querySelectorAll('label'));
  const labelled = Array.from(document.querySelectorAll('[aria-label], [aria-labelledby]')).filter(fits);
  for (const l of labels) {
    if (textOf(l) !== wanted) continue;
    if (l.htmlFor) add(document.getElementById(l.htmlFor));
    add(l.control);
    if (!l.htmlFor) add(l.querySelector('input:not([type=hidden]), select, textarea, [contenteditable=""], [contenteditable=true]'));
  }
  for (const el of labelled) if (ariaNames(el).includes(wanted)) add(el);
  for (let i = els.length - 1; i >= 0; i--) if (!fits(els[i])) els.splice(i, 1);
  ready = (el) => visible(el) && !el.disabled && !el.readOnly;
  if (diagnose) {
    available = labels.filter((l) => {
      const target = l.htmlFor ? document.getElementById(l.htmlFor) : (l.control || l.querySelector('input, select, textarea'));
      return fits(target);
    }).map(textOf).concat(labelled.flatMap(ariaNames));
  }
} else if (kind === 'option') {
  const options = scope && scope.options ? Array.from(scope.options) : [];
  for (const o of options) if (norm(o.text) === wanted || norm(o.label) === wanted) add(o);
  ready = (o) => !o.disabled;
  if (diagnose) available = options.map((o) => norm(o.text));
} else if (kind === 'button') {
  const all = Array.from(document.querySelectorAll(
    'button, summary, input[type=submit], input[type=button], input[type=reset], input[type=image], [role=button]'));
  const namesOf = (el) => {
    const names = [textOf(el), ...ariaNames(el)];
    if (el.tagName === 'INPUT') { names.push(norm(el.value)); if (el.type === 'image') names.push(norm(el.alt)); }
    return names.filter(Boolean);
  };
  for (const el of all) if (namesOf(el).includes(wanted)) add(el);
  // A control that names what it shows ("Switch workspace: Acme Production") answers to
  // the part before the colon, when no button has that exact name.
  if (!els.length) for (const el of all) if (namesOf(el).some((n) => n.startsWith(wanted + ': '))) add(el);
  ready = (el) => visible(el) && !el.disabled && el.getAttribute('aria-disabled') !== 'true';
  if (diagnose) available = all.filter(visible).map((el) => namesOf(el)[0] || '');
} else if (kind === 'link') {
  const all = Array.from(document.querySelectorAll('a'));
  const namesOf = (a) => {
    const names = [textOf(a), ...ariaNames(a)];
    for (const img of a.querySelectorAll('img[alt]')) names.push(norm(img.alt));
    return names.filter(Boolean);
  };
  for (const a of all) if (namesOf(a).includes(wanted)) add(a);
  if (diagnose) available = all.filter(visible).map((a) => namesOf(a)[0] || '');
} else {
  throw new Error('unknown kind ' + kind);
}
// Stable partition: usable matches first.
const flags = els.map((el) => ready(el));
const order = els.map((_, i) => i).sort((a, b) => (flags[b] - flags[a]) || (a - b));
return {
  els: order.map((i) => els[i]),
  ready: order.map((i) => flags[i]),
  available: available.slice(0, 60),
};
"#;

// -------------------------------------------------------------------------
// chromedriver process management

struct Driver {
    child: Child,
    port: u16,
    log: PathBuf,
    out: PathBuf,
    dead: bool,
}

enum Startup {
    Ready,
    Exited(String),
    TimedOut,
}

impl Driver {
    /// Spawns chromedriver on a free port and waits until `GET /status`
    /// reports ready; retries with another port if it dies (e.g. the port
    /// got taken between choosing and binding it).
    async fn spawn(binary: &str, dir: &Path) -> Driver {
        let deadline = Instant::now() + DRIVER_READY_TIMEOUT;
        let mut failures = Vec::new();
        for attempt in 1..=5 {
            let port = free_port();
            let log = dir.join(format!("chromedriver-{attempt}.log"));
            let out = dir.join(format!("chromedriver-{attempt}.out"));
            let out_file = File::create(&out)
                .unwrap_or_else(|e| panic!("Browser: could not create {}: {e}", out.display()));
            let err_file = out_file
                .try_clone()
                .expect("Browser: could not clone a file handle");
            let child = Command::new(binary)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(out_file)
                .stderr(err_file)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "Browser: could not run chromedriver {binary:?}: {e} \
                         (install chromium-driver or set ATRIUM_CHROMEDRIVER)"
                    )
                });
            let mut driver = Driver {
                child,
                port,
                log,
                out,
                dead: false,
            };
            match driver.wait_ready(deadline).await {
                Startup::Ready => return driver,
                Startup::Exited(why) => failures.push(format!("port {port}: {why}")),
                Startup::TimedOut => {
                    failures.push(format!("port {port}: not ready"));
                    panic!(
                        "Browser: chromedriver {binary:?} did not become ready within \
                         {DRIVER_READY_TIMEOUT:?}: {failures:?}\n--- chromedriver log (tail) ---\n{}",
                        driver.log_tail()
                    );
                }
            }
        }
        panic!("Browser: chromedriver {binary:?} failed to start: {failures:?}");
    }

    async fn wait_ready(&mut self, deadline: Instant) -> Startup {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.dead = true;
                let output = std::fs::read_to_string(&self.out).unwrap_or_default();
                return Startup::Exited(format!("exited with {status}: {}", output.trim()));
            }
            if status_ready(self.port).await {
                // Make sure it was our process that answered.
                if let Ok(None) = self.child.try_wait() {
                    return Startup::Ready;
                }
                continue;
            }
            if Instant::now() >= deadline {
                return Startup::TimedOut;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_tail(&self) -> String {
        let mut text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.push_str(&std::fs::read_to_string(&self.log).unwrap_or_default());
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Kills chromedriver and everything it started (Chromium survives a
    /// dead chromedriver otherwise). Idempotent; synchronous.
    fn kill(&mut self) {
        if self.dead {
            return;
        }
        self.dead = true;
        // While chromedriver is alive (and unreaped) its descendants are
        // still linked to it, so collect them first.
        let pids = descendants(self.child.id());
        let killed = pids.is_empty()
            || Command::new("kill")
                .arg("-KILL")
                .args(pids.iter().map(u32::to_string))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok();
        if !killed {
            // No `kill` binary: ask chromedriver to quit its browsers itself.
            http_get_blocking(self.port, "/shutdown", Duration::from_secs(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Picks a currently free port by binding `127.0.0.1:0` and releasing it.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("Browser: could not find a free port")
}

/// All (transitive) child processes of `root`, from `/proc` (Linux).
fn descendants(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ..." — comm may contain spaces and parens.
        let Some(after_comm) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = after_comm.split_whitespace();
        let state = fields.next();
        let ppid = fields.next().and_then(|s| s.parse::<u32>().ok());
        if let (Some(state), Some(ppid)) = (state, ppid)
            && state != "Z"
        {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            out.push(child);
            stack.push(child);
        }
    }
    out
}

/// `GET /status` on chromedriver and check `value.ready`.
async fn status_ready(port: u16) -> bool {
    let fetch = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let request =
            format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        // chromedriver does not close the connection despite
        // `Connection: close`, so read exactly `Content-Length` bytes.
        let mut response = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(body) = complete_body(&response) {
                return Ok::<_, std::io::Error>(body);
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return complete_body(&response)
                    .ok_or(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
            }
            response.extend_from_slice(&chunk[..n]);
        }
    };
    let Ok(Ok(body)) = tokio::time::timeout(Duration::from_secs(2), fetch).await else {
        return false;
    };
    serde_json::from_slice::<Value>(&body)
        .map(|v| v["value"]["ready"] == Value::Bool(true))
        .unwrap_or(false)
}

/// The body of a complete `200` HTTP response with a `Content-Length`.
fn complete_body(response: &[u8]) -> Option<Vec<u8>> {
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..head_end]);
    let mut lines = head.lines();
    let status = lines.next()?;
    if status.split_whitespace().nth(1) != Some("200") {
        return Some(Vec::new());
    }
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())?;
    let body = &response[head_end + 4..];
    (body.len() >= length).then(|| body[..length].to_vec())
}

/// Minimal blocking HTTP GET (used from `Drop`, where we cannot `.await`).
fn http_get_blocking(port: u16, path: &str, timeout: Duration) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, timeout) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_ok() {
        // Wait for the start of the answer (the request has been handled);
        // chromedriver may keep the connection open.
        let mut buf = [0u8; 512];
        let _ = stream.read(&mut buf);
    }
}

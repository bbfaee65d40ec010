//! Hostile input (issue #9, SECURITY.md §2): every text field of every form and JSON body
//! gets the bad inputs of §2 from tables. For each: never a 500 or a dropped connection;
//! either a 422 naming the field (pages: the message beside the field; the API: a `loc`
//! ending in the field) with nothing stored, or — where the policy takes the text as it is
//! (names with `<script>`, SQL-ish strings, template syntax) — stored literally and shown
//! escaped. Adding a field is one more row in a table below.

use crate::support::{text, ws_id};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_support::{
    ACCOUNT_MEMBER, OWNER_ROLE, UNKNOWN, VIEWER_ROLE, bot, call, member, org, user_key,
};
use crate::members::{PW, create_org, user_id};
use crate::support::{Page, TestApp, backend, spawn_app};
use crate::workspaces::create_ws;

/// What the policy does with an input.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    /// 422 naming the field, nothing stored.
    Refuse,
    /// Stored as typed (after trimming the ends), shown escaped.
    Keep,
}
use Want::{Keep, Refuse};

struct Case {
    label: &'static str,
    input: String,
    want: Want,
}

fn case(label: &'static str, input: impl Into<String>, want: Want) -> Case {
    Case {
        label,
        input: input.into(),
        want,
    }
}

// ---------- the tables of SECURITY.md §2 ----------

/// §2.1: names (accounts, workspaces, roles, service accounts, keys, people).
/// `required`: whether an empty value is refused (a last name may be empty).
fn names(required: bool) -> Vec<Case> {
    let empty = if required { Refuse } else { Keep };
    vec![
        case("empty", "", empty),
        case("spaces", "   ", empty),
        case("tab", "\t", empty),
        case("padded", " Acme Padded ", Keep),
        case("100 chars", "n".repeat(100), Keep),
        case("101 chars", "n".repeat(101), Refuse),
        case("64 emoji (256 bytes)", "😀".repeat(64), Keep),
        case("101 emoji", "😀".repeat(101), Refuse),
        case("NUL", "a\u{0}b", Refuse),
        case("CR/LF header", "a\r\nBcc: x@evil.example", Refuse),
        case("LF", "a\nb", Refuse),
        case("RTL override", "abc\u{202E}fdp.exe", Refuse),
        case("zero-width space", "Ac\u{200B}me", Refuse),
        case("zero-width joiner", "Ac\u{200D}me", Refuse),
        case("BOM", "\u{FEFF}Acme", Refuse),
        case("script", "<script>alert(1)</script>", Keep),
        case("img onerror", "\"><img src=x onerror=alert(1)>", Keep),
        case("attribute break", "' onmouseover=alert(1) x='", Keep),
        case("JSON break", "x\",\"role\":\"owner", Keep),
        case("quote brace", "x'}", Keep),
        case("template", "{{7*7}}", Keep),
        case("template $", "${7*7}", Keep),
        case("template raw", "{% raw %}", Keep),
        case("SQL or", "' OR 1=1--", Keep),
        case("SQL drop", "Robert'); DROP TABLE users;--", Keep),
        case("Cyrillic A", "\u{410}cme", Keep),
        case("CSV =", "=HYPERLINK(\"https://evil\")", Keep),
        case("CSV @", "@SUM(1)", Keep),
        case("CSV +", "+cmd", Keep),
        case("CSV -", "-2+3", Keep),
        case("path traversal", "../../etc/passwd", Keep),
        case("encoded traversal", "%2e%2e%2f", Keep),
        case("encoded NUL", "%00", Keep),
    ]
}

/// §2.4: descriptions (free text, may be empty); `max` characters.
fn descriptions(max: usize, multiline: bool) -> Vec<Case> {
    let lines = if multiline { Keep } else { Refuse };
    vec![
        case("empty", "", Keep),
        case("max", "d".repeat(max), Keep),
        case("max+1", "d".repeat(max + 1), Refuse),
        case("one long word", "w".repeat(max.min(5000)), Keep),
        case("CRLF lines", "line one\r\nline two", lines),
        case("NUL", "a\u{0}b", Refuse),
        case("script", "<script>alert(1)</script>", Keep),
        case("img onerror", "\"><img src=x onerror=alert(1)>", Keep),
        case("markdown js link", "[x](javascript:alert(1))", Keep),
        case("template", "{{7*7}}", Keep),
        case("SQL drop", "Robert'); DROP TABLE users;--", Keep),
        case("CSV =", "=HYPERLINK(\"https://evil\")", Keep),
        case("path traversal", "../../etc/passwd", Keep),
    ]
}

/// §2.2: handles. `min`: 2 for accounts and users, 1 for workspaces.
fn handles(min: usize) -> Vec<Case> {
    let one = if min == 1 { Keep } else { Refuse };
    vec![
        case("empty", "", Refuse),
        case("spaces", "   ", Refuse),
        case("one char", "q", one),
        case("upper case", "Acme", Refuse),
        case("leading dash", "-acme", Refuse),
        case("trailing dash", "acme-", Refuse),
        case("41 chars", "h".repeat(41), Refuse),
        case("40 chars", "k".repeat(40), Keep),
        case("dot", "a.b", Refuse),
        case("slash", "a/b", Refuse),
        case("encoded slash", "a%2Fb", Refuse),
        case("dot dot", "..", Refuse),
        case("space", "a b", Refuse),
        case("underscore", "a_b", Refuse),
        case("Cyrillic", "\u{430}cme", Refuse),
        case("NUL", "ab\u{0}c", Refuse),
        case("CRLF", "ab\r\nc", Refuse),
        case("zero-width", "ab\u{200B}c", Refuse),
        case("script", "<script>", Refuse),
        case("SQL", "' OR 1=1--", Refuse),
        case("template", "{{7*7}}", Refuse),
        case("padded", " padded-handle ", Keep),
    ]
}

/// §2.3: e-mail addresses.
fn emails() -> Vec<Case> {
    vec![
        case("empty", "", Refuse),
        case("spaces", "   ", Refuse),
        case(
            "header injection",
            "user@example.com\r\nBcc: x@evil.example",
            Refuse,
        ),
        case("quoted CRLF", "\"a\r\nb\"@example.com", Refuse),
        case("two with comma", "a@example.com,b@example.com", Refuse),
        case("two with semicolon", "a@example.com;b@x", Refuse),
        case("display name", "Name <a@example.com>", Refuse),
        case("no domain dot", "user@localhost", Refuse),
        case("IP literal", "user@[127.0.0.1]", Refuse),
        case("sendmail flags", "-oQ/tmp/ -X/tmp/log@x.com", Refuse),
        case(
            "local part 65",
            format!("{}@example.com", "l".repeat(65)),
            Refuse,
        ),
        case("over 254", format!("a@{}.com", "d".repeat(260)), Refuse),
        case("NUL", "a\u{0}b@example.com", Refuse),
        case("script", "<script>@example.com", Refuse),
        case("padded", " padded@example.com ", Keep),
        case("plus tag", "user+tag@example.com", Keep),
    ]
}

/// Expiration dates of the forms (`YYYY-MM-DD`, empty = never).
fn dates() -> Vec<Case> {
    vec![
        case("empty", "", Keep),
        case("past", "2001-01-01", Refuse),
        case("year 9999", "9999-12-31", Keep),
        case("day first", "31/12/2999", Refuse),
        case("with time and zone", "2999-01-01T00:00:00Z", Refuse),
        case("month 13", "2999-13-01", Refuse),
        case("February 30", "2999-02-30", Refuse),
        case("year 10000", "10000-01-01", Refuse),
        case("negative year", "-2001-01-01", Refuse),
        case("NUL", "2999-01-01\u{0}", Refuse),
        case("SQL", "2999-01-01' OR 1=1--", Refuse),
        case("script", "<script>", Refuse),
    ]
}

/// Whole numbers of the account settings (workspace limit, audit retention).
fn numbers() -> Vec<Case> {
    vec![
        case("empty", "", Keep),
        case("zero", "0", Refuse),
        case("negative", "-1", Refuse),
        case("i64 overflow", "9223372036854775808", Refuse),
        case("float", "1.5", Refuse),
        case("exponent", "1e3", Refuse),
        case("words", "ten", Refuse),
        case("NUL", "1\u{0}", Refuse),
        case("script", "<script>", Refuse),
        case("one", "1", Keep),
    ]
}

// ---------- checking one answer ----------

fn unescape(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let c = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The page shows `value` as text: escaped in the markup, literal once unescaped.
fn assert_shown_escaped(page: &Page, value: &str, what: &str) {
    assert_ne!(page.status, StatusCode::INTERNAL_SERVER_ERROR, "{what}");
    if value.contains(['<', '>', '"']) {
        assert!(
            !page.text.contains(value),
            "{what}: {value:?} appears unescaped in the page"
        );
    }
    assert!(
        unescape(&page.text).contains(value),
        "{what}: {value:?} is not shown"
    );
}

/// The text of the message beside `id` (`<… id="{id}">message<…`).
fn message_at(text: &str, id: &str) -> Option<String> {
    let i = text.find(&format!("id=\"{id}\""))?;
    let rest = &text[i..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')?;
    Some(rest[start..start + end].trim().to_string())
}

/// Rows in every table a form or request can write to, audit events included.
fn writes(app: &TestApp) -> i64 {
    app.count(
        "SELECT (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM accounts)
              + (SELECT COUNT(*) FROM account_memberships) + (SELECT COUNT(*) FROM workspaces)
              + (SELECT COUNT(*) FROM workspace_roles) + (SELECT COUNT(*) FROM workspace_access)
              + (SELECT COUNT(*) FROM service_accounts) + (SELECT COUNT(*) FROM api_keys)
              + (SELECT COUNT(*) FROM workspace_bot_access) + (SELECT COUNT(*) FROM invitations)
              + (SELECT COUNT(*) FROM audit_events) AS n",
    )
}

/// Rows of `table` whose `column` equals `value` (bound, never spliced).
fn rows_with(app: &TestApp, table: &str, column: &str, value: &str) -> i64 {
    use diesel::prelude::*;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let p = match backend() {
        atrium::settings::Backend::Postgres => "$1",
        _ => "?",
    };
    diesel::sql_query(format!(
        "SELECT COUNT(*) AS n FROM {table} WHERE {column} = {p}"
    ))
    .bind::<diesel::sql_types::Text, _>(value)
    .get_result::<N>(&mut app.conn())
    .expect("count query")
    .n
}

/// A page form's answer to one case: refused beside the field with nothing written, or
/// accepted and (when `stored` is given) stored as typed.
async fn check_form(
    app: &TestApp,
    what: &str,
    c: &Case,
    r: &Page,
    error_id: &str,
    before: i64,
    stored: Option<(&str, &str)>,
) -> bool {
    let at = format!("{what} / {}: {:?}", c.label, c.input);
    assert_ne!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{at}");
    match c.want {
        Refuse => {
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{at}: {}",
                r.text
            );
            let msg = message_at(&r.text, error_id)
                .unwrap_or_else(|| panic!("{at}: no message beside the field ({error_id})"));
            assert!(!msg.is_empty(), "{at}: an empty message");
            assert_eq!(writes(app), before, "{at}: something was written");
            // (PostgreSQL cannot even compare with a NUL.)
            if let Some((table, column)) = stored.filter(|_| !c.input.contains('\0')) {
                assert_eq!(rows_with(app, table, column, &c.input), 0, "{at}: stored");
            }
            false
        }
        Keep => {
            assert!(
                r.status.is_success() || r.status.is_redirection(),
                "{at}: {} {}",
                r.status,
                r.text
            );
            if let Some((table, column)) = stored {
                assert!(
                    rows_with(app, table, column, c.input.trim()) >= 1,
                    "{at}: not stored as typed in {table}.{column}"
                );
            }
            true
        }
    }
}

// ---------- pages ----------

#[tokio::test]
async fn hostile_names_and_descriptions_on_every_page_form() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let dash = create_ws(&ana, &acct, "Prod", "prod").await;
    let ws = ws_id(&dash);
    crate::service_accounts::create_sa(&ana, &acct, "ci-bot", None).await;
    let sa = text(
        &app,
        "SELECT id AS t FROM service_accounts WHERE name = 'ci-bot'",
    );
    let r = ana
        .post_form(
            &format!("/account/{acct}/roles/new"),
            &[("name", "Auditor"), ("scopes", "see_flows")],
        )
        .await;
    assert!(r.status.is_redirection(), "role: {}", r.text);
    let role = text(
        &app,
        "SELECT id AS t FROM workspace_roles WHERE name = 'Auditor'",
    );

    // Names are unique per account: new roles and service accounts go to a second one.
    let other = create_org(&ana, "Other", "other").await;
    let settings = format!("/account/{acct}/settings");
    let ws_settings = format!("/account/{acct}/workspace/{ws}/settings");
    let roles = format!("/account/{acct}/roles");
    let other_roles = format!("/account/{other}/roles");
    let other_sas = format!("/account/{other}/service-accounts");
    let role_edit = format!("/account/{acct}/roles/{role}/edit");
    let sas = format!("/account/{acct}/service-accounts");
    let rename = format!("{sas}/{sa}/rename");
    let rename_err = format!("rename-{sa}-error");
    let mut n = 0;
    let mut total = 0;
    // (form, field, error id, table.column it is stored in, the other fields, the page showing it)
    #[allow(clippy::type_complexity)]
    let forms: Vec<(&str, &str, &str, (&str, &str), Vec<Case>, &str)> = vec![
        (
            "profile",
            "first_name",
            "first_name-error",
            ("users", "first_name"),
            names(true),
            "/profile",
        ),
        (
            "profile",
            "last_name",
            "last_name-error",
            ("users", "last_name"),
            names(false),
            "/profile",
        ),
        (
            "new account",
            "name",
            "name-error",
            ("accounts", "name"),
            names(true),
            "",
        ),
        (
            "account settings",
            "name",
            "name-error",
            ("accounts", "name"),
            names(true),
            &settings,
        ),
        (
            "new workspace",
            "name",
            "name-error",
            ("workspaces", "name"),
            names(true),
            "",
        ),
        (
            "new workspace",
            "description",
            "description-error",
            ("workspaces", "description"),
            descriptions(500, true),
            "",
        ),
        (
            "workspace settings",
            "name",
            "name-error",
            ("workspaces", "name"),
            names(true),
            &ws_settings,
        ),
        (
            "workspace settings",
            "description",
            "description-error",
            ("workspaces", "description"),
            descriptions(500, true),
            &ws_settings,
        ),
        (
            "new role",
            "name",
            "name-error",
            ("workspace_roles", "name"),
            names(true),
            &other_roles,
        ),
        (
            "new role",
            "description",
            "description-error",
            ("workspace_roles", "description"),
            descriptions(140, false),
            &other_roles,
        ),
        (
            "role edit",
            "name",
            "name-error",
            ("workspace_roles", "name"),
            names(true),
            &roles,
        ),
        (
            "role edit",
            "description",
            "description-error",
            ("workspace_roles", "description"),
            descriptions(140, false),
            &role_edit,
        ),
        (
            "new service account",
            "name",
            "name-error",
            ("service_accounts", "name"),
            names(true),
            &other_sas,
        ),
        (
            "service account rename",
            "name",
            &rename_err,
            ("service_accounts", "name"),
            names(true),
            &sas,
        ),
        (
            "new API key",
            "name",
            "name-error",
            ("api_keys", "name"),
            names(true),
            "/profile/api-keys",
        ),
    ];
    for (form, field, error_id, stored, cases, show) in forms {
        for c in cases {
            n += 1;
            total += 1;
            let before = writes(&app);
            let v = c.input.as_str();
            let h = format!("h{n}");
            let (path, fields): (String, Vec<(&str, &str)>) = match (form, field) {
                ("profile", "first_name") => (
                    "/profile".into(),
                    vec![("first_name", v), ("last_name", "A")],
                ),
                ("profile", _) => (
                    "/profile".into(),
                    vec![("first_name", "Ana"), ("last_name", v)],
                ),
                ("new account", _) => ("/accounts/new".into(), vec![("name", v), ("handle", &h)]),
                ("account settings", _) => {
                    (settings.clone(), vec![("name", v), ("handle", "acme")])
                }
                ("new workspace", "name") => (
                    format!("/account/{acct}/workspaces"),
                    vec![("name", v), ("handle", &h), ("description", "")],
                ),
                ("new workspace", _) => (
                    format!("/account/{acct}/workspaces"),
                    vec![("name", "W"), ("handle", &h), ("description", v)],
                ),
                ("workspace settings", "name") => (
                    ws_settings.clone(),
                    vec![
                        ("name", v),
                        ("handle", "prod"),
                        ("description", ""),
                        ("default_role", "none"),
                    ],
                ),
                ("workspace settings", _) => (
                    ws_settings.clone(),
                    vec![
                        ("name", "Prod"),
                        ("handle", "prod"),
                        ("description", v),
                        ("default_role", "none"),
                    ],
                ),
                ("new role", "name") => (
                    format!("{other_roles}/new"),
                    vec![("name", v), ("scopes", "see_flows")],
                ),
                ("new role", _) => (
                    format!("{other_roles}/new"),
                    vec![("name", &h), ("description", v), ("scopes", "see_flows")],
                ),
                ("role edit", "name") => (
                    role_edit.clone(),
                    vec![("name", v), ("scopes", "see_flows")],
                ),
                ("role edit", _) => (
                    role_edit.clone(),
                    vec![
                        ("name", "Auditor"),
                        ("description", v),
                        ("scopes", "see_flows"),
                    ],
                ),
                ("new service account", _) => (
                    other_sas.clone(),
                    vec![
                        ("name", v),
                        ("workspace_id", "none"),
                        ("role_id", VIEWER_ROLE),
                    ],
                ),
                ("service account rename", _) => (rename.clone(), vec![("name", v)]),
                ("new API key", _) => ("/profile/api-keys".into(), vec![("name", v)]),
                other => panic!("no form {other:?}"),
            };
            let r = ana.post_form(&path, &fields).await;
            let what = format!("{form} {field}");
            if check_form(&app, &what, &c, &r, error_id, before, Some(stored)).await {
                // Shown escaped: on the page given, else where the form led.
                let show = if show.is_empty() {
                    r.location().expect("created: a redirect")
                } else {
                    show.to_string()
                };
                let value = c.input.trim();
                if !value.is_empty() {
                    let page = ana.get(&show).await;
                    assert_shown_escaped(&page, value, &format!("{what} / {} on {show}", c.label));
                }
            }
        }
    }
    eprintln!("hostile input: {total} page-form cases");
    assert!(total > 300, "{total} cases");
    // The database is intact after the SQL-ish names.
    assert!(app.count("SELECT COUNT(*) AS n FROM users") >= 1);
}

/// §2.1 passwords: anything from 10 characters to 1024 bytes, never trimmed.
fn passwords() -> Vec<Case> {
    vec![
        case("empty", "", Refuse),
        case("9 chars", "p".repeat(9), Refuse),
        case("1025 bytes", "p".repeat(1025), Refuse),
        case("1024 bytes", "p".repeat(1024), Keep),
        case("64 emoji", "😀".repeat(64), Keep),
        case("NUL inside", "pass\u{0}word-long", Keep),
        case("CR/LF inside", "pass\r\nword-long", Keep),
        case("SQL", "' OR 1=1-- long enough", Keep),
        case("template", "{{7*7}}{{7*7}}", Keep),
    ]
}

#[tokio::test]
async fn hostile_sign_up_and_log_in_inputs() {
    // No throttle, so that every log-in below reaches the lookup.
    let app = crate::support::spawn_app_with(|s| s.login_attempts_per_minute = 1_000_000).await;
    let mut n = 0;
    let fields: Vec<(&str, Vec<Case>, Option<&str>)> = vec![
        ("email", emails(), Some("email")),
        ("handle", handles(2), Some("handle")),
        ("first_name", names(true), Some("first_name")),
        ("last_name", names(false), Some("last_name")),
        ("password", passwords(), None),
    ];
    for (field, cases, column) in fields {
        for c in cases {
            n += 1;
            let before = writes(&app);
            let (email, handle) = (format!("s{n}@example.com"), format!("s{n}"));
            let mut form: Vec<(&str, &str)> = vec![
                ("email", &email),
                ("handle", &handle),
                ("first_name", "Test"),
                ("last_name", "T"),
                ("password", PW),
            ];
            for f in form.iter_mut().filter(|f| f.0 == field) {
                f.1 = &c.input;
            }
            let client = app.new_client();
            let r = client.post_form("/auth/signup", &form).await;
            let error_id = format!("{field}-error");
            let stored = column.map(|col| ("users", col));
            if check_form(
                &app,
                &format!("sign-up {field}"),
                &c,
                &r,
                &error_id,
                before,
                stored,
            )
            .await
            {
                assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", c.label);
                let value = c.input.trim();
                if column.is_some() && !value.is_empty() {
                    let page = client.get("/profile").await;
                    assert_shown_escaped(&page, value, &format!("sign-up {field} / {}", c.label));
                }
                if field == "password" {
                    // The password works exactly as typed.
                    let again = app.new_client();
                    let r = again
                        .post_form("/auth/login", &[("login", &handle), ("password", &c.input)])
                        .await;
                    assert_eq!(r.status, StatusCode::SEE_OTHER, "log-in with {:?}", c.label);
                }
            }
        }
    }

    // Log-in: whatever is typed, the same answer for a wrong log-in (or 429 once the
    // throttle starts), never a 500, no user made, and the text shown escaped.
    let users = app.count("SELECT COUNT(*) AS n FROM users");
    let mut logins: Vec<Case> = names(true);
    logins.extend(emails());
    logins.push(case("1 MiB-ish", "l".repeat(60_000), Refuse));
    let mut tried = 0;
    for c in &logins {
        // (A wrong password: some of these addresses signed up above.)
        for (login, password) in [
            (c.input.as_str(), "not the password"),
            ("s1", c.input.as_str()),
        ] {
            tried += 1;
            let r = app
                .new_client()
                .post_form("/auth/login", &[("login", login), ("password", password)])
                .await;
            let at = format!("log-in {}: {login:?} / {password:?}", c.label);
            assert!(
                r.status == StatusCode::OK || r.status == StatusCode::TOO_MANY_REQUESTS,
                "{at}: {}",
                r.status
            );
            if r.status == StatusCode::OK {
                assert!(r.text.contains(atrium::users::pages::BAD_LOGIN), "{at}");
                let shown = login.trim();
                if shown.contains('<') && shown.len() < 1000 {
                    assert!(!r.text.contains(shown), "{at}: shown unescaped");
                }
            }
        }
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM users"), users);
    eprintln!("hostile input: {n} sign-ups, {tried} log-ins");
    assert!(n > 90 && tried > 90, "{n} sign-ups, {tried} log-ins");
}

#[tokio::test]
async fn hostile_handles_numbers_dates_and_choices_on_pages() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let dash = create_ws(&ana, &acct, "Prod", "prod").await;
    let ws = ws_id(&dash);
    let settings = format!("/account/{acct}/settings");
    let ws_settings = format!("/account/{acct}/workspace/{ws}/settings");
    let sas = format!("/account/{acct}/service-accounts");
    let mut n = 0;
    // (form, field, cases, stored in)
    #[allow(clippy::type_complexity)]
    let forms: Vec<(&str, &str, Vec<Case>, Option<(&str, &str)>)> = vec![
        // Settings first: they give the handle back, the new ones keep it.
        (
            "account settings",
            "handle",
            handles(2),
            Some(("accounts", "handle")),
        ),
        (
            "new account",
            "handle",
            handles(2),
            Some(("accounts", "handle")),
        ),
        (
            "workspace settings",
            "handle",
            handles(1),
            Some(("workspaces", "handle")),
        ),
        (
            "new workspace",
            "handle",
            handles(1),
            Some(("workspaces", "handle")),
        ),
        ("account settings", "workspace_limit", numbers(), None),
        ("account settings", "audit_retention_days", numbers(), None),
        ("new service account", "expiration", dates(), None),
        ("new API key", "expiration", dates(), None),
    ];
    for (form, field, cases, stored) in forms {
        for c in cases {
            n += 1;
            let before = writes(&app);
            let v = c.input.as_str();
            let (h, name) = (format!("h{n}"), format!("n{n}"));
            let (path, fields): (String, Vec<(&str, &str)>) = match (form, field) {
                ("new account", _) => ("/accounts/new".into(), vec![("name", "N"), ("handle", v)]),
                ("account settings", "handle") => {
                    (settings.clone(), vec![("name", "Acme"), ("handle", v)])
                }
                ("account settings", f) => (
                    settings.clone(),
                    vec![("name", "Acme"), ("handle", "acme"), (f, v)],
                ),
                ("new workspace", _) => (
                    format!("/account/{acct}/workspaces"),
                    vec![("name", "W"), ("handle", v), ("description", "")],
                ),
                ("workspace settings", _) => (
                    ws_settings.clone(),
                    vec![
                        ("name", "Prod"),
                        ("handle", v),
                        ("description", ""),
                        ("default_role", "none"),
                    ],
                ),
                ("new service account", _) => (
                    sas.clone(),
                    vec![
                        ("name", &name),
                        ("expiration", v),
                        ("workspace_id", "none"),
                        ("role_id", VIEWER_ROLE),
                    ],
                ),
                ("new API key", _) => (
                    "/profile/api-keys".into(),
                    vec![("name", &h), ("expiration", v)],
                ),
                other => panic!("no form {other:?}"),
            };
            let r = ana.post_form(&path, &fields).await;
            let kept = check_form(
                &app,
                &format!("{form} {field}"),
                &c,
                &r,
                &format!("{field}-error"),
                before,
                stored,
            )
            .await;
            // Settings take back what the next row expects.
            if kept && form == "account settings" && field == "handle" {
                ana.post_form(&settings, &[("name", "Acme"), ("handle", "acme")])
                    .await;
            }
            if kept && form == "workspace settings" {
                ana.post_form(
                    &ws_settings,
                    &[
                        ("name", "Prod"),
                        ("handle", "prod"),
                        ("description", ""),
                        ("default_role", "none"),
                    ],
                )
                .await;
            }
        }
    }

    // The role form's scopes and inherited role: only the catalog's.
    let new_role = format!("/account/{acct}/roles/new");
    for (label, scopes, inherit, error_id) in [
        (
            "unknown scope",
            vec!["manage_everything"],
            "",
            "scopes-error",
        ),
        ("star", vec!["*"], "", "scopes-error"),
        ("admin star", vec!["admin:*"], "", "scopes-error"),
        ("case", vec!["See_Flows"], "", "scopes-error"),
        ("padded", vec![" see_flows"], "", "scopes-error"),
        ("NUL", vec!["see_flows\u{0}"], "", "scopes-error"),
        ("script", vec!["<script>"], "", "scopes-error"),
        ("none at all", vec![], "", "scopes-error"),
        (
            "unknown built-in",
            vec!["see_flows"],
            "superadmin",
            "inherit-error",
        ),
        (
            "built-in by id",
            vec!["see_flows"],
            OWNER_ROLE,
            "inherit-error",
        ),
        (
            "NUL built-in",
            vec!["see_flows"],
            "viewer\u{0}",
            "inherit-error",
        ),
    ] {
        n += 1;
        let before = writes(&app);
        let name = format!("scoped {n}");
        let mut fields = vec![("name", name.as_str()), ("inherit", inherit)];
        fields.extend(scopes.iter().map(|s| ("scopes", *s)));
        let r = ana.post_form(&new_role, &fields).await;
        let c = case(label, format!("{scopes:?} / {inherit:?}"), Refuse);
        check_form(&app, "new role scopes", &c, &r, error_id, before, None).await;
    }

    // Choices: roles and role ids the forms do not offer, and duplicate keys.
    app.signup("bo@example.com", "bo", PW).await;
    crate::members::add_member(&app, &acct, "bo", "member");
    let bo = user_id(&app, "bo");
    crate::api_support::grant(&app, &ws, "bo", VIEWER_ROLE);
    let member_role = format!("/account/{acct}/members/{bo}/role");
    let ws_role = format!("/account/{acct}/workspace/{ws}/settings/members/{bo}/role");
    // (Account role names are read case-insensitively and trimmed: `OWNER` is Owner.)
    let bad_choices = [
        "",
        "superadmin",
        "<script>",
        "a\u{0}",
        "' OR 1=1--",
        UNKNOWN,
        "not-a-uuid",
        "0",
        "-1",
        "9223372036854775808",
        "../../etc/passwd",
    ];
    let before = writes(&app);
    for bad in bad_choices {
        n += 1;
        for (path, field) in [(&member_role, "role"), (&ws_role, "role_id")] {
            let r = ana.post_form(path, &[(field, bad)]).await;
            let at = format!("{path} {field}={bad:?}");
            assert!(
                r.status == StatusCode::UNPROCESSABLE_ENTITY
                    || r.status == StatusCode::BAD_REQUEST
                    || r.status == StatusCode::FORBIDDEN,
                "{at}: {} {}",
                r.status,
                r.text
            );
        }
        // The invitation form's role.
        let r = ana
            .post_form(
                &format!("/account/{acct}/invitations"),
                &[("emails", "new@example.com"), ("role", bad)],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invite role {bad:?}"
        );
    }
    // Duplicate keys: refused as a whole (400), or the form's own answer — never both
    // values, never a 500.
    for (path, field, a, b) in [
        (&member_role, "role", "member", "owner"),
        (&ws_role, "role_id", VIEWER_ROLE, OWNER_ROLE),
    ] {
        let r = ana.post_form(path, &[(field, a), (field, b)]).await;
        assert_ne!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert!(
            r.status.is_client_error(),
            "{path}: duplicate {field}: {}",
            r.status
        );
    }
    let r = ana
        .post_form(
            &settings,
            &[("name", "One"), ("name", "Two"), ("handle", "acme")],
        )
        .await;
    assert!(r.status.is_client_error(), "duplicate name: {}", r.status);
    assert_eq!(writes(&app), before, "nothing changed by refused choices");
    assert_eq!(
        crate::members::role_in(&app, &acct, "bo").as_deref(),
        Some("member")
    );

    // The invitation list: each address is judged on its own; with none sent, 422.
    let invitations = format!("/account/{acct}/invitations");
    for c in emails() {
        n += 1;
        let before = app.count("SELECT COUNT(*) AS n FROM invitations");
        let r = ana
            .post_form(&invitations, &[("emails", &c.input), ("role", "member")])
            .await;
        let at = format!("invitation list / {}: {:?}", c.label, c.input);
        assert_ne!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{at}");
        let after = app.count("SELECT COUNT(*) AS n FROM invitations");
        if r.status == StatusCode::UNPROCESSABLE_ENTITY {
            assert_eq!(after, before, "{at}: refused, yet stored");
            assert!(
                r.text.contains("id=\"emails-error\"") || r.text.contains("Not sent"),
                "{at}: no message"
            );
        } else {
            assert_eq!(r.status, StatusCode::OK, "{at}");
            assert!(after > before, "{at}: 200 but nothing sent");
        }
        if c.want == Keep {
            assert_eq!(r.status, StatusCode::OK, "{at}");
            assert_eq!(
                rows_with(&app, "invitations", "email", c.input.trim()),
                1,
                "{at}: the address as typed"
            );
        }
        // A list whose every word is refused sends nothing.
        if c.want == Refuse
            && c.input
                .split(|ch: char| ch == ',' || ch == ';' || ch.is_whitespace())
                .all(|w| atrium::users::domain::Email::parse(w).is_err())
        {
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{at}");
        }
    }
    // The workspace's invitation (one address).
    let ws_invite = format!("/account/{acct}/workspace/{ws}/settings/members/invite");
    for c in emails() {
        n += 1;
        let before = writes(&app);
        let r = ana
            .post_form(&ws_invite, &[("email", &c.input), ("role_id", VIEWER_ROLE)])
            .await;
        let at = format!("workspace invitation / {}: {:?}", c.label, c.input);
        assert_ne!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{at}");
        match c.want {
            Refuse => {
                assert_eq!(
                    r.status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{at}: {}",
                    r.text
                );
                assert_eq!(writes(&app), before, "{at}: stored");
            }
            Keep => assert!(r.status.is_success(), "{at}: {}", r.status),
        }
    }
    eprintln!("hostile input: {n} cases");
    assert!(n > 100, "{n} cases");
}

// ---------- the JSON API ----------

/// Values of the wrong JSON type for a string field.
fn wrong_types() -> Vec<(&'static str, Value)> {
    vec![
        ("number", json!(5)),
        ("float", json!(1.5)),
        ("bool", json!(true)),
        ("empty array", json!([])),
        ("array", json!(["x"])),
        ("object", json!({})),
        ("nested object", json!({"a": {"b": "c"}})),
    ]
}

/// Ids that name nothing: malformed, unknown, of the wrong kind, of the wrong type.
fn bad_ids() -> Vec<(&'static str, Value)> {
    vec![
        ("empty", json!("")),
        ("not a uuid", json!("not-a-uuid")),
        ("unknown", json!(UNKNOWN)),
        ("zero", json!("0")),
        ("minus one", json!("-1")),
        ("i64 overflow", json!("9223372036854775808")),
        ("number", json!(9223372036854775807i64)),
        ("name instead", json!("owner")),
        ("SQL", json!("' OR 1=1--")),
        ("NUL", json!("a\u{0}b")),
        ("script", json!("<script>")),
        ("traversal", json!("../../etc/passwd")),
        ("array", json!([UNKNOWN])),
        ("object", json!({"id": UNKNOWN})),
    ]
}

/// API expiry moments.
fn api_dates() -> Vec<(&'static str, Value, Want)> {
    vec![
        ("past", json!("2001-01-01T00:00:00Z"), Refuse),
        ("now-ish", json!("2020-01-01T00:00:00+00:00"), Refuse),
        ("year 9999", json!("9999-12-31T23:59:59Z"), Keep),
        ("no timezone (UTC)", json!("2999-01-01T00:00:00"), Keep),
        ("word now", json!("now"), Refuse),
        ("February 30", json!("2999-02-30T00:00:00Z"), Refuse),
        ("year 275760", json!("+275760-09-13T00:00:00Z"), Refuse),
        ("number", json!(32503680000i64), Refuse),
        ("NUL", json!("2999-01-01T00:00:00Z\u{0}"), Refuse),
        ("object", json!({"t": "2999-01-01"}), Refuse),
        ("null (never)", json!(null), Keep),
    ]
}

/// Sets `field` in `body` (an object, or the first object of a list).
fn with(body: &Value, field: &str, v: Value) -> Value {
    let mut b = body.clone();
    let o = match &mut b {
        Value::Array(a) => &mut a[0],
        o => o,
    };
    o[field] = v;
    b
}

/// One JSON request and what it must have done.
async fn check_api(
    app: &TestApp,
    key: &str,
    (method, path): (&Method, &str),
    body: Value,
    (field, label): (&str, &str),
    want: Want,
    stored: Option<(&str, &str, &str)>,
) {
    let before = writes(app);
    let r = call(app, Some(key), method.clone(), path, Some(body.clone())).await;
    let at = format!("{method} {path} {field} / {label}: {body}");
    assert_ne!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{at}");
    match want {
        Refuse => {
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{at}: {}",
                r.body
            );
            assert!(
                r.locs().iter().any(|l| l.ends_with(field)),
                "{at}: no error at {field}: {}",
                r.body
            );
            assert_eq!(writes(app), before, "{at}: stored");
        }
        Keep => {
            assert!(r.status.is_success(), "{at}: {} {}", r.status, r.body);
            if let Some((table, column, value)) = stored {
                assert!(
                    rows_with(app, table, column, value) >= 1,
                    "{at}: not stored as typed"
                );
            }
        }
    }
}

#[tokio::test]
async fn hostile_json_bodies_get_422_at_the_field_or_are_stored_literally() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let key = o.ana_key.clone();
    let a = o.account.clone();
    let ws = crate::api_support::api_ws(&app, &key, &a, "prod").await;
    member(&app, &a, "bo", "member").await;
    let bo = user_id(&app, "bo");
    let (sa, _) = bot(&app, &a, "ci-bot");
    // Names are unique per account: renames happen in a second account.
    let other = create_org(&o.ana, "Other", "other").await;
    let (other_sa, _) = bot(&app, &other, "renamed-bot");
    let membership = format!(
        "/api/accounts/{a}/account_memberships/{}",
        crate::api_support::membership_id(&app, &a, "bo")
    );
    let post = Method::POST;
    let patch = Method::PATCH;
    let wss = format!("/api/accounts/{a}/workspaces/");
    let one_ws = format!("/api/accounts/{a}/workspaces/{ws}");
    let bots = format!("/api/accounts/{a}/bots/");
    let other_bot = format!("/api/accounts/{other}/bots/{other_sa}");
    let roles = format!("/api/accounts/{a}/workspace_roles/");
    let bot_access = format!("/api/accounts/{a}/workspaces/{ws}/bot_access/");
    let user_access = format!("/api/accounts/{a}/workspaces/{ws}/user_access/");
    let invitations = format!("/api/accounts/{a}/invitations/");
    let mut n = 0;

    // Text fields: (method, path, the other fields, field, cases, table.column).
    #[allow(clippy::type_complexity)]
    let text: Vec<(&Method, &str, Value, &str, Vec<Case>, (&str, &str))> = vec![
        (
            &post,
            &wss,
            json!({"name": "W", "description": ""}),
            "name",
            names(true),
            ("workspaces", "name"),
        ),
        (
            &post,
            &wss,
            json!({"name": "W", "description": ""}),
            "handle",
            handles(1),
            ("workspaces", "handle"),
        ),
        (
            &post,
            &wss,
            json!({"name": "W"}),
            "description",
            descriptions(500, true),
            ("workspaces", "description"),
        ),
        (
            &patch,
            &one_ws,
            json!({}),
            "name",
            names(true),
            ("workspaces", "name"),
        ),
        (
            &patch,
            &one_ws,
            json!({}),
            "description",
            descriptions(500, true),
            ("workspaces", "description"),
        ),
        (
            &post,
            &bots,
            json!({}),
            "name",
            names(true),
            ("service_accounts", "name"),
        ),
        (
            &patch,
            &other_bot,
            json!({}),
            "name",
            names(true),
            ("service_accounts", "name"),
        ),
        (
            &post,
            &roles,
            json!({"scopes": ["see_flows"]}),
            "name",
            names(true),
            ("workspace_roles", "name"),
        ),
        (
            &post,
            &roles,
            json!({"scopes": ["see_flows"]}),
            "description",
            descriptions(140, false),
            ("workspace_roles", "description"),
        ),
        (
            &post,
            &invitations,
            json!([{"account_role_id": ACCOUNT_MEMBER}]),
            "email",
            emails(),
            ("invitations", "email"),
        ),
    ];
    for (method, path, base, field, cases, (table, column)) in text {
        for c in cases {
            n += 1;
            let mut body = with(&base, field, json!(c.input));
            // Fresh handles and names where the field under test is another one.
            if path == wss && field != "handle" {
                body = with(&body, "handle", json!(format!("h{n}")));
            }
            if path == roles && field != "name" {
                body = with(&body, "name", json!(format!("role {n}")));
            }
            let value = c.input.trim().to_string();
            check_api(
                &app,
                &key,
                (method, path),
                body,
                (field, c.label),
                c.want,
                Some((table, column, &value)),
            )
            .await;
        }
        // Wrong types, and null for the fields that must be there.
        let mut wrong = wrong_types();
        if matches!(field, "name" | "handle" | "email") && *method == Method::POST {
            wrong.push(("null", Value::Null));
        }
        for (label, v) in wrong {
            n += 1;
            let mut body = with(&base, field, v);
            if path == wss && field != "handle" {
                body = with(&body, "handle", json!(format!("h{n}")));
            }
            if path == roles && field != "name" {
                body = with(&body, "name", json!(format!("role {n}")));
            }
            check_api(
                &app,
                &key,
                (method, path),
                body,
                (field, label),
                Refuse,
                None,
            )
            .await;
        }
    }

    // Scopes.
    for (label, scopes, want) in [
        ("unknown", json!(["manage_everything"]), Refuse),
        ("star", json!(["*"]), Refuse),
        ("admin star", json!(["admin:*"]), Refuse),
        ("case", json!(["See_Flows"]), Refuse),
        ("padded", json!([" see_flows"]), Refuse),
        ("not a list", json!("see_flows"), Refuse),
        ("nested", json!([["see_flows"]]), Refuse),
        ("mixed", json!([1, null, {}]), Refuse),
        ("many unknown", json!(vec!["x"; 5000]), Refuse),
        ("duplicates", json!(["see_flows", "see_flows"]), Keep),
    ] {
        n += 1;
        let body = json!({"name": format!("scopes {n}"), "scopes": scopes});
        check_api(
            &app,
            &key,
            (&post, &roles),
            body,
            ("scopes", label),
            want,
            None,
        )
        .await;
    }

    // A rotated key's expiry, and how long the old one keeps working.
    let rotate = format!("/api/accounts/{a}/bots/{sa}/rotate_api_key");
    for (label, v, want) in api_dates() {
        n += 1;
        let body = json!({"api_key_expiration": v});
        check_api(
            &app,
            &key,
            (&post, &rotate),
            body,
            ("api_key_expiration", label),
            want,
            None,
        )
        .await;
    }
    // (5 is a fine number of seconds.)
    let not_seconds = wrong_types().into_iter().filter(|(l, _)| *l != "number");
    for (label, v) in not_seconds.chain([
        ("negative", json!(-1)),
        ("above 48 hours", json!(48 * 3600 + 1)),
        ("i64 max", json!(i64::MAX)),
        ("text", json!("3600")),
    ]) {
        n += 1;
        let body = json!({"old_key_expires_in_seconds": v});
        check_api(
            &app,
            &key,
            (&post, &rotate),
            body,
            ("old_key_expires_in_seconds", label),
            Refuse,
            None,
        )
        .await;
    }

    // Expiry of a service account's first key.
    for (label, v, want) in api_dates() {
        n += 1;
        let body = json!({"name": format!("bot {n}"), "api_key_expiration": v});
        check_api(
            &app,
            &key,
            (&post, &bots),
            body,
            ("api_key_expiration", label),
            want,
            None,
        )
        .await;
    }

    // Ids in bodies: never stored, never a 500; 422 at the field (or 404 for an id that
    // is well formed but names nothing the caller can see).
    #[allow(clippy::type_complexity)]
    let ids: Vec<(&Method, &str, Value, &str)> = vec![
        (
            &post,
            &bot_access,
            json!({"bot_id": sa, "workspace_role_id": VIEWER_ROLE}),
            "bot_id",
        ),
        (
            &post,
            &bot_access,
            json!({"bot_id": sa, "workspace_role_id": VIEWER_ROLE}),
            "workspace_role_id",
        ),
        (
            &post,
            &user_access,
            json!({"user_id": bo, "workspace_role_id": VIEWER_ROLE}),
            "user_id",
        ),
        (
            &post,
            &user_access,
            json!({"user_id": bo, "workspace_role_id": VIEWER_ROLE}),
            "workspace_role_id",
        ),
        (
            &post,
            &invitations,
            json!([{"email": "id@example.com", "account_role_id": ACCOUNT_MEMBER}]),
            "account_role_id",
        ),
        (
            &post,
            &roles,
            json!({"name": "inheriting", "scopes": ["see_flows"]}),
            "inherited_role_id",
        ),
        (&patch, &one_ws, json!({}), "default_workspace_role_id"),
        (&post, &bots, json!({"name": "role bot"}), "account_role_id"),
        (&patch, &membership, json!({}), "account_role_id"),
        (&patch, &other_bot, json!({}), "account_role_id"),
    ];
    for (method, path, base, field) in ids {
        for (label, v) in bad_ids() {
            n += 1;
            let before = writes(&app);
            let body = with(&base, field, v);
            let r = call(&app, Some(&key), method.clone(), path, Some(body.clone())).await;
            let at = format!("{method} {path} {field} / {label}: {body}");
            assert!(
                r.status == StatusCode::UNPROCESSABLE_ENTITY || r.status == StatusCode::NOT_FOUND,
                "{at}: {} {}",
                r.status,
                r.body
            );
            if r.status == StatusCode::UNPROCESSABLE_ENTITY {
                assert!(
                    r.locs().iter().any(|l| l.ends_with(field) || l == "body"),
                    "{at}: {}",
                    r.body
                );
            }
            assert_eq!(writes(&app), before, "{at}: stored");
        }
    }

    // Bodies that are not what they should be at all.
    for (label, raw) in [
        ("empty", ""),
        ("not JSON", "name=x"),
        ("truncated", "{\"name\": \"x"),
        (
            "lone surrogate",
            "{\"name\": \"\\ud800\", \"handle\": \"sur\"}",
        ),
        ("array", "[]"),
        ("string", "\"x\""),
        ("null", "null"),
        (
            "deep",
            &format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
        ),
        (
            "duplicate keys",
            "{\"name\": \"a\", \"name\": \"b\", \"handle\": \"dup\"}",
        ),
    ] {
        n += 1;
        let before = writes(&app);
        let r = reqwest::Client::new()
            .post(app.url(&wss))
            .bearer_auth(&key)
            .header("Content-Type", "application/json")
            .body(raw.to_string())
            .send()
            .await
            .expect("an answer, not a dropped connection");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{label}: {text}");
        if label == "duplicate keys" {
            // serde_json keeps the last value: documented, stored as "b".
            assert!(
                status.is_success() || status == StatusCode::UNPROCESSABLE_ENTITY,
                "{label}: {status}"
            );
            if status.is_success() {
                assert_eq!(rows_with(&app, "workspaces", "handle", "dup"), 1);
            }
            continue;
        }
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{label}: {text}");
        let body: Value = serde_json::from_str(&text).expect("a JSON error");
        assert!(body["detail"].is_array(), "{label}: {text}");
        assert_eq!(writes(&app), before, "{label}: stored");
    }

    // The events filter: any text, time or type is read or refused, never a 500.
    let events = format!("/api/accounts/{a}/events/filter");
    let mut filters = vec![
        json!({"limit": -1}),
        json!({"limit": 201}),
        json!({"limit": "many"}),
        json!({"limit": 9223372036854775807i64}),
        json!({"filter": []}),
        json!({"filter": "x"}),
        json!({"filter": {"text": "x"}}),
        json!({"filter": {"occurred": {"since": "yesterday"}}}),
        json!({"filter": {"occurred": {"since": "9999-12-31T23:59:59Z"}}}),
        json!({"filter": {"occurred": {"since": "2020-01-01T00:00:00"}}}),
        json!({"filter": {"occurred": {"until": 5}}}),
        json!({"filter": {"event": {"name": "x"}}}),
        json!({"filter": {"event": {"name": [null, 1, {}]}}}),
        json!({"filter": {"resource": {"id": [UNKNOWN, "not-a-uuid"]}}}),
        json!({"filter": {"related": {"id": "x"}}}),
    ];
    for c in names(true) {
        filters.push(
            json!({"filter": {"event": {"prefix": [c.input.clone()], "name": [c.input.clone()]}}}),
        );
        filters.push(json!({"filter": {"resource": {"id": [c.input.clone()]}}}));
    }
    for f in filters {
        n += 1;
        let r = call(&app, Some(&key), Method::POST, &events, Some(f.clone())).await;
        assert!(
            r.status == StatusCode::OK || r.status == StatusCode::UNPROCESSABLE_ENTITY,
            "events filter {f}: {} {}",
            r.status,
            r.body
        );
    }
    for token in [
        "",
        "x",
        "%00",
        "../../etc/passwd",
        &"A".repeat(5000),
        "eyJ9",
    ] {
        n += 1;
        let r = call(
            &app,
            Some(&key),
            Method::GET,
            &format!("{events}/next?page-token={token}"),
            None,
        )
        .await;
        assert!(
            r.status.is_client_error(),
            "page token {token:?}: {}",
            r.status
        );
    }
    eprintln!("hostile input: {n} cases");
    assert!(n > 400, "{n} cases");
    let _ = user_key(&app, "bo");
}

// ---------- ids in paths ----------

#[tokio::test]
async fn malformed_ids_in_paths_answer_404_never_500() {
    let app = spawn_app().await;
    let o = org(&app).await;
    let a = o.account.clone();
    let ws = crate::api_support::api_ws(&app, &o.ana_key, &a, "prod").await;
    let bad = [
        "not-a-uuid",
        UNKNOWN,
        "0",
        "-1",
        "9223372036854775808",
        "..%2F..%2Fetc%2Fpasswd",
        "%00",
        "%0d%0aSet-Cookie:x=y",
        "%3Cscript%3E",
        "'%20OR%201=1--",
        "4F1C3A52-8D0E-4B7A-9C61-2E5F7D9A0B13",
        "{{7*7}}",
    ];
    let mut n = 0;
    for id in bad {
        let pages = [
            format!("/account/{id}/members"),
            format!("/account/{id}/settings"),
            format!("/account/{a}/workspace/{id}/dashboard"),
            format!("/account/{a}/workspace/{id}/settings"),
            format!("/account/{a}/roles/{id}/edit"),
            format!("/invitations/{id}"),
        ];
        for p in &pages {
            n += 1;
            let r = o.ana.get(p).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "GET {p}");
        }
        for p in [
            format!("/account/{a}/members/{id}/role"),
            format!("/account/{a}/service-accounts/{id}/rename"),
            format!("/account/{a}/workspace/{ws}/settings/members/{id}/role"),
            format!("/profile/api-keys/{id}/delete"),
        ] {
            n += 1;
            let r = o
                .ana
                .post_form(&p, &[("role", "member"), ("name", "x")])
                .await;
            assert!(
                r.status == StatusCode::NOT_FOUND || r.status == StatusCode::UNPROCESSABLE_ENTITY,
                "POST {p}: {}",
                r.status
            );
        }
        for p in [
            format!("/api/accounts/{id}"),
            format!("/api/accounts/{a}/workspaces/{id}"),
            format!("/api/accounts/{a}/bots/{id}"),
            format!("/api/accounts/{a}/workspace_roles/{id}"),
            format!("/api/accounts/{a}/workspaces/{ws}/user_access/{id}"),
            format!("/api/me/workspaces/{id}/scopes"),
        ] {
            n += 1;
            let r = call(&app, Some(&o.ana_key), Method::GET, &p, None).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "GET {p}: {}", r.body);
        }
    }
    eprintln!("hostile input: {n} cases");
    assert!(n > 150, "{n} cases");
}

// ---------- redirect targets (§2.6) ----------

pub const BAD_REDIRECTS: [&str; 14] = [
    "https://evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "data:text/html,x",
    "/%09/evil.example",
    "https://app.example.com.evil.example",
    "https://app.example.com@evil.example",
    "%0d%0aSet-Cookie:x=y",
    "/\t/evil.example",
];

#[tokio::test]
async fn every_redirect_target_of_security_2_6_ends_at_home() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let allowed = ["/orgs/acme/workspaces", "/orgs/acme?tab=members"];
    let mut n = 0;
    for (target, home) in BAD_REDIRECTS
        .iter()
        .map(|t| (*t, true))
        .chain(allowed.iter().map(|t| (*t, false)))
    {
        let want = if home { "/" } else { target };
        // Signed in: the log-in and sign-up pages send you on.
        for page in ["/auth/login", "/auth/signup"] {
            n += 1;
            let r = ana.get(&format!("{page}?next={}", enc(target))).await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{page} {target:?}");
            assert_eq!(
                r.location().as_deref(),
                Some(want),
                "{page} next={target:?}"
            );
        }
        // Logging in (and the htmx way, HX-Redirect).
        n += 1;
        let c = app.new_client();
        let path = format!("/auth/login?next={}", enc(target));
        let r = c
            .post_form(&path, &[("login", "ana"), ("password", PW)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "log-in next={target:?}");
        assert_eq!(
            r.location().as_deref(),
            Some(want),
            "log-in next={target:?}"
        );
        n += 1;
        let c = app.new_client();
        let r = c
            .post_htmx(&path, &[("login", "ana"), ("password", PW)])
            .await;
        assert_eq!(
            r.header("hx-redirect").as_deref(),
            Some(want),
            "htmx log-in {target:?}"
        );
        // The log-in page carries only a safe target in its form.
        n += 1;
        let page = app.new_client().get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        if home {
            assert!(
                !unescape(&page.text).contains(target),
                "{target:?} kept in the page"
            );
        }
        // Logging out.
        n += 1;
        let r = c.post_form("/auth/logout", &[("next", target)]).await;
        let out = if home { "/auth/login" } else { target };
        assert_eq!(
            r.location().as_deref(),
            Some(out),
            "log-out next={target:?}"
        );
    }
    eprintln!("hostile input: {n} cases");
    assert!(n > 90, "{n} cases");
}

// ---------- the audit log's filters (query strings) ----------

#[tokio::test]
async fn the_audit_log_filters_take_any_text() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut values: Vec<String> = names(true).into_iter().map(|c| c.input).collect();
    values.extend(
        [
            "2001-01-01",
            "9999-12-31",
            "2999-13-45",
            "now",
            "-1",
            "9223372036854775808",
        ]
        .map(String::from),
    );
    let mut n = 0;
    for v in &values {
        for field in ["actor", "action", "workspace", "from", "to", "before"] {
            n += 1;
            let p = format!("/account/{acct}/audit-log?{field}={}", enc(v));
            let r = ana.get(&p).await;
            assert!(
                r.status == StatusCode::OK || r.status == StatusCode::UNPROCESSABLE_ENTITY,
                "{p}: {}",
                r.status
            );
            if v.contains('<') {
                assert!(!r.text.contains(v.as_str()), "{p}: shown unescaped");
            }
        }
    }
    // A duplicate key in the query string is not a 500.
    let r = ana
        .get(&format!("/account/{acct}/audit-log?actor=a&actor=b"))
        .await;
    assert_ne!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    eprintln!("hostile input: {n} cases");
    assert!(n > 200, "{n} cases");
}

// ---------- the remaining form fields: ids, typed members, confirmations, passwords ----------

#[tokio::test]
async fn hostile_ids_and_free_text_in_the_remaining_forms() {
    // Every hostile current password is a wrong guess: the check's throttle stays out of
    // the way (it has its own test, security::password_checks_and_sign_ups_are_throttled).
    let app = crate::support::spawn_app_with(|s| s.login_attempts_per_minute = 1_000_000).await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let other = create_org(&ana, "Other", "other").await;
    let dash = create_ws(&ana, &acct, "Prod", "prod").await;
    let ws = ws_id(&dash);
    let other_ws = ws_id(&create_ws(&ana, &other, "Theirs", "theirs").await);
    app.signup("cy@example.com", "cy", PW).await;
    crate::members::add_member(&app, &acct, "cy", "member");
    crate::service_accounts::create_sa(&ana, &acct, "ci-bot", None).await;
    let sa = text(
        &app,
        "SELECT id AS t FROM service_accounts WHERE name = 'ci-bot'",
    );
    let w = format!("/account/{acct}/workspace/{ws}");
    let sas = format!("/account/{acct}/service-accounts");

    let mut texts: Vec<String> = names(true).into_iter().map(|c| c.input).collect();
    texts.extend(
        [
            "not-a-uuid",
            UNKNOWN,
            "0",
            "-1",
            "9223372036854775808",
            "OWNER",
            "superadmin",
            &other_ws,
            "acme",
            " acme ",
            "ACME",
        ]
        .map(String::from),
    );
    // (path, the other fields, field, where the message is): every value is refused,
    // 422 with the message, nothing written. (`alert`: the page's error banner.)
    let rotate_err = format!("rotate-exp-{sa}-error");
    #[allow(clippy::type_complexity)]
    let forms: Vec<(String, Vec<(&str, &str)>, &str, &str)> = vec![
        (
            format!("{w}/settings/members"),
            vec![("role_id", VIEWER_ROLE)],
            "member",
            "alert",
        ),
        (
            format!("{w}/settings/members"),
            vec![("member", "cy")],
            "role_id",
            "alert",
        ),
        (
            format!("{w}/settings/members/invite"),
            vec![("email", "z@example.com")],
            "role_id",
            "alert",
        ),
        (
            format!("{w}/settings"),
            vec![("name", "Prod"), ("handle", "prod"), ("description", "")],
            "default_role",
            "default_role-error",
        ),
        (
            sas.clone(),
            vec![("name", "some bot"), ("role_id", VIEWER_ROLE)],
            "workspace_id",
            "workspace_id-error",
        ),
        (
            sas.clone(),
            vec![("name", "some bot"), ("workspace_id", &ws)],
            "role_id",
            "role_id-error",
        ),
        (
            format!("{w}/settings/service-accounts"),
            vec![("role_id", VIEWER_ROLE)],
            "service_account_id",
            "alert",
        ),
        (
            format!("{w}/settings/service-accounts"),
            vec![("service_account_id", &sa)],
            "role_id",
            "alert",
        ),
        (
            format!("/account/{acct}/delete"),
            vec![],
            "confirm_handle",
            "alert",
        ),
        (
            format!("{w}/delete"),
            vec![],
            "confirm_handle",
            "confirm_handle-error",
        ),
        (
            format!("{sas}/{sa}/rotate"),
            vec![("overlap_hours", "0")],
            "expiration",
            &rotate_err,
        ),
        (
            "/profile/password".into(),
            vec![("new_password", "a new long password")],
            "current_password",
            "current_password-error",
        ),
    ];
    let mut n = 0;
    for (path, base, field, marker) in &forms {
        for v in &texts {
            // Values a field takes: the account's own handle confirms the deletion, an
            // empty workspace means none, a far date is a fine expiry.
            let fine = (*field == "confirm_handle"
                && !path.contains("/workspace/")
                && ["acme", " acme "].contains(&v.as_str()))
                || (matches!(*field, "workspace_id" | "expiration") && v.trim().is_empty());
            if fine {
                continue;
            }
            n += 1;
            let before = writes(&app);
            let mut fields = base.clone();
            fields.push((field, v));
            let r = ana.post_form(path, &fields).await;
            let at = format!("{path} {field}={v:?}");
            assert_eq!(
                r.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{at}: {}",
                r.status
            );
            let shown = if *marker == "alert" {
                r.text.contains("role=\"alert\"")
            } else {
                message_at(&r.text, marker).is_some_and(|m| !m.is_empty())
            };
            assert!(shown, "{at}: no message ({marker})");
            assert_eq!(writes(&app), before, "{at}: written");
        }
    }
    // New passwords: refused beside the field, or taken (and the next one then needs it).
    let mut current = PW.to_string();
    for c in passwords() {
        n += 1;
        let before = writes(&app);
        let r = ana
            .post_form(
                "/profile/password",
                &[("current_password", &current), ("new_password", &c.input)],
            )
            .await;
        if check_form(
            &app,
            "new password",
            &c,
            &r,
            "new_password-error",
            before,
            None,
        )
        .await
        {
            current = c.input.clone();
            let again = app.new_client();
            let r = again
                .post_form("/auth/login", &[("login", "ana"), ("password", &current)])
                .await;
            assert_eq!(
                r.status,
                StatusCode::SEE_OTHER,
                "log-in with the new {:?}",
                c.label
            );
        }
    }
    // The htmx way of the inline role changes sends the same refusals.
    let cy = user_id(&app, "cy");
    for bad in ["superadmin", "<script>", "a\u{0}", UNKNOWN] {
        n += 1;
        let before = writes(&app);
        let r = ana
            .post_htmx(
                &format!("/account/{acct}/members/{cy}/role"),
                &[("role", bad)],
            )
            .await;
        assert!(
            r.status == StatusCode::UNPROCESSABLE_ENTITY || r.status == StatusCode::BAD_REQUEST,
            "htmx member role {bad:?}: {}",
            r.status
        );
        assert_eq!(writes(&app), before, "htmx {bad:?}");
    }
    eprintln!("hostile input: {n} cases");
    assert!(n > 450, "{n} cases");
}

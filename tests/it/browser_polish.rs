//! Issue #24, points 2, 7, 8 and 9 (the rest): the phone layout (a top bar on one row,
//! tables as cards), arrow keys in menus, one sidebar heading per account, the workspace
//! settings' client configuration after a refused form, "Select all" per scope group,
//! the "Anyone at <account>" line, the service-account page, links from audit rows and
//! quick date ranges on the audit log.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser_axe::{Org, log_in, populated_org};
use crate::members::{PW, add_member, create_org};
use crate::support::browser::Browser;
use crate::support::{spawn_app, text};

const VIEWER: &str = "00000000-0000-4000-8000-000000000004";

async fn js(b: &Browser, script: &str) -> Value {
    b.client.execute(script, vec![]).await.expect("script")
}

/// Sends one key (a WebDriver key code) to the focused element.
async fn press(b: &Browser, key: &str) {
    let el = b.client.active_element().await.expect("focused element");
    el.send_keys(key).await.expect("key press");
}

const DOWN: &str = "\u{E015}";
const UP: &str = "\u{E013}";
const HOME: &str = "\u{E011}";
const END: &str = "\u{E010}";
const ESCAPE: &str = "\u{E00C}";

/// What has the focus: its tag and its name (text, aria-label or value).
const FOCUSED: &str = "var a = document.activeElement;
  return (a.tagName.toLowerCase() + ' ' + (a.getAttribute('aria-label') || a.value || a.textContent || '')).replace(/\\s+/g, ' ').trim();";

/// At 390×844 the top bar keeps logo, switcher, menu button and avatar on one row, with
/// the menu open too (the menu below them, as a panel); the switcher is not squeezed to a
/// strip; Members shows each row's role and Remove button without sideways scrolling;
/// the audit log's "What" is on screen.
#[tokio::test]
async fn at_phone_width_the_top_bar_is_one_row_and_tables_are_cards() {
    let app = spawn_app().await;
    let Org { acct, .. } = populated_org(&app).await;
    let b = Browser::start().await;
    log_in(&b, &app, "ana").await;
    b.client.set_window_size(390, 844).await.expect("size");
    b.goto(&app.url(&format!("/account/{acct}/members"))).await;
    let bar = "function box(el) { var r = el.getBoundingClientRect();
                 return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width }; }
               var s = document.querySelector('.sidebar');
               return { logo: box(s.querySelector('.brand a')),
                        switcher: box(s.querySelector('details.switcher > summary')),
                        menu: box(s.querySelector('details.nav-toggle > summary')),
                        avatar: box(s.querySelector('details.user-menu > summary')),
                        nav: box(s.querySelector('nav.nav')),
                        open: s.querySelector('details.nav-toggle').open,
                        inner: window.innerWidth,
                        scroll: document.documentElement.scrollWidth };";
    let one_row = |v: &Value, when: &str| {
        let names = ["logo", "switcher", "menu", "avatar"];
        for a in names {
            for o in names {
                // Each one's middle lies within the other's height: the same row.
                let mid = (v[a]["top"].as_f64().unwrap_or(0.0)
                    + v[a]["bottom"].as_f64().unwrap_or(0.0))
                    / 2.0;
                let (top, bottom) = (
                    v[o]["top"].as_f64().unwrap_or(0.0),
                    v[o]["bottom"].as_f64().unwrap_or(0.0),
                );
                assert!(
                    top <= mid && mid <= bottom,
                    "{when}: {a} and {o} are not on one row: {v}"
                );
            }
        }
        assert!(
            v["switcher"]["width"].as_f64().unwrap_or(0.0) > 100.0,
            "{when}: the switcher is squeezed: {v}"
        );
        // In order, left to right, within the screen.
        let right = |k: &str| v[k]["right"].as_f64().unwrap_or(0.0);
        let left = |k: &str| v[k]["left"].as_f64().unwrap_or(0.0);
        assert!(
            right("logo") <= left("switcher")
                && right("switcher") <= left("menu")
                && right("menu") <= left("avatar"),
            "{when}: {v}"
        );
        assert!(
            right("avatar") <= v["inner"].as_f64().unwrap_or(0.0),
            "{when}: {v}"
        );
    };
    let closed = js(&b, bar).await;
    assert_eq!(closed["open"], json!(false), "the menu starts closed");
    one_row(&closed, "menu closed");
    b.click_button("Menu").await;
    let open = js(&b, bar).await;
    assert_eq!(open["open"], json!(true));
    one_row(&open, "menu open");
    assert!(
        open["nav"]["top"].as_f64().unwrap_or(0.0)
            >= open["menu"]["bottom"].as_f64().unwrap_or(0.0),
        "the menu opens below the bar: {open}"
    );
    b.click_button("Menu").await;

    // Members: the role and the Remove button of a row are on screen, nothing scrolls sideways.
    let row = js(
        &b,
        "var sel = document.querySelector('select[aria-label=\"Role of sam\"]');
         var btn = Array.from(document.querySelectorAll('a, button, summary')).find(function (x) {
           return (x.getAttribute('aria-label') || x.textContent).trim() === 'Remove sam'; });
         function inside(el) { var r = el.getBoundingClientRect();
           return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth; }
         return { select: inside(sel), remove: !!btn && inside(btn),
                  scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
                  label: getComputedStyle(sel.closest('td'), '::before').content };",
    )
    .await;
    assert_eq!(row["select"], json!(true), "{row}");
    assert_eq!(row["remove"], json!(true), "{row}");
    assert!(
        row["scroll"].as_f64() <= row["inner"].as_f64(),
        "the members page scrolls sideways: {row}"
    );
    assert_eq!(row["label"], json!("\"Role\""), "the cell names its column");

    // The audit log: "What" is on screen.
    b.goto(&app.url(&format!("/account/{acct}/audit-log")))
        .await;
    let what = js(
        &b,
        "var td = document.querySelector('.audit-table td[data-label=\"What\"]');
         var r = td.getBoundingClientRect();
         return { visible: r.width > 100 && r.left >= 0 && r.right <= window.innerWidth,
                  scroll: document.documentElement.scrollWidth, inner: window.innerWidth };",
    )
    .await;
    assert_eq!(what["visible"], json!(true), "{what}");
    assert!(what["scroll"].as_f64() <= what["inner"].as_f64(), "{what}");
    b.close().await;
}

/// Arrow keys move through the user menu and the switcher (wrapping, Home/End), Down on
/// a closed menu's button opens it, Escape closes it and gives the focus back to its
/// button (issue #24, point 7).
#[tokio::test]
async fn arrow_keys_move_through_menus_and_escape_returns_to_the_button() {
    let app = spawn_app().await;
    let owner = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&owner, "Acme", "acme").await;
    crate::workspaces::create_ws(&owner, &acct, "Production", "prod").await;
    let b = Browser::start().await;
    log_in(&b, &app, "ana").await;
    b.goto(&app.url(&format!("/account/{acct}/members"))).await;

    // The user menu: focus its button, Down opens it on its first item.
    js(
        &b,
        "document.querySelector('details.user-menu > summary').focus(); return null;",
    )
    .await;
    press(&b, DOWN).await;
    assert_eq!(js(&b, FOCUSED).await, json!("a Profile"));
    press(&b, DOWN).await;
    assert_eq!(js(&b, FOCUSED).await, json!("a API keys"));
    press(&b, DOWN).await;
    assert_eq!(js(&b, FOCUSED).await, json!("button Log out"));
    press(&b, DOWN).await;
    assert_eq!(js(&b, FOCUSED).await, json!("a Profile"), "wraps");
    press(&b, UP).await;
    assert_eq!(js(&b, FOCUSED).await, json!("button Log out"), "wraps back");
    press(&b, HOME).await;
    assert_eq!(js(&b, FOCUSED).await, json!("a Profile"));
    press(&b, END).await;
    assert_eq!(js(&b, FOCUSED).await, json!("button Log out"));
    press(&b, ESCAPE).await;
    let state = js(
        &b,
        "var d = document.querySelector('details.user-menu');
         return { open: d.open, back: document.activeElement === d.querySelector('summary') };",
    )
    .await;
    assert_eq!(state, json!({ "open": false, "back": true }));

    // The switcher: Down opens it on its search field; End reaches its last item, Down
    // wraps to the first, Up goes back to the last.
    b.click_button("Switch workspace").await;
    b.wait_for_text("Production").await;
    js(
        &b,
        "document.querySelector('details.switcher > summary').focus(); return null;",
    )
    .await;
    press(&b, DOWN).await;
    assert_eq!(js(&b, FOCUSED).await, json!("input"));
    press(&b, DOWN).await;
    assert_eq!(js(&b, FOCUSED).await, json!("a Production"));
    press(&b, END).await;
    assert_eq!(js(&b, FOCUSED).await, json!("a Create organization"));
    press(&b, DOWN).await;
    assert_eq!(js(&b, FOCUSED).await, json!("input"), "wraps");
    press(&b, UP).await;
    assert_eq!(js(&b, FOCUSED).await, json!("a Create organization"));
    press(&b, ESCAPE).await;
    let state = js(
        &b,
        "var d = document.querySelector('details.switcher');
         return { open: d.open, back: document.activeElement === d.querySelector('summary') };",
    )
    .await;
    assert_eq!(state, json!({ "open": false, "back": true }));
    b.close().await;
}

/// The sidebar has one heading per account (its name), not the name and then "Account";
/// the switcher's and user menu's names hold what they show.
#[tokio::test]
async fn the_sidebar_has_one_heading_per_account_and_buttons_name_what_they_show() {
    let app = spawn_app().await;
    let owner = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&owner, "Acme", "acme").await;
    let ws = crate::support::ws_id(
        &crate::workspaces::create_ws(&owner, &acct, "Production", "prod").await,
    );
    let b = Browser::start().await;
    log_in(&b, &app, "ana").await;
    let headings = "return Array.from(document.querySelectorAll('.sidebar nav h2'))
                      .map(function (h) { return h.textContent.trim(); });";
    // The accessible name as aria-labelledby makes it.
    let names = "function name(el) { return el.getAttribute('aria-labelledby').split(' ')
                   .map(function (id) { return document.getElementById(id).textContent; })
                   .join(' ').replace(/\\s+/g, ' ').trim(); }
                 return [name(document.querySelector('details.switcher > summary')),
                         name(document.querySelector('details.user-menu > summary'))];";
    b.goto(&app.url(&format!("/account/{acct}/members"))).await;
    assert_eq!(js(&b, headings).await, json!(["Acme"]));
    assert_eq!(
        js(&b, names).await,
        json!([
            "Switch workspace: Organization Acme",
            "User menu for Test ana"
        ])
    );
    b.goto(&app.url(&format!("/account/{acct}/workspace/{ws}/dashboard")))
        .await;
    assert_eq!(js(&b, headings).await, json!(["Production", "Acme"]));
    assert_eq!(
        js(&b, names).await,
        json!([
            "Switch workspace: Acme Production",
            "User menu for Test ana"
        ])
    );
    b.close().await;
}

/// Workspace settings: one card (no second border around the fields); after a refused
/// handle the client configuration still shows the saved one.
#[tokio::test]
async fn workspace_settings_show_the_saved_handle_after_a_refused_change() {
    let app = spawn_app().await;
    let owner = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&owner, "Acme", "acme").await;
    let ws = crate::support::ws_id(
        &crate::workspaces::create_ws(&owner, &acct, "Research", "research").await,
    );
    let b = Browser::start().await;
    log_in(&b, &app, "ana").await;
    b.goto(&app.url(&format!("/account/{acct}/workspace/{ws}/settings")))
        .await;
    b.fill("Workspace handle", "Not A Handle!").await;
    b.click_button("Save settings").await;
    b.wait_for_text("Use only lowercase letters").await;
    let seen = js(
        &b,
        "return { command: document.getElementById('login-command').textContent,
                  typed: document.getElementById('ws-handle').value,
                  border: getComputedStyle(document.querySelector('#general-heading ~ form fieldset')).borderTopWidth };",
    )
    .await;
    assert_eq!(
        seen,
        json!({
            "command": "prefect cloud login -k <your API key> --workspace acme/research",
            "typed": "Not A Handle!",
            "border": "0px"
        })
    );
    assert_eq!(
        text(
            &app,
            &format!("SELECT handle AS t FROM workspaces WHERE id = '{ws}'")
        ),
        "research"
    );
    b.close().await;
}

/// The role form's "Select all" of a scope group checks its scopes; saving keeps them;
/// the roles list shows built-in roles' scopes by title and group, the id on hover.
#[tokio::test]
async fn select_all_in_a_scope_group_checks_its_scopes_and_saving_keeps_them() {
    let app = spawn_app().await;
    let owner = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&owner, "Acme", "acme").await;
    let b = Browser::start().await;
    log_in(&b, &app, "ana").await;
    b.goto(&app.url(&format!("/account/{acct}/roles/new")))
        .await;
    b.fill("Role name", "Flow lead").await;
    let click_label = |label: &'static str| {
        let b = &b;
        async move {
            let found = b
                .client
                .execute(
                    "var want = arguments[0];
                     var l = Array.from(document.querySelectorAll('label')).find(function (l) {
                       return l.textContent.replace(/\\s+/g, ' ').trim() === want; });
                     if (!l) return false; l.querySelector('input').click(); return true;",
                    vec![json!(label)],
                )
                .await
                .expect("click");
            assert_eq!(found, json!(true), "no checkbox labelled {label:?}");
        }
    };
    click_label("Select all Flows & runs scopes").await;
    let group = "var want = arguments[0];
                 return Array.from(document.querySelectorAll('fieldset')).find(function (f) {
                   return f.querySelector('legend').textContent === want; })
                 .querySelectorAll('input[name=scopes]:checked').length;";
    let checked = b
        .client
        .execute(group, vec![json!("Flows & runs")])
        .await
        .expect("count");
    assert_eq!(checked, json!(5));
    let blocks = b
        .client
        .execute(group, vec![json!("Blocks")])
        .await
        .expect("count");
    assert_eq!(blocks, json!(0), "other groups are left alone");
    b.click_button("Save role").await;
    b.wait_for_text("Role “Flow lead” saved.").await;
    let scopes = text(
        &app,
        "SELECT scopes AS t FROM workspace_roles WHERE name = 'Flow lead'",
    );
    let mut scopes: Vec<String> = serde_json::from_str(&scopes).expect("scopes");
    scopes.sort();
    assert_eq!(
        scopes,
        [
            "manage_flows",
            "manage_saved_search",
            "run_flows",
            "run_tasks",
            "see_flows"
        ]
    );
    // Editing it again: the group's "Select all" is checked, a single scope unchecks it.
    let id = text(
        &app,
        "SELECT id AS t FROM workspace_roles WHERE name = 'Flow lead'",
    );
    b.goto(&app.url(&format!("/account/{acct}/roles/{id}/edit")))
        .await;
    let all = "var l = Array.from(document.querySelectorAll('label')).find(function (l) {
                 return l.textContent.trim() === 'Select all Flows & runs scopes'; });
               var i = l.querySelector('input'); return { checked: i.checked, mixed: i.indeterminate };";
    assert_eq!(
        js(&b, all).await,
        json!({ "checked": true, "mixed": false })
    );
    click_label("Run tasks").await;
    assert_eq!(
        js(&b, all).await,
        json!({ "checked": false, "mixed": true })
    );

    // The roles list: titles by group, the id on hover.
    b.goto(&app.url(&format!("/account/{acct}/roles"))).await;
    let viewer = js(
        &b,
        "var d = Array.from(document.querySelectorAll('details.role-scopes')).find(function (d) {
           return d.querySelector('summary strong').textContent === 'Viewer'; });
         var li = d.querySelector('li[title=see_flows]');
         return { title: li ? li.textContent.trim() : null,
                  group: li ? li.closest('.scope-group').querySelector('h3').textContent : null,
                  raw: d.textContent.indexOf('see_flows') !== -1 };",
    )
    .await;
    assert_eq!(
        viewer,
        json!({ "title": "See flows", "group": "Flows & runs", "raw": false })
    );
    b.close().await;
}

/// The workspace's member list starts with "Anyone at <account> — <role>", with a link
/// to change it for who may; without, the line alone.
#[tokio::test]
async fn the_member_list_says_what_anyone_at_the_account_has() {
    let app = spawn_app().await;
    let owner = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&owner, "Acme Data", "acme").await;
    let ws = crate::support::ws_id(
        &crate::workspaces::create_ws(&owner, &acct, "Research", "research").await,
    );
    let page = format!("/account/{acct}/workspace/{ws}/settings/members");
    let line = |html: &str| -> String {
        let start = html.find("<strong>Anyone at").expect("the line");
        let rest = &html[start..];
        let end = rest.find("</p>").expect("end");
        let raw = &rest[..end];
        // The text alone.
        let mut out = String::new();
        let mut tag = false;
        for ch in raw.chars() {
            match ch {
                '<' => tag = true,
                '>' => tag = false,
                c if !tag => out.push(c),
                _ => {}
            }
        }
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let r = owner.get(&page).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        line(&r.text),
        "Anyone at Acme Data — No access Change in workspace settings"
    );
    assert!(r.text.contains(&format!(
        "href=\"/account/{acct}/workspace/{ws}/settings#ws-default-role\""
    )));

    // Viewer for everyone; a Developer sees the line without the link.
    {
        use diesel::prelude::*;
        let mut c = app.conn();
        diesel::update(atrium::db::schema::workspaces::table.find(&ws))
            .set(atrium::db::schema::workspaces::default_role_id.eq(Some(VIEWER)))
            .execute(&mut c)
            .expect("default role");
    }
    let r = owner.get(&page).await;
    assert_eq!(
        line(&r.text),
        "Anyone at Acme Data — Viewer Change in workspace settings"
    );
    let dev = app.signup("dev@example.com", "dev", PW).await;
    add_member(&app, &acct, "dev", "member");
    // A role that sees the members but not the settings.
    let seer = crate::service_accounts::custom_role(
        &app,
        &acct,
        "Seer",
        "viewer",
        &["see_workspace_users"],
    );
    crate::service_accounts::grant_user(&app, &ws, "dev", &seer);
    let r = dev.get(&page).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(line(&r.text), "Anyone at Acme Data — Viewer");
}

/// A service account's page: its workspaces with their roles and its keys' metadata,
/// never the key; 404 for who may not see service accounts and for another account's.
#[tokio::test]
async fn a_service_account_page_lists_its_workspaces_roles_and_keys() {
    let app = spawn_app().await;
    let owner = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&owner, "Acme", "acme").await;
    let ws = crate::support::ws_id(
        &crate::workspaces::create_ws(&owner, &acct, "Research", "research").await,
    );
    let key =
        crate::service_accounts::create_sa(&owner, &acct, "ci-bot", Some((ws.as_str(), VIEWER)))
            .await;
    let sa = crate::service_accounts::sa_id(&app, "ci-bot");
    let page = format!("/account/{acct}/service-accounts/{sa}");
    let r = owner.get(&page).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("<h1>ci-bot</h1>"), "{}", r.text);
    assert!(r.text.contains("Research") && r.text.contains(">Viewer</td>"));
    let last4 = &key[key.len() - 4..];
    assert!(r.text.contains(&format!("pnb_…{last4}")), "the key's mask");
    assert!(!r.text.contains(&key), "never the key");
    assert!(r.text.contains("Last used"));

    // A Member sees it; a Collaborator and someone of another account do not.
    app.signup("mo@example.com", "mo", PW).await;
    add_member(&app, &acct, "mo", "member");
    let member = crate::sessions_page::log_in_with(&app, "mo", "a laptop").await;
    assert_eq!(member.get(&page).await.status, StatusCode::OK);
    let collab = app.signup("col@example.com", "col", PW).await;
    add_member(&app, &acct, "col", "collaborator");
    crate::service_accounts::grant_user(&app, &ws, "col", VIEWER);
    assert_eq!(collab.get(&page).await.status, StatusCode::NOT_FOUND);
    let other = app.signup("eve@example.com", "eve", PW).await;
    let other_acct = create_org(&other, "Evil", "evil").await;
    assert_eq!(
        other
            .get(&format!("/account/{other_acct}/service-accounts/{sa}"))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "another account's service account"
    );
    assert_eq!(
        owner
            .get(&format!("/account/{acct}/service-accounts/not-an-id"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// Audit rows link to the member, service account or workspace they concern while it
/// exists (plain text once it is gone); quick date ranges fill the filter's dates, as
/// links that work without JavaScript.
#[tokio::test]
async fn audit_rows_link_to_what_they_concern_and_quick_ranges_fill_the_dates() {
    let app = spawn_app().await;
    let Org { acct, ws, sa, .. } = populated_org(&app).await;
    let owner = crate::sessions_page::log_in_with(&app, "ana", "a laptop").await;
    let log = format!("/account/{acct}/audit-log");
    let r = owner.get(&log).await;
    assert_eq!(r.status, StatusCode::OK);
    let sa_link = format!("href=\"/account/{acct}/service-accounts/{sa}\"");
    let ws_link = format!("href=\"/account/{acct}/workspace/{ws}/dashboard\"");
    let ana_link = format!("href=\"/account/{acct}/members?q=ana\"");
    for link in [&sa_link, &ws_link, &ana_link] {
        assert!(r.text.contains(link.as_str()), "{link} in the audit log");
    }
    // The service account deleted: its rows name it without a link.
    let del = owner
        .post_form(
            &format!("/account/{acct}/service-accounts/{sa}/delete"),
            &[],
        )
        .await;
    assert!(
        del.status.is_success() || del.status.is_redirection(),
        "{}",
        del.text
    );
    let r = owner.get(&log).await;
    assert!(!r.text.contains(&sa_link), "no link to what is gone");
    assert!(r.text.contains("ci-bot"));

    // Quick ranges: "Last 7 days" fills from/to and is then marked as chosen.
    let today = chrono::Utc::now().date_naive();
    let from = (today - chrono::TimeDelta::days(6))
        .format("%Y-%m-%d")
        .to_string();
    let to = today.format("%Y-%m-%d").to_string();
    let href = format!("{log}?from={from}&#38;to={to}");
    assert!(r.text.contains(&format!("href=\"{href}\"")), "{}", r.text);
    let r = owner.get(&href.replace("&#38;", "&")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text.contains(&format!("value=\"{from}\""))
            && r.text.contains(&format!("value=\"{to}\""))
    );
    assert!(
        r.text.contains(&format!(
            "href=\"{href}\" aria-current=\"true\">Last 7 days</a>"
        )),
        "{}",
        r.text
    );
    assert!(r.text.contains("ci-bot"), "today's events are in the range");
}

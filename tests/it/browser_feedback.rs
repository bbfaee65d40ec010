//! Real Chromium: what an inline (htmx) change shows while it is in flight and when it
//! cannot be made (issue #24, point 4). While the change is sent its form is busy
//! (`aria-busy`, a spinner) and its controls disabled, so it is not sent twice; after the
//! session ended elsewhere, the change says "You were signed out" with a link to log in
//! that comes back to the page, and the row shows the saved role again, not the unsaved one.

use crate::members::{PW, add_member, create_org, role_in};
use crate::support::browser::Browser;
use crate::support::spawn_app;

#[tokio::test]
async fn an_inline_change_is_busy_in_flight_and_says_signed_out_after_the_session_ended() {
    let app = spawn_app().await;
    let owner = app.signup("owner@example.com", "owner", PW).await;
    let acct = create_org(&owner, "Acme", "acme").await;
    app.signup("adam@example.com", "adam", PW).await;
    app.signup("sam@example.com", "sam", PW).await;
    add_member(&app, &acct, "adam", "admin");
    add_member(&app, &acct, "sam", "member");

    let admin = Browser::start().await;
    admin.goto(&app.url("/auth/login")).await;
    admin.fill("E-mail or handle", "adam").await;
    admin.fill("Password", PW).await;
    admin.click_button("Log in").await;
    admin.wait_for_url(|u| !u.contains("/auth/login")).await;
    let members = format!("/account/{acct}/members");
    admin.goto(&app.url(&members)).await;
    admin.wait_for_text("sam").await;

    // In flight: what the form looks like when the request leaves (htmx:beforeSend comes
    // after Atrium's htmx:beforeRequest handler).
    admin
        .client
        .execute(
            "document.addEventListener('htmx:beforeSend', function (e) {
               var f = e.detail.elt.closest('form');
               window.__inFlight = { busy: f && f.getAttribute('aria-busy'),
                                     disabled: !!(f && f.querySelector('select').disabled) };
             });
             return null;",
            vec![],
        )
        .await
        .expect("listen");
    admin.select("Role of sam", "Admin").await;
    admin.wait_for_text("Role saved.").await;
    let seen = admin
        .client
        .execute("return window.__inFlight || null;", vec![])
        .await
        .expect("read");
    assert_eq!(
        seen,
        serde_json::json!({ "busy": "true", "disabled": true }),
        "the form while its change was in flight"
    );
    assert_eq!(role_in(&app, &acct, "sam").as_deref(), Some("admin"));
    let after = admin
        .client
        .execute(
            "var s = document.querySelector('select[aria-label=\"Role of sam\"]');
             return { disabled: s.disabled, busy: s.form.getAttribute('aria-busy') };",
            vec![],
        )
        .await
        .expect("read");
    assert_eq!(
        after,
        serde_json::json!({ "disabled": false, "busy": null }),
        "the row once saved"
    );

    // Adam ends his other sessions from another device: the browser's session ends.
    let phone = crate::sessions_page::log_in_with(&app, "adam", "a phone").await;
    let r = phone.post_form("/profile/sessions/end-others", &[]).await;
    assert!(r.status.is_success(), "{}", r.text);

    // The browser's next inline change is not made and says why, with a way back.
    admin.select_once("Role of sam", "Member").await;
    admin.wait_for_text("You were signed out").await;
    assert_eq!(role_in(&app, &acct, "sam").as_deref(), Some("admin"));
    let state = admin
        .client
        .execute(
            "var s = document.querySelector('select[aria-label=\"Role of sam\"]');
             var a = Array.prototype.find.call(document.querySelectorAll('#flash a'),
                                               function (a) { return a.textContent.trim() === 'Log in'; });
             return { role: s.options[s.selectedIndex].text, disabled: s.disabled,
                      login: a ? a.getAttribute('href') : null,
                      alert: document.querySelector('#flash [role=alert]') !== null };",
            vec![],
        )
        .await
        .expect("read");
    let login = format!(
        "/auth/login?next={}",
        url::form_urlencoded::byte_serialize(members.as_bytes()).collect::<String>()
    );
    assert_eq!(
        state,
        serde_json::json!({ "role": "Admin", "disabled": false, "login": login, "alert": true }),
        "after the refused change"
    );

    // The link logs in and comes back to the page.
    admin.click_link("Log in").await;
    admin.wait_for_url(|u| u.contains("/auth/login")).await;
    admin.fill("E-mail or handle", "adam").await;
    admin.fill("Password", PW).await;
    admin.click_button("Log in").await;
    admin.wait_for_url(|u| u.ends_with(&members)).await;
    admin.close().await;
}

/// The script that reads the `#flash` region: its text and whether it is a status line.
const FLASH: &str = "var f = document.querySelector('#flash [role=status]');
                     return f ? f.textContent.trim() : null;";

/// Every action says what it did, in one place (`#flash`, a status line announced by
/// screen readers), whether it redirected or answered htmx (issue #24, point 3); a row's
/// "Role saved." is in the success colour; the member count follows a removal.
#[tokio::test]
async fn every_action_says_what_it_did_in_one_status_line() {
    let app = spawn_app().await;
    let owner = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&owner, "Acme", "acme").await;
    app.signup("sam@example.com", "sam", PW).await;
    app.signup("bo@example.com", "bo", PW).await;
    add_member(&app, &acct, "sam", "member");
    add_member(&app, &acct, "bo", "member");

    let b = Browser::start().await;
    b.goto(&app.url("/auth/login")).await;
    b.fill("E-mail or handle", "ana").await;
    b.fill("Password", PW).await;
    b.click_button("Log in").await;
    b.wait_for_url(|u| !u.contains("/auth/login")).await;
    let flash = || async {
        b.client
            .execute(FLASH, vec![])
            .await
            .expect("read the flash region")
    };

    // Creating an organization, then a workspace: each page says so once.
    b.goto(&app.url("/accounts/new")).await;
    b.fill("Name", "Beta Org").await;
    b.fill("Handle", "beta").await;
    b.click_button("Create organization").await;
    b.wait_for_text("Organization “Beta Org” created.").await;
    assert_eq!(
        flash().await,
        serde_json::json!("Organization “Beta Org” created. You are its Owner.")
    );
    b.goto(&app.url(&format!("/account/{acct}/workspaces")))
        .await;
    assert_eq!(flash().await, serde_json::Value::Null, "shown once");
    b.fill("Workspace name", "Research").await;
    b.click_button("Create workspace").await;
    b.wait_for_text("Workspace “Research” created.").await;

    // A custom role.
    b.goto(&app.url(&format!("/account/{acct}/roles/new")))
        .await;
    b.fill("Role name", "Lead").await;
    b.select("Inherit from built-in role", "Developer").await;
    b.click_button("Save role").await;
    b.wait_for_text("Role “Lead” saved.").await;

    // Members: an inline role change says so in the success colour; a removal (htmx)
    // says so in the status line and the count follows.
    let members = format!("/account/{acct}/members");
    b.goto(&app.url(&members)).await;
    b.wait_for_text("3 members").await;
    b.select("Role of bo", "Admin").await;
    b.wait_for_text("Role saved.").await;
    let colour = b
        .client
        .execute(
            "return getComputedStyle(document.querySelector('.row-message')).color;",
            vec![],
        )
        .await
        .expect("colour");
    assert_eq!(
        colour,
        serde_json::json!("rgb(22, 101, 52)"),
        "--success-text"
    );
    b.client
        .execute("window.__notReloaded = 42; return null;", vec![])
        .await
        .expect("mark");
    b.click_link("Remove sam").await;
    b.click_button("Remove member").await;
    b.wait_for_text("2 members").await;
    assert_eq!(flash().await, serde_json::json!("Member removed."));
    let marker = b
        .client
        .execute("return window.__notReloaded || null;", vec![])
        .await
        .expect("marker");
    assert_eq!(marker, serde_json::json!(42), "the page was not reloaded");
    assert!(role_in(&app, &acct, "sam").is_none());

    // An invitation, revoked.
    b.fill("E-mail addresses", "zed@example.com").await;
    b.select("Role", "Member").await;
    b.click_button("Send invitations").await;
    b.wait_for_text("zed@example.com: Invitation sent.").await;
    b.goto(&app.url(&format!("{members}/invitations"))).await;
    b.click_button("Revoke invitation to zed@example.com").await;
    b.click_button("Revoke invitation").await;
    b.wait_for_text("Invitation revoked: its link no longer works.")
        .await;

    // Deleting the workspace.
    let ws: String = crate::support::text(
        &app,
        "SELECT id AS t FROM workspaces WHERE handle = 'research'",
    );
    b.goto(&app.url(&format!("/account/{acct}/workspace/{ws}/settings")))
        .await;
    b.click_button("Delete workspace…").await;
    b.fill("Type research to confirm", "research").await;
    b.click_button("Delete workspace").await;
    b.wait_for_text("Workspace “Research” deleted.").await;
    b.close().await;
}

/// Every visible text on the page against its background, as WCAG 2 computes contrast
/// (4.5:1, or 3:1 for large text): the failures, as "tag.class “text” ratio".
const CONTRAST: &str = r#"
const parse = (c) => { const m = c && c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
  const p = m[1].split(',').map(parseFloat); return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 }; };
const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
const over = (top, base) => ({ r: top.r * top.a + base.r * (1 - top.a), g: top.g * top.a + base.g * (1 - top.a),
  b: top.b * top.a + base.b * (1 - top.a), a: 1 });
const bgOf = (el) => { const layers = [];
  for (let e = el; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; } }
  let base = matchMedia('(prefers-color-scheme: dark)').matches ? { r: 0, g: 0, b: 0, a: 1 } : { r: 255, g: 255, b: 255, a: 1 };
  for (let i = layers.length - 1; i >= 0; i--) base = over(layers[i], base); return base; };
const bad = [];
for (const el of document.querySelectorAll('body *')) {
  if (['SCRIPT', 'STYLE', 'OPTION', 'svg', 'IMG'].includes(el.tagName)) continue;
  const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.data.trim());
  if (!own || el.closest('[hidden], [disabled], .visually-hidden')) continue;
  const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
  if (r.width < 2 || r.height < 2 || s.visibility !== 'visible' || parseFloat(s.opacity) === 0) continue;
  const bg = bgOf(el); const fg = over(parse(s.color), bg);
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a); const ratio = (hi + 0.05) / (lo + 0.05);
  const size = parseFloat(s.fontSize); const large = size >= 24 || (size >= 18.66 && parseInt(s.fontWeight, 10) >= 700);
  if (ratio < (large ? 3 : 4.5)) bad.push(el.tagName.toLowerCase() + '.' + el.className + ' “' +
    el.textContent.trim().slice(0, 40) + '” ' + ratio.toFixed(2));
}
return { dark: matchMedia('(prefers-color-scheme: dark)').matches,
         background: getComputedStyle(document.body).backgroundColor, bad: bad };
"#;

/// Dark mode follows the system setting, and every text of the main pages keeps its
/// contrast in both schemes (signed in and out, with a status line and a field error
/// shown): a light page does not turn dark by itself, a dark one has no text lost on it.
#[tokio::test]
async fn dark_mode_follows_the_system_and_every_text_keeps_its_contrast() {
    let app = spawn_app().await;
    let owner = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&owner, "Acme", "acme").await;
    app.signup("sam@example.com", "sam", PW).await;
    add_member(&app, &acct, "sam", "member");
    let ws = crate::workspaces::create_ws(&owner, &acct, "Research", "research").await;
    let ws = crate::support::ws_id(&ws);
    let pages = [
        format!("/account/{acct}/members"),
        format!("/account/{acct}/members/invitations"),
        format!("/account/{acct}/workspaces"),
        format!("/account/{acct}/roles"),
        format!("/account/{acct}/roles/new"),
        format!("/account/{acct}/settings"),
        format!("/account/{acct}/audit-log"),
        format!("/account/{acct}/workspace/{ws}/dashboard"),
        format!("/account/{acct}/workspace/{ws}/settings"),
        format!("/account/{acct}/workspace/{ws}/settings/members"),
        "/profile".to_string(),
        "/profile/api-keys".to_string(),
        "/profile/sessions".to_string(),
    ];
    for dark in [false, true] {
        let b = if dark {
            Browser::start_dark().await
        } else {
            Browser::start().await
        };
        let check = |what: String| {
            let b = &b;
            async move {
                let v = b.client.execute(CONTRAST, vec![]).await.expect("contrast");
                assert_eq!(v["dark"], dark, "{what}: the scheme");
                assert_eq!(v["bad"], serde_json::json!([]), "{what} (dark: {dark})");
                v["background"].as_str().unwrap_or_default().to_string()
            }
        };
        for signed_out in ["/auth/login", "/auth/signup"] {
            b.goto(&app.url(signed_out)).await;
            check(signed_out.to_string()).await;
        }
        // A field error and the log-in page's alert.
        b.goto(&app.url("/auth/login")).await;
        b.fill("E-mail or handle", "ana").await;
        b.fill("Password", "wrong password").await;
        b.click_button("Log in").await;
        b.wait_for_text("Wrong e-mail, handle or password.").await;
        check("a refused log-in".into()).await;
        b.fill("E-mail or handle", "ana").await;
        b.fill("Password", PW).await;
        b.click_button("Log in").await;
        b.wait_for_url(|u| !u.contains("/auth/login")).await;
        for p in &pages {
            b.goto(&app.url(p)).await;
            let background = check(p.clone()).await;
            let expected = if dark {
                "rgb(15, 17, 21)"
            } else {
                "rgb(255, 255, 255)"
            };
            assert_eq!(background, expected, "{p}: the page's background");
        }
        // A status line and a row message.
        b.goto(&app.url(&format!("/account/{acct}/members"))).await;
        b.select("Role of sam", if dark { "Member" } else { "Admin" })
            .await;
        b.wait_for_text("Role saved.").await;
        check("a saved row".into()).await;
        b.goto(&app.url("/accounts/new")).await;
        b.click_button("Create organization").await;
        b.wait_for_text("Enter a name").await;
        check("a form with errors".into()).await;
        b.close().await;
    }
}

/// The switcher names the workspace being looked at (its account above it), and marks it
/// in its list (`aria-current`); outside a workspace it names the account (issue #24,
/// point 7).
#[tokio::test]
async fn the_switcher_names_and_marks_the_current_workspace() {
    let app = spawn_app().await;
    let owner = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&owner, "Acme", "acme").await;
    let prod = crate::support::ws_id(
        &crate::workspaces::create_ws(&owner, &acct, "Production", "prod").await,
    );
    crate::workspaces::create_ws(&owner, &acct, "Staging", "staging").await;

    let b = Browser::start().await;
    b.goto(&app.url("/auth/login")).await;
    b.fill("E-mail or handle", "ana").await;
    b.fill("Password", PW).await;
    b.click_button("Log in").await;
    b.wait_for_url(|u| !u.contains("/auth/login")).await;
    let summary = "return document.querySelector('details.switcher > summary').innerText.replace(/\\s+/g, ' ').trim();";

    b.goto(&app.url(&format!("/account/{acct}/members"))).await;
    let s = b.client.execute(summary, vec![]).await.expect("summary");
    assert_eq!(s, serde_json::json!("Organization Acme"));

    b.goto(&app.url(&format!("/account/{acct}/workspace/{prod}/dashboard")))
        .await;
    let s = b.client.execute(summary, vec![]).await.expect("summary");
    assert_eq!(s, serde_json::json!("Acme Production"));
    b.click_button("Switch workspace").await;
    b.wait_for_text("Staging").await;
    let marked = b
        .client
        .execute(
            "return Array.from(document.querySelectorAll('#switcher-list a[aria-current=page]'))
                    .map(function (a) { return a.getAttribute('aria-label'); });",
            vec![],
        )
        .await
        .expect("marked");
    assert_eq!(marked, serde_json::json!(["Production"]));
    b.close().await;
}

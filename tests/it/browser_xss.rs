//! XSS canaries in a real browser (issue #9): markup, attribute breaks, htmx attributes and
//! template syntax go into every name and description a user can set; every page that
//! shows them is opened in Chromium and must show the text literally, run none of it
//! (`window.__xss` stays undefined, no element of the payload exists, htmx fires nothing:
//! the session is still signed in at the end).

use std::time::Duration;

use serde_json::{Value, json};

use crate::api_support::{VIEWER_ROLE, grant};
use crate::members::{PW, add_member, create_org};
use crate::support::browser::Browser;
use crate::support::{TestApp, spawn_app};
use crate::workspaces::create_ws;

/// The canaries: each would set `window.__xss`, add an element, or (htmx) log out.
pub const CANARIES: [&str; 5] = [
    "<script>window.__xss=1</script>",
    "\"><img src=x onerror=\"window.__xss=1\">",
    "<div hx-get=\"/logout\" hx-trigger=\"load\">x</div>",
    "<div hx-post=\"/auth/logout\" hx-trigger=\"load\">y</div>",
    "{{7*7}}",
];

/// What the page shows: its text and the values of its form controls.
const SHOWN_JS: &str = r#"
document.querySelectorAll('details').forEach(function (d) { d.open = true; });
var parts = [document.body.innerText];
document.querySelectorAll('input, textarea').forEach(function (e) { parts.push(e.value); });
return {
  xss: typeof window.__xss,
  shown: parts.join('\n'),
  img: document.querySelectorAll('img[src="x"], img[onerror]').length,
  htmx: document.querySelectorAll('[hx-get="/logout"], [hx-post="/auth/logout"]').length,
  scripts: Array.from(document.scripts).filter(function (s) { return s.text.indexOf('__xss') >= 0; }).length,
  onerror: document.querySelectorAll('[onerror]').length,
};
"#;

async fn check_page(b: &Browser, app: &TestApp, path: &str, must_show: &[&str]) {
    b.goto(&app.url(path)).await;
    // Let `load` triggers, image errors and swaps happen, if they were going to.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let url = b.current_url().await;
    assert!(
        !url.contains("/auth/login"),
        "{path}: signed out (now at {url})"
    );
    let v: Value = b
        .client
        .execute(SHOWN_JS, vec![])
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(v["xss"], json!("undefined"), "{path}: a canary ran");
    for k in ["img", "htmx", "scripts", "onerror"] {
        assert_eq!(
            v[k],
            json!(0),
            "{path}: an element of a canary exists ({k})"
        );
    }
    let shown = v["shown"].as_str().unwrap_or_default();
    for c in must_show {
        assert!(shown.contains(c), "{path}: {c:?} is not shown literally");
    }
}

#[tokio::test]
async fn canaries_in_every_name_and_description_are_shown_and_never_run() {
    let app = spawn_app().await;
    let [c0, c1, c2, c3, c4] = CANARIES;
    // People: the first and last names of the owner and of a member.
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let r = ana
        .post_form("/profile", &[("first_name", c0), ("last_name", c1)])
        .await;
    assert!(r.status.is_success(), "profile: {}", r.status);
    let bo = app.signup("bo@example.com", "bo", PW).await;
    let r = bo
        .post_form("/profile", &[("first_name", c2), ("last_name", c4)])
        .await;
    assert!(r.status.is_success(), "profile: {}", r.status);
    let cy = app.signup("cy@example.com", "cy", PW).await;
    cy.post_form("/profile", &[("first_name", c3), ("last_name", "Cy")])
        .await;
    // Accounts: one per canary, the first one the main one.
    let acct = create_org(&ana, c0, "acme").await;
    for (i, c) in [c1, c2, c3, c4].iter().enumerate() {
        create_org(&ana, c, &format!("acct{i}")).await;
    }
    add_member(&app, &acct, "bo", "member");
    add_member(&app, &acct, "cy", "member");
    // Workspaces, custom roles, service accounts and API keys, one per canary, each
    // described by the next canary.
    let mut workspaces = Vec::new();
    for (i, c) in CANARIES.iter().enumerate() {
        let next = CANARIES[(i + 1) % CANARIES.len()];
        let dash = create_ws(&ana, &acct, c, &format!("ws{i}")).await;
        let ws = dash.split('/').nth(4).expect("workspace id").to_string();
        let r = ana
            .post_form(
                &format!("/account/{acct}/workspace/{ws}/settings"),
                &[
                    ("name", c),
                    ("handle", &format!("ws{i}")),
                    ("description", next),
                    ("default_role", "none"),
                ],
            )
            .await;
        assert!(
            r.status.is_success() || r.status.is_redirection(),
            "ws settings: {}",
            r.text
        );
        workspaces.push(ws.clone());
        let r = ana
            .post_form(
                &format!("/account/{acct}/roles/new"),
                &[("name", c), ("description", next), ("scopes", "see_flows")],
            )
            .await;
        assert!(r.status.is_redirection(), "role {c}: {}", r.text);
        crate::service_accounts::create_sa(&ana, &acct, c, Some((&ws, VIEWER_ROLE))).await;
        let r = ana.post_form("/profile/api-keys", &[("name", c)]).await;
        assert!(r.status.is_success(), "API key {c}: {}", r.status);
    }
    grant(&app, &workspaces[0], "bo", VIEWER_ROLE);
    grant(&app, &workspaces[0], "cy", VIEWER_ROLE);
    // Invitations: the template canary is a valid address's local part.
    let r = ana
        .post_form(
            &format!("/account/{acct}/invitations"),
            &[("emails", "{{7*7}}@example.com"), ("role", "member")],
        )
        .await;
    assert!(
        r.status.is_success() && r.text.contains("Invitation sent."),
        "the address with braces is valid: {}",
        r.status
    );
    let role0 = {
        #[derive(diesel::QueryableByName)]
        struct T {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
        }
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT id AS t FROM workspace_roles WHERE name = '{{7*7}}'")
            .get_result::<T>(&mut app.conn())
            .expect("role")
            .t
    };

    let b = Browser::start().await;
    b.goto(&app.url("/auth/login")).await;
    b.fill("E-mail or handle", "ana").await;
    b.fill("Password", PW).await;
    b.click_button("Log in").await;
    b.wait_for_url(|u| !u.contains("/auth/login")).await;

    let a = format!("/account/{acct}");
    let w0 = format!("{a}/workspace/{}", workspaces[0]);
    let all = CANARIES.as_slice();
    let mut pages: Vec<(String, Vec<&str>)> = vec![
        (format!("{a}/members"), vec![c0, c1, c2, c3, c4]),
        (format!("{a}/workspaces"), all.to_vec()),
        ("/switcher".into(), all.to_vec()),
        (format!("{a}/settings"), vec![c0]),
        (format!("{a}/roles"), all.to_vec()),
        (format!("{a}/roles/{role0}/edit"), vec![c4, c0]),
        (format!("{a}/service-accounts"), all.to_vec()),
        (format!("{w0}/settings"), vec![c0, c1]),
        (format!("{w0}/settings/members"), vec![c2, c3]),
        (format!("{w0}/settings/service-accounts"), vec![c0]),
        (format!("{a}/audit-log"), all.to_vec()),
        (format!("{a}/members/invitations"), vec![c4]),
        ("/profile".into(), vec![c0, c1]),
        ("/profile/api-keys".into(), all.to_vec()),
        ("/accounts/new".into(), vec![]),
        ("/".into(), vec![]),
    ];
    for (i, ws) in workspaces.iter().enumerate() {
        pages.push((
            format!("{a}/workspace/{ws}/dashboard"),
            vec![CANARIES[i], CANARIES[(i + 1) % CANARIES.len()]],
        ));
    }
    for (path, must_show) in &pages {
        check_page(&b, &app, path, must_show).await;
    }
    // Still signed in: no canary logged the session out.
    check_page(&b, &app, "/profile", &["ana@example.com", c0]).await;
    assert!(b.current_url().await.ends_with("/profile"));
    b.close().await;
}

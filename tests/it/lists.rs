//! Lists at scale and search by any part of a name (issue #24, points 5 and 6), over plain
//! HTTP: the members search (any part of the name, handle or e-mail; case and accents
//! folded; %, _, \ and " literal) with keyset paging, the workspaces and service-accounts
//! lists' search and paging edges (first, next, last, previous, search with paging), the
//! one "Manage" panel of the service accounts, the switcher's "Showing 50 of N" note and the
//! people picker's endpoint (at most 10, 404 for who may not manage members).

use reqwest::StatusCode;

use crate::members::{PW, add_member, create_org, seed_members};
use crate::support::{Client, TestApp, spawn_app, ws_id};
use crate::workspaces::create_ws;

/// Sets the user's names through the profile form (the search key follows).
async fn rename(c: &Client, first: &str, last: &str) {
    let r = c
        .post_form("/profile", &[("first_name", first), ("last_name", last)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// The members page's HTML for `q` (and a cursor).
async fn members(c: &Client, acct: &str, query: &str) -> String {
    let r = c.get(&format!("/account/{acct}/members?{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
    r.text
}

/// The address of a page's "Previous" (`prev`) or "Next" (`next`) link.
fn link(html: &str, rel: &str) -> Option<String> {
    let at = html.find(&format!("rel=\"{rel}\""))?;
    let start = html[..at].rfind("href=\"")? + 6;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&"))
}

/// A user's id, by handle.
fn user_id_of(app: &TestApp, handle: &str) -> String {
    use diesel::prelude::*;
    atrium::db::schema::users::table
        .filter(atrium::db::schema::users::handle.eq(handle))
        .select(atrium::db::schema::users::id)
        .first(&mut app.conn())
        .expect("user")
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The seeded handles (`user00000` …) a members page shows, in order: every element text
/// that is exactly such a handle (the e-mail cells hold more).
fn row_handles(html: &str) -> Vec<String> {
    html.split('>')
        .filter_map(|s| s.split('<').next())
        .filter(|t| {
            t.len() == 9 && t.starts_with("user") && t[4..].bytes().all(|b| b.is_ascii_digit())
        })
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn members_are_found_by_any_part_of_name_handle_or_email_folded_and_paged() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let ada = app.signup("ada@lovelace.test", "ada-c", PW).await;
    rename(&ada, "Ada", "Coder").await;
    let zoe = app.signup("zed@example.com", "zed-anders", PW).await;
    rename(&zoe, "Zoë", "Ångström").await;
    add_member(&app, &acct, "ada-c", "member");
    add_member(&app, &acct, "zed-anders", "member");
    // 120 more: "User N00000" … "User N00119".
    seed_members(&app, &acct, 120);

    // Part of the last name, any case.
    let page = members(&ana, &acct, "q=Coder").await;
    assert!(page.contains("1 member matching “Coder”"), "{page}");
    assert!(page.contains(">ada-c<"), "{page}");
    assert!(members(&ana, &acct, "q=ODE").await.contains(">ada-c<"));
    // The middle of a handle.
    let page = members(&ana, &acct, "q=d-and").await;
    assert!(
        page.contains(">zed-anders<") && !page.contains(">ada-c<"),
        "{page}"
    );
    // Accents folded both ways: "zoe" finds Zoë, "ÅNGST" and "angst" find Ångström.
    for q in ["zoe", "ZOË", "angst", "ÅNGST", "zoe ang"] {
        let page = members(&ana, &acct, &format!("q={}", enc(q))).await;
        assert!(page.contains(">zed-anders<"), "{q}: {page}");
        assert!(page.contains("1 member matching"), "{q}: {page}");
    }
    // Beyond Latin letters (several bytes a character; PostgreSQL passes over keys by a
    // signature of their byte trigrams first): folded the same way, found by any part.
    let eleni = app.signup("eleni@example.com", "eleni-k", PW).await;
    rename(&eleni, "Ελένη", "Καρρά").await;
    add_member(&app, &acct, "eleni-k", "member");
    for q in ["καρρα", "ΚΑΡΡΆ", "λένη κα", "ένη"] {
        let page = members(&ana, &acct, &format!("q={}", enc(q))).await;
        assert!(
            page.contains(">eleni-k<") && page.contains("1 member matching"),
            "{q}: {page}"
        );
    }
    // Part of an e-mail address: the domain of one, a part of everyone's.
    let page = members(&ana, &acct, "q=lovelace.te").await;
    assert!(
        page.contains(">ada-c<") && page.contains("1 member matching"),
        "{page}"
    );
    let page = members(&ana, &acct, "q=exam").await;
    // ana, zed, eleni and the 120 seeded (ada's address is elsewhere): more than a page, which a
    // search does not count (it would cost in proportion to the hits).
    assert!(
        page.contains("More than 50 members matching “exam”, in the order they joined"),
        "{page}"
    );
    // Under three characters: the start of a handle.
    let page = members(&ana, &acct, "q=ad").await;
    assert!(
        page.contains(">ada-c<") && page.contains("1 member whose handle starts with “ad”"),
        "{page}"
    );

    // Paging a search: "n000" is in the 100 last names N00000 … N00099, listed in the order
    // they joined (seeded in handle order), by keyset on their search id.
    let page = members(&ana, &acct, "q=n000").await;
    assert!(
        page.contains("More than 50 members matching “n000”"),
        "{page}"
    );
    let rows = row_handles(&page);
    assert_eq!(rows.len(), 50, "{rows:?}");
    assert_eq!(rows[0], "user00000");
    assert_eq!(rows[49], "user00049");
    assert!(link(&page, "prev").is_none());
    let next = link(&page, "next").expect("Next");
    assert!(next.contains("q=n000&after="), "{next}");
    let page = members(&ana, &acct, next.split('?').nth(1).unwrap()).await;
    let rows = row_handles(&page);
    assert_eq!((rows.len(), rows[0].as_str()), (50, "user00050"));
    assert_eq!(rows[49], "user00099");
    // The last page: no "Next", a "Previous" back.
    assert!(link(&page, "next").is_none(), "{page}");
    let prev = link(&page, "prev").expect("Previous");
    assert!(prev.contains("q=n000&before="), "{prev}");
    let back = members(&ana, &acct, prev.split('?').nth(1).unwrap()).await;
    let rows = row_handles(&back);
    assert_eq!((rows.len(), rows[0].as_str()), (50, "user00000"));
    assert!(link(&back, "prev").is_none() && link(&back, "next").is_some());
    // Past the end: nothing, and a way back; a cursor that is no search id finds nothing.
    let last_key: Option<i64> = {
        use atrium::db::schema::account_memberships as m;
        use diesel::prelude::*;
        m::table
            .filter(m::account_id.eq(&acct))
            .select(diesel::dsl::max(m::search_id))
            .first(&mut app.conn())
            .expect("max")
    };
    let last_key = last_key.expect("a search id");
    let page = members(&ana, &acct, &format!("q=n000&after={last_key}")).await;
    assert!(row_handles(&page).is_empty(), "{page}");
    assert!(link(&page, "prev").is_some(), "{page}");
    let page = members(&ana, &acct, "q=n000&after=user00049").await;
    assert!(row_handles(&page).is_empty(), "{page}");

    // The index follows changes: a renamed member is found by the new name and no longer by
    // the old; a removed member is not found; another account's people never are.
    rename(&zoe, "Zora", "Quist").await;
    assert!(
        members(&ana, &acct, "q=quist")
            .await
            .contains(">zed-anders<")
    );
    assert!(
        members(&ana, &acct, "q=angst")
            .await
            .contains("0 members matching")
    );
    let r = ana
        .post_form(
            &format!(
                "/account/{acct}/members/{}/remove",
                user_id_of(&app, "ada-c")
            ),
            &[],
        )
        .await;
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{}",
        r.text
    );
    assert!(
        members(&ana, &acct, "q=Coder")
            .await
            .contains("0 members matching")
    );
    let other = create_org(&ada, "Elsewhere", "elsewhere").await;
    add_member(&app, &other, "zed-anders", "member");
    assert!(
        members(&ada, &other, "q=exam")
            .await
            .contains("1 member matching")
    );

    // Not injectable: %, _, \ and " are literal (nobody's key holds them).
    for q in [
        "%",
        "_",
        "\\",
        "%%%",
        "___",
        "\\\\\\",
        "a%c",
        "us_r",
        "\"",
        "\"x\" OR user",
        "*",
        "NEAR(a b)",
        "user*",
        "n0%0",
    ] {
        let page = members(&ana, &acct, &format!("q={}", enc(q))).await;
        // One or two characters are a handle prefix, more a part of anything.
        assert!(
            page.contains("0 members matching") || page.contains("0 members whose handle"),
            "{q:?}: {page}"
        );
        assert!(row_handles(&page).is_empty(), "{q:?}: {page}");
    }
}

/// Inserts `n` workspaces `ws-0000` … (named "Workspace 0000" …) into the account.
fn seed_workspaces(app: &TestApp, acct: &str, n: usize) {
    use diesel::connection::SimpleConnection;
    let t = "2026-01-01 00:00:00";
    let rows: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "('{}', '{acct}', 'Workspace {i:04}', 'ws-{i:04}', '', NULL, '{t}', '{t}')",
                uuid::Uuid::new_v4()
            )
        })
        .collect();
    app.conn()
        .batch_execute(&format!(
            "INSERT INTO workspaces (id, account_id, name, handle, description, default_role_id, created_at, updated_at) VALUES {};",
            rows.join(",")
        ))
        .expect("seed workspaces");
}

#[tokio::test]
async fn the_workspaces_list_searches_and_pages_by_keyset_and_the_switcher_says_when_it_stops() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    seed_workspaces(&app, &acct, 120);
    let list = |q: String| {
        let (ana, path) = (&ana, format!("/account/{acct}/workspaces?{q}"));
        async move {
            let r = ana.get(&path).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
            r.text
        }
    };
    let handles = |html: &str| -> Vec<String> {
        html.split("<td class=\"mono\">")
            .skip(1)
            .filter_map(|s| s.split('<').next().map(str::to_string))
            .collect()
    };
    let page = list(String::new()).await;
    assert!(page.contains("120 workspaces"), "{page}");
    let hs = handles(&page);
    assert_eq!(
        (hs.len(), hs[0].as_str(), hs[49].as_str()),
        (50, "ws-0000", "ws-0049")
    );
    assert!(page.contains("after=ws-0049") && !page.contains("rel=\"prev\""));
    // The last page.
    let page = list("after=ws-0099".into()).await;
    let hs = handles(&page);
    assert_eq!(
        (hs.len(), hs[0].as_str(), hs[19].as_str()),
        (20, "ws-0100", "ws-0119")
    );
    assert!(!page.contains("rel=\"next\"") && page.contains("before=ws-0100"));
    let page = list("before=ws-0050".into()).await;
    let hs = handles(&page);
    assert_eq!((hs.len(), hs[0].as_str()), (50, "ws-0000"));
    assert!(!page.contains("rel=\"prev\"") && page.contains("rel=\"next\""));
    // Search (name or handle, any case) with paging.
    let page = list("q=WORKSPACE%2000".into()).await;
    assert!(page.contains("100 workspaces matching"), "{page}");
    let page = list("q=workspace%2000&after=ws-0049".into()).await;
    let hs = handles(&page);
    assert_eq!(
        (hs.len(), hs[0].as_str(), hs[49].as_str()),
        (50, "ws-0050", "ws-0099")
    );
    assert!(!page.contains("rel=\"next\""), "{page}");
    let page = list("q=s-011".into()).await;
    assert_eq!(handles(&page).len(), 10, "{page}");
    for q in ["%25", "_", "%5C", "ws_0"] {
        let page = list(format!("q={q}")).await;
        assert!(page.contains("0 workspaces matching"), "{q}: {page}");
        assert!(page.contains("No workspaces match."));
    }
    // htmx gets the table alone.
    let r = ana
        .get_with(
            &format!("/account/{acct}/workspaces?q=ws-0001"),
            &[("HX-Request", "true"), ("HX-Target", "workspaces-table")],
        )
        .await;
    assert!(
        r.text.starts_with("<div id=\"workspaces-table\">"),
        "{}",
        r.text
    );
    assert!(!r.text.contains("<html"));

    // A Member reaches none of them (no default role): the empty state.
    let bo = app.signup("bo@example.com", "bo", PW).await;
    add_member(&app, &acct, "bo", "member");
    let page = bo.get(&format!("/account/{acct}/workspaces")).await;
    assert!(
        page.text.contains("No workspaces you can reach yet."),
        "{}",
        page.text
    );

    // The switcher stops at 50 and says so, linking to the whole list.
    let sw = ana.get("/switcher").await.text;
    assert!(sw.contains("Showing the first 50"), "{sw}");
    assert!(sw.contains("see all workspaces"), "{sw}");
    let sw = ana.get("/switcher?q=ws-011").await.text;
    assert!(!sw.contains("Showing"), "{sw}");
}

#[tokio::test]
async fn the_service_accounts_list_searches_pages_and_opens_one_manage_panel() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    for i in 0..55 {
        let r = ana
            .post_form(
                &format!("/account/{acct}/service-accounts"),
                &[
                    ("name", &format!("Bot {i:02}")),
                    ("expiration", ""),
                    ("workspace_id", "none"),
                    ("role_id", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let list = |q: &str| {
        let (ana, path) = (&ana, format!("/account/{acct}/service-accounts?{q}"));
        async move {
            let r = ana.get(&path).await;
            (r.status, r.text)
        }
    };
    let (_, page) = list("").await;
    assert!(page.contains("55 service accounts"), "{page}");
    // One panel of forms at most: none until "Manage" asks for one.
    assert_eq!(
        page.matches("Manage Bot").count(),
        50,
        "a Manage link per row"
    );
    assert!(!page.contains("/rename\""), "no per-row forms");
    assert!(page.contains("after=bot%2049"), "{page}");
    let (_, last) = list("after=bot%2049").await;
    assert!(
        last.contains(">Bot 54</a>") && !last.contains(">Bot 49</a>"),
        "{last}"
    );
    assert!(!last.contains("rel=\"next\"") && last.contains("before=bot%2050"));
    let (_, page) = list("q=OT%205").await;
    assert!(page.contains("5 service accounts matching"), "{page}");
    let (_, page) = list("q=%25").await;
    assert!(page.contains("0 service accounts matching"), "{page}");

    let sa = crate::support::text(
        &app,
        "SELECT id AS t FROM service_accounts WHERE name = 'Bot 07'",
    );
    let (status, page) = list(&format!("q=bot&manage={sa}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Manage Bot 07</h2>"), "{page}");
    assert_eq!(page.matches("/rename\"").count(), 1);
    assert_eq!(page.matches("/rotate\"").count(), 1);
    assert!(page.contains("Delete service account"));
    // A refused rename keeps the panel open with the message beside the field.
    let r = ana
        .post_form(
            &format!("/account/{acct}/service-accounts/{sa}/rename"),
            &[("name", "Bot 08")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("Manage Bot 07</h2>") && r.text.contains("field-error"),
        "{}",
        r.text
    );
    // What is not a service account of this account: 404.
    let (status, _) = list("manage=00000000-0000-4000-8000-000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_people_picker_suggests_at_most_ten_members_without_a_role_and_404s_for_others() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let dash = create_ws(&ana, &acct, "Prod", "prod").await;
    let ws = ws_id(&dash);
    let ada = app.signup("ada@example.com", "ada-c", PW).await;
    rename(&ada, "Ada", "Coder").await;
    add_member(&app, &acct, "ada-c", "member");
    seed_members(&app, &acct, 30);
    let path =
        |q: &str| format!("/account/{acct}/workspace/{ws}/settings/members/candidates?member={q}");
    let r = ana.get(&path("coder")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("data-value=\"ada-c\""), "{}", r.text);
    assert!(r.text.contains("role=\"option\""));
    let r = ana.get(&path("user")).await;
    assert_eq!(r.text.matches("role=\"option\"").count(), 10, "{}", r.text);
    // Ana has a role on the workspace (she made it): not suggested.
    assert!(
        !ana.get(&path("ana"))
            .await
            .text
            .contains("data-value=\"ana\"")
    );
    let r = ana.get(&path("%25")).await;
    assert_eq!(r.text.matches("role=\"option\"").count(), 0);
    // A Member who may not manage the workspace's members: 404.
    let ada_page = ada.get(&path("coder")).await;
    assert_eq!(ada_page.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_search_index_is_merged_without_changing_what_it_finds() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Merge", "merge").await;
    // Members added in many transactions: on SQLite each leaves a segment in the index.
    for i in 0..12 {
        let handle = format!("person-{i:02}");
        app.signup(&format!("{handle}@example.com"), &handle, PW)
            .await;
        add_member(&app, &acct, &handle, "member");
    }
    let found = |html: &str| -> Vec<String> {
        html.split("<td class=\"mono\">")
            .skip(1)
            .map(|s| s.split('<').next().unwrap().to_string())
            .collect()
    };
    let before = found(&members(&ana, &acct, "q=son-0").await);
    assert_eq!(before.len(), 10, "{before:?}");
    let mut c = app.conn();
    let sqlite = matches!(crate::support::backend(), atrium::settings::Backend::Sqlite);
    // One bounded step at a time, until nothing is left to merge.
    let mut steps = 0;
    while atrium::db::search::merge_index(&mut c, 1).expect("merge") {
        steps += 1;
        assert!(steps < 100, "merging never ends");
    }
    if sqlite {
        assert!(steps >= 1, "the segments were merged");
        use diesel::RunQueryDsl;
        diesel::sql_query("INSERT INTO members_search (members_search) VALUES ('integrity-check')")
            .execute(&mut c)
            .expect("the index is sound");
    } else {
        assert_eq!(steps, 0, "nothing to merge on PostgreSQL");
    }
    assert!(!atrium::db::search::merge_index(&mut c, 1).expect("merge"));
    assert_eq!(found(&members(&ana, &acct, "q=son-0").await), before);
    assert!(
        members(&ana, &acct, "q=person-11")
            .await
            .contains(">person-11<")
    );
}

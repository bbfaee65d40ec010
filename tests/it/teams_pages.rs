//! The Teams pages (issue #25) over HTTP with sessions and CSRF: the account's Teams page
//! (create with errors beside the fields, search, keyset pages), a team's page (add and
//! remove members, rename, delete behind a confirmation naming what it takes away), who may
//! do what there, the workspace sharing page's Teams panel (give, change, take away a
//! team's role; nobody gives a role above their own scopes), and the workspace Members
//! panel saying where each person's access comes from.

use reqwest::StatusCode;

use crate::api_support::{DEVELOPER_ROLE, RUNNER_ROLE, VIEWER_ROLE};
use crate::members::{PW, add_member, create_org, user_id};
use crate::service_accounts::{custom_role, grant_user};
use crate::support::{Client, TestApp, spawn_app, text, ws_id};
use crate::workspaces::create_ws;

/// `handle`, as the operations' caller (test setup through the same operations as the
/// pages).
pub fn as_user(app: &TestApp, handle: &str) -> atrium::teams::ops::Who {
    let mut c = app.conn();
    let u = atrium::users::model::find(&mut c, &user_id(app, handle))
        .expect("read")
        .expect("the user");
    atrium::teams::ops::Who::user(&u, "127.0.0.1".into())
}

fn ana(app: &TestApp) -> atrium::teams::ops::Who {
    as_user(app, "ana")
}

/// Team `name` of `account` with `members` (handles), made by Ana; answers its id.
pub fn make_team(app: &TestApp, account: &str, name: &str, members: &[&str]) -> String {
    make_team_as(app, "ana", account, name, members)
}

/// Team `name` of `account` with `members` (handles), made by `by`; answers its id.
pub fn make_team_as(
    app: &TestApp,
    by: &str,
    account: &str,
    name: &str,
    members: &[&str],
) -> String {
    use atrium::teams::ops;
    let who = as_user(app, by);
    let mut c = app.conn();
    let team = ops::create(&mut c, &who, account, name, "").expect("team");
    let ids: Vec<String> = members.iter().map(|h| user_id(app, h)).collect();
    if !ids.is_empty() {
        ops::add_members(&mut c, &who, account, &team.id, &ids).expect("members");
    }
    team.id
}

/// Gives the team `role_id` on the workspace, as Ana.
pub fn give(app: &TestApp, account: &str, ws: &str, team: &str, role_id: &str) {
    let who = ana(app);
    atrium::teams::ops::grant(&mut app.conn(), &who, account, ws, team, role_id)
        .expect("team access");
}

fn team_id(app: &TestApp, account: &str, name: &str) -> String {
    text(
        app,
        &format!("SELECT id AS t FROM teams WHERE account_id = '{account}' AND name = '{name}'"),
    )
}

fn events(app: &TestApp, action: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}'"
    ))
}

/// The `href` of the link with `rel="…"`, unescaped.
fn link(html: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\"");
    let i = html.find(&marker)?;
    let start = html[..i].rfind("href=\"")? + 6;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&"))
}

/// Owner Ana of Acme with workspace "prod"; (client, account, workspace id).
async fn acme(app: &TestApp) -> (Client, String, String) {
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let ws = ws_id(&create_ws(&ana, &acct, "prod", "prod").await);
    (ana, acct, ws)
}

#[tokio::test]
async fn creating_a_team_shows_errors_beside_the_fields_and_saves_nothing_on_bad_input() {
    let app = spawn_app().await;
    let (ana, acct, _) = acme(&app).await;
    let teams = format!("/account/{acct}/teams");

    let page = ana.get(&teams).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("No teams yet"), "the empty state");
    assert!(
        page.text.contains(&format!(
            "<a href=\"/account/{acct}/teams\" aria-current=\"page\">Teams</a>"
        )),
        "the sidebar's Teams entry"
    );
    assert!(
        page.text
            .contains("<label for=\"team-name\">Team name</label>")
    );

    // Empty, too long, a description over 1,000 characters: beside each field, nothing saved.
    let long = "x".repeat(1001);
    for (name, description, field) in [
        ("", "", "name"),
        ("   ", "", "name"),
        (&"n".repeat(101)[..], "", "name"),
        ("Data", &long[..], "description"),
    ] {
        let r = ana
            .post_form(&teams, &[("name", name), ("description", description)])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert!(
            r.text.contains(&format!("id=\"{field}-error\"")),
            "{name:?}: {}",
            r.text
        );
        assert!(r.text.contains("aria-invalid=\"true\""));
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM teams"), 0);

    let r = ana
        .post_form(
            &teams,
            &[("name", "  Data  "), ("description", "The data engineers")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Team “Data” created."), "{}", r.text);
    let data = team_id(&app, &acct, "Data");
    assert!(
        r.text
            .contains(&format!("href=\"/account/{acct}/teams/{data}\""))
    );
    assert!(r.text.contains("The data engineers"));
    assert_eq!(events(&app, "atrium.team.created"), 1);

    // The same name in other case (and spacing) is taken; the form keeps what was typed.
    for taken in ["DATA", " data "] {
        let r = ana
            .post_form(&teams, &[("name", taken), ("description", "again")])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.text
                .contains("A team with this name already exists in this account."),
            "{}",
            r.text
        );
        assert!(r.text.contains("id=\"name-error\""));
        assert!(r.text.contains(">again</textarea>"));
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM teams"), 1);
    assert_eq!(events(&app, "atrium.team.created"), 1);

    // Markup in a name is shown as text.
    let r = ana
        .post_form(&teams, &[("name", "<b>Ops</b>"), ("description", "")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.text.contains("<b>Ops</b>") && r.text.contains("&#60;b&#62;Ops"));

    // The list: name, description, members, workspaces.
    let page = ana.get(&teams).await;
    assert!(page.text.contains("2 teams"));
    let row = &page.text[page.text.find(&format!("id=\"team-{data}\"")).expect("row")..];
    let row = &row[..row.find("</tr>").expect("end of row")];
    assert!(row.contains(">Data</a>") && row.contains("The data engineers"));
    assert_eq!(row.matches("<td class=\"num\">0</td>").count(), 2, "{row}");
}

#[tokio::test]
async fn the_teams_list_searches_and_pages_by_name_back_and_forth() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    {
        let who = ana_who(&app);
        let mut c = app.conn();
        for i in 0..120 {
            atrium::teams::ops::create(&mut c, &who, &acct, &format!("Team {i:03}"), "")
                .expect("team");
        }
    }
    let t7 = team_id(&app, &acct, "Team 007");
    give(&app, &acct, &ws, &t7, VIEWER_ROLE);
    let rows = |html: &str| html.matches("<tr id=\"team-").count();

    let first = ana.get(&format!("/account/{acct}/teams")).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.text.contains("120 teams"));
    assert_eq!(rows(&first.text), 50);
    assert!(first.text.contains(">Team 000<") && first.text.contains(">Team 049<"));
    assert!(link(&first.text, "prev").is_none(), "no Previous on page 1");
    // Team 007's row counts its workspace.
    let row = &first.text[first.text.find(&format!("id=\"team-{t7}\"")).expect("row")..];
    assert!(row[..row.find("</tr>").expect("end")].contains("<td class=\"num\">1</td>"));

    let second = ana.get(&link(&first.text, "next").expect("Next")).await;
    assert_eq!(rows(&second.text), 50);
    assert!(second.text.contains(">Team 050<") && second.text.contains(">Team 099<"));
    assert!(!second.text.contains(">Team 049<"));

    let third = ana.get(&link(&second.text, "next").expect("Next")).await;
    assert_eq!(rows(&third.text), 20);
    assert!(third.text.contains(">Team 100<") && third.text.contains(">Team 119<"));
    assert!(
        link(&third.text, "next").is_none(),
        "no Next on the last page"
    );

    let back = ana.get(&link(&third.text, "prev").expect("Previous")).await;
    assert_eq!(rows(&back.text), 50);
    assert!(back.text.contains(">Team 050<") && back.text.contains(">Team 099<"));
    assert!(link(&back.text, "next").is_some() && link(&back.text, "prev").is_some());
    let front = ana.get(&link(&back.text, "prev").expect("Previous")).await;
    assert_eq!(rows(&front.text), 50);
    assert!(front.text.contains(">Team 000<"));
    assert!(link(&front.text, "prev").is_none());

    // Search: part of the name, any case; `%` and `_` are plain characters.
    let found = ana.get(&format!("/account/{acct}/teams?q=TEAM%2011")).await;
    assert_eq!(rows(&found.text), 10, "Team 110 … Team 119");
    assert!(found.text.contains("Teams matching “TEAM 11”"));
    for q in ["%25", "_", "nothing"] {
        let none = ana.get(&format!("/account/{acct}/teams?q={q}")).await;
        assert_eq!(none.status, StatusCode::OK);
        assert_eq!(rows(&none.text), 0, "{q}");
        assert!(none.text.contains("No teams match."));
    }
    // A search keeps its filter across pages.
    let many = ana.get(&format!("/account/{acct}/teams?q=team%200")).await;
    assert_eq!(rows(&many.text), 50);
    let next = link(&many.text, "next").expect("Next");
    assert!(next.contains("q=team%200"), "{next}");
    let rest = ana.get(&next).await;
    assert_eq!(rows(&rest.text), 50, "Team 050 … Team 099");
    assert!(!rest.text.contains(">Team 100<"));
    // Odd cursors are not errors.
    for odd in ["after=%00", "before=%00", "after=zzz", "before=", "q=%00"] {
        let r = ana.get(&format!("/account/{acct}/teams?{odd}")).await;
        assert_eq!(r.status, StatusCode::OK, "{odd}");
    }
}

fn ana_who(app: &TestApp) -> atrium::teams::ops::Who {
    ana(app)
}

#[tokio::test]
async fn a_team_page_adds_members_through_the_picker_or_a_typed_handle_and_removes_them() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    let bo_c = app.signup("bo@example.com", "bo", PW).await;
    app.signup("cy@example.com", "cy", PW).await;
    app.signup("out@example.com", "out", PW).await;
    add_member(&app, &acct, "bo", "member");
    add_member(&app, &acct, "cy", "collaborator");
    grant_user(&app, &ws, "cy", VIEWER_ROLE);
    let data = make_team(&app, &acct, "Data", &[]);
    give(&app, &acct, &ws, &data, DEVELOPER_ROLE);
    let page_path = format!("/account/{acct}/teams/{data}");
    let bo = user_id(&app, "bo");

    let page = ana.get(&page_path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Nobody is in this team yet."));
    // The picker: a labelled combobox whose listbox htmx fills as one types.
    assert!(
        page.text
            .contains("<label for=\"add-member\">Member of the account</label>")
    );
    assert!(page.text.contains("role=\"combobox\""));
    assert!(page.text.contains("aria-controls=\"member-suggestions\""));
    assert!(page.text.contains(&format!(
        "hx-get=\"/account/{acct}/teams/{data}/candidates\" hx-trigger=\"input changed delay:200ms\""
    )));
    assert!(page.text.contains(
        "<ul id=\"member-suggestions\" role=\"listbox\" aria-label=\"Matching members\"></ul>"
    ));
    // The team's workspaces, linking to the workspace's Teams panel.
    assert!(page.text.contains(&format!(
        "<a href=\"/account/{acct}/workspace/{ws}/teams\">prod</a>"
    )));
    assert!(page.text.contains("<td>Developer</td>"));

    // Suggestions: members (not Collaborators) by handle, name or e-mail address.
    let sugg = |q: &str| {
        let (ana, path) = (&ana, format!("{page_path}/candidates?q={q}"));
        async move {
            let r = ana.get_with(&path, &[("HX-Request", "true")]).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r.text
        }
    };
    let by_handle = sugg("b").await;
    assert!(by_handle.starts_with("<li role=\"option\""), "{by_handle}");
    assert!(by_handle.contains("data-value=\"bo\""), "{by_handle}");
    assert!(by_handle.contains("Test bo<span"), "{by_handle}");
    assert!(by_handle.contains("bo@example.com"), "{by_handle}");
    assert!(
        sugg("BO%40EXAMPLE").await.contains("data-value=\"bo\""),
        "by e-mail"
    );
    assert!(
        sugg("test%20b").await.contains("data-value=\"bo\""),
        "by name"
    );
    let all = sugg("").await;
    assert!(all.contains("data-value=\"ana\"") && all.contains("data-value=\"bo\""));
    assert!(
        !all.contains("data-value=\"cy\""),
        "Collaborators cannot join teams"
    );
    assert!(!all.contains("data-value=\"out\""), "not in the account");
    // The picker's own field sends its value as `member`.
    let r = ana
        .get_with(
            &format!("{page_path}/candidates?member=bo"),
            &[("HX-Request", "true")],
        )
        .await;
    assert!(r.text.contains("data-value=\"bo\""));

    // Refused: nothing typed, unknown, someone of another account, a Collaborator.
    for (typed, message) in [
        (
            "",
            "Enter the handle or e-mail address of a member of the account.",
        ),
        (
            "nobody",
            "No member of this account has this handle or e-mail address.",
        ),
        (
            "out",
            "No member of this account has this handle or e-mail address.",
        ),
        ("cy", "Only members of the account can join a team."),
    ] {
        let r = ana
            .post_form(&format!("{page_path}/members"), &[("member", typed)])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{typed}");
        assert!(r.text.contains(message), "{typed}: {}", r.text);
        assert!(r.text.contains("id=\"member-error\""));
        assert!(r.text.contains(&format!("value=\"{typed}\"")), "kept");
    }
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM team_members"), 0);

    // By e-mail address (any case), then again by handle: already in.
    let r = ana
        .post_form(
            &format!("{page_path}/members"),
            &[("member", "Bo@Example.com")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("bo added to Data."));
    assert!(r.text.contains(&format!("id=\"team-member-{bo}\"")));
    let r = ana
        .post_form(&format!("{page_path}/members"), &[("member", "bo")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("They are already in this team."));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM team_members"), 1);
    assert_eq!(events(&app, "atrium.team.member_added"), 1);
    assert!(
        !sugg("b").await.contains("data-value=\"bo\""),
        "no longer suggested"
    );
    // Bo reaches prod through the team now.
    assert_eq!(
        bo_c.get(&format!("/account/{acct}/workspace/{ws}/dashboard"))
            .await
            .status,
        StatusCode::OK
    );

    // Remove sits behind a confirmation naming the person, the team and what they lose.
    let page = ana.get(&page_path).await;
    assert!(page.text.contains("aria-label=\"Remove bo from Data\""));
    assert!(page.text.contains(
        "Remove <strong>bo</strong> from <strong>Data</strong>? They lose the access this team gives on: prod (Developer)."
    ));
    let r = ana
        .post_form(&format!("{page_path}/members/{bo}/remove"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("bo removed from Data."));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM team_members"), 0);
    assert_eq!(events(&app, "atrium.team.member_removed"), 1);
    // Not in the team (any more), or no such person or team: 404.
    for path in [
        format!("{page_path}/members/{bo}/remove"),
        format!("{page_path}/members/not-an-id/remove"),
        format!("/account/{acct}/teams/4f1c3a52-8d0e-4b7a-9c61-2e5f7d9a0b13/members/{bo}/remove"),
    ] {
        assert_eq!(
            ana.post_form(&path, &[]).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(
        ana.post_form(
            &format!("/account/{acct}/teams/4f1c3a52-8d0e-4b7a-9c61-2e5f7d9a0b13/members"),
            &[("member", "bo")]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bo_c.get(&format!("/account/{acct}/workspace/{ws}/dashboard"))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "the team's role went with the membership"
    );
}

#[tokio::test]
async fn a_teams_members_come_in_pages_by_handle() {
    let app = spawn_app().await;
    let (ana, acct, _) = acme(&app).await;
    let data = make_team(&app, &acct, "Data", &[]);
    {
        let who = ana_who(&app);
        let mut c = app.conn();
        let people = atrium::seed::add_members(&mut c, &acct, 60, "t").expect("members");
        let ids: Vec<String> = people.into_iter().map(|(id, _)| id).collect();
        atrium::teams::ops::add_members(&mut c, &who, &acct, &data, &ids).expect("join");
    }
    let first = ana.get(&format!("/account/{acct}/teams/{data}")).await;
    assert!(first.text.contains("60 members, 50 on this page"));
    assert_eq!(first.text.matches("<tr id=\"team-member-").count(), 50);
    let next = link(&first.text, "next").expect("Next");
    let second = ana.get(&next).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.text.matches("<tr id=\"team-member-").count(), 10);
    assert!(second.text.contains(">First page</a>"));
    assert!(link(&second.text, "next").is_none());
    let handles = |html: &str| -> Vec<String> {
        html.split("<td class=\"mono\">")
            .skip(1)
            .map(|s| s[..s.find('<').unwrap_or(0)].to_string())
            .collect()
    };
    let (a, b) = (handles(&first.text), handles(&second.text));
    assert!(a.windows(2).all(|w| w[0] < w[1]) && a.last() < b.first());
}

#[tokio::test]
async fn renaming_and_deleting_a_team_whose_confirmation_names_what_its_members_lose() {
    let app = spawn_app().await;
    let (ana, acct, prod) = acme(&app).await;
    let staging = ws_id(&create_ws(&ana, &acct, "staging", "staging").await);
    for h in ["bo", "cy"] {
        app.signup(&format!("{h}@example.com"), h, PW).await;
        add_member(&app, &acct, h, "member");
    }
    let data = make_team(&app, &acct, "Data", &["bo", "cy"]);
    make_team(&app, &acct, "Other", &[]);
    give(&app, &acct, &prod, &data, DEVELOPER_ROLE);
    give(&app, &acct, &staging, &data, VIEWER_ROLE);
    let page_path = format!("/account/{acct}/teams/{data}");

    // Rename: refused beside the field (taken in other case, empty), then saved.
    for (name, message) in [
        (
            "OTHER",
            "A team with this name already exists in this account.",
        ),
        ("", "Enter a name."),
    ] {
        let r = ana
            .post_form(
                &format!("{page_path}/edit"),
                &[("name", name), ("description", "kept")],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}");
        assert!(r.text.contains(message) && r.text.contains("id=\"name-error\""));
        assert!(r.text.contains(">kept</textarea>"));
    }
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM teams WHERE name = 'Data' AND description = ''"),
        1
    );
    let r = ana
        .post_form(
            &format!("{page_path}/edit"),
            &[("name", "Platform"), ("description", "Runs the platform")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Team “Platform” saved."));
    assert!(r.text.contains("<h1>Platform</h1>") && r.text.contains("Runs the platform"));
    assert_eq!(events(&app, "atrium.team.renamed"), 1);

    // Delete is a confirmation page first, naming the members and each workspace's role.
    let page = ana.get(&page_path).await;
    assert!(page.text.contains(&format!("href=\"{page_path}/delete\"")));
    let confirm = ana.get(&format!("{page_path}/delete")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm.text.contains(
            "2 members lose the access this team gives on: prod (Developer), staging (Viewer)."
        ),
        "{}",
        confirm.text
    );
    assert!(confirm.text.contains("Delete team Platform"));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM teams"), 2, "not yet");

    let r = ana.post_form(&format!("{page_path}/delete"), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Team “Platform” deleted."));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM teams"), 1);
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM team_members"), 0);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_team_access"),
        0
    );
    assert_eq!(events(&app, "atrium.team.deleted"), 1);
    assert_eq!(ana.get(&page_path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        ana.get(&format!("{page_path}/delete")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ana.post_form(&format!("{page_path}/delete"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // A team without workspaces says so.
    let other = team_id(&app, &acct, "Other");
    let confirm = ana
        .get(&format!("/account/{acct}/teams/{other}/delete"))
        .await;
    assert!(confirm.text.contains(
        "The team has no role on any workspace: its 0 members lose nothing but the team."
    ));
}

#[tokio::test]
async fn members_see_teams_but_only_owners_and_admins_change_them_and_other_accounts_get_404() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    let mel = app.signup("mel@example.com", "mel", PW).await;
    let col = app.signup("col@example.com", "col", PW).await;
    let out = app.signup("out@example.com", "out", PW).await;
    let ada = app.signup("ada@example.com", "ada", PW).await;
    add_member(&app, &acct, "mel", "member");
    add_member(&app, &acct, "col", "collaborator");
    grant_user(&app, &ws, "col", VIEWER_ROLE);
    add_member(&app, &acct, "ada", "admin");
    let data = make_team(&app, &acct, "Data", &["mel"]);
    let mel_id = user_id(&app, "mel");
    // Out's own account and team: not reachable through Acme's address.
    let theirs = create_org(&out, "Theirs", "theirs").await;
    let theirs_team = make_team_as(&app, "out", &theirs, "Theirs", &[]);
    let base = format!("/account/{acct}/teams");
    let team = format!("{base}/{data}");

    // A Member reads: the list and the team, without the forms.
    let list = mel.get(&base).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.text.contains(">Teams</a>"), "the sidebar entry");
    assert!(!list.text.contains("Create team"));
    let page = mel.get(&team).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains(">mel<"));
    assert!(!page.text.contains("Add member") && !page.text.contains("Save team"));
    assert!(!page.text.contains("Delete team") && !page.text.contains("Remove mel"));

    let before = (
        app.count("SELECT COUNT(*) AS n FROM teams"),
        app.count("SELECT COUNT(*) AS n FROM team_members"),
        app.count("SELECT COUNT(*) AS n FROM audit_events"),
    );
    let posts = [
        (base.clone(), vec![("name", "Mine"), ("description", "")]),
        (
            format!("{team}/edit"),
            vec![("name", "Renamed"), ("description", "")],
        ),
        (format!("{team}/members"), vec![("member", "ana")]),
        (format!("{team}/members/{mel_id}/remove"), vec![]),
        (format!("{team}/delete"), vec![]),
    ];
    for (path, fields) in &posts {
        assert_eq!(
            mel.post_form(path, fields).await.status,
            StatusCode::FORBIDDEN,
            "Member: {path}"
        );
    }
    for path in [format!("{team}/delete"), format!("{team}/candidates?q=a")] {
        assert_eq!(
            mel.get(&path).await.status,
            StatusCode::FORBIDDEN,
            "Member: {path}"
        );
    }
    // Collaborators do not see teams; other accounts' users see nothing of Acme's.
    for c in [&col, &out] {
        for path in [
            base.clone(),
            team.clone(),
            format!("{team}/delete"),
            format!("{team}/candidates?q=a"),
        ] {
            assert_eq!(c.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        for (path, fields) in &posts {
            assert_eq!(
                c.post_form(path, fields).await.status,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
    }
    // A Collaborator's sidebar has no Teams entry for the account.
    let theirs_view = col.get(&format!("/account/{acct}/workspaces")).await;
    assert_eq!(theirs_view.status, StatusCode::OK);
    assert!(
        !theirs_view
            .text
            .contains(&format!("/account/{acct}/teams\""))
    );
    let after = (
        app.count("SELECT COUNT(*) AS n FROM teams"),
        app.count("SELECT COUNT(*) AS n FROM team_members"),
        app.count("SELECT COUNT(*) AS n FROM audit_events"),
    );
    assert_eq!(before, after, "refusals change and record nothing");

    // Another account's team is not found through Acme's address, even by its Owner…
    assert_eq!(
        out.get(&format!("{base}/{theirs_team}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ana.get(&format!("{base}/{theirs_team}")).await.status,
        StatusCode::NOT_FOUND
    );
    // … and an Admin may do everything.
    let r = ada
        .post_form(
            &format!("{team}/edit"),
            &[("name", "Data team"), ("description", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        ada.get(&format!("{team}/delete")).await.status,
        StatusCode::OK
    );
    assert_eq!(ana.get(&team).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_workspace_teams_panel_gives_changes_and_takes_away_a_teams_role() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    let bo = app.signup("bo@example.com", "bo", PW).await;
    add_member(&app, &acct, "bo", "member");
    let data = make_team(&app, &acct, "Data", &["bo"]);
    let ops_team = make_team(&app, &acct, "Ops", &[]);
    let panel = format!("/account/{acct}/workspace/{ws}/teams");
    let role_of = |team: &str| {
        text(
            &app,
            &format!(
                "SELECT r.name AS t FROM workspace_team_access a JOIN workspace_roles r ON r.id = a.role_id WHERE a.team_id = '{team}'"
            ),
        )
    };
    let accesses = || app.count("SELECT COUNT(*) AS n FROM workspace_team_access");

    let page = ana.get(&panel).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains(&format!(
        "<a href=\"{panel}\" aria-current=\"page\">Teams</a>"
    )));
    assert!(page.text.contains("No team has a role in this workspace."));
    assert!(page.text.contains("<label for=\"add-team\">Team</label>"));
    assert!(
        page.text
            .contains(&format!("<option value=\"{data}\">Data</option>"))
    );
    // The Members tab links here.
    let members = ana
        .get(&format!("/account/{acct}/workspace/{ws}/settings/members"))
        .await;
    assert!(
        members
            .text
            .contains(&format!("<a href=\"{panel}\">Teams</a>"))
    );

    // Refused: an unknown team, an unknown role (beside the fields; nothing saved).
    for (team, role, field) in [
        (
            "4f1c3a52-8d0e-4b7a-9c61-2e5f7d9a0b13",
            VIEWER_ROLE,
            "team_id",
        ),
        (data.as_str(), "nope", "role_id"),
    ] {
        let r = ana
            .post_form(&panel, &[("team_id", team), ("role_id", role)])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.text.contains(&format!("id=\"{field}-error\"")),
            "{}",
            r.text
        );
    }
    assert_eq!(accesses(), 0);

    let r = ana
        .post_form(&panel, &[("team_id", &data), ("role_id", VIEWER_ROLE)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(role_of(&data), "Viewer");
    let page = ana.get(&panel).await;
    assert!(page.text.contains(&format!(
        "<a href=\"/account/{acct}/teams/{data}\">Data</a>"
    )));
    assert!(
        !page.text.contains(&format!("<option value=\"{data}\">")),
        "no longer offered"
    );
    assert!(
        page.text
            .contains(&format!("<option value=\"{ops_team}\">Ops</option>"))
    );
    assert!(
        page.text
            .contains("aria-label=\"Workspace role of the team Data\"")
    );

    // Inline (htmx): the row comes back with the new role selected.
    let r = ana
        .post_htmx(
            &format!("{panel}/{data}/role"),
            &[("role_id", DEVELOPER_ROLE)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.text
            .starts_with(&format!("<tr id=\"team-access-{data}\""))
    );
    assert!(r.text.contains("Role saved."));
    assert!(
        r.text
            .contains(&format!("<option value=\"{DEVELOPER_ROLE}\" selected>"))
    );
    assert_eq!(role_of(&data), "Developer");
    assert_eq!(events(&app, "atrium.team_access.role_changed"), 1);
    // Without JavaScript: back to the panel.
    let r = ana
        .post_form(&format!("{panel}/{data}/role"), &[("role_id", RUNNER_ROLE)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(role_of(&data), "Runner");
    // Bo, through the team, reaches the workspace as a Runner.
    assert_eq!(
        bo.get(&format!("/account/{acct}/workspace/{ws}/dashboard"))
            .await
            .status,
        StatusCode::OK
    );
    // A team without a role here has none to change.
    assert_eq!(
        ana.post_htmx(
            &format!("{panel}/{ops_team}/role"),
            &[("role_id", VIEWER_ROLE)]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // Remove: htmx empties the row; without JavaScript the panel says so.
    let r = ana.post_htmx(&format!("{panel}/{data}/remove"), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.is_empty());
    assert_eq!(accesses(), 0);
    assert_eq!(
        bo.get(&format!("/account/{acct}/workspace/{ws}/dashboard"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    give(&app, &acct, &ws, &ops_team, VIEWER_ROLE);
    let r = ana
        .post_form(&format!("{panel}/{ops_team}/remove"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("The team “Ops” no longer has a role here."));
    assert_eq!(
        ana.post_form(&format!("{panel}/{ops_team}/remove"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(events(&app, "atrium.team_access.granted"), 2);
    assert_eq!(events(&app, "atrium.team_access.revoked"), 2);
}

#[tokio::test]
async fn a_member_who_manages_workspace_teams_cannot_give_a_team_more_than_their_own_scopes() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    let lead = app.signup("lead@example.com", "lead", PW).await;
    add_member(&app, &acct, "lead", "member");
    let lead_role = custom_role(
        &app,
        &acct,
        "Team lead",
        "viewer",
        &["see_workspace_users", "manage_workspace_teams"],
    );
    grant_user(&app, &ws, "lead", &lead_role);
    let data = make_team(&app, &acct, "Data", &[]);
    let panel = format!("/account/{acct}/workspace/{ws}/teams");
    let role_of = || {
        text(
            &app,
            &format!(
                "SELECT r.name AS t FROM workspace_team_access a JOIN workspace_roles r ON r.id = a.role_id WHERE a.team_id = '{data}'"
            ),
        )
    };
    let message = "You cannot give a role with permissions you do not have yourself.";

    // The role select offers only what they may give.
    let page = lead.get(&panel).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(&format!(
        "<option value=\"{VIEWER_ROLE}\" selected>Viewer</option>"
    )));
    assert!(
        !page
            .text
            .contains(&format!("<option value=\"{DEVELOPER_ROLE}\""))
    );

    // Developer anyway: refused beside the role select, nothing saved.
    let r = lead
        .post_form(&panel, &[("team_id", &data), ("role_id", DEVELOPER_ROLE)])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("id=\"role_id-error\"") && r.text.contains(message),
        "{}",
        r.text
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_team_access"),
        0
    );

    // Viewer is theirs to give; changing it to Developer inline is refused in the row.
    let r = lead
        .post_form(&panel, &[("team_id", &data), ("role_id", VIEWER_ROLE)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = lead
        .post_htmx(
            &format!("{panel}/{data}/role"),
            &[("role_id", DEVELOPER_ROLE)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("class=\"row-error\"") && r.text.contains(message));
    assert_eq!(role_of(), "Viewer");

    // A team Ana made Developer: shown, but neither changed nor removed by the lead.
    ana.post_htmx(
        &format!("{panel}/{data}/role"),
        &[("role_id", DEVELOPER_ROLE)],
    )
    .await;
    assert_eq!(role_of(), "Developer");
    let page = lead.get(&panel).await;
    assert!(page.text.contains(&format!(
        "<option value=\"{DEVELOPER_ROLE}\" selected disabled>Developer</option>"
    )));
    let r = lead
        .post_htmx(&format!("{panel}/{data}/role"), &[("role_id", VIEWER_ROLE)])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains(message));
    let r = lead.post_htmx(&format!("{panel}/{data}/remove"), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains(message));
    let r = lead.post_form(&format!("{panel}/{data}/remove"), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains(message));
    assert_eq!(role_of(), "Developer");
    // The lead is a Member: the team's page is for reading only.
    assert!(
        !lead
            .get(&format!("/account/{acct}/teams/{data}"))
            .await
            .text
            .contains("Add member")
    );

    // Who may not see the workspace's members does not find the panel; a Developer sees
    // them neither.
    let dev = app.signup("dev@example.com", "dev", PW).await;
    add_member(&app, &acct, "dev", "member");
    grant_user(&app, &ws, "dev", DEVELOPER_ROLE);
    assert_eq!(dev.get(&panel).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        dev.post_form(&panel, &[("team_id", &data), ("role_id", VIEWER_ROLE)])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Seeing the members without managing teams: the list, no forms, 403 on changes.
    let seer_role = custom_role(&app, &acct, "Seer", "viewer", &["see_workspace_users"]);
    let seer = app.signup("seer@example.com", "seer", PW).await;
    add_member(&app, &acct, "seer", "member");
    grant_user(&app, &ws, "seer", &seer_role);
    let page = seer.get(&panel).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains(">Data</a>") && !page.text.contains("Add team"));
    assert_eq!(
        seer.post_form(&format!("{panel}/{data}/remove"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_members_panel_says_where_each_persons_access_comes_from() {
    let app = spawn_app().await;
    let (ana, acct, ws) = acme(&app).await;
    for h in ["bo", "cy", "dee"] {
        app.signup(&format!("{h}@example.com"), h, PW).await;
        add_member(&app, &acct, h, "member");
    }
    grant_user(&app, &ws, "bo", VIEWER_ROLE);
    let data = make_team(&app, &acct, "Data team", &["bo", "cy"]);
    let ops_team = make_team(&app, &acct, "Ops", &["cy", "dee"]);
    give(&app, &acct, &ws, &data, DEVELOPER_ROLE);
    give(&app, &acct, &ws, &ops_team, RUNNER_ROLE);
    let (bo, cy, dee) = (
        user_id(&app, "bo"),
        user_id(&app, "cy"),
        user_id(&app, "dee"),
    );
    let panel = format!("/account/{acct}/workspace/{ws}/settings/members");

    let page = ana.get(&panel).await;
    assert_eq!(page.status, StatusCode::OK);
    // Bo: his own role, and the team's.
    let row = &page.text[page
        .text
        .find(&format!("<tr id=\"access-{bo}\""))
        .expect("bo's row")..];
    let row = &row[..row.find("</tr>").expect("end")];
    assert!(row.contains("aria-label=\"Workspace role of bo\""));
    assert!(row.contains("via Data team (Developer)"), "{row}");
    assert!(!row.contains("Ops"));
    // Cy and Dee reach it only through teams: listed, with no own-role controls.
    assert!(page.text.contains("Access through teams only"));
    for (id, handle, via) in [
        (
            &cy,
            "cy",
            vec!["via Data team (Developer)", "via Ops (Runner)"],
        ),
        (&dee, "dee", vec!["via Ops (Runner)"]),
    ] {
        assert!(
            !page.text.contains(&format!("<tr id=\"access-{id}\"")),
            "{handle}"
        );
        assert!(!page.text.contains(&format!("Workspace role of {handle}\"")));
        let row = &page.text[page
            .text
            .find(&format!("<tr id=\"via-{id}\""))
            .expect("row")..];
        let row = &row[..row.find("</tr>").expect("end")];
        for v in via {
            assert!(row.contains(v), "{handle}: {row}");
        }
    }
    // The count is of own roles, as before.
    assert!(page.text.contains("2 members with a role here"));

    // The row an inline change answers says it too.
    let r = ana
        .post_htmx(&format!("{panel}/{bo}/role"), &[("role_id", RUNNER_ROLE)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Role saved.") && r.text.contains("via Data team (Developer)"));
}

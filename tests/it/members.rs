//! Organization accounts, account roles and the members page (issue: accounts & members).

use reqwest::StatusCode;

use crate::support::{Client, TestApp, spawn_app};

pub const PW: &str = "correct horse battery";

/// Creates an organization through the form; returns its id.
pub async fn create_org(c: &Client, name: &str, handle: &str) -> String {
    let r = c
        .post_form("/accounts/new", &[("name", name), ("handle", handle)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "create org: {}", r.text);
    let loc = r.location().expect("location");
    loc.trim_start_matches("/account/")
        .trim_end_matches("/members")
        .to_string()
}

pub fn user_id(app: &TestApp, handle: &str) -> String {
    use atrium::db::schema::users;
    use diesel::prelude::*;
    let mut c = app.conn();
    users::table
        .filter(users::handle.eq(handle))
        .select(users::id)
        .first(&mut c)
        .expect("user")
}

/// Puts `handle` into the account with `role`, straight in the database (test setup only).
pub fn add_member(app: &TestApp, account_id: &str, handle: &str, role: &str) {
    use atrium::db::schema::account_memberships as m;
    use diesel::prelude::*;
    let uid = user_id(app, handle);
    let mut c = app.conn();
    diesel::insert_into(m::table)
        .values((
            m::id.eq(uuid::Uuid::new_v4().to_string()),
            m::account_id.eq(account_id),
            m::user_id.eq(uid),
            m::role.eq(role),
            m::created_at.eq(atrium::db::now()),
            m::handle.eq(handle),
        ))
        .execute(&mut c)
        .expect("add member");
}

pub fn role_in(app: &TestApp, account_id: &str, handle: &str) -> Option<String> {
    use atrium::db::schema::account_memberships as m;
    use diesel::prelude::*;
    let uid = user_id(app, handle);
    let mut c = app.conn();
    m::table
        .filter(m::account_id.eq(account_id))
        .filter(m::user_id.eq(uid))
        .select(m::role)
        .first(&mut c)
        .optional()
        .expect("query")
}

#[tokio::test]
async fn a_user_creates_an_organization_and_becomes_its_owner() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme Data", "acme").await;
    assert_eq!(role_in(&app, &acct, "ana").as_deref(), Some("owner"));
    let page = ana.get(&format!("/account/{acct}/members")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("Acme Data"),
        "the sidebar shows the account"
    );
    // Duplicate handles (also a user's handle) are refused beside the field.
    for taken in ["acme", "ana"] {
        let r = ana
            .post_form("/accounts/new", &[("name", "Other"), ("handle", taken)])
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text.contains("id=\"handle-error\""));
    }
    let r = ana
        .post_form("/accounts/new", &[("name", ""), ("handle", "Bad Handle")])
        .await;
    assert!(r.text.contains("id=\"name-error\"") && r.text.contains("id=\"handle-error\""));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM accounts WHERE kind = 'organization'"),
        1
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.account.created'"),
        1
    );
}

#[tokio::test]
async fn account_settings_rename_and_delete_with_typed_handle() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    app.signup("bo@example.com", "bo", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    add_member(&app, &acct, "bo", "member");

    let r = ana
        .post_form(
            &format!("/account/{acct}/settings"),
            &[("name", "Acme Corp"), ("handle", "acme-corp")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Account settings saved."));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM accounts WHERE handle = 'acme-corp' AND name = 'Acme Corp'"
        ),
        1
    );
    let r = ana
        .post_form(
            &format!("/account/{acct}/settings"),
            &[("name", "Acme Corp"), ("handle", "bo")],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a user's handle is taken"
    );

    let wrong = ana
        .post_form(
            &format!("/account/{acct}/delete"),
            &[("confirm_handle", "acme")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM accounts WHERE handle = 'acme-corp'"),
        1
    );
    let ok = ana
        .post_form(
            &format!("/account/{acct}/delete"),
            &[("confirm_handle", "acme-corp")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM accounts WHERE handle = 'acme-corp'"),
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM account_memberships WHERE account_id = '{acct}'"
        )),
        0
    );
    assert_eq!(
        ana.get(&format!("/account/{acct}/members")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.account.deleted'"),
        1
    );

    // A personal account cannot be deleted.
    let personal: String = {
        use atrium::db::schema::accounts;
        use diesel::prelude::*;
        let mut c = app.conn();
        accounts::table
            .filter(accounts::handle.eq("ana"))
            .select(accounts::id)
            .first(&mut c)
            .expect("personal")
    };
    let r = ana
        .post_form(
            &format!("/account/{personal}/delete"),
            &[("confirm_handle", "ana")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("A personal account cannot be deleted."));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM accounts WHERE handle = 'ana'"),
        1
    );
}

#[tokio::test]
async fn a_member_cannot_reach_admin_actions_by_url_or_forged_post() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let bo = app.signup("bo@example.com", "bo", PW).await;
    let eve = app.signup("eve@example.com", "eve", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    add_member(&app, &acct, "bo", "member");
    let ana_id = user_id(&app, "ana");

    // Members see the member list but not the admin controls.
    let page = bo.get(&format!("/account/{acct}/members")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains("Send invitations"));
    assert!(!page.text.contains("aria-label=\"Role of"));
    assert_eq!(
        bo.get(&format!("/account/{acct}/members/invitations"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Forged posts are refused and change nothing.
    let forged = [
        (
            format!("/account/{acct}/members/{ana_id}/role"),
            vec![("role", "member")],
        ),
        (format!("/account/{acct}/members/{ana_id}/remove"), vec![]),
        (
            format!("/account/{acct}/invitations"),
            vec![("emails", "x@example.com"), ("role", "admin")],
        ),
        (
            format!("/account/{acct}/settings"),
            vec![("name", "Hacked"), ("handle", "hacked")],
        ),
        (
            format!("/account/{acct}/delete"),
            vec![("confirm_handle", "acme")],
        ),
    ];
    for (path, fields) in &forged {
        let r = bo.post_form(path, fields).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(role_in(&app, &acct, "ana").as_deref(), Some("owner"));
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM invitations"), 0);
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM accounts WHERE name = 'Hacked'"),
        0
    );

    // Someone outside the account does not see it at all.
    for path in [
        format!("/account/{acct}/members"),
        format!("/account/{acct}/settings"),
    ] {
        assert_eq!(eve.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = eve
        .post_form(
            &format!("/account/{acct}/members/{ana_id}/role"),
            &[("role", "member")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn role_guards_hold_last_owner_and_nobody_grants_above_their_role() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let al = app.signup("al@example.com", "al", PW).await;
    app.signup("bo@example.com", "bo", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    add_member(&app, &acct, "al", "admin");
    add_member(&app, &acct, "bo", "member");
    let (ana_id, bo_id, al_id) = (
        user_id(&app, "ana"),
        user_id(&app, "bo"),
        user_id(&app, "al"),
    );

    // The last Owner cannot be demoted, even by themselves.
    let r = ana
        .post_htmx(
            &format!("/account/{acct}/members/{ana_id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("An account must keep at least one Owner."));
    assert!(
        r.text.contains("<tr"),
        "the row comes back with the error in it"
    );
    assert_eq!(role_in(&app, &acct, "ana").as_deref(), Some("owner"));

    // An Admin cannot make an Owner, nor change or remove one.
    let r = al
        .post_htmx(
            &format!("/account/{acct}/members/{bo_id}/role"),
            &[("role", "owner")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(role_in(&app, &acct, "bo").as_deref(), Some("member"));
    let r = al
        .post_htmx(
            &format!("/account/{acct}/members/{ana_id}/role"),
            &[("role", "member")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = al
        .post_htmx(&format!("/account/{acct}/members/{ana_id}/remove"), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(role_in(&app, &acct, "ana").as_deref(), Some("owner"));

    // An Admin may make a Member an Admin; the row is re-rendered.
    let r = al
        .post_htmx(
            &format!("/account/{acct}/members/{bo_id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("Role saved."));
    assert_eq!(role_in(&app, &acct, "bo").as_deref(), Some("admin"));
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.member.role_changed'"
        ),
        1
    );

    // With a second Owner, the first may step down.
    let r = ana
        .post_htmx(
            &format!("/account/{acct}/members/{al_id}/role"),
            &[("role", "owner")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = ana
        .post_htmx(
            &format!("/account/{acct}/members/{ana_id}/role"),
            &[("role", "member")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(role_in(&app, &acct, "ana").as_deref(), Some("member"));
}

#[tokio::test]
async fn removing_a_member_and_leaving_an_account() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let bo = app.signup("bo@example.com", "bo", PW).await;
    let cy = app.signup("cy@example.com", "cy", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    add_member(&app, &acct, "bo", "member");
    add_member(&app, &acct, "cy", "member");
    let bo_id = user_id(&app, "bo");

    let r = ana
        .post_form(&format!("/account/{acct}/members/{bo_id}/remove"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("Member removed."));
    assert_eq!(role_in(&app, &acct, "bo"), None);
    assert_eq!(
        bo.get(&format!("/account/{acct}/members")).await.status,
        StatusCode::NOT_FOUND,
        "at the next request"
    );

    let r = cy.post_form(&format!("/account/{acct}/leave"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(role_in(&app, &acct, "cy"), None);

    let r = ana.post_form(&format!("/account/{acct}/leave"), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("You are the last Owner"));
    assert_eq!(role_in(&app, &acct, "ana").as_deref(), Some("owner"));
    for action in ["atrium.member.removed", "atrium.member.left"] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}'"
            )),
            1
        );
    }
}

/// Bulk-inserts `n` users into the account as Members (test setup).
pub fn seed_members(app: &TestApp, account_id: &str, n: usize) {
    use diesel::connection::SimpleConnection;
    let mut c = app.conn();
    let t = "2026-01-01 00:00:00";
    let mut sql = String::from("BEGIN;");
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut users = Vec::new();
        let mut members = Vec::new();
        let mut accounts = Vec::new();
        for i in chunk {
            let id = uuid::Uuid::new_v4();
            users.push(format!(
                "('{id}', 'user{i:05}@example.com', 'user{i:05}@example.com', 'user{i:05}', 'User', 'N{i:05}', 'x', '{t}', '{t}', '{}')",
                atrium::db::search::user_key(
                    &format!("user{i:05}"),
                    "User",
                    &format!("N{i:05}"),
                    &format!("user{i:05}@example.com")
                )
            ));
            members.push(format!(
                "('{}', '{account_id}', '{id}', 'member', '{t}', 'user{i:05}')",
                uuid::Uuid::new_v4()
            ));
            // Everyone has a personal account (as sign-up makes it).
            let personal = uuid::Uuid::new_v4();
            accounts.push(format!(
                "('{personal}', 'personal', 'User {i:05}', 'user{i:05}', '{t}', '{t}')"
            ));
            members.push(format!(
                "('{}', '{personal}', '{id}', 'owner', '{t}', 'user{i:05}')",
                uuid::Uuid::new_v4()
            ));
        }
        sql.push_str(&format!(
            "INSERT INTO users (id, email, email_normalized, handle, first_name, last_name, password_hash, created_at, updated_at, search_key) VALUES {};",
            users.join(",")
        ));
        sql.push_str(&format!(
            "INSERT INTO accounts (id, kind, name, handle, created_at, updated_at) VALUES {};",
            accounts.join(",")
        ));
        sql.push_str(&format!(
            "INSERT INTO account_memberships (id, account_id, user_id, role, created_at, handle) VALUES {};",
            members.join(",")
        ));
    }
    sql.push_str("COMMIT;");
    c.batch_execute(&sql).expect("seed members");
}

#[tokio::test]
async fn the_members_page_of_ten_thousand_members_uses_a_bounded_number_of_queries() {
    // No background mail polling during the measurement.
    let app =
        crate::support::spawn_app_with(|s| s.mail_poll = std::time::Duration::from_secs(3600))
            .await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Big", "big").await;
    seed_members(&app, &acct, 10_000);
    ana.get("/profile").await; // warm the session

    let before = app.queries.get();
    let first = ana.get(&format!("/account/{acct}/members")).await;
    let first_queries = app.queries.get() - before;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.text.contains("10001 members"));
    assert_eq!(first.text.matches("<td class=\"mono\">").count(), 50);
    assert!(first.text.contains("rel=\"next\""), "a Next link");
    assert!(
        !first.text.contains("rel=\"prev\""),
        "no Previous link on page 1"
    );

    let before = app.queries.get();
    let filtered = ana
        .get_with(
            &format!("/account/{acct}/members?q=USER0999"),
            &[("HX-Request", "true"), ("HX-Target", "members-table")],
        )
        .await;
    let filtered_queries = app.queries.get() - before;
    assert_eq!(filtered.status, StatusCode::OK);
    assert!(
        !filtered.text.contains("<html"),
        "htmx gets the table fragment"
    );
    assert!(
        filtered.text.contains("10 members matching"),
        "{}",
        &filtered.text[..300.min(filtered.text.len())]
    );

    let before = app.queries.get();
    let later = ana
        .get(&format!("/account/{acct}/members?after=user07449"))
        .await;
    let later_queries = app.queries.get() - before;
    assert_eq!(later.status, StatusCode::OK);
    assert_eq!(later.text.matches("<td class=\"mono\">").count(), 50);
    assert!(
        later.text.contains(">user07450<"),
        "starts after the handle"
    );
    assert!(later.text.contains(">user07499<"));
    assert!(!later.text.contains(">user07500<"));
    assert!(later.text.contains("before=user07450"), "Previous");
    assert!(later.text.contains("after=user07499"), "Next");

    let before = app.queries.get();
    let by_email = ana
        .get(&format!("/account/{acct}/members?q=User01234@Example.com"))
        .await;
    let email_queries = app.queries.get() - before;
    assert!(by_email.text.contains("1 member matching"), "exact e-mail");
    assert!(by_email.text.contains(">user01234<"));
    for (what, n) in [
        ("first page", first_queries),
        ("filtered page", filtered_queries),
        ("page 150", later_queries),
        ("e-mail", email_queries),
    ] {
        assert!(n <= 8, "{what} took {n} queries");
    }
}

/// The statements of the members page, as run: recorded from one connection while
/// `members::page` runs (with the binds left out, which SQLite plans as NULL).
pub fn statements_of(
    c: &mut atrium::db::DbConn,
    run: impl FnOnce(&mut atrium::db::DbConn),
) -> Vec<String> {
    use diesel::Connection;
    use diesel::connection::InstrumentationEvent;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    c.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            sink.lock().unwrap().push(query.to_string());
        }
    });
    run(c);
    c.set_instrumentation(|_: InstrumentationEvent<'_>| {});
    seen.lock().unwrap().clone()
}

/// SQLite's `EXPLAIN QUERY PLAN` of `sql`: the `detail` column of each line.
pub fn sqlite_plan(c: &mut atrium::db::DbConn, sql: &str) -> Vec<String> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }
    let plan: Vec<Plan> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
        .load(c)
        .expect("plan");
    plan.into_iter().map(|p| p.detail).collect()
}

/// PostgreSQL's generic plan of `statement` (as Diesel's instrumentation shows it: the SQL,
/// then ` -- binds: [...]`): the plan PostgreSQL keeps for a prepared statement once its
/// generic plan looks no dearer than the custom ones (after five executions), so the plan a
/// pooled connection runs from then on. Prepared under a name of its own, explained with
/// the statement's binds and `plan_cache_mode = force_generic_plan`, then dropped.
pub fn pg_generic_plan(c: &mut atrium::db::DbConn, statement: &str) -> Vec<String> {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let (sql, binds) = statement
        .rsplit_once(" -- binds: ")
        .unwrap_or((statement, "[]"));
    // Diesel's binds are Rust's Debug of each value: strings quoted with `\` escapes,
    // numbers bare. As SQL literals: strings in single quotes, numbers as they are.
    let mut args = Vec::new();
    let mut chars = binds
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .chars();
    let mut bare = String::new();
    while let Some(ch) = chars.next() {
        match ch {
            '"' => {
                let mut text = String::new();
                while let Some(ch) = chars.next() {
                    match ch {
                        '\\' => text.push(chars.next().expect("escaped character")),
                        '"' => break,
                        other => text.push(other),
                    }
                }
                args.push(format!("'{}'", text.replace('\'', "''")));
            }
            ',' => {
                if !bare.trim().is_empty() {
                    args.push(bare.trim().to_string());
                }
                bare.clear();
            }
            other => bare.push(other),
        }
    }
    if !bare.trim().is_empty() {
        args.push(bare.trim().to_string());
    }
    c.batch_execute(&format!(
        "SET plan_cache_mode = force_generic_plan; PREPARE atrium_plan_probe AS {sql}"
    ))
    .expect("prepare");
    let plan: QueryResult<Vec<Line>> = diesel::sql_query(format!(
        "EXPLAIN EXECUTE atrium_plan_probe({})",
        args.join(", ")
    ))
    .load(c);
    c.batch_execute("DEALLOCATE atrium_plan_probe; RESET plan_cache_mode")
        .expect("deallocate");
    plan.expect("plan").into_iter().map(|l| l.line).collect()
}

#[tokio::test]
async fn postgresql_signs_search_keys_as_the_search_does() {
    use diesel::prelude::*;
    if matches!(crate::support::backend(), atrium::settings::Backend::Sqlite) {
        // SQLite's FTS5 trigram table answers the search; it keeps no signature.
        return;
    }
    diesel::define_sql_function!(
        fn atrium_trigram_signature(
            k: diesel::sql_types::Text,
            half: diesel::sql_types::Integer,
        ) -> diesel::sql_types::BigInt
    );
    let app = spawn_app().await;
    let mut c = app.conn();
    let sign = |c: &mut atrium::db::DbConn, text: &str| -> (i64, i64) {
        diesel::select((
            atrium_trigram_signature(text, 0),
            atrium_trigram_signature(text, 1),
        ))
        .get_result(c)
        .expect("signature")
    };
    for text in [
        "",
        "ab",
        "abc",
        "ovela",
        "ada-lovelace ada lovelace ada@example.com",
        "zoe angstrom",
        "ελενη καρρα",
        "名前 なまえ",
        "emoji 🦀 crab",
        "~~~ \\ %_' \"",
    ] {
        assert_eq!(
            sign(&mut c, text),
            atrium::db::search::trigram_signature(text),
            "{text:?}"
        );
    }

    // The signature is generated from the membership's key, so it follows a new name.
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let ana_id = user_id(&app, "ana");
    let r = ana
        .post_form(
            "/profile",
            &[("first_name", "Ελένη"), ("last_name", "Καρρά")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    use atrium::db::schema::{account_memberships as am, pg_member_search as m};
    let search_id: Option<i64> = am::table
        .filter(am::account_id.eq(&acct))
        .filter(am::user_id.eq(&ana_id))
        .select(am::search_id)
        .first(&mut c)
        .expect("membership");
    let (key, lo, hi): (String, i64, i64) = m::table
        .find(search_id.expect("a search id"))
        .select((m::search_key, m::search_sig_lo, m::search_sig_hi))
        .first(&mut c)
        .expect("membership");
    assert!(key.contains("ελενη καρρα"), "{key}");
    assert_eq!((lo, hi), atrium::db::search::trigram_signature(&key));
}

#[tokio::test]
async fn the_members_page_reads_an_index_range_without_sorting() {
    use atrium::members::model::{Cursor, Matched, page};
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Big", "big").await;
    seed_members(&app, &acct, 2_000);

    let sqlite = matches!(crate::support::backend(), atrium::settings::Backend::Sqlite);
    let mut c = app.conn();
    if !sqlite {
        // What autovacuum would do after the seed (and `atrium seed` does): statistics,
        // and the visibility map that lets an index-only scan skip the table. The generic
        // plans below are chosen with both.
        use diesel::connection::SimpleConnection;
        for table in ["account_memberships", "users"] {
            c.batch_execute(&format!("VACUUM ANALYZE {table}"))
                .expect("vacuum");
        }
    }
    // The account as the request context reads it when a page is asked for.
    let account = atrium::accounts::model::find(&mut c, &acct)
        .expect("account")
        .expect("found");
    // A search id inside the search's hits, for a later page of it.
    let first_search = page(&mut c, &account, "user01", &Cursor::First).expect("page");
    assert_eq!(first_search.matched, Matched::Part);
    let handles: Vec<&str> = first_search
        .rows
        .iter()
        .map(|r| r.handle.as_str())
        .collect();
    assert_eq!(handles.len(), 50);
    assert_eq!(
        (handles[0], handles[49]),
        ("user01000", "user01049"),
        "joined order"
    );
    let after_hit = first_search.last_key.clone();
    assert!(after_hit.parse::<i64>().is_ok(), "a search id: {after_hit}");
    for (what, q, cursor) in [
        ("page 1", "", Cursor::First),
        ("a later page", "", Cursor::After("user01500".into())),
        ("a page back", "", Cursor::Before("user01500".into())),
        ("by a handle prefix", "us", Cursor::First),
        (
            "by a handle prefix, later",
            "us",
            Cursor::After("user01100".into()),
        ),
        ("by part", "user01", Cursor::First),
        ("by part, later", "user01", Cursor::After(after_hit.clone())),
        ("by part, back", "user01", Cursor::Before(after_hit.clone())),
        ("by e-mail", "user01234@example.com", Cursor::First),
    ] {
        let mut result = None;
        let statements = statements_of(&mut c, |c| {
            result = Some(page(c, &account, q, &cursor).expect("page"));
        });
        let result = result.unwrap();
        let part = q.chars().count() >= 3;
        match (what, q.is_empty(), part) {
            ("by e-mail", _, _) => assert_eq!(result.total, Some(1)),
            (_, true, _) => assert_eq!(result.total, Some(2_001), "{what}"),
            // A search by part matching more than a page is not counted.
            (_, _, true) => assert_eq!(result.total, None, "{what}"),
            _ => assert_eq!(result.total, Some(2_000), "{what}"),
        }
        assert!(!result.rows.is_empty(), "{what}");
        if part {
            // Seeded in handle order, so joined in it too.
            assert!(
                result.rows.windows(2).all(|w| w[0].handle < w[1].handle),
                "{what}: in the order they joined"
            );
            assert!(result.rows.iter().all(|r| r.handle.contains("user01")));
        } else {
            assert!(
                result.rows.windows(2).all(|w| w[0].handle < w[1].handle),
                "{what}: in handle order"
            );
        }
        match what {
            "by part, later" => assert_eq!(result.rows[0].handle, "user01050"),
            "by part, back" => {
                assert_eq!(result.rows.len(), 49, "user01000 … user01048");
                assert!(!result.has_prev && result.has_next, "{what}");
            }
            _ => {}
        }
        // One statement, the page: the total kept on the account and its number (which
        // places its members in the search index) come with the account the request read;
        // a handle prefix adds its count.
        let expected = if !q.is_empty() && !part { 2 } else { 1 };
        assert_eq!(statements.len(), expected, "{what}: {statements:?}");
        if !sqlite {
            for statement in &statements {
                let plan = pg_generic_plan(&mut c, statement);
                let text = plan.join("\n");
                assert!(
                    !plan
                        .iter()
                        .any(|l| l.trim_start().trim_start_matches("-> ").starts_with("Sort")),
                    "{what}: no sort: {statement}\n{text}"
                );
                assert!(
                    !text.contains("Seq Scan"),
                    "{what}: no scan: {statement}\n{text}"
                );
                if part {
                    // The search (issue #24, point 6) walks the account's range of the
                    // search-id index, which carries the search key, in order, and stops
                    // after a page: not every hit of the trigram index sorted, nor every
                    // membership of the account read by account_id.
                    assert!(
                        plan.iter().any(|l| l.contains("Index Only Scan")
                            && l.contains("using account_memberships_search_id ")),
                        "{what}: the search-id index, walked: {statement}\n{text}"
                    );
                    assert!(
                        !text.contains("Bitmap") && !text.contains("account_memberships_account "),
                        "{what}: no bitmap, no read by account: {statement}\n{text}"
                    );
                    // Each entry is tested on its trigram signature before its text
                    // (migration 000031): the filter is one CASE, the signature first.
                    let filter = plan
                        .iter()
                        .find(|l| l.trim_start().starts_with("Filter:"))
                        .map(|l| l.trim_start())
                        .unwrap_or_default();
                    assert!(
                        filter.starts_with("Filter: CASE WHEN (((search_sig_lo & ")
                            && filter.contains("THEN (strpos(search_key, ")
                            && !filter.contains("~~"),
                        "{what}: the signature, then the text: {statement}\n{text}"
                    );
                } else {
                    assert!(
                        text.contains("using account_memberships_account_handle "),
                        "{what}: a range of the index (account_id, handle): {statement}\n{text}"
                    );
                }
            }
            continue;
        }
        for sql in statements {
            let plan = sqlite_plan(&mut c, &sql);
            assert!(
                !plan.iter().any(|d| d.contains("TEMP B-TREE")),
                "{what}: no sort: {sql}\n{plan:#?}"
            );
            if part {
                // The search (issue #24, point 6) asks the FTS5 trigram index for its
                // phrase within the account's range of rowids, in rowid order, stopping
                // after a page (SQLite reports that as a "scan" of the virtual table by its
                // MATCH index, M, with rowid bounds > and <), then reads those memberships
                // by their search id.
                assert!(
                    plan.iter()
                        .any(|d| d.starts_with("SCAN members_search VIRTUAL TABLE INDEX")
                            && d.contains(":M")
                            && d.contains('>')
                            && d.contains('<')),
                    "{what}: the per-account search index: {sql}\n{plan:#?}"
                );
                assert!(
                    plan.iter()
                        .any(|d| d.starts_with("SEARCH account_memberships")
                            && d.contains("account_memberships_search_id")),
                    "{what}: memberships by search id: {sql}\n{plan:#?}"
                );
                assert!(
                    !plan.iter().any(|d| d.starts_with("SCAN")
                        && !d.starts_with("SCAN members_search VIRTUAL TABLE INDEX")),
                    "{what}: no scan: {sql}\n{plan:#?}"
                );
                continue;
            }
            let index = if sql.contains("ORDER BY") {
                "account_memberships_account_handle"
            } else {
                "INDEX"
            };
            assert!(
                plan.iter()
                    .any(|d| d.contains(index) && d.contains("(account_id=?")),
                "{what}: a range of an index on the account's memberships: {sql}\n{plan:#?}"
            );
            assert!(
                !plan.iter().any(|d| d.starts_with("SCAN")),
                "{what}: no scan: {sql}\n{plan:#?}"
            );
        }
    }
}

#[tokio::test]
async fn next_and_previous_walk_the_members_by_handle() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Walk", "walk").await;
    seed_members(&app, &acct, 120);
    let handles = |text: &str| -> Vec<String> {
        let body = &text[text.find("<tbody").unwrap()..text.find("</tbody>").unwrap()];
        body.split("<td class=\"mono\">")
            .skip(1)
            .map(|s| s.split('<').next().unwrap().to_string())
            .collect()
    };
    let link = |text: &str, rel: &str| -> Option<String> {
        let at = text.find(&format!("rel=\"{rel}\""))?;
        let start = text[..at].rfind("href=\"")? + 6;
        let end = start + text[start..].find('"')?;
        Some(text[start..end].replace("&amp;", "&"))
    };
    // Forward: 121 members (120 and ana) in three pages, each handle once, in order.
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut path = format!("/account/{acct}/members");
    loop {
        let r = ana.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        seen.extend(handles(&r.text));
        pages.push(path.clone());
        match link(&r.text, "next") {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert_eq!(seen.len(), 121);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "in handle order, each once");
    // Back from the last page: the middle page again, then the first.
    let last = ana.get(&pages[2]).await;
    let prev = link(&last.text, "prev").expect("Previous on the last page");
    let middle = ana.get(&prev).await;
    assert_eq!(handles(&middle.text), seen[50..100].to_vec());
    let prev = link(&middle.text, "prev").expect("Previous on the middle page");
    let first = ana.get(&prev).await;
    assert_eq!(handles(&first.text), seen[..50].to_vec());
    assert!(
        link(&first.text, "prev").is_none(),
        "nothing before the first page"
    );
    // The filter pages too, and keeps itself in the links.
    let r = ana.get(&format!("/account/{acct}/members?q=user000")).await;
    assert!(
        r.text
            .contains("More than 50 members matching “user000”, in the order they joined"),
        "user00000–user00099"
    );
    let next = link(&r.text, "next").expect("Next");
    assert!(next.contains("q=user000"), "{next}");
    let r = ana.get(&next).await;
    assert_eq!(handles(&r.text).len(), 50);
    assert!(link(&r.text, "next").is_none());
    // NUL is in no handle or address (and PostgreSQL refuses it): no match, page 1.
    let r = ana.get(&format!("/account/{acct}/members?q=a%00b")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("0 members matching"));
    let r = ana
        .get(&format!("/account/{acct}/members?after=a%00b"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(handles(&r.text), seen[..50].to_vec());
}

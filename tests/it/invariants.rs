//! The invariant checker itself (SECURITY.md §3.1; `support/invariants.rs`): it finds
//! nothing in data the application wrote, and it reports each kind of damage when the
//! data is broken on purpose. Every other test runs it when it ends.

use crate::support::text;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use reqwest::StatusCode;

use crate::api_support::{VIEWER_ROLE, bot, grant, grant_bot};
use crate::members::{PW, add_member, create_org, user_id};
use crate::support::invariants;
use crate::support::{TestApp, spawn_app};
use crate::workspaces::create_ws;

/// The id of the workspace a dashboard path names.
fn ws_of(dashboard: &str) -> String {
    dashboard
        .split('/')
        .nth(4)
        .expect("workspace id")
        .to_string()
}

struct World {
    acme: String,
    personal: String,
    prod: String,
    elsewhere: String,
    col: String,
    sa: String,
    invitation: String,
    team: String,
}

/// Team `Data` of acme (Bo in it) with Runner on `prod`, made by Ana through the operations.
fn team_world(app: &TestApp, acme: &str, prod: &str) -> String {
    use atrium::teams::ops;
    let mut c = app.conn();
    let ana = atrium::users::model::find(&mut c, &user_id(app, "ana"))
        .expect("read")
        .expect("ana");
    let who = ops::Who::user(&ana, "127.0.0.1".into());
    let team = ops::create(&mut c, &who, acme, "Data", "").expect("team");
    ops::add_members(&mut c, &who, acme, &team.id, &[user_id(app, "bo")]).expect("bo joins");
    ops::grant(
        &mut c,
        &who,
        acme,
        prod,
        &team.id,
        crate::api_support::RUNNER_ROLE,
    )
    .expect("team access");
    team.id
}

/// Ana owns `acme` (workspace `prod`); Bo is a Member; Col is a Collaborator with Viewer on
/// `prod`; a service account has Viewer on `prod`; bob@example.com is invited. Ana's
/// personal account has a workspace `side`.
async fn world(app: &TestApp) -> World {
    let ana = app.signup("ana@example.com", "ana", PW).await;
    app.signup("bo@example.com", "bo", PW).await;
    app.signup("col@example.com", "col", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    let prod = ws_of(&create_ws(&ana, &acme, "Prod", "prod").await);
    let personal = text(app, "SELECT id AS t FROM accounts WHERE handle = 'ana'");
    let elsewhere = ws_of(&create_ws(&ana, &personal, "Side", "side").await);
    add_member(app, &acme, "bo", "member");
    add_member(app, &acme, "col", "collaborator");
    grant(app, &prod, "col", VIEWER_ROLE);
    let (sa, _key) = bot(app, &acme, "deployer");
    grant_bot(app, &prod, &sa, VIEWER_ROLE);
    let r = ana
        .post_form(
            &format!("/account/{acme}/invitations"),
            &[("emails", "bob@example.com"), ("role", "member")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "invite: {}", r.text);
    let invitation = text(
        app,
        "SELECT id AS t FROM invitations WHERE email_normalized = 'bob@example.com'",
    );
    let team = team_world(app, &acme, &prod);
    World {
        team,
        acme,
        personal,
        prod,
        elsewhere,
        col: user_id(app, "col"),
        sa,
        invitation,
    }
}

/// Breaks the data with `sql` inside a transaction (foreign keys not enforced in it), runs
/// the checker there, and rolls back; returns what the checker found.
fn found_after(app: &TestApp, sql: &str) -> Vec<String> {
    let mut pooled = app.conn();
    let conn: &mut atrium::db::DbConn = &mut pooled;
    let mut found = Vec::new();
    let _ = conn.transaction::<(), diesel::result::Error, _>(|c| {
        match c {
            atrium::db::DbConn::Sqlite(_) => c.batch_execute("PRAGMA defer_foreign_keys = ON")?,
            atrium::db::DbConn::Postgres(_) => {
                c.batch_execute("SET LOCAL session_replication_role = replica")?
            }
        }
        c.batch_execute(sql)?;
        found = invariants::violations(c);
        Err(diesel::result::Error::RollbackTransaction)
    });
    found
}

#[tokio::test]
async fn the_checker_reports_each_kind_of_broken_data() {
    let app = spawn_app().await;
    let w = world(&app).await;
    assert_eq!(app.invariant_violations(), Vec::<String>::new());

    let (acme, personal, prod, elsewhere, col, sa, inv) = (
        &w.acme,
        &w.personal,
        &w.prod,
        &w.elsewhere,
        &w.col,
        &w.sa,
        &w.invitation,
    );
    let t = "'2026-01-01 00:00:00'";
    let team = &w.team;
    let bo = user_id(&app, "bo");
    // bo has two-factor authentication on, with ten recovery codes.
    {
        use atrium::two_factor::model as tf;
        let mut c = app.conn();
        let sealed = atrium::sealed::Sealer::new(b"test").seal("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
        tf::put_pending(&mut c, &bo, &sealed).expect("pending");
        tf::confirm(&mut c, &bo, 1).expect("confirmed");
        let digests: Vec<String> = (0..10)
            .map(|i| atrium::authn::digest(&format!("code{i}")))
            .collect();
        tf::replace_recovery_codes(&mut c, &bo, &digests).expect("codes");
    }
    assert_eq!(app.invariant_violations(), Vec::<String>::new());
    let cases: Vec<(&str, String)> = vec![
        (
            "recovery code of a user without confirmed two-factor authentication",
            "UPDATE user_totp SET confirmed_at = NULL, last_used_step = NULL".to_string(),
        ),
        (
            "confirmed two-factor authentication without exactly 10 recovery codes",
            "DELETE FROM recovery_codes WHERE id IN (SELECT MIN(id) FROM recovery_codes)"
                .to_string(),
        ),
        (
            "two-factor step used while set-up is pending",
            "UPDATE user_totp SET confirmed_at = NULL".to_string(),
        ),
        (
            "recovery code used before it was made",
            format!("UPDATE recovery_codes SET used_at = {t}, created_at = '2026-02-01 00:00:00'"),
        ),
        (
            "two-factor secret stored unsealed",
            "UPDATE user_totp SET secret_sealed = 'JBSWY3DPEHPK3PXP'".to_string(),
        ),
        (
            "team member who is not a member of the team's account",
            format!(
                "DELETE FROM account_memberships WHERE account_id = '{acme}' AND user_id = '{bo}'"
            ),
        ),
        (
            "team member who is not a member of the team's account",
            format!(
                "UPDATE account_memberships SET role = 'collaborator' WHERE account_id = '{acme}' AND user_id = '{bo}'"
            ),
        ),
        (
            "team member whose sort key is not their handle",
            "UPDATE team_members SET handle = 'someone-else'".to_string(),
        ),
        (
            "team name key that is not the lower-cased name",
            "UPDATE teams SET name_normalized = 'DATA'".to_string(),
        ),
        (
            "team access to a workspace of another account",
            format!(
                "UPDATE workspace_team_access SET workspace_id = '{elsewhere}' WHERE team_id = '{team}'"
            ),
        ),
        (
            "team member or team access left by a deleted team",
            // (A DELETE would cascade on SQLite even with deferred keys: point the rows at a
            // team that does not exist instead.)
            format!(
                "UPDATE team_members SET team_id = 'gone' WHERE team_id = '{team}';
                 UPDATE workspace_team_access SET team_id = 'gone' WHERE team_id = '{team}'"
            ),
        ),
        (
            "account without an Owner: organization account acme",
            format!(
                "DELETE FROM account_memberships WHERE account_id = '{acme}' AND role = 'owner'"
            ),
        ),
        (
            "Collaborator without a workspace access in the account",
            format!("DELETE FROM workspace_access WHERE user_id = '{col}'"),
        ),
        (
            "workspace access of a user who is not a member of the workspace's account: prod",
            format!(
                "DELETE FROM account_memberships WHERE user_id = '{col}' AND account_id = '{acme}'"
            ),
        ),
        (
            "workspace access of a service account of another account: prod / deployer",
            format!("UPDATE service_accounts SET account_id = '{personal}' WHERE id = '{sa}'"),
        ),
        (
            "custom role of another account used in a workspace: access",
            format!(
                "INSERT INTO workspace_roles (id, account_id, builtin, name, description, scopes,
                     inherited_role, created_at, updated_at)
                 VALUES ('r-elsewhere', '{personal}', NULL, 'Mine', '', '[]', 'viewer', {t}, {t});
                 UPDATE workspace_access SET role_id = 'r-elsewhere' WHERE user_id = '{col}'"
            ),
        ),
        (
            "custom role of another account used in a workspace: default role of prod",
            format!(
                "INSERT INTO workspace_roles (id, account_id, builtin, name, description, scopes,
                     inherited_role, created_at, updated_at)
                 VALUES ('r-elsewhere', '{personal}', NULL, 'Mine', '', '[]', 'viewer', {t}, {t});
                 UPDATE workspaces SET default_role_id = 'r-elsewhere' WHERE id = '{prod}'"
            ),
        ),
        (
            "workspace role neither built in nor an account's",
            "UPDATE workspace_roles SET builtin = NULL WHERE name = 'Viewer'".to_string(),
        ),
        (
            "workspace of no account",
            format!("UPDATE workspaces SET account_id = 'gone' WHERE id = '{prod}'"),
        ),
        (
            "orphan workspaces.account_id -> accounts: gone",
            format!("UPDATE workspaces SET account_id = 'gone' WHERE id = '{prod}'"),
        ),
        (
            "invitation state inconsistent",
            format!("UPDATE invitations SET status = 'accepted' WHERE id = '{inv}'"),
        ),
        (
            "invitation state inconsistent",
            format!(
                "UPDATE invitations SET responded_at = {t}, accepted_by = '{col}' WHERE id = '{inv}'"
            ),
        ),
        (
            "invitation role does not match its target",
            format!("UPDATE invitations SET role = 'collaborator' WHERE id = '{inv}'"),
        ),
        (
            "pending workspace invitation to a workspace of another account",
            format!(
                "UPDATE invitations SET workspace_id = '{elsewhere}', role = 'collaborator',
                     workspace_role_id = '{VIEWER_ROLE}' WHERE id = '{inv}'"
            ),
        ),
        (
            "invitation without its e-mail",
            format!("DELETE FROM outbox WHERE ref_id = '{inv}'"),
        ),
        (
            "revoked invitation whose e-mail is still waiting",
            format!(
                "UPDATE invitations SET status = 'revoked', responded_at = {t} WHERE id = '{inv}';
                 UPDATE outbox SET status = 'pending' WHERE ref_id = '{inv}'"
            ),
        ),
        (
            "invitation with two e-mails waiting",
            format!(
                "INSERT INTO outbox (id, kind, ref_id, account_id, to_addr, subject, text_body,
                     html_body, status, attempts, next_attempt_at, created_at)
                 VALUES ('o-1', 'invitation', '{inv}', '{acme}', 'bob@example.com', 's', 't',
                     'h', 'pending', 0, {t}, {t}),
                        ('o-2', 'invitation', '{inv}', '{acme}', 'bob@example.com', 's', 't',
                     'h', 'pending', 0, {t}, {t})"
            ),
        ),
        (
            "service account without a key",
            format!("DELETE FROM api_keys WHERE service_account_id = '{sa}'"),
        ),
        (
            "API key of a holder that is gone",
            format!(
                "UPDATE api_keys SET service_account_id = 'gone' WHERE service_account_id = '{sa}'"
            ),
        ),
        (
            "API key prefix does not match its holder",
            format!("UPDATE api_keys SET prefix = 'pnu_' WHERE service_account_id = '{sa}'"),
        ),
        (
            "user without their personal account: bo",
            "UPDATE accounts SET handle = 'bo-moved' WHERE handle = 'bo'".to_string(),
        ),
        (
            "personal account of no user: bo-moved",
            "UPDATE accounts SET handle = 'bo-moved' WHERE handle = 'bo'".to_string(),
        ),
        (
            "organization handle taken by a user: acme",
            "UPDATE users SET handle = 'acme' WHERE handle = 'col'".to_string(),
        ),
        (
            "account whose member count is not its number of members: acme: 4",
            format!("UPDATE accounts SET member_count = member_count + 1 WHERE id = '{acme}'"),
        ),
        (
            "workspace whose member count is not its number of user accesses: prod: 0",
            format!("UPDATE workspaces SET user_access_count = 0 WHERE id = '{prod}'"),
        ),
        (
            "workspace whose service-account count is not its number of service-account accesses: prod: 7",
            format!("UPDATE workspaces SET bot_access_count = 7 WHERE id = '{prod}'"),
        ),
        (
            "handle not in lower case: workspace Prod",
            format!("UPDATE workspaces SET handle = 'Prod' WHERE id = '{prod}'"),
        ),
        (
            "transfer to its own account",
            format!(
                "INSERT INTO workspace_transfers (id, workspace_id, workspace_name,
                     workspace_handle, source_account_id, target_account_id, status,
                     requested_by_name, created_at, expires_at)
                 VALUES ('t-1', '{prod}', 'Prod', 'prod', '{acme}', '{acme}', 'pending', 'Ana',
                     {t}, {t})"
            ),
        ),
        (
            "audit event whose actor kind and id disagree",
            "UPDATE audit_events SET actor_id = NULL WHERE actor_kind = 'user'".to_string(),
        ),
        (
            "audit event not named atrium.<resource>.<action>",
            "UPDATE audit_events SET action = 'created'".to_string(),
        ),
        (
            "audit event of a workspace but of no account",
            format!("UPDATE audit_events SET account_id = NULL WHERE workspace_id = '{prod}'"),
        ),
        (
            "e-mailed code without its e-mail",
            "DELETE FROM outbox WHERE kind = 'verify_email'".to_string(),
        ),
        (
            "e-mailed code used before it was made",
            format!("UPDATE email_tokens SET used_at = {t}, created_at = '2026-02-01 00:00:00'"),
        ),
        (
            "account requiring SSO without an identity provider",
            format!("UPDATE accounts SET sso_required = TRUE WHERE id = '{acme}'"),
        ),
        (
            "SSO provider giving a role other than Admin, Member or Collaborator",
            format!(
                "INSERT INTO sso_integrations (id, account_id, issuer, client_id, client_secret_sealed, client_secret_mask, role, created_at, updated_at) \
                 VALUES ('i1', '{acme}', 'http://127.0.0.1:1', 'c', 's', 'm', 'owner', {t}, {t})"
            ),
        ),
        (
            "SSO domain proved with a live code, or waiting without one",
            format!(
                "INSERT INTO sso_domains (id, account_id, domain, verify_email, code_digest, expires_at, verified_at, created_at) \
                 VALUES ('d1', '{acme}', 'x.test', 'a@x.test', 'abc', {t}, {t}, {t})"
            ),
        ),
        (
            "SSO domain whose proof went to an address outside it",
            format!(
                "INSERT INTO sso_domains (id, account_id, domain, verify_email, code_digest, expires_at, verified_at, created_at) \
                 VALUES ('d2', '{acme}', 'y.test', 'a@z.test', NULL, NULL, {t}, {t})"
            ),
        ),
        (
            "SSO domain that is not lower case",
            format!(
                "INSERT INTO sso_domains (id, account_id, domain, verify_email, code_digest, expires_at, verified_at, created_at) \
                 VALUES ('d3', '{acme}', 'Y.test', 'a@Y.test', NULL, NULL, {t}, {t})"
            ),
        ),
        (
            "user whose search key is stale: bo",
            "UPDATE users SET first_name = 'Zed' WHERE handle = 'bo'".to_string(),
        ),
        (
            "session whose device is longer than 300 characters",
            format!("UPDATE sessions SET user_agent = '{}'", "x".repeat(301)),
        ),
    ];
    let mut missed = Vec::new();
    for (expected, sql) in &cases {
        let found = found_after(&app, sql);
        if !found.iter().any(|f| f.starts_with(expected)) {
            missed.push(format!(
                "expected `{expected}…` after\n    {sql}\n  found {found:?}"
            ));
        }
    }
    assert!(missed.is_empty(), "\n{}\n", missed.join("\n"));
    // The SQLite pragmas are part of the check there.
    if matches!(crate::support::backend(), atrium::settings::Backend::Sqlite) {
        let found = found_after(
            &app,
            "DELETE FROM members_search WHERE rowid IN (SELECT MIN(rowid) FROM members_search)",
        );
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("membership missing from the search index")),
            "{found:?}"
        );
        let found = found_after(
            &app,
            &format!("UPDATE workspace_access SET user_id = 'gone' WHERE user_id = '{col}'"),
        );
        assert!(
            found
                .iter()
                .any(|f| f.starts_with("foreign_key_check: workspace_access row")),
            "{found:?}"
        );
    }
    // Every change above was rolled back: the data is sound again (and the end-of-test
    // check runs on it).
    assert_eq!(app.invariant_violations(), Vec::<String>::new());
}

#[tokio::test]
async fn a_test_that_leaves_broken_data_fails_unless_it_opts_out() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acme = create_org(&ana, "Acme", "acme").await;
    // The last Owner goes, behind the application's back.
    app.conn()
        .batch_execute(&format!(
            "DELETE FROM account_memberships WHERE account_id = '{acme}';
             UPDATE accounts SET member_count = 0 WHERE id = '{acme}'"
        ))
        .expect("delete the owner");
    assert_eq!(
        app.invariant_violations(),
        vec!["account without an Owner: organization account acme".to_string()]
    );
    // This test broke the data on purpose: without this line its end-of-test check fails.
    app.skip_invariants();
}

/// The totals kept by the database (`accounts.member_count`, `workspaces.user_access_count`
/// and `bot_access_count`) follow statements that change several rows at once: moves to
/// another workspace, role changes (no change in the totals) and a removal of two members
/// in one `DELETE`. On PostgreSQL each statement updates each total once, from its
/// transition tables (migration `…000016_counts_per_statement`).
#[tokio::test]
async fn totals_follow_statements_that_change_several_rows_at_once() {
    let app = spawn_app().await;
    let w = world(&app).await;
    app.signup("dee@example.com", "dee", PW).await;
    add_member(&app, &w.acme, "dee", "member");
    let staging = "00000000-0000-4000-8000-00000000beef";
    let total = |c: &mut atrium::db::DbConn, sql: &str| -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(sql).get_result::<N>(c).expect("total").n
    };
    let mut pooled = app.conn();
    let conn: &mut atrium::db::DbConn = &mut pooled;
    let _ = conn.transaction::<(), diesel::result::Error, _>(|c| {
        let users_on = |ws: &str| {
            format!("SELECT user_access_count AS n FROM workspaces WHERE id = '{ws}'")
        };
        let bots_on = |ws: &str| {
            format!("SELECT bot_access_count AS n FROM workspaces WHERE id = '{ws}'")
        };
        let (users, bots) = (total(c, &users_on(&w.prod)), total(c, &bots_on(&w.prod)));
        assert_eq!((users, bots), (2, 1), "Ana's and Col's accesses; the service account's");
        c.batch_execute(&format!(
            "INSERT INTO workspaces (id, account_id, name, handle, description, created_at,
                 updated_at)
                 VALUES ('{staging}', '{acme}', 'Staging', 'staging', '', CURRENT_TIMESTAMP,
                 CURRENT_TIMESTAMP);
             UPDATE workspace_access SET workspace_id = '{staging}' WHERE workspace_id = '{prod}';
             UPDATE workspace_bot_access SET workspace_id = '{staging}' WHERE workspace_id = '{prod}';
             UPDATE account_memberships SET role = 'admin'
                 WHERE account_id = '{acme}' AND role = 'member';",
            prod = w.prod,
            acme = w.acme,
        ))?;
        let acme_members = format!("SELECT member_count AS n FROM accounts WHERE id = '{}'", w.acme);
        assert_eq!(total(c, &acme_members), 4, "ana, bo, col, dee");
        assert_eq!(total(c, &users_on(&w.prod)), 0);
        assert_eq!(total(c, &bots_on(&w.prod)), 0);
        assert_eq!(total(c, &users_on(staging)), users, "both accesses moved");
        assert_eq!(total(c, &bots_on(staging)), bots, "the service account's access moved");
        // As removing a member does (`members::ops::remove_membership`): their team
        // memberships in the account go with them.
        c.batch_execute(&format!(
            "DELETE FROM team_members WHERE user_id IN (SELECT user_id FROM account_memberships
                 WHERE account_id = '{acme}' AND role = 'admin');
             DELETE FROM account_memberships WHERE account_id = '{acme}' AND role = 'admin'",
            acme = w.acme
        ))?;
        assert_eq!(total(c, &acme_members), 2, "bo and dee removed in one statement");
        assert_eq!(invariants::violations(c), Vec::<String>::new());
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert_eq!(app.invariant_violations(), Vec::<String>::new());
}

//! Faults (SECURITY.md §3.2): the database pool exhausted, a panic inside a transaction,
//! and — with the `failpoints` feature — the real binary killed with SIGKILL inside each
//! multi-step change (transfer, delete, invite, accept) and while the outbox holds a
//! message, then restarted on the same database.
//!
//! SMTP refusing, stalling and coming back are in `mail.rs` and `invitations.rs`;
//! PostgreSQL restarted under load is `postgres_restart.rs`.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::{Client, TestApp, spawn_app_with};

const PW: &str = "correct horse battery";

async fn login_page_client(app: &TestApp) -> Client {
    app.signup("ana@example.com", "ana", PW).await
}

/// Every connection of the pool held elsewhere: a request waits the pool timeout, then
/// answers 503 with `Retry-After` (a page, a signed-in page, the API), and once the
/// connections are back the same requests succeed.
#[tokio::test]
async fn an_exhausted_pool_answers_503_with_retry_after_then_recovers() {
    let app = spawn_app_with(|s| {
        s.db_pool_timeout = Duration::from_millis(300);
        s.mail_poll = Duration::from_secs(3600);
    })
    .await;
    let ana = login_page_client(&app).await;
    let key = format!("pnu_{}", "a".repeat(36));
    let bearer = format!("Bearer {key}");
    let held: Vec<_> = (0..app.settings.db_pool_size)
        .map(|_| {
            app.pool
                .get_timeout(Duration::from_secs(10))
                .expect("take a connection")
        })
        .collect();
    let page = ana.get("/onboarding").await;
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "signed-in page: {}",
        page.text
    );
    assert_eq!(page.header("retry-after").as_deref(), Some("1"));
    // The log-in page needs no database since anonymous sessions are not stored (#19):
    // it is served; its form's post needs one and answers 503.
    let visitor = app.new_client();
    let anonymous = visitor.get("/auth/login").await;
    assert_eq!(anonymous.status, StatusCode::OK);
    let post = visitor
        .post_form("/auth/login", &[("login", "ana"), ("password", "x")])
        .await;
    assert_eq!(post.status, StatusCode::SERVICE_UNAVAILABLE);
    let api = app
        .new_client()
        .get_with("/api/me/", &[("authorization", &bearer)])
        .await;
    assert_eq!(api.status, StatusCode::SERVICE_UNAVAILABLE, "{}", api.text);
    assert!(api.header("retry-after").is_some());
    assert!(api.text.contains("detail"), "JSON: {}", api.text);
    drop(held);
    assert_eq!(ana.get("/onboarding").await.status, StatusCode::OK);
    let api = app
        .new_client()
        .get_with("/api/me/", &[("authorization", &bearer)])
        .await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
}

/// A panic inside a write transaction on a pooled connection: the half-done change is
/// rolled back, the connection is not handed out again inside the open transaction, and
/// the next hundred requests — reads and writes — all succeed.
#[tokio::test]
async fn a_panic_inside_a_transaction_leaves_the_pool_usable() {
    use diesel::prelude::*;
    let app = spawn_app_with(|s| s.mail_poll = Duration::from_secs(3600)).await;
    let ana = login_page_client(&app).await;
    let acct = crate::members::create_org(&ana, "Acme", "acme").await;
    for round in 0..app.settings.db_pool_size {
        let mut conn = app.conn();
        let id = acct.clone();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _: Result<(), diesel::result::Error> = atrium::db::write_tx(&mut conn, |c| {
                diesel::update(atrium::db::schema::accounts::table.find(&id))
                    .set(atrium::db::schema::accounts::name.eq("half-written"))
                    .execute(c)?;
                panic!("a bug inside the transaction (round {round})");
            });
        }));
        assert!(result.is_err(), "the closure panicked");
        drop(conn);
    }
    for i in 0..100 {
        let settings = format!("/account/{acct}/settings");
        let page = ana.get(&settings).await;
        assert_eq!(page.status, StatusCode::OK, "request {i}");
        assert!(!page.text.contains("half-written"), "request {i}");
        if i % 10 == 0 {
            let r = ana
                .post_form(
                    &settings,
                    &[
                        ("name", &format!("Acme {i}")),
                        ("handle", "acme"),
                        ("workspace_limit", ""),
                        ("audit_retention_days", "365"),
                    ],
                )
                .await;
            assert!(
                r.status == StatusCode::SEE_OTHER || r.status == StatusCode::OK,
                "write {i}: {} {}",
                r.status,
                r.text
            );
        }
    }
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM accounts WHERE id = '{acct}' AND name = 'Acme 90'"
        )),
        1,
        "the writes after the panics were committed"
    );
}

#[cfg(feature = "failpoints")]
mod killed {
    //! SIGKILL at every fail point of `atrium::faults::POINTS`, then a restart on the same
    //! database: the change is entirely absent (it had not committed), the invariants
    //! hold, and the same change then succeeds — nothing is left locked or half-written.

    use std::time::Duration;

    use diesel::prelude::*;
    use reqwest::StatusCode;

    use crate::support::process::{Server, free_port};
    use crate::support::smtp::SmtpServer;
    use crate::support::{Client, TestDb, invariants};

    use super::PW;

    struct Env {
        dir: tempfile::TempDir,
        db: TestDb,
        smtp: SmtpServer,
        port: u16,
    }

    impl Env {
        async fn new() -> Env {
            let dir = tempfile::tempdir().expect("tempdir");
            let db = TestDb::create(dir.path());
            Env {
                dir,
                db,
                smtp: SmtpServer::start().await,
                port: free_port(),
            }
        }

        async fn start(&self, fail_point: Option<&str>) -> Server {
            let mut env = vec![
                ("ATRIUM_DATA_DIR", self.dir.path().display().to_string()),
                ("ATRIUM_DATABASE_URL", self.db.url.clone()),
                ("ATRIUM_SMTP_URL", self.smtp.url()),
                ("ATRIUM_MAIL_POLL_MS", "100".into()),
                ("ATRIUM_MAIL_RETRY_BASE_MS", "300".into()),
                ("ATRIUM_MAIL_CLAIM_MS", "1500".into()),
            ];
            if let Some(p) = fail_point {
                env.push(("FAILPOINTS", format!("{p}=sleep(60000)")));
            }
            Server::start_on(self.port, &env).await
        }

        fn pool(&self) -> atrium::db::Pool {
            atrium::db::connect(crate::support::backend(), &self.db.url, 1).expect("pool")
        }

        /// The rows a change may touch, one line each, in a stable order.
        fn snapshot(&self) -> Vec<String> {
            #[derive(QueryableByName)]
            struct Line {
                #[diesel(sql_type = diesel::sql_types::Text)]
                v: String,
            }
            let queries = [
                "SELECT 'workspace ' || id || ' ' || account_id || ' ' || handle AS v FROM workspaces",
                "SELECT 'access ' || workspace_id || ' ' || user_id || ' ' || role_id AS v FROM workspace_access",
                "SELECT 'bot access ' || workspace_id || ' ' || service_account_id AS v FROM workspace_bot_access",
                "SELECT 'member ' || account_id || ' ' || user_id || ' ' || role AS v FROM account_memberships",
                "SELECT 'invitation ' || id || ' ' || status AS v FROM invitations",
                "SELECT 'outbox ' || id || ' ' || status AS v FROM outbox",
                "SELECT 'transfer ' || id || ' ' || status AS v FROM workspace_transfers",
                "SELECT 'audit ' || action || ' ' || COALESCE(account_id, '-') AS v FROM audit_events",
            ];
            let pool = self.pool();
            let mut c = pool.get().expect("connection");
            let mut lines = Vec::new();
            for q in queries {
                let mut rows: Vec<String> = diesel::sql_query(q)
                    .load::<Line>(&mut c)
                    .unwrap_or_else(|e| panic!("{q}: {e}"))
                    .into_iter()
                    .map(|l| l.v)
                    .collect();
                rows.sort();
                lines.extend(rows);
            }
            lines
        }

        fn assert_invariants(&self, when: &str) {
            let pool = self.pool();
            let mut c = pool.get().expect("connection");
            let found = invariants::check(&mut c);
            assert!(found.is_empty(), "{when}: {}", found.join("\n  "));
        }

        fn count(&self, sql: &str) -> i64 {
            #[derive(QueryableByName)]
            struct N {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let pool = self.pool();
            let mut c = pool.get().expect("connection");
            diesel::sql_query(sql)
                .get_result::<N>(&mut c)
                .expect("count")
                .n
        }

        fn mails_to(&self, to: &str) -> usize {
            self.smtp
                .messages()
                .iter()
                .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
                .count()
        }

        async fn wait_for_mail_to(&self, to: &str) -> String {
            for _ in 0..200 {
                if let Some(m) = self
                    .smtp
                    .messages()
                    .iter()
                    .rev()
                    // The invitation, not the verification e-mail of a sign-up.
                    .find(|m| {
                        m.to.iter().any(|t| t.eq_ignore_ascii_case(to))
                            && m.find_link("/invitations/").is_some()
                    })
                {
                    let link = m.find_link("/invitations/").expect("link in the mail");
                    let path = link.find("/invitations/").map(|i| &link[i..]);
                    return path.expect("invitation path").to_string();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("no mail to {to}");
        }
    }

    async fn signup(base: &str, handle: &str) -> Client {
        crate::support::sign_up(base, &format!("{handle}@example.com"), handle, PW).await
    }

    /// What is set up before the change that gets killed.
    #[derive(Clone)]
    struct World {
        ana: Client,
        cy: Client,
        acme: String,
        beta: String,
        dash: String,
        ws: String,
        /// cy's invitation to Acme: (id, code).
        invitation: (String, String),
    }

    async fn world(env: &Env, base: &str) -> World {
        let ana = signup(base, "ana").await;
        let cy = signup(base, "cy").await;
        let acme = crate::members::create_org(&ana, "Acme", "acme").await;
        let beta = crate::members::create_org(&ana, "Beta", "beta").await;
        let dash = crate::workspaces::create_ws(&ana, &acme, "Production", "prod").await;
        let ws = dash.split('/').nth(4).expect("workspace id").to_string();
        let r = ana
            .post_form(
                &format!("/account/{acme}/invitations"),
                &[("emails", "cy@example.com"), ("role", "member")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let path = env.wait_for_mail_to("cy@example.com").await;
        let id = path
            .trim_start_matches("/invitations/")
            .split('?')
            .next()
            .unwrap_or_default()
            .to_string();
        let code = path.split("code=").nth(1).unwrap_or_default().to_string();
        World {
            ana,
            cy,
            acme,
            beta,
            dash,
            ws,
            invitation: (id, code),
        }
    }

    #[derive(Clone, Copy, Debug)]
    enum Change {
        Transfer,
        Delete,
        Invite,
        Accept,
    }

    fn change_of(point: &str) -> Change {
        match point.split('_').next() {
            Some("transfer") => Change::Transfer,
            Some("delete") => Change::Delete,
            Some("invite") => Change::Invite,
            Some("accept") => Change::Accept,
            _ => panic!("no scenario for the fail point {point}"),
        }
    }

    /// Sends the change; the answer is a `Page` when the process lives to answer.
    async fn send(w: &World, change: Change) -> crate::support::Page {
        match change {
            Change::Transfer => {
                w.ana
                    .post_form(
                        &w.dash.replace("/dashboard", "/settings/transfer"),
                        &[("target", w.beta.as_str()), ("new_handle", "")],
                    )
                    .await
            }
            Change::Delete => {
                w.ana
                    .post_form(
                        &w.dash.replace("/dashboard", "/delete"),
                        &[("confirm_handle", "prod")],
                    )
                    .await
            }
            Change::Invite => {
                w.ana
                    .post_form(
                        &format!("/account/{}/invitations", w.acme),
                        &[("emails", "dee@example.com"), ("role", "member")],
                    )
                    .await
            }
            Change::Accept => {
                let (id, code) = &w.invitation;
                w.cy.post_form(&format!("/invitations/{id}/accept"), &[("code", code)])
                    .await
            }
        }
    }

    /// The change is entirely there (after the redo).
    fn assert_done(env: &Env, w: &World, change: Change) {
        let n = |sql: String| env.count(&sql);
        match change {
            Change::Transfer => assert_eq!(
                n(format!(
                    "SELECT COUNT(*) AS n FROM workspaces WHERE id = '{}' AND account_id = '{}'",
                    w.ws, w.beta
                )),
                1
            ),
            Change::Delete => assert_eq!(
                n(format!(
                    "SELECT COUNT(*) AS n FROM workspaces WHERE id = '{}'",
                    w.ws
                )),
                0
            ),
            Change::Invite => assert_eq!(
                n("SELECT COUNT(*) AS n FROM invitations WHERE email = 'dee@example.com' AND status = 'pending'".into()),
                1
            ),
            Change::Accept => assert_eq!(
                n(format!(
                    "SELECT COUNT(*) AS n FROM account_memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = '{}' AND u.handle = 'cy'",
                    w.acme
                )),
                1
            ),
        }
    }

    async fn killed_at(point: &'static str) {
        let env = Env::new().await;
        let change = change_of(point);
        // Set up without the fail point (the set-up itself invites), then restart with it:
        // sessions live in the database and survive restarts.
        let server = env.start(None).await;
        let w = world(&env, &server.base).await;
        drop(server);
        let server = env.start(Some(point)).await;
        let before = env.snapshot();
        let pending = {
            let w = w.clone();
            // The process dies while this request waits at the fail point.
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(30), send(&w, change)).await;
            })
        };
        server
            .wait_for_line(
                &format!("fail point {point} reached"),
                Duration::from_secs(20),
            )
            .await;
        server.kill();
        let _ = pending.await;

        let server = env.start(None).await;
        assert_eq!(
            env.snapshot(),
            before,
            "{point}: after SIGKILL and a restart the change must be entirely absent"
        );
        env.assert_invariants(point);
        // The session (in the database) outlives the process, and the change goes through.
        let r = send(&w, change).await;
        assert!(
            r.status == StatusCode::SEE_OTHER || r.status == StatusCode::OK,
            "{point}: the change after the restart: {} {}",
            r.status,
            r.text
        );
        assert_done(&env, &w, change);
        env.assert_invariants(point);
        if let Change::Invite = change {
            env.wait_for_mail_to("dee@example.com").await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert_eq!(
                env.mails_to("dee@example.com"),
                1,
                "{point}: one invitation mail"
            );
        }
        drop(server);
    }

    #[tokio::test]
    async fn killed_after_a_transfer_removed_the_accesses() {
        killed_at("transfer_after_accesses").await;
    }

    #[tokio::test]
    async fn killed_after_a_transfer_moved_the_workspace() {
        killed_at("transfer_after_move").await;
    }

    #[tokio::test]
    async fn killed_before_a_transfer_commits() {
        killed_at("transfer_before_commit").await;
    }

    #[tokio::test]
    async fn killed_after_a_delete_removed_the_rows() {
        killed_at("delete_after_rows").await;
    }

    #[tokio::test]
    async fn killed_before_a_delete_commits() {
        killed_at("delete_before_commit").await;
    }

    #[tokio::test]
    async fn killed_after_an_invitation_row_was_written() {
        killed_at("invite_after_row").await;
    }

    #[tokio::test]
    async fn killed_before_an_invitation_commits() {
        killed_at("invite_before_commit").await;
    }

    #[tokio::test]
    async fn killed_after_an_acceptance_answered_the_invitation() {
        killed_at("accept_after_respond").await;
    }

    #[tokio::test]
    async fn killed_before_an_acceptance_commits() {
        killed_at("accept_before_commit").await;
    }

    /// Killed while the outbox sender holds a claimed message (after the claim, before the
    /// SMTP conversation): after the restart the claim runs out (`ATRIUM_MAIL_CLAIM_MS`)
    /// and the message is delivered exactly once.
    #[tokio::test]
    async fn killed_while_the_outbox_holds_a_message_it_is_sent_once_after_the_restart() {
        let env = Env::new().await;
        let server = env.start(None).await;
        let ana = signup(&server.base, "ana").await;
        let acme = crate::members::create_org(&ana, "Acme", "acme").await;
        // The sign-up's verification e-mail goes out first: the fail point is for the
        // invitation's.
        for _ in 0..200 {
            if env.mails_to("ana@example.com") > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(env.mails_to("ana@example.com"), 1);
        drop(server);
        let server = env.start(Some("outbox_after_claim")).await;
        let r = ana
            .post_form(
                &format!("/account/{acme}/invitations"),
                &[("emails", "dee@example.com"), ("role", "member")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        server
            .wait_for_line(
                "fail point outbox_after_claim reached",
                Duration::from_secs(20),
            )
            .await;
        server.kill();
        assert_eq!(env.mails_to("dee@example.com"), 0);
        let _server = env.start(None).await;
        env.wait_for_mail_to("dee@example.com").await;
        // Longer than a claim and several polls: nothing is sent twice.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(env.mails_to("dee@example.com"), 1);
        assert_eq!(
            env.count("SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent' AND to_addr = 'dee@example.com'"),
            1
        );
        env.assert_invariants("outbox");
    }

    /// Each fail point has its scenario above.
    #[test]
    fn every_fail_point_has_a_kill_scenario() {
        let source = include_str!("faults.rs");
        for p in atrium::faults::POINTS {
            assert!(
                source.contains(&format!("killed_at(\"{p}\")")) || *p == "outbox_after_claim",
                "no kill scenario for the fail point {p}"
            );
        }
    }
}

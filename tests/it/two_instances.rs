//! Two real `atrium serve` processes on one database, on two ports, with no proxy in front
//! (issue #9 item 4): sessions, log-out, password change and member removal made on one
//! instance hold on the other at its next request, invitation links made by one are
//! accepted by the other, and the outbox sends each e-mail exactly once with both senders
//! polling the same table.
//!
//! The two processes share nothing but the database and `ATRIUM_SECRET_KEY` (each has its
//! own data directory), which is all README "Several instances" asks for.
//!
//! On SQLite the two processes share one WAL file (the same URL). That is not a deployment
//! the README recommends (SQLite wants one host and one writer process), but it works
//! cleanly, since every read-then-write transaction takes the write lock first and every
//! connection waits on `busy_timeout`, so the test runs on both backends.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;

use crate::binary::{Running, atrium, free_port};
use crate::members::{PW, create_org};
use crate::support::smtp::{ReceivedMail, SmtpServer};
use crate::support::{Client, TestDb, backend, invariants};

/// The same secret for both processes: it signs and encrypts the session cookie and keys
/// the invitation codes.
const SECRET: &str = "two-instances-test-secret-0123456789abcdef0123456789abcdef0123456789";

struct Instance {
    base: String,
    _dir: tempfile::TempDir,
    _process: Running,
}

async fn start(name: &str, db_url: &str, smtp_url: &str) -> Instance {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let child = atrium()
        .arg("serve")
        .env("ATRIUM_DATA_DIR", dir.path())
        .env("ATRIUM_DATABASE_URL", db_url)
        .env("ATRIUM_BIND", format!("127.0.0.1:{port}"))
        .env("ATRIUM_SECRET_KEY", SECRET)
        .env("ATRIUM_SMTP_URL", smtp_url)
        // Only to tell which instance sent a message.
        .env(
            "ATRIUM_MAIL_FROM",
            format!("Atrium {name} <{name}@atrium.localhost>"),
        )
        .env("ATRIUM_MAIL_POLL_MS", "50")
        .env("ATRIUM_MAIL_RETRY_BASE_MS", "200")
        .env("ATRIUM_WORKERS", "2")
        .env("ATRIUM_DB_POOL_SIZE", "4")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn atrium");
    let process = Running(child);
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..400 {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
            && r.status().is_success()
        {
            return Instance {
                base,
                _dir: dir,
                _process: process,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("atrium did not start on port {port}");
}

/// A client of `on` presenting the session that `from` holds (the same browser, another
/// instance: cookies are not bound to a port).
fn same_browser(from: &Client, on: &Instance) -> Client {
    Client::with_session_cookie(&on.base, &from.session_cookie().expect("a session cookie"))
}

async fn log_in(base: &str, login: &str, password: &str) -> Client {
    let c = Client::new(base);
    let r = c
        .post_form("/auth/login", &[("login", login), ("password", password)])
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "log-in on {base}: {}",
        r.text
    );
    c
}

fn mails_to<'a>(mails: &'a [ReceivedMail], to: &str) -> Vec<&'a ReceivedMail> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
        .collect()
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(pool: &atrium::db::Pool, sql: &str) -> i64 {
    use diesel::RunQueryDsl;
    let mut c = pool.get().expect("db connection");
    diesel::sql_query(sql)
        .get_result::<Count>(&mut c)
        .expect("count query")
        .n
}

#[tokio::test]
async fn two_instances_on_one_database_behave_as_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDb::create(dir.path());
    let smtp = SmtpServer::start().await;
    // One after the other: the first applies the migrations.
    let a = start("a", &db.url, &smtp.url()).await;
    let b = start("b", &db.url, &smtp.url()).await;
    let pool = atrium::db::connect(backend(), &db.url, 2).expect("test pool");

    // A session made on A works on B.
    let ana_a = crate::support::sign_up(&a.base, "ana@example.com", "ana", PW).await;
    let ana_b = same_browser(&ana_a, &b);
    let page = ana_b.get("/profile").await;
    assert_eq!(page.status, StatusCode::OK, "A's session on B");
    assert!(page.text.contains("ana@example.com"));
    // And a form posted on B with that session (its CSRF token comes from B's page) works.
    let r = ana_b
        .post_form("/profile", &[("first_name", "Ana"), ("last_name", "Lima")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(ana_a.get("/profile").await.text.contains("Lima"));

    // Log-out on A ends the session on B at its next request.
    assert_eq!(
        ana_a.post_form("/auth/logout", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let r = ana_b.get("/profile").await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "logged out on A, still in on B"
    );
    assert!(r.location().unwrap_or_default().starts_with("/auth/login"));

    // A password change on A ends ana's other sessions, also those on B.
    let laptop = log_in(&a.base, "ana", PW).await;
    let phone = log_in(&b.base, "ana", PW).await;
    assert_eq!(phone.get("/profile").await.status, StatusCode::OK);
    let new_pw = "a brand new secret";
    let r = laptop
        .post_form(
            "/profile/password",
            &[("current_password", PW), ("new_password", new_pw)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        phone.get("/profile").await.status,
        StatusCode::SEE_OTHER,
        "the session on B ended"
    );
    assert_eq!(laptop.get("/profile").await.status, StatusCode::OK);
    let ana = laptop;

    // An invitation made on A is accepted on B (the link key is the same on both).
    let acct = create_org(&ana, "Acme", "acme").await;
    let bo = crate::support::sign_up(&b.base, "bo@example.com", "bo", PW).await;
    let r = ana
        .post_form(
            &format!("/account/{acct}/invitations"),
            &[("emails", "bo@example.com"), ("role", "member")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // ana's and bo's verification e-mails (sign-up), and bo's invitation.
    let mails = smtp.wait_for_messages(3, Duration::from_secs(20)).await;
    let link = mails_to(&mails, "bo@example.com")
        .iter()
        .find_map(|m| m.find_link(&format!("{}/invitations/", a.base)))
        .expect("an invitation link to A");
    let path = link.trim_start_matches(&a.base);
    let (id, code) = path
        .trim_start_matches("/invitations/")
        .split_once("?code=")
        .expect("id and code");
    let r = bo
        .post_form(&format!("/invitations/{id}/accept"), &[("code", code)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "accept on B: {}", r.text);
    assert_eq!(r.location(), Some(format!("/account/{acct}/members")));
    assert_eq!(
        bo.get(&format!("/account/{acct}/members")).await.status,
        StatusCode::OK
    );

    // Removing bo on A takes effect on B at bo's next request.
    let bo_id: String = {
        use atrium::db::schema::users;
        use diesel::prelude::*;
        let mut c = pool.get().expect("db connection");
        users::table
            .filter(users::handle.eq("bo"))
            .select(users::id)
            .first(&mut c)
            .expect("bo")
    };
    let r = ana
        .post_htmx(&format!("/account/{acct}/members/{bo_id}/remove"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for page in [
        format!("/account/{acct}/members"),
        format!("/account/{acct}"),
        format!("/account/{acct}/workspaces"),
        format!("/account/{acct}/settings"),
    ] {
        assert_eq!(
            bo.get(&page).await.status,
            StatusCode::NOT_FOUND,
            "{page} on B after the removal on A"
        );
    }

    // The outbox with both running: 30 invitations, 20 queued in one request on A (they
    // appear in one commit, so both senders, polling every 50 ms, race for the same rows
    // in the same order) and 10 on B; each goes out exactly once.
    let ana_on_b = same_browser(&ana, &b);
    let invitees: Vec<String> = (0..30).map(|i| format!("p{i}@example.com")).collect();
    for (via, chunk) in [(&ana, &invitees[..20]), (&ana_on_b, &invitees[20..])] {
        let r = via
            .post_form(
                &format!("/account/{acct}/invitations"),
                &[("emails", &chunk.join("\n")), ("role", "member")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(
            r.text.matches("Invitation sent.").count(),
            chunk.len(),
            "{}",
            r.text
        );
    }
    // Two verification e-mails (the sign-ups), bo's invitation, the 30 invitations.
    let total = 3 + invitees.len();
    smtp.wait_for_messages(total, Duration::from_secs(60)).await;
    // Long enough for a second sender to have sent a doubled message (40 polls each).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), total, "each e-mail once");
    // Which instance won each claim depends on timing: shown, not asserted.
    let by_a = mails.iter().filter(|m| m.from.starts_with("a@")).count();
    eprintln!(
        "two_instances: instance A sent {by_a}, B sent {}",
        mails.len() - by_a
    );
    for to in &invitees {
        assert_eq!(mails_to(&mails, to).len(), 1, "one message to {to}");
    }
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent'"
        ),
        total as i64
    );
    assert_eq!(
        count(&pool, "SELECT COUNT(*) AS n FROM outbox"),
        total as i64
    );

    let mut c = pool.get().expect("db connection");
    let found = invariants::check(&mut c);
    assert!(found.is_empty(), "invariants: {found:#?}");
}

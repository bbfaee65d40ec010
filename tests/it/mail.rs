//! The mail outbox and its background sender: delivery over real SMTP, retries,
//! a stalled server, `.eml` files without SMTP, header injection, cancelling.

use std::time::{Duration, Instant};

use atrium::mail::{self, Delivery, OutgoingMail};
use atrium::settings::MailTransport;
use reqwest::StatusCode;

use crate::support::smtp::{SmtpMode, SmtpServer};
use crate::support::{TestApp, spawn_app_with};

async fn app_with_smtp() -> (TestApp, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = spawn_app_with(move |s| {
        s.mail = MailTransport::Smtp(url);
        s.mail_poll = Duration::from_millis(100);
        s.mail_retry_base = Duration::from_millis(200);
    })
    .await;
    (app, smtp)
}

fn mail_to(to: &str, subject: &str, ref_id: &str) -> OutgoingMail {
    OutgoingMail {
        kind: "test",
        ref_id: Some(ref_id.to_string()),
        account_id: None,
        to: to.to_string(),
        subject: subject.to_string(),
        text: "Hello in plain text.\nSecond line.".to_string(),
        html: "<p>Hello in <b>HTML</b>.</p>".to_string(),
    }
}

/// Queues a message the way application code does: inside a write transaction.
fn enqueue(app: &TestApp, mail: OutgoingMail) -> String {
    let mut c = app.conn();
    atrium::db::write_tx(&mut c, |c| mail::enqueue(c, mail)).expect("enqueue")
}

fn state(app: &TestApp, ref_id: &str) -> Option<Delivery> {
    let mut c = app.conn();
    mail::delivery_states(&mut c, &[ref_id.to_string()])
        .expect("delivery states")
        .remove(ref_id)
}

/// Polls `state` until `want` says yes, or panics with the last state seen.
async fn wait_for_state(
    app: &TestApp,
    ref_id: &str,
    timeout: Duration,
    want: impl Fn(&Delivery) -> bool,
) -> Delivery {
    let start = Instant::now();
    loop {
        let now = state(app, ref_id);
        if let Some(s) = &now
            && want(s)
        {
            return s.clone();
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?}; last delivery state {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn failure_events(app: &TestApp, outbox_id: &str) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM audit_events WHERE action = 'atrium.email.delivery_failed' \
         AND resource_kind = 'email' AND actor_kind = 'system' AND resource_id = '{outbox_id}'"
    ))
}

#[tokio::test]
async fn a_queued_message_arrives_over_smtp_as_multipart_alternative() {
    let (app, smtp) = app_with_smtp().await;
    let id = enqueue(
        &app,
        mail_to("ann@example.com", "Welcome to Atrium", "ref-1"),
    );
    // The sender has not run yet (this test has not yielded since the app started).
    assert_eq!(state(&app, "ref-1"), Some(Delivery::Queued));

    let mails = smtp.wait_for_messages(1, Duration::from_secs(10)).await;
    let m = &mails[0];
    assert_eq!(m.to, ["ann@example.com"]);
    assert_eq!(m.from, "atrium@localhost");
    assert!(m.is_multipart_alternative(), "{}", m.raw);
    assert_eq!(m.subject(), "Welcome to Atrium");
    assert_eq!(
        m.text_body().as_deref().map(str::trim_end),
        Some("Hello in plain text.\nSecond line.")
    );
    assert!(
        m.html_body()
            .is_some_and(|h| h.contains("<p>Hello in <b>HTML</b>.</p>")),
        "{}",
        m.raw
    );
    assert!(
        m.header("Message-ID").is_some_and(|v| v.contains(&id)),
        "Message-ID is derived from the outbox id: {}",
        m.raw
    );

    wait_for_state(&app, "ref-1", Duration::from_secs(5), |s| {
        *s == Delivery::Sent
    })
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM outbox WHERE id = '{id}' AND status = 'sent' \
             AND sent_at IS NOT NULL AND locked_until IS NULL AND attempts = 0"
        )),
        1
    );
    assert_eq!(failure_events(&app, &id), 0);
}

#[tokio::test]
async fn a_refusing_server_makes_the_message_failing_then_it_is_delivered_exactly_once() {
    let (app, smtp) = app_with_smtp().await;
    smtp.set_mode(SmtpMode::RejectTransient);
    let id = enqueue(&app, mail_to("bob@example.com", "Try again", "ref-2"));

    let failing = wait_for_state(&app, "ref-2", Duration::from_secs(10), |s| {
        matches!(s, Delivery::Failing { .. })
    })
    .await;
    let Delivery::Failing { attempts, error } = failing else {
        unreachable!()
    };
    assert!(attempts >= 1);
    assert!(error.contains("451"), "the SMTP reply is kept: {error:?}");
    assert!(smtp.attempts() >= 1);
    assert!(smtp.messages().is_empty());

    // Let it fail a few more times: only the first failure is audited.
    let start = Instant::now();
    while smtp.attempts() < 2 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(smtp.attempts() >= 2, "the message is retried");
    assert_eq!(failure_events(&app, &id), 1);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE resource_id = '{id}' \
             AND resource_name = 'bob@example.com' AND payload LIKE '%\"final\":false%' \
             AND payload LIKE '%\"ref_id\":\"ref-2\"%' AND payload LIKE '%\"kind\":\"test\"%'"
        )),
        1
    );

    smtp.set_mode(SmtpMode::Accept);
    let mails = smtp.wait_for_messages(1, Duration::from_secs(15)).await;
    assert_eq!(mails[0].subject(), "Try again");
    wait_for_state(&app, "ref-2", Duration::from_secs(5), |s| {
        *s == Delivery::Sent
    })
    .await;
    // Several more poll intervals: it is not sent again.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(state(&app, "ref-2"), Some(Delivery::Sent));
    assert_eq!(failure_events(&app, &id), 1);
}

#[tokio::test]
async fn a_stalled_smtp_server_does_not_block_the_app_and_the_message_is_retried() {
    let (app, smtp) = app_with_smtp().await;
    smtp.set_mode(SmtpMode::Stall);
    let id = enqueue(&app, mail_to("cy@example.com", "Patience", "ref-3"));
    // Give the sender time to connect and get stuck waiting for a greeting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM outbox WHERE id = '{id}' AND locked_until IS NOT NULL"
        )),
        1,
        "the sender has claimed the message"
    );

    let start = Instant::now();
    let r = app.client.get("/healthz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(start.elapsed() < Duration::from_secs(2));
    // Writes are not held up either (no transaction is open while talking SMTP).
    enqueue(&app, mail_to("dee@example.com", "Second", "ref-3b"));
    assert!(start.elapsed() < Duration::from_secs(2));

    smtp.set_mode(SmtpMode::Accept);
    // The stalled attempt is given up on, recorded as a failure, and retried.
    let mails = smtp.wait_for_messages(2, Duration::from_secs(50)).await;
    let mut subjects: Vec<String> = mails.iter().map(|m| m.subject()).collect();
    subjects.sort();
    assert_eq!(subjects, ["Patience", "Second"]);
    wait_for_state(&app, "ref-3", Duration::from_secs(5), |s| {
        *s == Delivery::Sent
    })
    .await;
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM outbox WHERE id = '{id}' AND status = 'sent' \
             AND attempts = 1 AND last_error LIKE '%did not answer%'"
        )),
        1
    );
    assert_eq!(failure_events(&app, &id), 1);
}

#[tokio::test]
async fn without_smtp_messages_are_written_as_eml_files() {
    let app = spawn_app_with(|s| {
        s.mail_poll = Duration::from_millis(100);
    })
    .await;
    let dir = match &app.settings.mail {
        MailTransport::Outbox(dir) => dir.clone(),
        other => panic!("tests default to the outbox folder, got {other:?}"),
    };
    let id = enqueue(&app, mail_to("eve@example.com", "On disk", "ref-4"));
    let file = dir.join(format!("{id}.eml"));
    let start = Instant::now();
    while !file.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} did not appear",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let raw = std::fs::read_to_string(&file).expect("read .eml");
    assert!(raw.contains("To: eve@example.com"), "{raw}");
    assert!(raw.contains("Subject: On disk"), "{raw}");
    assert!(raw.contains("multipart/alternative"), "{raw}");
    wait_for_state(&app, "ref-4", Duration::from_secs(5), |s| {
        *s == Delivery::Sent
    })
    .await;
    // Only the finished file is left in the folder.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("outbox dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [format!("{id}.eml")]);
}

#[tokio::test]
async fn a_subject_with_a_line_break_does_not_add_a_header() {
    let (app, smtp) = app_with_smtp().await;
    enqueue(
        &app,
        mail_to("fay@example.com", "Hello\r\nBcc: evil@example.com", "ref-5"),
    );
    let mails = smtp.wait_for_messages(1, Duration::from_secs(10)).await;
    let m = &mails[0];
    assert_eq!(m.to, ["fay@example.com"]);
    assert!(
        !m.raw
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
        "{}",
        m.raw
    );
    assert_eq!(m.header("Bcc"), None);
    assert!(!m.subject().contains('\n') && !m.subject().contains('\r'));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1);
    assert!(
        smtp.messages()
            .iter()
            .all(|m| m.to.iter().all(|t| t != "evil@example.com"))
    );
}

#[tokio::test]
async fn cancel_pending_stops_a_queued_message_from_being_sent() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    // A slow poll, so that the message is still queued when it is cancelled.
    let app = spawn_app_with(move |s| {
        s.mail = MailTransport::Smtp(url);
        s.mail_poll = Duration::from_secs(2);
    })
    .await;
    // Let the sender's first (immediate) round pass with nothing to do.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = enqueue(&app, mail_to("gus@example.com", "Never", "ref-6"));
    assert_eq!(state(&app, "ref-6"), Some(Delivery::Queued));
    {
        let mut c = app.conn();
        let n = atrium::db::write_tx(&mut c, |c| mail::cancel_pending(c, "ref-6")).expect("cancel");
        assert_eq!(n, 1);
    }
    assert_eq!(state(&app, "ref-6"), Some(Delivery::Cancelled));
    // A message for another reference goes out, proving that the sender ran.
    enqueue(&app, mail_to("hal@example.com", "Control", "ref-7"));
    let mails = smtp.wait_for_messages(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].to, ["hal@example.com"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 1);
    assert_eq!(smtp.attempts(), 1);
    assert_eq!(state(&app, "ref-6"), Some(Delivery::Cancelled));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM outbox WHERE id = '{id}' AND status = 'cancelled' AND attempts = 0"
        )),
        1
    );
    let mut c = app.conn();
    assert_eq!(mail::cancel_pending(&mut c, "ref-6").expect("cancel"), 0);
}

#[tokio::test]
async fn an_unparsable_recipient_fails_at_once_with_one_final_audit_event() {
    let app = spawn_app_with(|s| {
        s.mail_poll = Duration::from_millis(100);
    })
    .await;
    let id = enqueue(&app, mail_to("not an address", "Nowhere", "ref-8"));
    let failed = wait_for_state(&app, "ref-8", Duration::from_secs(10), |s| {
        !matches!(s, Delivery::Queued)
    })
    .await;
    assert!(
        matches!(&failed, Delivery::Failed { error } if error.contains("recipient")),
        "{failed:?}"
    );
    assert_eq!(failure_events(&app, &id), 1);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM audit_events WHERE resource_id = '{id}' \
             AND payload LIKE '%\"final\":true%' AND payload LIKE '%\"attempts\":1%'"
        )),
        1
    );
}

#[tokio::test]
async fn delivery_states_report_the_newest_message_of_each_reference_in_one_query() {
    let app = spawn_app_with(|s| {
        // No sending during this test: the states stay as they are written.
        s.mail_poll = Duration::from_secs(3600);
    })
    .await;
    let older = enqueue(&app, mail_to("a@example.com", "1", "inv-a"));
    {
        let mut c = app.conn();
        mail::cancel_pending(&mut c, "inv-a").expect("cancel");
    }
    enqueue(&app, mail_to("a@example.com", "2", "inv-a"));
    let b = enqueue(&app, mail_to("b@example.com", "1", "inv-b"));
    let c_id = enqueue(&app, mail_to("c@example.com", "1", "inv-c"));
    let d_id = enqueue(&app, mail_to("d@example.com", "1", "inv-d"));
    {
        let mut c = app.conn();
        use diesel::prelude::*;
        diesel::sql_query(format!(
            "UPDATE outbox SET attempts = 2, last_error = 'refused' WHERE id = '{b}'"
        ))
        .execute(&mut c)
        .expect("failing");
        diesel::sql_query(format!(
            "UPDATE outbox SET status = 'sent' WHERE id = '{c_id}'"
        ))
        .execute(&mut c)
        .expect("sent");
        diesel::sql_query(format!(
            "UPDATE outbox SET status = 'failed', attempts = 12, last_error = 'gave up' WHERE id = '{d_id}'"
        ))
        .execute(&mut c)
        .expect("failed");
    }
    let ids: Vec<String> = ["inv-a", "inv-b", "inv-c", "inv-d", "inv-none"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut c = app.conn();
    let before = app.queries.get();
    let states = mail::delivery_states(&mut c, &ids).expect("states");
    assert_eq!(app.queries.get() - before, 1, "one statement for all ids");
    assert_eq!(states.len(), 4);
    assert_eq!(states["inv-a"], Delivery::Queued, "the newest, not {older}");
    assert_eq!(
        states["inv-b"],
        Delivery::Failing {
            attempts: 2,
            error: "refused".into()
        }
    );
    assert_eq!(states["inv-c"], Delivery::Sent);
    assert_eq!(
        states["inv-d"],
        Delivery::Failed {
            error: "gave up".into()
        }
    );
    assert!(
        mail::delivery_states(&mut c, &[])
            .expect("empty")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn several_senders_on_one_database_send_each_message_once() {
    let (app, smtp) = app_with_smtp().await;
    // Three more senders on the same database, as other Atrium processes would run.
    for _ in 0..3 {
        mail::spawn_sender(app.pool.clone(), &app.settings);
    }
    let n = 30;
    for i in 0..n {
        enqueue(
            &app,
            mail_to(
                &format!("p{i}@example.com"),
                &format!("Message {i}"),
                &format!("many-{i}"),
            ),
        );
    }
    smtp.wait_for_messages(n, Duration::from_secs(20)).await;
    // Several more poll intervals: nothing is sent twice.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mails = smtp.messages();
    let mut subjects: Vec<String> = mails.iter().map(|m| m.subject()).collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), n, "every message arrived");
    assert_eq!(mails.len(), n, "no message was sent twice");
    assert_eq!(
        app.count(
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'sent' AND locked_until IS NULL"
        ),
        n as i64
    );
}

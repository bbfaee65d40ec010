//! The audit log page, its export, retention and the events API (issue #7).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_keys::api;
use crate::api_me::user_key;
use crate::members::{PW, add_member, create_org, user_id};
use crate::support::reference::assert_matches_schema;
use crate::support::{Client, TestApp};
use crate::workspaces::create_ws;

/// Records `n` events of `action` by `actor` (user id, name) in `account` (and `ws`).
pub fn seed(
    app: &TestApp,
    account: &str,
    ws: Option<&str>,
    action: &'static str,
    actor: (&str, &str),
    n: usize,
) {
    use atrium::audit::{Actor, Event};
    use diesel::Connection;
    let mut c = app.conn();
    c.transaction::<_, diesel::result::Error, _>(|c| {
        for i in 0..n {
            Event::new(
                action,
                Actor::User {
                    id: actor.0.into(),
                    name: actor.1.into(),
                },
                "user",
                Some(format!("00000000-0000-4000-8000-{i:012}")),
                format!("target{i}"),
            )
            .account(account)
            .workspace_opt(ws.map(str::to_string))
            .ip("192.0.2.7")
            .payload(json!({"from": "Viewer", "to": "Developer", "n": i}))
            .record(c)?;
        }
        Ok(())
    })
    .expect("record");
}

/// The text of an HTML page with askama's escapes undone.
fn unescape(html: &str) -> String {
    html.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

fn ws_of(dashboard: &str) -> String {
    dashboard.split('/').nth(4).expect("workspace id").into()
}

/// The ids (`event-N`) of the rows of a page, in order.
fn row_ids(html: &str) -> Vec<i64> {
    html.split("<tr id=\"event-")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect()
}

/// The href of the page link with `rel`, unescaped.
fn link(html: &str, rel: &str) -> Option<String> {
    let i = html.find(&format!("rel=\"{rel}\""))?;
    let start = html[..i].rfind("<a href=\"")? + 9;
    let end = start + html[start..].find('"')?;
    Some(unescape(&html[start..end]))
}

struct World {
    app: TestApp,
    ana: Client,
    acct: String,
    prod: String,
    dev: String,
}

async fn world() -> World {
    // No background mail polling: the statement counts below are the page's alone.
    let app =
        crate::support::spawn_app_with(|s| s.mail_poll = std::time::Duration::from_secs(3600))
            .await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    let prod = ws_of(&create_ws(&ana, &acct, "Production", "prod").await);
    let dev = ws_of(&create_ws(&ana, &acct, "Development", "dev").await);
    World {
        app,
        ana,
        acct,
        prod,
        dev,
    }
}

#[tokio::test]
async fn only_those_with_read_audit_event_see_the_log_and_its_export() {
    let w = world().await;
    w.app.signup("bo@example.com", "bo", PW).await;
    add_member(&w.app, &w.acct, "bo", "member");
    let bo = w.app.new_client();
    let r = bo
        .post_form("/auth/login", &[("login", "bo"), ("password", PW)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    for path in ["/audit-log", "/audit-log/export?format=csv"] {
        let r = bo.get(&format!("/account/{}{path}", w.acct)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let members = bo.get(&format!("/account/{}/members", w.acct)).await;
    assert!(
        !members.text.contains("/audit-log"),
        "a Member sees the link"
    );
    let page = w.ana.get(&format!("/account/{}/audit-log", w.acct)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("Test ana created workspace Production"),
        "{}",
        page.text
    );
    // Another account's admin: the account does not exist for them.
    let eve = w.app.signup("eve@example.com", "eve", PW).await;
    let r = eve.get(&format!("/account/{}/audit-log", w.acct)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rows_read_as_plain_words_with_the_viewer_time_and_the_raw_event() {
    let w = world().await;
    let ana_id = user_id(&w.app, "ana");
    seed(
        &w.app,
        &w.acct,
        Some(&w.prod),
        "atrium.workspace_access.role_changed",
        (&ana_id, "Ana Smith"),
        1,
    );
    // The browser's zone, as app.js stores it.
    let url = reqwest::Url::parse(&w.app.base).expect("base url");
    w.ana
        .jar
        .add_cookie_str("atrium_tz=Europe%2FBerlin; Path=/", &url);
    let page = w.ana.get(&format!("/account/{}/audit-log", w.acct)).await;
    let text = unescape(&page.text);
    assert!(
        text.contains(
            "Ana Smith changed target0's role in workspace Production from Viewer to Developer"
        ),
        "{text}"
    );
    assert!(page.text.contains("Times are in Europe/Berlin"));
    assert!(page.text.contains(" CET</time>") || page.text.contains(" CEST</time>"));
    assert!(page.text.contains("192.0.2.7"), "the actor's address");
    assert!(page.text.contains("Raw event"));
    assert!(text.contains("\"event\": \"atrium.workspace_access.role_changed\""));
}

#[tokio::test]
async fn filters_narrow_the_rows_and_bad_filters_get_messages_beside_their_fields() {
    let w = world().await;
    let ana_id = user_id(&w.app, "ana");
    let base = format!("/account/{}/audit-log", w.acct);
    seed(
        &w.app,
        &w.acct,
        Some(&w.prod),
        "atrium.workspace_access.revoked",
        (&ana_id, "Ana"),
        3,
    );
    seed(
        &w.app,
        &w.acct,
        Some(&w.dev),
        "atrium.workspace_access.revoked",
        (&ana_id, "Ana"),
        2,
    );
    seed(
        &w.app,
        &w.acct,
        Some(&w.dev),
        "atrium.role.created",
        ("00000000-0000-4000-8000-00000000b0b0", "Bot"),
        4,
    );

    let n = |html: &str| row_ids(html).len();
    let r = w
        .ana
        .get(&format!("{base}?action=atrium.workspace_access.revoked"))
        .await;
    assert_eq!(n(&r.text), 5);
    let r = w
        .ana
        .get(&format!(
            "{base}?action=atrium.workspace_access.revoked&workspace={}",
            w.dev
        ))
        .await;
    assert_eq!(n(&r.text), 2);
    let r = w.ana.get(&format!("{base}?action=group:roles")).await;
    assert_eq!(n(&r.text), 4);
    let r = w
        .ana
        .get(&format!(
            "{base}?actor=00000000-0000-4000-8000-00000000b0b0"
        ))
        .await;
    assert_eq!(n(&r.text), 4);
    // By handle: Ana's own events (sign-up, log-in, the org, two workspaces, the seeded 5).
    let by_handle = w.ana.get(&format!("{base}?actor=ana")).await;
    let by_email = w.ana.get(&format!("{base}?actor=ANA%40example.com")).await;
    assert_eq!(row_ids(&by_handle.text), row_ids(&by_email.text));
    assert!(n(&by_handle.text) >= 5);
    // A date range: today has everything, a past range nothing.
    let today = chrono::Utc::now().date_naive();
    let r = w
        .ana
        .get(&format!(
            "{base}?action=group:roles&from={today}&to={today}"
        ))
        .await;
    assert_eq!(n(&r.text), 4);
    let r = w
        .ana
        .get(&format!("{base}?from=2020-01-01&to=2020-01-31"))
        .await;
    assert_eq!(n(&r.text), 0);
    assert!(r.text.contains("No events match."));

    for (query, field, msg) in [
        (
            "from=2026-02-10&to=2026-02-01",
            "to",
            "The end date is before the start date.",
        ),
        ("from=yesterday", "from", "Enter a date as YYYY-MM-DD."),
        (
            "action=atrium.nothing",
            "action",
            "Choose an action from the list.",
        ),
        (
            "workspace=prod",
            "workspace",
            "Choose a workspace from the list.",
        ),
        (
            "actor=nobody-here",
            "actor",
            "No member or service account of this account",
        ),
    ] {
        let r = w.ana.get(&format!("{base}?{query}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert!(
            r.text.contains(&format!(
                "<p class=\"field-error\" id=\"{field}-error\">{msg}"
            )),
            "{query}: {}",
            r.text
        );
        assert_eq!(n(&r.text), 0);
    }
}

#[tokio::test]
async fn keyset_pages_stay_stable_while_events_arrive_and_cost_the_same_statements() {
    let w = world().await;
    let ana_id = user_id(&w.app, "ana");
    let base = format!("/account/{}/audit-log?action=atrium.role.deleted", w.acct);
    seed(
        &w.app,
        &w.acct,
        None,
        "atrium.role.deleted",
        (&ana_id, "Ana"),
        120,
    );

    let first = w.ana.get(&base).await;
    let page1 = row_ids(&first.text);
    assert_eq!(page1.len(), 50);
    assert!(page1.windows(2).all(|p| p[0] > p[1]), "newest first");
    assert!(link(&first.text, "prev").is_none());
    let older = link(&first.text, "next").expect("an older page");

    // New events arrive; the next page is still the 50 after page 1.
    seed(
        &w.app,
        &w.acct,
        None,
        "atrium.role.deleted",
        (&ana_id, "Ana"),
        7,
    );
    let second = w.ana.get(&older).await;
    assert_eq!(second.status, StatusCode::OK, "{older}: {}", second.text);
    let page2 = row_ids(&second.text);
    assert_eq!(page2.len(), 50);
    assert!(
        page2[0] < *page1.last().expect("row"),
        "{older}: {page1:?} then {page2:?}"
    );
    let third = w
        .ana
        .get(&link(&second.text, "next").expect("page 3"))
        .await;
    assert_eq!(row_ids(&third.text).len(), 20);
    assert!(link(&third.text, "next").is_none(), "the last page");

    // Back from page 2: exactly page 1, and a link to the newer events that arrived.
    let back = w.ana.get(&link(&second.text, "prev").expect("newer")).await;
    assert_eq!(row_ids(&back.text), page1);
    let newest = w
        .ana
        .get(&link(&back.text, "prev").expect("the new events"))
        .await;
    assert_eq!(row_ids(&newest.text).len(), 50);
    assert_eq!(row_ids(&newest.text)[0], page1[0] + 7);

    // The statement count of a page does not grow with the log. The fewest of two requests:
    // on SQLite the first after a change to who may do what also reads who asks.
    let count = |path: String| {
        let app = &w.app;
        let ana = &w.ana;
        async move {
            let mut best = u64::MAX;
            for _ in 0..2 {
                let before = app.queries.get();
                let r = ana.get(&path).await;
                assert_eq!(r.status, StatusCode::OK);
                best = best.min(app.queries.get() - before);
            }
            best
        }
    };
    let small = count(base.clone()).await;
    let small_filtered = count(format!("{base}&actor=ana&workspace={}", w.prod)).await;
    seed(
        &w.app,
        &w.acct,
        Some(&w.prod),
        "atrium.role.deleted",
        (&ana_id, "Ana"),
        1500,
    );
    assert_eq!(count(base.clone()).await, small);
    assert_eq!(
        count(format!("{base}&actor=ana&workspace={}", w.prod)).await,
        small_filtered
    );
}

#[tokio::test]
async fn exports_stream_the_filter_as_csv_and_json_lines_with_formulas_defused() {
    let w = world().await;
    let ana_id = user_id(&w.app, "ana");
    seed(
        &w.app,
        &w.acct,
        Some(&w.prod),
        "atrium.role.updated",
        (&ana_id, "=HYPERLINK(\"https://evil\")"),
        1203,
    );
    seed(
        &w.app,
        &w.acct,
        Some(&w.dev),
        "atrium.role.created",
        (&ana_id, "Ana"),
        5,
    );
    let base = format!("/account/{}/audit-log/export", w.acct);

    let r = w
        .ana
        .get(&format!("{base}?format=csv&action=atrium.role.updated"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let disposition = r.header("content-disposition").expect("attachment");
    assert!(
        disposition.starts_with("attachment; filename=\"audit-log-acme-"),
        "{disposition}"
    );
    let lines: Vec<&str> = r.text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1 + 1203, "a header and one line per event");
    assert!(lines[0].starts_with("occurred_at,event_id,event,description,actor_kind"));
    assert!(
        lines[1].contains(",\"'=HYPERLINK(\"\"https://evil\"\")\","),
        "the formula is quoted and defused: {}",
        lines[1]
    );
    assert!(!r.text.contains("atrium.role.created"));

    let r = w
        .ana
        .get(&format!("{base}?format=jsonl&workspace={}", w.dev))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/x-ndjson")
    );
    let events: Vec<Value> = r
        .text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    // Five seeded, plus the workspace's creation.
    assert_eq!(events.len(), 6);
    assert_eq!(events[0]["event"], "atrium.role.created");
    assert_eq!(events[0]["workspace_id"], w.dev.as_str());
    assert_eq!(events[0]["actor"]["id"], ana_id.as_str());
    assert!(
        events[0]["description"]
            .as_str()
            .expect("text")
            .starts_with("Ana created the role")
    );
    assert_eq!(
        events.last().expect("event")["event"],
        "atrium.workspace.created"
    );

    let r = w.ana.get(&format!("{base}?format=xml")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = w.ana.get(&format!("{base}?format=csv&from=nope")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Sets the events' time `days` ago.
fn age_events(app: &TestApp, account: Option<&str>, days: i64) {
    use atrium::db::schema::audit_events as a;
    use diesel::prelude::*;
    let t = atrium::db::now() - chrono::TimeDelta::days(days);
    let mut c = app.conn();
    match account {
        Some(acct) => diesel::update(a::table.filter(a::account_id.eq(acct)))
            .set(a::occurred_at.eq(t))
            .execute(&mut c),
        None => diesel::update(a::table.filter(a::account_id.is_null()))
            .set(a::occurred_at.eq(t))
            .execute(&mut c),
    }
    .expect("age events");
}

#[tokio::test]
async fn retention_is_an_account_setting_and_the_sweep_deletes_older_events_in_batches() {
    let w = world().await;
    let ana_id = user_id(&w.app, "ana");
    let settings = format!("/account/{}/settings", w.acct);
    let page = w.ana.get(&settings).await;
    assert!(page.text.contains("Keep audit events for (days)"));
    assert!(page.text.contains("value=\"365\""), "the default");

    let form = |days: &'static str| {
        vec![
            ("name", "Acme"),
            ("handle", "acme"),
            ("workspace_limit", ""),
            ("audit_retention_days", days),
        ]
    };
    for bad in ["0", "3651", "ten", "-5"] {
        let r = w.ana.post_form(&settings, &form(bad)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(r.text.contains(
            "id=\"audit_retention_days-error\">Enter a whole number of days from 1 to 3650"
        ));
    }
    assert_eq!(
        w.app.count(&format!(
            "SELECT CAST(audit_retention_days AS BIGINT) AS n FROM accounts WHERE id = '{}'",
            w.acct
        )),
        365,
        "nothing changed"
    );
    let r = w.ana.post_form(&settings, &form("30")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("value=\"30\""));

    // 25 events 40 days old, 3 of 10 days; the other account's old events stay (365 days).
    seed(
        &w.app,
        &w.acct,
        None,
        "atrium.role.created",
        (&ana_id, "Ana"),
        25,
    );
    let acct_events = format!(
        "SELECT COUNT(*) AS n FROM audit_events WHERE account_id = '{}'",
        w.acct
    );
    let old = w.app.count(&acct_events);
    assert!(old >= 25);
    age_events(&w.app, Some(&w.acct), 40);
    seed(
        &w.app,
        &w.acct,
        None,
        "atrium.role.created",
        (&ana_id, "Ana"),
        3,
    );
    {
        use atrium::db::schema::audit_events as a;
        use diesel::prelude::*;
        let mut c = w.app.conn();
        let t = atrium::db::now() - chrono::TimeDelta::days(10);
        diesel::update(
            a::table
                .filter(a::account_id.eq(&w.acct))
                .filter(a::occurred_at.gt(t)),
        )
        .set(a::occurred_at.eq(t))
        .execute(&mut c)
        .expect("age");
    }
    let personal: String = {
        use atrium::db::schema::accounts as ac;
        use diesel::prelude::*;
        ac::table
            .filter(ac::kind.eq("personal"))
            .select(ac::id)
            .first(&mut w.app.conn())
            .expect("personal account")
    };
    seed(
        &w.app,
        &personal,
        None,
        "atrium.role.created",
        (&ana_id, "Ana"),
        4,
    );
    age_events(&w.app, Some(&personal), 40);
    // Events of no account (e.g. failed log-ins) are kept 365 days.
    let anonymous = w
        .app
        .count("SELECT COUNT(*) AS n FROM audit_events WHERE account_id IS NULL");
    age_events(&w.app, None, 400);

    let mut c = w.app.conn();
    let deleted = atrium::audit::retention::sweep(&mut c, atrium::db::now(), 7).expect("sweep");
    assert_eq!(deleted as i64, old + anonymous);
    assert_eq!(w.app.count(&acct_events), 3);
    assert!(
        w.app.count(&format!("SELECT COUNT(*) AS n FROM audit_events WHERE account_id = '{personal}' AND resource_name LIKE 'target%'")) == 4,
        "a 365-day account keeps 40-day-old events"
    );
    // Nothing left to do.
    assert_eq!(
        atrium::audit::retention::sweep(&mut c, atrium::db::now(), 7).expect("sweep"),
        0
    );
}

#[tokio::test]
async fn the_events_api_filters_pages_and_follows_the_reference() {
    let w = world().await;
    let ana_id = user_id(&w.app, "ana");
    seed(
        &w.app,
        &w.acct,
        Some(&w.prod),
        "atrium.role.updated",
        (&ana_id, "Ana"),
        5,
    );
    let key = user_key(&w.app, "ana");
    let path = format!("/api/accounts/{}/events/filter", w.acct);

    let body = json!({"limit": 2, "filter": {"event": {"name": ["atrium.role.updated"]}}});
    let (status, page) = api(&w.app, Some(&key), reqwest::Method::POST, &path, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_matches_schema(&page, "EventPage");
    assert_eq!(page["total"], 5);
    let events = page["events"].as_array().expect("events");
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["event"], "atrium.role.updated");
    assert_eq!(events[0]["account"], w.acct.as_str());
    assert_eq!(events[0]["workspace"], w.prod.as_str());
    assert_eq!(events[0]["related"][0]["prefect.resource.role"], "actor");
    assert_eq!(
        events[0]["related"][0]["prefect.resource.id"],
        format!("atrium.user.{ana_id}").as_str()
    );
    // Walk the pages.
    let mut seen: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().expect("id").into())
        .collect();
    let mut next = page["next_page"].as_str().map(str::to_string);
    while let Some(url) = next {
        let rel = url.trim_start_matches(&w.app.base).to_string();
        let (status, p) = api(&w.app, Some(&key), reqwest::Method::GET, &rel, None).await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_matches_schema(&p, "EventPage");
        seen.extend(
            p["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| e["id"].as_str().expect("id").to_string()),
        );
        next = p["next_page"].as_str().map(str::to_string);
    }
    assert_eq!(seen.len(), 5);
    seen.dedup();
    assert_eq!(seen.len(), 5);

    // Prefix, resource and order.
    let body = json!({"filter": {"event": {"prefix": ["atrium.workspace."]}, "order": "ASC"}});
    let (_, page) = api(&w.app, Some(&key), reqwest::Method::POST, &path, Some(body)).await;
    let names: Vec<&str> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        ["atrium.workspace.created", "atrium.workspace.created"]
    );
    assert_eq!(
        page["events"][0]["resource"]["prefect.resource.name"],
        "prod"
    );
    let body = json!({"filter": {"resource": {"id": [format!("atrium.workspace.{}", w.dev)]}}});
    let (_, page) = api(&w.app, Some(&key), reqwest::Method::POST, &path, Some(body)).await;
    assert_eq!(page["total"], 1);

    // Bad bodies: 422 naming the field.
    for (body, loc) in [
        (json!({"limit": 500}), vec!["body", "limit"]),
        (
            json!({"filter": {"order": "SIDEWAYS"}}),
            vec!["body", "filter", "order"],
        ),
        (
            json!({"filter": {"occurred": {"since": "yesterday"}}}),
            vec!["body", "filter", "occurred", "since"],
        ),
        (
            json!({"filter": {"text": {"query": "x"}}}),
            vec!["body", "filter", "text"],
        ),
    ] {
        let (status, err) = api(
            &w.app,
            Some(&key),
            reqwest::Method::POST,
            &path,
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(err["detail"][0]["loc"], json!(loc), "{err}");
    }
    let (status, _) = api(
        &w.app,
        Some(&key),
        reqwest::Method::GET,
        &format!("{path}/next?page-token=garbage"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // No key: 401; a Member's key: 404.
    let (status, _) = api(&w.app, None, reqwest::Method::POST, &path, Some(json!({}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    w.app.signup("bo@example.com", "bo", PW).await;
    add_member(&w.app, &w.acct, "bo", "member");
    let bo_key = user_key(&w.app, "bo");
    let (status, _) = api(
        &w.app,
        Some(&bo_key),
        reqwest::Method::POST,
        &path,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn seeded_audit_events_span_the_retention_so_the_first_sweep_has_nothing_to_delete() {
    let app = crate::support::spawn_app().await;
    let plan = atrium::seed::Plan {
        members: 20,
        workspaces: 3,
        accesses: 10,
        service_accounts: 2,
        bot_workspaces: 2,
        audit_events: 3_000,
        small_members: 5,
        small_workspaces: 2,
        prefix: "seeded".into(),
    };
    let mut c = app.conn();
    atrium::seed::run(&mut c, &plan).expect("seed");
    let oldest: chrono::NaiveDateTime = {
        use atrium::db::schema::audit_events;
        use diesel::prelude::*;
        audit_events::table
            .select(diesel::dsl::min(audit_events::occurred_at))
            .first::<Option<_>>(&mut *c)
            .expect("min")
            .expect("events")
    };
    let age = atrium::db::now() - oldest;
    assert!(
        age.num_days() >= atrium::seed::AUDIT_DAYS - 1,
        "spread: {age}"
    );
    let deleted = atrium::audit::retention::sweep(&mut c, atrium::db::now(), 1000).expect("sweep");
    assert_eq!(
        deleted, 0,
        "the sweep found seeded events past the retention"
    );
}

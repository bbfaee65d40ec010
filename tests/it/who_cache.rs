//! Who asks, remembered between requests on SQLite (`authn::who`): a remembered answer is
//! never served after a change to who may do what, whichever connection made it.

use diesel::RunQueryDsl;
use reqwest::StatusCode;

use crate::members::{PW, add_member, create_org, user_id};
use crate::support::{Client, TestApp, backend, spawn_app_with};
use crate::workspaces::{VIEWER, create_ws, set_default_role};

/// An app (mail sender idle) with Ana's account "Acme", Bo as a Member of it, and a
/// workspace Bo sees as Viewer (the default role): (app, Ana, Bo, account id, dashboard path).
pub async fn bo_views_anas_workspace() -> (TestApp, Client, Client, String, String) {
    let app = spawn_app_with(|s| s.mail_poll = std::time::Duration::from_secs(3600)).await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let bo = app.signup("bo@example.com", "bo", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    add_member(&app, &acct, "bo", "member");
    let dash = create_ws(&ana, &acct, "Production", "prod").await;
    set_default_role(&app, &dash, Some(VIEWER));
    (app, ana, bo, acct, dash)
}

/// [`bo_views_anas_workspace`], with Bo having opened the dashboard twice, so that SQLite
/// remembers who he is there.
async fn bo_on_a_remembered_dashboard() -> (TestApp, Client, Client, String, String) {
    let (app, ana, bo, acct, dash) = bo_views_anas_workspace().await;
    for _ in 0..2 {
        assert_eq!(bo.get(&dash).await.status, StatusCode::OK);
    }
    let before = app.queries.get();
    assert_eq!(bo.get(&dash).await.status, StatusCode::OK);
    if matches!(backend(), atrium::settings::Backend::Sqlite) {
        // The dashboard's own statements only: who asks was not read again.
        let after = app.queries.get();
        assert!(after - before < 6, "{} statements", after - before);
    }
    (app, ana, bo, acct, dash)
}

#[tokio::test]
async fn a_member_removed_through_the_pages_loses_the_workspace_at_the_next_request() {
    let (app, ana, bo, acct, dash) = bo_on_a_remembered_dashboard().await;
    let bo_id = user_id(&app, "bo");
    let r = ana
        .post_form(&format!("/account/{acct}/members/{bo_id}/remove"), &[])
        .await;
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{}",
        r.status
    );
    assert_eq!(bo.get(&dash).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_role_taken_away_by_another_connection_counts_at_the_next_request() {
    let (app, _ana, bo, _acct, dash) = bo_on_a_remembered_dashboard().await;
    // Another pool on the same database, as another instance would have, writing plain SQL.
    let other = atrium::db::connect(app.settings.backend, &app.settings.database_url, 1)
        .expect("another pool");
    let ws = crate::support::ws_id(&dash);
    let mut c = other.get().expect("connection");
    diesel::sql_query(format!(
        "UPDATE workspaces SET default_role_id = NULL WHERE id = '{ws}'"
    ))
    .execute(&mut c)
    .expect("take the default role away");
    assert_eq!(bo.get(&dash).await.status, StatusCode::NOT_FOUND);
    // And given back, in a transaction this time.
    atrium::db::write_tx(&mut c, |c| {
        diesel::sql_query(format!(
            "UPDATE workspaces SET default_role_id = '{VIEWER}' WHERE id = '{ws}'"
        ))
        .execute(c)
    })
    .expect("give it back");
    assert_eq!(bo.get(&dash).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_log_out_ends_the_remembered_session() {
    let (app, _ana, bo, _acct, dash) = bo_on_a_remembered_dashboard().await;
    let stolen = bo.session_cookie().expect("session");
    let thief = Client::with_session_cookie(&app.base, &stolen);
    for _ in 0..2 {
        assert_eq!(thief.get(&dash).await.status, StatusCode::OK);
    }
    let r = bo.post_form("/auth/logout", &[]).await;
    assert!(r.status.is_redirection(), "{}", r.status);
    let r = thief.get(&dash).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "sent to log in");
}

#[tokio::test]
async fn a_remembered_api_key_is_refused_at_the_next_call_once_deleted() {
    use crate::api_me::{api_get, user_key};
    let app = spawn_app_with(|s| s.mail_poll = std::time::Duration::from_secs(3600)).await;
    app.signup("ana@example.com", "ana", PW).await;
    let key = user_key(&app, "ana");
    let calls = |n: usize| {
        let (app, key) = (&app, &key);
        async move {
            let mut best = u64::MAX;
            for _ in 0..n {
                let before = app.queries.get();
                let (status, _) = api_get(app, Some(key), "/api/me/").await;
                assert_eq!(status, StatusCode::OK);
                best = best.min(app.queries.get() - before);
            }
            best
        }
    };
    calls(1).await; // its first use also writes "last used"
    // A change to who may do what (a no-op update of the users): the key is read again.
    diesel::sql_query("UPDATE users SET handle = handle")
        .execute(&mut app.conn())
        .expect("a change");
    let read = calls(1).await;
    let remembered = calls(3).await;
    match backend() {
        atrium::settings::Backend::Sqlite => {
            assert_eq!(
                remembered,
                read - 1,
                "the key and its holder are not read again"
            )
        }
        atrium::settings::Backend::Postgres => assert_eq!(remembered, read),
    }
    // Deleted through another pool on the same database, in plain SQL.
    let other = atrium::db::connect(app.settings.backend, &app.settings.database_url, 1)
        .expect("another pool");
    diesel::sql_query("DELETE FROM api_keys")
        .execute(&mut other.get().expect("connection"))
        .expect("delete the key");
    let (status, _) = api_get(&app, Some(&key), "/api/me/").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

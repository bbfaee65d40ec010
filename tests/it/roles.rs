//! The Roles page: built-in roles read-only, custom workspace roles created, edited and
//! deleted (refused while used).

use reqwest::StatusCode;

use crate::members::{PW, add_member, create_org};
use crate::support::spawn_app;
use crate::workspaces::create_ws;

#[tokio::test]
async fn custom_roles_inherit_follow_their_builtin_and_cannot_be_deleted_while_used() {
    let app = spawn_app().await;
    let ana = app.signup("ana@example.com", "ana", PW).await;
    let bo = app.signup("bo@example.com", "bo", PW).await;
    let acct = create_org(&ana, "Acme", "acme").await;
    add_member(&app, &acct, "bo", "member");

    let page = bo.get(&format!("/account/{acct}/roles")).await;
    assert_eq!(page.status, StatusCode::OK, "members read roles");
    assert!(
        page.text.contains("Developer")
            && page.text.contains("(53 scopes)")
            && page.text.contains("(47 permissions)")
    );
    assert!(!page.text.contains("New workspace role"));
    let r = bo
        .post_form(
            &format!("/account/{acct}/roles/new"),
            &[("name", "Sneaky"), ("scopes", "see_flows")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Bad input.
    let r = ana
        .post_form(
            &format!("/account/{acct}/roles/new"),
            &[("name", "Viewer"), ("scopes", "see_flows")],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "name taken by a built-in role"
    );
    assert!(r.text.contains("id=\"name-error\""));
    let long = "d".repeat(141);
    let r = ana
        .post_form(
            &format!("/account/{acct}/roles/new"),
            &[
                ("name", "X"),
                ("description", &long),
                ("scopes", "bogus_scope"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("id=\"description-error\"") && r.text.contains("id=\"scopes-error\""));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM workspace_roles WHERE account_id IS NOT NULL"),
        0
    );

    // Inherits Developer and adds manage_workspace_users.
    let r = ana
        .post_form(
            &format!("/account/{acct}/roles/new"),
            &[
                ("name", "Lead"),
                ("description", "Developer who manages people"),
                ("inherit", "developer"),
                ("scopes", "manage_workspace_users"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let role_id: String = {
        use atrium::db::schema::workspace_roles as wr;
        use diesel::prelude::*;
        let mut c = app.conn();
        wr::table
            .filter(wr::name.eq("Lead"))
            .select(wr::id)
            .first(&mut c)
            .expect("role")
    };
    let dash = create_ws(&ana, &acct, "Production", "prod").await;
    let bo_id = crate::members::user_id(&app, "bo");
    let panel = dash.replace("/dashboard", "/settings/members");
    ana.post_form(&panel, &[("user_id", &bo_id), ("role_id", &role_id)])
        .await;
    assert_eq!(
        bo.get(&panel).await.status,
        StatusCode::OK,
        "manage_workspace_users brings see_workspace_users"
    );
    assert_eq!(
        bo.get(&dash.replace("/dashboard", "/settings"))
            .await
            .status,
        StatusCode::OK,
        "Developer sees settings"
    );

    let r = ana
        .post_form(&format!("/account/{acct}/roles/{role_id}/delete"), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text
            .contains("Lead is still in use: held by members of Production")
    );

    // Edit: drop the inheritance; bo loses the settings page.
    let r = ana
        .post_form(
            &format!("/account/{acct}/roles/{role_id}/edit"),
            &[("name", "Lead"), ("scopes", "manage_workspace_users")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        bo.get(&dash.replace("/dashboard", "/settings"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    ana.post_form(&format!("{panel}/{bo_id}/remove"), &[]).await;
    let r = ana
        .post_form(&format!("/account/{acct}/roles/{role_id}/delete"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("Role deleted."));
    for action in [
        "atrium.role.created",
        "atrium.role.updated",
        "atrium.role.deleted",
    ] {
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM audit_events WHERE action = '{action}'"
            )),
            1,
            "{action}"
        );
    }
}

//! The e-mail to the target account's Owners and Admins about a transfer request, queued
//! in the outbox inside the request's transaction.

use askama::Template;

use super::model::TransferRequest;
use crate::accounts::model::Account;
use crate::mail::{self, OutgoingMail};

#[derive(Template)]
#[template(path = "mail/transfer_request.html")]
struct RequestMailHtml<'a> {
    requester: &'a str,
    workspace: &'a str,
    handle: &'a str,
    target: &'a str,
    link: &'a str,
    expires: &'a str,
}

#[derive(Template)]
#[template(path = "mail/transfer_request.txt")]
struct RequestMailText<'a> {
    requester: &'a str,
    workspace: &'a str,
    handle: &'a str,
    target: &'a str,
    link: &'a str,
    expires: &'a str,
}

/// E-mails every Owner and Admin of the target (through the outbox, same transaction).
pub fn notify_admins(
    c: &mut crate::db::DbConn,
    r: &TransferRequest,
    target: &Account,
    requester: &crate::users::model::User,
    base_url: &str,
) -> diesel::QueryResult<()> {
    let link = format!("{base_url}/account/{}/transfers", target.id);
    let expires = r.expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let name = requester.display_name();
    let render_err = |e: askama::Error| {
        diesel::result::Error::QueryBuilderError(format!("mail template: {e}").into())
    };
    let html = RequestMailHtml {
        requester: &name,
        workspace: &r.workspace_name,
        handle: &r.workspace_handle,
        target: &target.name,
        link: &link,
        expires: &expires,
    }
    .render()
    .map_err(render_err)?;
    let text = RequestMailText {
        requester: &name,
        workspace: &r.workspace_name,
        handle: &r.workspace_handle,
        target: &target.name,
        link: &link,
        expires: &expires,
    }
    .render()
    .map_err(render_err)?;
    for to in super::model::admin_emails(c, &target.id)? {
        mail::enqueue(
            c,
            OutgoingMail {
                kind: "transfer_request",
                ref_id: Some(r.id.clone()),
                account_id: Some(target.id.clone()),
                to,
                subject: format!(
                    "{name} asks to transfer the workspace {} to {}",
                    r.workspace_name, target.name
                ),
                text: text.clone(),
                html: html.clone(),
            },
        )?;
    }
    Ok(())
}

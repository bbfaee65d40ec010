//! The invitation e-mail: rendered from `templates/mail/invitation.{txt,html}` and queued in
//! the outbox inside the transaction that creates the invitation.

use askama::Template;

use super::model::Invitation;
use crate::accounts::model::Account;
use crate::db::DbConn;
use crate::mail::{self, OutgoingMail};
use crate::outcome::{OpError, OpResult, Refusal};
use crate::settings::AppConfig;

#[derive(Template)]
#[template(path = "mail/invitation.txt")]
struct InvitationText<'a> {
    inviter: &'a str,
    account: &'a str,
    role: &'a str,
    link: &'a str,
    expires: &'a str,
}

#[derive(Template)]
#[template(path = "mail/invitation.html")]
struct InvitationHtml<'a> {
    inviter: &'a str,
    account: &'a str,
    role: &'a str,
    link: &'a str,
    expires: &'a str,
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// What the invitation is to ("Acme", or "workspace Production of Acme") and the role's name.
pub fn target_of(
    c: &mut DbConn,
    inv: &Invitation,
    account: &Account,
) -> OpResult<(String, String)> {
    match (&inv.workspace_id, &inv.workspace_role_id) {
        (Some(wid), Some(rid)) => {
            let ws = crate::workspaces::model::find(c, &inv.account_id, wid)?
                .ok_or(Refusal::NotFound)?;
            let role = crate::workspaces::model::role(c, rid)?
                .map(|r| r.name)
                .unwrap_or_else(|| "a role".into());
            Ok((format!("workspace {} of {}", ws.name, account.name), role))
        }
        _ => Ok((account.name.clone(), inv.role().label().to_string())),
    }
}

/// Renders and queues the invitation e-mail (inside the caller's transaction).
pub fn queue_mail(
    c: &mut DbConn,
    cfg: &AppConfig,
    inv: &Invitation,
    code: &str,
    account: &Account,
) -> OpResult<()> {
    let link = invitation_link(cfg, &inv.id, code);
    let expires = inv.expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let inviter = one_line(&inv.invited_by_name);
    let (target, role_name) = target_of(c, inv, account)?;
    let account_name = one_line(&target);
    let role = role_name.as_str();
    let text = InvitationText {
        inviter: &inviter,
        account: &account_name,
        role,
        link: &link,
        expires: &expires,
    }
    .render()
    .map_err(|e| OpError::Internal(anyhow::anyhow!("mail template: {e}")))?;
    let html = InvitationHtml {
        inviter: &inviter,
        account: &account_name,
        role,
        link: &link,
        expires: &expires,
    }
    .render()
    .map_err(|e| OpError::Internal(anyhow::anyhow!("mail template: {e}")))?;
    mail::enqueue(
        c,
        OutgoingMail {
            kind: "invitation",
            ref_id: Some(inv.id.clone()),
            account_id: Some(account.id.clone()),
            to: inv.email.clone(),
            subject: format!("{inviter} invited you to {account_name} on Atrium"),
            text,
            html,
        },
    )?;
    Ok(())
}

pub fn invitation_link(cfg: &AppConfig, id: &str, code: &str) -> String {
    format!("{}/invitations/{}?code={}", cfg.base(), id, code)
}

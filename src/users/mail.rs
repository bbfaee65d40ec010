//! The e-mails about a person's own account: links (verify an address, confirm a new one,
//! set a new password) and notices of changes, rendered from `templates/mail/` and queued
//! in the outbox inside the caller's transaction.

use askama::Template;

use super::model::User;
use super::tokens::{self, EmailToken, Purpose};
use crate::db::DbConn;
use crate::mail::{self, OutgoingMail};
use crate::outcome::{OpError, OpResult};
use crate::settings::AppConfig;

#[derive(Template)]
#[template(path = "mail/link.txt")]
struct LinkText<'a> {
    intro: &'a str,
    action: &'a str,
    link: &'a str,
    expires: &'a str,
    ignore: &'a str,
}

#[derive(Template)]
#[template(path = "mail/link.html")]
struct LinkHtml<'a> {
    intro: &'a str,
    action: &'a str,
    link: &'a str,
    expires: &'a str,
    ignore: &'a str,
}

#[derive(Template)]
#[template(path = "mail/notice.txt")]
struct NoticeText<'a> {
    message: &'a str,
    advice: &'a str,
}

#[derive(Template)]
#[template(path = "mail/notice.html")]
struct NoticeHtml<'a> {
    message: &'a str,
    advice: &'a str,
}

fn rendered<T: Template>(t: T) -> OpResult<String> {
    t.render()
        .map_err(|e| OpError::Internal(anyhow::anyhow!("mail template: {e}")))
}

/// The link of a token (its code in the query string).
pub fn link_of(cfg: &AppConfig, token: &EmailToken, code: &str) -> String {
    let kind = match tokens::purpose_of(token) {
        Some(Purpose::Reset) => "reset",
        _ => "verify",
    };
    format!("{}/auth/{kind}/{}?code={code}", cfg.base(), token.id)
}

/// Creates a code for `user` and queues the e-mail carrying its link to `to` (inside the
/// caller's transaction).
pub fn send_link(
    c: &mut DbConn,
    cfg: &AppConfig,
    user: &User,
    purpose: Purpose,
    to: &str,
) -> OpResult<EmailToken> {
    let (token, code) = tokens::create(c, &user.id, purpose, to)?;
    let link = link_of(cfg, &token, &code);
    let expires = token.expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let (kind, subject, intro, action, ignore) = match purpose {
        Purpose::Verify => (
            "verify_email",
            "Verify your e-mail address for Atrium",
            format!(
                "Someone signed up for Atrium as {} with this address. If it was you, verify the address.",
                user.handle
            ),
            "Verify my e-mail address",
            "If you did not sign up, ignore this e-mail: the account cannot use your address without the link.",
        ),
        Purpose::ChangeEmail => (
            "change_email",
            "Confirm your new e-mail address for Atrium",
            format!(
                "The Atrium user {} asked to use this address from now on. If it was you, confirm it.",
                user.handle
            ),
            "Use this address",
            "If you did not ask for this, ignore this e-mail: nothing changes without the link.",
        ),
        Purpose::Reset => (
            "password_reset",
            "Set a new password for Atrium",
            format!(
                "Someone asked to set a new password for the Atrium account {} of this address.",
                user.handle
            ),
            "Set a new password",
            "If you did not ask for it, ignore this e-mail: your password stays as it is.",
        ),
    };
    let (text, html) = link_bodies(&intro, action, &link, &expires, ignore)?;
    mail::enqueue(
        c,
        OutgoingMail {
            kind,
            ref_id: Some(token.id.clone()),
            account_id: None,
            to: to.to_string(),
            subject: subject.to_string(),
            text,
            html,
        },
    )?;
    Ok(token)
}

/// The text and HTML bodies of a link e-mail (`templates/mail/link.*`): what it is about,
/// the button's words, the link, when it expires and what to do if it was not asked for.
/// Also used by the domain proof of single sign-on (`sso::mail`).
pub fn link_bodies(
    intro: &str,
    action: &str,
    link: &str,
    expires: &str,
    ignore: &str,
) -> OpResult<(String, String)> {
    let text = rendered(LinkText {
        intro,
        action,
        link,
        expires,
        ignore,
    })?;
    let html = rendered(LinkHtml {
        intro,
        action,
        link,
        expires,
        ignore,
    })?;
    Ok((text, html))
}

/// Queues a notice to `to` about a change to their account (inside the caller's
/// transaction).
pub fn queue_notice(c: &mut DbConn, to: &str, subject: &str, message: &str) -> OpResult<()> {
    let advice = "If this was not you, reset your password from the log-in page and tell your administrator.";
    let text = rendered(NoticeText { message, advice })?;
    let html = rendered(NoticeHtml { message, advice })?;
    mail::enqueue(
        c,
        OutgoingMail {
            kind: "notice",
            ref_id: None,
            account_id: None,
            to: to.to_string(),
            subject: subject.to_string(),
            text,
            html,
        },
    )?;
    Ok(())
}

//! The e-mail proving an account holds a domain: a link to an address at that domain.

use askama::Template;

use super::model::Domain;
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

fn rendered<T: Template>(t: T) -> OpResult<String> {
    t.render()
        .map_err(|e| OpError::Internal(anyhow::anyhow!("mail template: {e}")))
}

/// The proof link of a claim.
pub fn link_of(cfg: &AppConfig, code: &str) -> String {
    format!("{}/sso/domains/verify?code={code}", cfg.base())
}

/// Queues the proof link of `claim` to its address (inside the caller's transaction).
pub fn send_domain_link(
    c: &mut DbConn,
    cfg: &AppConfig,
    claim: &Domain,
    code: &str,
) -> OpResult<()> {
    let link = link_of(cfg, code);
    let expires = claim
        .expires_at
        .map(|e| e.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let intro = format!(
        "An administrator of an Atrium account asked to sign in everyone with an address at {} through the account's identity provider. Open the link to confirm that the account holds this domain.",
        claim.domain
    );
    let action = "Confirm the domain";
    let ignore = "If you do not know about this, ignore this e-mail: the domain is not claimed without the link.";
    let text = rendered(LinkText {
        intro: &intro,
        action,
        link: &link,
        expires: &expires,
        ignore,
    })?;
    let html = rendered(LinkHtml {
        intro: &intro,
        action,
        link: &link,
        expires: &expires,
        ignore,
    })?;
    mail::enqueue(
        c,
        OutgoingMail {
            kind: "sso_domain",
            ref_id: Some(claim.id.clone()),
            account_id: Some(claim.account_id.clone()),
            to: claim.verify_email.clone(),
            subject: format!("Confirm the domain {} for Atrium", claim.domain),
            text,
            html,
        },
    )?;
    Ok(())
}

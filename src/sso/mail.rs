//! The e-mail proving an account holds a domain: a link to an address at that domain.

use super::model::Domain;
use crate::db::DbConn;
use crate::mail::{self, OutgoingMail};
use crate::outcome::OpResult;
use crate::settings::AppConfig;

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
    let (text, html) = crate::users::mail::link_bodies(&intro, action, &link, &expires, ignore)?;
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

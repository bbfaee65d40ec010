//! Connecting and disconnecting a workspace's Prefect server: one transaction each, the
//! writer's scopes re-read inside it (`manage_workspace_settings`; account Owners and
//! Admins hold every scope), recorded in the account's audit log.

use serde_json::json;

use super::model::{self, CONNECTED};
use crate::audit::{Actor, Event};
use crate::db::{DbConn, now, write_tx};
use crate::outcome::{FieldErrors, OpResult, Refusal, invalid, refuse};
use crate::workspaces::access::{ActorRef, load};
use crate::workspaces::model::Workspace;

/// Reads that carry no rule of their own.
pub use super::model::{Managed, Server, find, find_managed, managed_of, mark};

/// The scope that connects a server.
pub const MANAGE: &str = "manage_workspace_settings";

pub const URL_TAKEN: &str =
    "This Prefect server already backs another workspace: one server serves one workspace.";
pub const AUTH_REQUIRED: &str = "Enter the server's PREFECT_SERVER_API_AUTH_STRING.";

/// The server's address as stored and compared: `http(s)://host[:port][/path]`, no
/// trailing slash, no `/api` at the end (Atrium adds it), no credentials, query or
/// fragment.
pub fn normalize_url(raw: &str) -> Result<url::Url, FieldErrors> {
    let bad = || {
        FieldErrors::one(
            "url",
            "Enter the server's address as http://host:port or https://host:port.",
        )
    };
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 500 {
        return Err(bad());
    }
    let mut u = url::Url::parse(raw).map_err(|_| bad())?;
    if crate::egress::server_host(&u).is_err() || u.query().is_some() || u.fragment().is_some() {
        return Err(bad());
    }
    let path = u.path().trim_end_matches('/').to_string();
    let path = path.strip_suffix("/api").unwrap_or(&path).to_string();
    u.set_path(&path);
    Ok(u)
}

/// The text form of a normalized URL (without the slash `url` puts after a bare host).
pub fn url_text(u: &url::Url) -> String {
    u.as_str().trim_end_matches('/').to_string()
}

/// Checks an auth string's shape.
pub fn validate_auth(raw: &str) -> Result<(), FieldErrors> {
    if raw.is_empty() {
        return Err(FieldErrors::one("auth_string", AUTH_REQUIRED));
    }
    if raw.len() > 1000 || raw.chars().any(|c| c.is_control()) {
        return Err(FieldErrors::one(
            "auth_string",
            "The auth string must be at most 1,000 characters, without line breaks.",
        ));
    }
    Ok(())
}

/// A checked server, ready to be recorded.
pub struct Connection {
    pub url: String,
    pub auth_sealed: String,
    pub auth_mask: String,
    pub version: String,
}

fn may_manage(c: &mut DbConn, ws: &Workspace, by: ActorRef<'_>) -> OpResult<()> {
    match load(c, &ws.account_id, &ws.id, by)? {
        Some(l) if l.scopes.contains(MANAGE) => Ok(()),
        Some(l) if !l.scopes.is_empty() => refuse(Refusal::Forbidden(None)),
        _ => refuse(Refusal::NotFound),
    }
}

/// Connects (or reconnects) the workspace to a checked server.
pub fn connect(
    c: &mut DbConn,
    by: ActorRef<'_>,
    user_id: Option<String>,
    ws: &Workspace,
    conn: Connection,
    actor: Actor,
    ip: String,
) -> OpResult<Server> {
    write_tx(c, |c| {
        may_manage(c, ws, by)?;
        if let Some(other) = model::workspace_at(c, &conn.url)?
            && other != ws.id
        {
            return invalid("url", URL_TAKEN);
        }
        let before = model::find(c, &ws.id)?;
        let t = now();
        let server = Server {
            workspace_id: ws.id.clone(),
            url: conn.url,
            auth_sealed: conn.auth_sealed,
            auth_mask: conn.auth_mask,
            prefect_version: conn.version,
            state: CONNECTED.into(),
            unreachable_since: None,
            checked_at: t,
            connected_by: user_id,
            created_at: before.as_ref().map_or(t, |b| b.created_at),
        };
        model::put(c, &server)?;
        server_event("atrium.workspace.server_connected", actor, ws, ip)
            .payload(json!({
                "url": { "from": before.as_ref().map(|b| b.url.clone()), "to": server.url },
                "prefect_version": server.prefect_version,
            }))
            .record(c)?;
        Ok(server)
    })
}

/// Disconnects the workspace's server: its calls answer 503 until another is connected.
pub fn disconnect(
    c: &mut DbConn,
    by: ActorRef<'_>,
    ws: &Workspace,
    actor: Actor,
    ip: String,
) -> OpResult<()> {
    write_tx(c, |c| {
        may_manage(c, ws, by)?;
        let Some(before) = model::find(c, &ws.id)? else {
            return refuse(Refusal::NotFound);
        };
        model::delete(c, &ws.id)?;
        server_event("atrium.workspace.server_disconnected", actor, ws, ip)
            .payload(json!({ "url": before.url }))
            .record(c)?;
        Ok(())
    })
}

/// Records that the workspace's managed server is restarted (the spawner does it after
/// the commit): the writer must hold `manage_workspace_settings`.
pub fn restart(
    c: &mut DbConn,
    by: ActorRef<'_>,
    ws: &Workspace,
    actor: Actor,
    ip: String,
) -> OpResult<()> {
    write_tx(c, |c| {
        may_manage(c, ws, by)?;
        if model::find(c, &ws.id)?.is_some() {
            // A server connected by hand is its operator's to restart.
            return refuse(Refusal::NotFound);
        }
        server_event("atrium.workspace.server_restarted", actor, ws, ip).record(c)?;
        Ok(())
    })
}

/// An event about the workspace's Prefect server, in the workspace's account.
fn server_event(name: &'static str, actor: Actor, ws: &Workspace, ip: String) -> Event {
    Event::new(name, actor, "workspace", Some(ws.id.clone()), &ws.handle)
        .account(ws.account_id.clone())
        .workspace(ws.id.clone())
        .ip(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_compared_in_one_form() {
        let n = |s: &str| normalize_url(s).map(|u| url_text(&u));
        assert_eq!(
            n("http://127.0.0.1:4200").ok().as_deref(),
            Some("http://127.0.0.1:4200")
        );
        assert_eq!(
            n("http://127.0.0.1:4200/").ok().as_deref(),
            Some("http://127.0.0.1:4200")
        );
        assert_eq!(
            n("http://127.0.0.1:4200/api/").ok().as_deref(),
            Some("http://127.0.0.1:4200")
        );
        assert_eq!(
            n(" HTTPS://Prefect.Example:443/x/api ").ok().as_deref(),
            Some("https://prefect.example/x")
        );
        for bad in [
            "",
            "ftp://h",
            "http://u:p@h",
            "http://h/?q=1",
            "http://h/#f",
            "h:4200",
            "file:///etc/passwd",
        ] {
            assert!(n(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn auth_strings_are_one_line() {
        assert!(validate_auth("admin:pass").is_ok());
        assert!(validate_auth("").is_err());
        assert!(validate_auth("a\nb").is_err());
        assert!(validate_auth(&"x".repeat(1001)).is_err());
    }
}

//! A user's sessions (issue #26, point 4): the list the sessions page shows, and ending
//! one of them or all but the current one. Ending a session deletes its row, so that
//! browser is signed out at its next request on every instance (the cache of who asks
//! forgets on any write to `sessions`: `db::changes`).

use serde_json::json;

use super::model::{self as users, SessionRow, User};
use super::ops::user_event;
use crate::audit::Actor;
use crate::db::{DbConn, now, write_tx};
use crate::outcome::{OpResult, Refusal, refuse};

/// The longest User-Agent kept for a session (characters).
pub const MAX_USER_AGENT: usize = 300;

/// A User-Agent header as stored: read as UTF-8 (lossily), control characters replaced,
/// trimmed, at most [`MAX_USER_AGENT`] characters.
pub fn clean_user_agent(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw)
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .take(MAX_USER_AGENT)
        .collect::<String>()
        .trim()
        .to_string()
}

/// A short readable name for the device a User-Agent describes: "Chrome on Linux",
/// "Firefox on Windows", "curl"; "Unknown device" when there is none.
pub fn device_name(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.map(str::trim).filter(|s| !s.is_empty()) else {
        return "Unknown device".into();
    };
    let has = |s: &str| ua.contains(s);
    let browser = if has("Edg/") || has("EdgA/") || has("EdgiOS/") {
        Some("Edge")
    } else if has("OPR/") || has("Opera") {
        Some("Opera")
    } else if has("Firefox/") || has("FxiOS/") {
        Some("Firefox")
    } else if has("Chromium/") {
        Some("Chromium")
    } else if has("Chrome/") || has("CriOS/") {
        Some("Chrome")
    } else if has("Safari/") && (has("Version/") || has("Mobile/")) {
        Some("Safari")
    } else {
        None
    };
    let os = if has("Windows") {
        Some("Windows")
    } else if has("Android") {
        Some("Android")
    } else if has("iPhone") || has("iPad") || has("iPod") {
        Some("iOS")
    } else if has("CrOS") {
        Some("ChromeOS")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("Linux") || has("X11") {
        Some("Linux")
    } else {
        None
    };
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_string(),
        (None, os) => {
            // A program names itself first: `curl/8.5.0`, `python-requests/2.31`.
            let product: String = ua
                .split(['/', ' ', '('])
                .next()
                .unwrap_or_default()
                .chars()
                .take(40)
                .collect();
            let product = if product.is_empty() || product == "Mozilla" {
                "Unknown browser".to_string()
            } else {
                product
            };
            match os {
                Some(o) => format!("{product} on {o}"),
                None => product,
            }
        }
    }
}

/// A session of the user, as the page lists it.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub id: String,
    /// [`device_name`] of the User-Agent.
    pub device: String,
    /// The User-Agent as sent, if it is known.
    pub user_agent: Option<String>,
    pub address: Option<String>,
    pub created_at: chrono::NaiveDateTime,
    pub last_seen_at: Option<chrono::NaiveDateTime>,
    /// The session of the request that asks.
    pub current: bool,
}

impl SessionInfo {
    fn of(row: SessionRow, current: Option<&str>) -> Self {
        SessionInfo {
            device: device_name(row.user_agent.as_deref()),
            current: current == Some(row.id.as_str()),
            id: row.id,
            user_agent: row.user_agent,
            address: row.client_address,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
        }
    }

    pub fn address_label(&self) -> &str {
        self.address.as_deref().unwrap_or("Unknown")
    }

    pub fn created_label(&self) -> String {
        self.created_at.format("%Y-%m-%d %H:%M UTC").to_string()
    }

    pub fn last_seen_label(&self) -> String {
        self.last_seen_at
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "Unknown".into())
    }
}

/// When a session last used before this has ended for being idle.
fn seen_since(idle: std::time::Duration) -> chrono::NaiveDateTime {
    let idle = chrono::TimeDelta::from_std(idle).unwrap_or(chrono::TimeDelta::MAX);
    now()
        .checked_sub_signed(idle)
        .unwrap_or(chrono::NaiveDateTime::MIN)
}

/// The user's sessions that still work, most recently used first; `current` (the id of the
/// asking request's session) is marked.
pub fn live(
    c: &mut DbConn,
    user_id: &str,
    idle: std::time::Duration,
    current: Option<&str>,
) -> OpResult<Vec<SessionInfo>> {
    Ok(users::live_sessions(c, user_id, seen_since(idle))?
        .into_iter()
        .map(|r| SessionInfo::of(r, current))
        .collect())
}

/// Ends the user's session `id`, which must be one of their live sessions other than
/// `current` (anything else: not found, nothing changes): `atrium.session.ended`. Returns
/// the session ended.
pub fn end_one(
    c: &mut DbConn,
    user: &User,
    id: &str,
    current: &str,
    idle: std::time::Duration,
    ip: &str,
) -> OpResult<SessionInfo> {
    write_tx(c, |c| {
        let found = users::live_sessions(c, &user.id, seen_since(idle))?
            .into_iter()
            .find(|r| r.id == id && r.id != current);
        let Some(row) = found else {
            return refuse(Refusal::NotFound);
        };
        let info = SessionInfo::of(row, Some(current));
        users::end_session(c, &user.id, id)?;
        user_event(
            c,
            "atrium.session.ended",
            Actor::user(user),
            user,
            ip,
            json!({ "device": info.device, "address": info.address }),
        )?;
        Ok(info)
    })
}

/// Ends every session of the user but `current`: `atrium.session.ended_others` with the
/// count of live sessions ended, when there were any. Returns that count.
pub fn end_others(
    c: &mut DbConn,
    user: &User,
    current: &str,
    idle: std::time::Duration,
    ip: &str,
) -> OpResult<usize> {
    write_tx(c, |c| {
        let live = users::live_sessions(c, &user.id, seen_since(idle))?
            .iter()
            .filter(|r| r.id != current)
            .count();
        // Rows already past their end go too.
        users::end_sessions_but(c, &user.id, current)?;
        if live > 0 {
            user_event(
                c,
                "atrium.session.ended_others",
                Actor::user(user),
                user,
                ip,
                json!({ "count": live }),
            )?;
        }
        Ok(live)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_have_short_names() {
        for (ua, name) in [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                "Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
                "Firefox on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0",
                "Edge on Windows",
            ),
            ("curl/8.5.0", "curl"),
            (
                "Mozilla/5.0 (X11; Linux x86_64)",
                "Unknown browser on Linux",
            ),
        ] {
            assert_eq!(device_name(Some(ua)), name, "{ua}");
        }
        assert_eq!(device_name(None), "Unknown device");
        assert_eq!(device_name(Some("  ")), "Unknown device");
    }

    #[test]
    fn user_agents_are_kept_short_and_printable() {
        let long = "a".repeat(1000);
        assert_eq!(
            clean_user_agent(long.as_bytes()).chars().count(),
            MAX_USER_AGENT
        );
        assert_eq!(clean_user_agent(b"x\0y\n"), "x\u{FFFD}y\u{FFFD}");
        assert_eq!(clean_user_agent(&[0xff, b'a']), "\u{FFFD}a");
    }
}

//! How an event reads: the sentence in plain words, who did it, and the raw event — the
//! same for the page, the export and the API.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::StoredEvent;
use super::catalog;

/// Workspace names by id, for the sentences ("in workspace prod").
#[derive(Default, Clone)]
pub struct Names {
    pub workspaces: HashMap<String, String>,
}

impl Names {
    /// The workspace's current name; for one that is gone, what the event remembers.
    fn workspace(&self, e: &StoredEvent, payload: &Value) -> String {
        if let Some(name) = e
            .workspace_id
            .as_ref()
            .and_then(|id| self.workspaces.get(id))
        {
            return name.clone();
        }
        if e.resource_kind == "workspace" || e.resource_kind == "workspace_transfer" {
            return e.resource_name.clone();
        }
        for key in ["workspace", "workspace_name", "workspace_handle"] {
            if let Some(s) = payload.get(key).and_then(Value::as_str) {
                return s.to_string();
            }
        }
        "(a workspace that no longer exists)".into()
    }
}

/// A value of the payload as text: strings as they are, anything else as JSON.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// " from A to B" (or " as B" for a first grant) when the payload records a change.
fn change(payload: &Value) -> String {
    let from = payload.get("from").and_then(text);
    let to = payload.get("to").and_then(text);
    match (from, to) {
        (Some(f), Some(t)) => format!(" from {f} to {t}"),
        (None, Some(t)) => format!(" as {t}"),
        _ => String::new(),
    }
}

/// What the event says happened, in plain words.
pub fn sentence(e: &StoredEvent, names: &Names) -> String {
    let payload: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
    let Some(info) = catalog::find(&e.action) else {
        return format!("{} ({})", e.action, e.resource_name);
    };
    let role = payload
        .get("role")
        .and_then(text)
        .map(|r| format!(" as {r}"))
        .unwrap_or_default();
    let team = payload
        .get("team")
        .and_then(text)
        .unwrap_or_default()
        .to_string();
    info.sentence
        .replace("{team}", &team)
        .replace("{actor}", &e.actor_name)
        .replace("{target}", &e.resource_name)
        .replace("{ws}", &names.workspace(e, &payload))
        .replace("{change}", &change(&payload))
        .replace("{role}", &role)
}

/// "User", "Service account", … for the actor column.
pub fn actor_kind_label(kind: &str) -> &'static str {
    match kind {
        "user" => "User",
        "service_account" => "Service account",
        "anonymous" => "Not logged in",
        _ => "Atrium",
    }
}

/// The event's time in the viewer's zone, e.g. `2026-11-30 14:05:09 CET`.
pub fn local_time(t: NaiveDateTime, tz: Tz) -> String {
    tz.from_utc_datetime(&t)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// UTC, RFC 3339 with microseconds.
pub fn utc(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The stored event as one JSON object (the export's lines and the page's "raw event").
pub fn raw(e: &StoredEvent) -> Value {
    let payload: Value =
        serde_json::from_str(&e.payload).unwrap_or(Value::String(e.payload.clone()));
    json!({
        "id": e.event_id,
        "occurred": utc(e.occurred_at),
        "event": e.action,
        "account_id": e.account_id,
        "workspace_id": e.workspace_id,
        "actor": { "kind": e.actor_kind, "id": e.actor_id, "name": e.actor_name },
        "ip": e.ip,
        "resource": { "kind": e.resource_kind, "id": e.resource_id, "name": e.resource_name },
        "payload": payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str, payload: Value) -> StoredEvent {
        StoredEvent {
            id: 1,
            event_id: "e".into(),
            occurred_at: chrono::DateTime::from_timestamp(0, 0)
                .map(|t| t.naive_utc())
                .unwrap_or_default(),
            account_id: Some("a".into()),
            workspace_id: Some("w".into()),
            actor_kind: "user".into(),
            actor_id: Some("u".into()),
            actor_name: "Ana".into(),
            action: action.into(),
            resource_kind: "user".into(),
            resource_id: Some("b".into()),
            resource_name: "Bo".into(),
            ip: None,
            payload: payload.to_string(),
        }
    }

    #[test]
    fn a_role_change_reads_as_a_sentence() {
        let mut names = Names::default();
        names.workspaces.insert("w".into(), "prod".into());
        let e = event(
            "atrium.workspace_access.role_changed",
            json!({"from": "Viewer", "to": "Developer"}),
        );
        assert_eq!(
            sentence(&e, &names),
            "Ana changed Bo's role in workspace prod from Viewer to Developer"
        );
        let e = event(
            "atrium.workspace_access.granted",
            json!({"from": null, "to": "Viewer"}),
        );
        assert_eq!(
            sentence(&e, &names),
            "Ana gave Bo access to workspace prod as Viewer"
        );
    }

    #[test]
    fn times_follow_the_viewer_zone() {
        let t = chrono::DateTime::from_timestamp(1_764_500_000, 0)
            .map(|t| t.naive_utc())
            .unwrap_or_default();
        assert_eq!(local_time(t, Tz::UTC), "2025-11-30 10:53:20 UTC");
        assert_eq!(local_time(t, Tz::Europe__Berlin), "2025-11-30 11:53:20 CET");
    }
}

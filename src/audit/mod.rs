//! The audit log: one function records an event inside the caller's transaction.

pub mod catalog;
pub mod pages;
pub mod query;
pub mod retention;
pub mod view;

use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::audit_events;
use crate::db::{DbConn, now};

/// Who did it.
#[derive(Clone, Debug)]
pub enum Actor {
    User {
        id: String,
        name: String,
    },
    ServiceAccount {
        id: String,
        name: String,
    },
    /// Someone not (yet) authenticated, e.g. a failed log-in.
    Anonymous {
        label: String,
    },
    System,
}

impl Actor {
    /// A signed-in person, named as they show.
    pub fn user(u: &crate::users::model::User) -> Actor {
        Actor::User {
            id: u.id.clone(),
            name: u.display_name(),
        }
    }

    fn parts(&self) -> (&'static str, Option<String>, String) {
        match self {
            Actor::User { id, name } => ("user", Some(id.clone()), name.clone()),
            Actor::ServiceAccount { id, name } => {
                ("service_account", Some(id.clone()), name.clone())
            }
            Actor::Anonymous { label } => ("anonymous", None, label.clone()),
            Actor::System => ("system", None, "Atrium".into()),
        }
    }
}

/// What it was done to.
#[derive(Clone, Debug)]
pub struct Resource {
    pub kind: &'static str,
    pub id: Option<String>,
    pub name: String,
}

/// An event to record; `action` is `atrium.<resource>.<action>`.
#[derive(Clone, Debug)]
pub struct Event {
    pub action: &'static str,
    pub actor: Actor,
    pub resource: Resource,
    pub account_id: Option<String>,
    pub workspace_id: Option<String>,
    pub ip: Option<String>,
    pub payload: Value,
}

impl Event {
    /// The event `action` (`atrium.<resource>.<action>`, listed in [`catalog`]) by `actor`
    /// on the resource of `kind` with `id` and `name`; the other parts are added with
    /// [`Event::account`], [`Event::workspace`], [`Event::ip`] and [`Event::payload`], and
    /// [`Event::record`] writes it.
    pub fn new(
        action: &'static str,
        actor: Actor,
        kind: &'static str,
        id: Option<String>,
        name: impl Into<String>,
    ) -> Event {
        Event {
            action,
            actor,
            resource: Resource {
                kind,
                id,
                name: name.into(),
            },
            account_id: None,
            workspace_id: None,
            ip: None,
            payload: Value::Object(Default::default()),
        }
    }

    /// The event `action` by `actor` on `resource`, which the caller built.
    pub fn about(action: &'static str, actor: Actor, resource: Resource) -> Event {
        Event::new(action, actor, resource.kind, resource.id, resource.name)
    }

    /// The account whose audit log shows it.
    pub fn account(mut self, account_id: impl Into<String>) -> Event {
        self.account_id = Some(account_id.into());
        self
    }

    /// The account whose audit log shows it, if any.
    pub fn account_opt(mut self, account_id: Option<String>) -> Event {
        self.account_id = account_id;
        self
    }

    /// The workspace it happened in.
    pub fn workspace(mut self, workspace_id: impl Into<String>) -> Event {
        self.workspace_id = Some(workspace_id.into());
        self
    }

    /// The workspace it happened in, if any.
    pub fn workspace_opt(mut self, workspace_id: Option<String>) -> Event {
        self.workspace_id = workspace_id;
        self
    }

    /// The client address the request came from.
    pub fn ip(mut self, ip: impl Into<String>) -> Event {
        self.ip = Some(ip.into());
        self
    }

    /// The client address the request came from, if known.
    pub fn ip_opt(mut self, ip: Option<String>) -> Event {
        self.ip = ip;
        self
    }

    /// What changed (`{"from": …, "to": …}` and the like).
    pub fn payload(mut self, payload: Value) -> Event {
        self.payload = payload;
        self
    }

    /// Records it with the connection of the transaction that makes the change.
    pub fn record(self, conn: &mut DbConn) -> QueryResult<()> {
        record(conn, self)
    }
}

#[derive(Insertable)]
#[diesel(table_name = audit_events)]
struct NewEvent {
    event_id: String,
    occurred_at: chrono::NaiveDateTime,
    account_id: Option<String>,
    workspace_id: Option<String>,
    actor_kind: String,
    actor_id: Option<String>,
    actor_name: String,
    action: String,
    resource_kind: String,
    resource_id: Option<String>,
    resource_name: String,
    ip: Option<String>,
    payload: String,
}

/// Records `event`. Call it with the connection of the transaction that makes the change.
fn record(conn: &mut DbConn, event: Event) -> QueryResult<()> {
    debug_assert!(
        catalog::find(event.action).is_some(),
        "{} is not in audit::catalog::ACTIONS",
        event.action
    );
    let (kind, actor_id, actor_name) = event.actor.parts();
    let at = now();
    let row = NewEvent {
        event_id: crate::db::time_ordered_id(at),
        occurred_at: at,
        account_id: event.account_id,
        workspace_id: event.workspace_id,
        actor_kind: kind.into(),
        actor_id,
        actor_name,
        action: event.action.into(),
        resource_kind: event.resource.kind.into(),
        resource_id: event.resource.id,
        resource_name: event.resource.name,
        ip: event.ip,
        payload: event.payload.to_string(),
    };
    diesel::insert_into(audit_events::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// A recorded event, as read back.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = audit_events)]
pub struct StoredEvent {
    pub id: i64,
    pub event_id: String,
    pub occurred_at: chrono::NaiveDateTime,
    pub account_id: Option<String>,
    pub workspace_id: Option<String>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub action: String,
    pub resource_kind: String,
    pub resource_id: Option<String>,
    pub resource_name: String,
    pub ip: Option<String>,
    pub payload: String,
}

/// The newest events of an account, newest first.
pub fn recent_for_account(
    conn: &mut DbConn,
    account_id: &str,
    limit: i64,
) -> QueryResult<Vec<StoredEvent>> {
    audit_events::table
        .filter(audit_events::account_id.eq(account_id))
        .order(audit_events::id.desc())
        .limit(limit)
        .select(StoredEvent::as_select())
        .load(conn)
}

//! Reading the audit log: one filter for the page, the export and the API, and keyset
//! paging by the event's row id (newest first), so a page stays the same while new events
//! arrive and page 1,000 costs what page 1 does.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::StoredEvent;
use crate::db::schema::audit_events;
use crate::db::{DbConn, MultiBackend};

/// Which events of an account to read. Every part is optional; all given parts must match.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Filter {
    /// The acting users' or service accounts' ids.
    pub actors: Option<Vec<String>>,
    /// Only these events (their `event_id`).
    pub event_ids: Option<Vec<String>>,
    /// Only these event names (an empty list matches nothing).
    pub actions: Option<Vec<String>>,
    /// None of these event names.
    pub exclude_actions: Vec<String>,
    pub workspace_id: Option<String>,
    /// Only events about these resources (ids as stored).
    pub resource_ids: Option<Vec<String>>,
    /// Occurred at or after.
    pub since: Option<NaiveDateTime>,
    /// Occurred before.
    pub until: Option<NaiveDateTime>,
}

/// Where a page starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// The newest events.
    Newest,
    /// Events older than this row id (the next page).
    Before(i64),
    /// Events newer than this row id (the previous page).
    After(i64),
}

/// One page, newest first, with the cursors of its neighbours.
#[derive(Debug)]
pub struct Page {
    pub events: Vec<StoredEvent>,
    /// `Cursor::After` this id shows the newer page, when there is one.
    pub newer: Option<i64>,
    /// `Cursor::Before` this id shows the older page, when there is one.
    pub older: Option<i64>,
}

type Boxed<'a> = audit_events::BoxedQuery<'a, MultiBackend>;

/// How far the order of row ids may stray from the order of `occurred_at` (two
/// transactions that took their time in one order and committed in the other).
const SLACK_MINUTES: i64 = 5;

/// The range of row ids that can hold events of the filter's dates: rows are written with
/// the current time, so ids follow time (up to [`SLACK_MINUTES`]). Two index seeks on
/// `occurred_at`; then the page walks the account's `(account_id, …, id)` index within that
/// range instead of sorting every event of a long date range.
#[derive(Clone, Copy, Default)]
struct IdRange {
    min: Option<i64>,
    max: Option<i64>,
    /// Nothing can match (no event in the range at all).
    empty: bool,
}

fn id_range(c: &mut DbConn, f: &Filter) -> QueryResult<IdRange> {
    let slack = chrono::TimeDelta::minutes(SLACK_MINUTES);
    let mut r = IdRange::default();
    if let Some(t) = f.since {
        let first: Option<i64> = audit_events::table
            .filter(audit_events::occurred_at.ge(t - slack))
            .order(audit_events::occurred_at.asc())
            .select(audit_events::id)
            .first(c)
            .optional()?;
        match first {
            Some(id) => r.min = Some(id),
            None => r.empty = true,
        }
    }
    if let Some(t) = f.until {
        let last: Option<i64> = audit_events::table
            .filter(audit_events::occurred_at.lt(t + slack))
            .order(audit_events::occurred_at.desc())
            .select(audit_events::id)
            .first(c)
            .optional()?;
        match last {
            Some(id) => r.max = Some(id),
            None => r.empty = true,
        }
    }
    Ok(r)
}

/// The events of `account_id` that match `f`, in no particular order.
fn matching<'a>(account_id: &'a str, f: &'a Filter, ids: IdRange) -> Boxed<'a> {
    let mut q = audit_events::table
        .filter(audit_events::account_id.eq(account_id))
        .into_boxed();
    if ids.empty {
        q = q.filter(audit_events::id.lt(0));
    }
    if let Some(min) = ids.min {
        q = q.filter(audit_events::id.ge(min));
    }
    if let Some(max) = ids.max {
        q = q.filter(audit_events::id.le(max));
    }
    if let Some(actors) = &f.actors {
        q = q.filter(audit_events::actor_id.eq_any(actors));
    }
    if let Some(ids) = &f.event_ids {
        q = q.filter(audit_events::event_id.eq_any(ids));
    }
    if let Some(names) = &f.actions {
        q = q.filter(audit_events::action.eq_any(names));
    }
    if !f.exclude_actions.is_empty() {
        q = q.filter(audit_events::action.ne_all(&f.exclude_actions));
    }
    if let Some(ws) = &f.workspace_id {
        q = q.filter(audit_events::workspace_id.eq(ws));
    }
    if let Some(ids) = &f.resource_ids {
        q = q.filter(audit_events::resource_id.eq_any(ids));
    }
    if let Some(t) = f.since {
        q = q.filter(audit_events::occurred_at.ge(t));
    }
    if let Some(t) = f.until {
        q = q.filter(audit_events::occurred_at.lt(t));
    }
    q
}

/// One page of at most `limit` events: one statement (three with a date range), whatever
/// the size of the log.
pub fn page(
    c: &mut DbConn,
    account_id: &str,
    f: &Filter,
    cursor: Cursor,
    limit: i64,
) -> QueryResult<Page> {
    let limit = limit.max(1);
    let ids = id_range(c, f)?;
    let q = matching(account_id, f, ids).select(StoredEvent::as_select());
    match cursor {
        Cursor::Newest | Cursor::Before(_) => {
            let q = match cursor {
                Cursor::Before(id) => q.filter(audit_events::id.lt(id)),
                _ => q,
            };
            let mut events = q.order(audit_events::id.desc()).limit(limit + 1).load(c)?;
            let more = events.len() as i64 > limit;
            events.truncate(limit as usize);
            let older = more.then(|| events.last().map(|e| e.id)).flatten();
            let newer = match cursor {
                Cursor::Before(_) => events.first().map(|e| e.id),
                _ => None,
            };
            Ok(Page {
                events,
                newer,
                older,
            })
        }
        Cursor::After(id) => {
            let mut events = q
                .filter(audit_events::id.gt(id))
                .order(audit_events::id.asc())
                .limit(limit + 1)
                .load(c)?;
            let more = events.len() as i64 > limit;
            if !more {
                // Nothing newer beyond these: the newest page (a full one).
                return page(c, account_id, f, Cursor::Newest, limit);
            }
            events.truncate(limit as usize);
            events.reverse();
            let newer = events.first().map(|e| e.id);
            let older = events.last().map(|e| e.id);
            Ok(Page {
                events,
                newer,
                older,
            })
        }
    }
}

/// How many events match (the API's `total`).
pub fn count(c: &mut DbConn, account_id: &str, f: &Filter) -> QueryResult<i64> {
    let ids = id_range(c, f)?;
    matching(account_id, f, ids).count().get_result(c)
}

/// The next `limit` events, oldest-first or newest-first, after the row id `after` (the
/// export's and the API's walk through a whole filter, one bounded statement a step).
pub fn chunk(
    c: &mut DbConn,
    account_id: &str,
    f: &Filter,
    after: Option<i64>,
    ascending: bool,
    limit: i64,
) -> QueryResult<Vec<StoredEvent>> {
    let ids = id_range(c, f)?;
    let mut q = matching(account_id, f, ids).select(StoredEvent::as_select());
    q = match (after, ascending) {
        (Some(id), true) => q.filter(audit_events::id.gt(id)),
        (Some(id), false) => q.filter(audit_events::id.lt(id)),
        (None, _) => q,
    };
    q = if ascending {
        q.order(audit_events::id.asc())
    } else {
        q.order(audit_events::id.desc())
    };
    q.limit(limit).load(c)
}

/// The actor a filter names: an id as it is, else a user's e-mail or handle, else a
/// service account's name in the account.
pub fn resolve_actor(c: &mut DbConn, account_id: &str, raw: &str) -> QueryResult<Option<String>> {
    use crate::db::schema::{service_accounts, users};
    if let Ok(id) = uuid::Uuid::parse_str(raw) {
        return Ok(Some(id.to_string()));
    }
    let key = raw.to_lowercase();
    let user: Option<String> = users::table
        .filter(users::email_normalized.eq(&key).or(users::handle.eq(&key)))
        .select(users::id)
        .first(c)
        .optional()?;
    if user.is_some() {
        return Ok(user);
    }
    service_accounts::table
        .filter(service_accounts::account_id.eq(account_id))
        .filter(
            service_accounts::name_normalized.eq(crate::service_accounts::model::normalize(raw)),
        )
        .select(service_accounts::id)
        .first(c)
        .optional()
}

/// Which of the people and service accounts events name still exist in the account, for
/// the page's links: members (user id → handle) and service accounts (ids). Always two
/// statements (a page costs the same whatever its rows), bounded by the page's events.
pub fn live_targets(
    c: &mut DbConn,
    account_id: &str,
    user_ids: &[String],
    sa_ids: &[String],
) -> QueryResult<(
    std::collections::HashMap<String, String>,
    std::collections::HashSet<String>,
)> {
    use crate::db::schema::{account_memberships as m, service_accounts as s};
    let members = m::table
        .filter(m::account_id.eq(account_id))
        .filter(m::user_id.eq_any(user_ids))
        .select((m::user_id, m::handle))
        .load::<(String, String)>(c)?;
    let bots = s::table
        .filter(s::account_id.eq(account_id))
        .filter(s::id.eq_any(sa_ids))
        .select(s::id)
        .load::<String>(c)?;
    Ok((members.into_iter().collect(), bots.into_iter().collect()))
}

//! `/account/{id}/audit-log`: the account's events, newest first, filtered by actor,
//! action, workspace and date range, 50 a page by keyset; and the export of the same
//! filter as CSV or JSON lines, streamed. Both need `read:audit_event` (404 without).

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use serde::Deserialize;

use super::StoredEvent;
use super::catalog::{self, Group};
use super::query::{self, Cursor, Filter};
use super::view::{self, Names};
use crate::authz::AccountPerm;
use crate::db::{DbConn, Pool};
use crate::web::ctx::AccountCtx;
use crate::web::{AppError, FieldErrors, Shell, db, render};
use crate::workspaces::ops as workspaces;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/{account_id}/audit-log", web::get().to(index))
        .route(
            "/account/{account_id}/audit-log/export",
            web::get().to(export),
        );
}

/// Rows on a page.
pub const PAGE_SIZE: i64 = 50;

/// Rows read per step of an export.
const EXPORT_CHUNK: i64 = 500;

/// The cookie in which the browser tells its time zone (set by `static/app.js`).
pub const TZ_COOKIE: &str = "atrium_tz";

/// Where the workspace filter's list stops.
const MAX_WORKSPACES: i64 = 2000;

/// The filter form, as the query string carries it.
#[derive(Deserialize, Default, Clone)]
pub struct FilterForm {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub action: String,
    #[serde(default)]
    pub workspace: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub before: String,
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    pub format: String,
}

impl FilterForm {
    /// The query string of the filter alone (for paging and export links).
    pub fn query(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("workspace", &self.workspace),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.trim().is_empty() {
                parts.push(format!(
                    "{k}={}",
                    url::form_urlencoded::byte_serialize(v.trim().as_bytes()).collect::<String>()
                ));
            }
        }
        parts.join("&")
    }

    fn cursor(&self) -> Cursor {
        if let Ok(id) = self.before.trim().parse::<i64>() {
            Cursor::Before(id)
        } else if let Ok(id) = self.after.trim().parse::<i64>() {
            Cursor::After(id)
        } else {
            Cursor::Newest
        }
    }
}

/// The viewer's time zone: the browser's, as its cookie says, else UTC.
pub fn viewer_zone(req: &HttpRequest) -> Tz {
    req.cookie(TZ_COOKIE)
        .map(|c| c.value().replace("%2F", "/").replace("%2f", "/"))
        .and_then(|name| name.parse::<Tz>().ok())
        .unwrap_or(Tz::UTC)
}

/// The start of `day` in `tz`, as UTC.
fn start_of(day: NaiveDate, tz: Tz) -> NaiveDateTime {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.naive_utc(),
        // A zone that skips midnight (a DST jump): the hour after.
        chrono::LocalResult::None => tz
            .from_local_datetime(&(midnight + chrono::TimeDelta::hours(1)))
            .earliest()
            .map(|t| t.naive_utc())
            .unwrap_or(midnight),
    }
}

fn parse_day(raw: &str) -> Result<Option<NaiveDate>, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| "Enter a date as YYYY-MM-DD.")
}

/// The action filter's value: one event name or a whole group.
fn parse_action(raw: &str) -> Result<Option<Vec<String>>, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Some(g) = Group::from_key(raw) {
        return Ok(Some(g.actions().map(|a| a.name.to_string()).collect()));
    }
    match catalog::find(raw) {
        Some(a) => Ok(Some(vec![a.name.to_string()])),
        None => Err("Choose an action from the list."),
    }
}

/// Turns the form into a filter, resolving the actor (an id, a member's e-mail or handle,
/// or a service account's name) with at most two statements.
fn parse_filter(
    c: &mut DbConn,
    account_id: &str,
    form: &FilterForm,
    tz: Tz,
) -> Result<Result<Filter, FieldErrors>, AppError> {
    let mut errors = FieldErrors::default();
    let mut f = Filter::default();
    match parse_action(&form.action) {
        Ok(a) => f.actions = a,
        Err(e) => errors.add("action", e),
    }
    let ws = form.workspace.trim();
    if !ws.is_empty() {
        match uuid::Uuid::parse_str(ws) {
            Ok(id) => f.workspace_id = Some(id.to_string()),
            Err(_) => errors.add("workspace", "Choose a workspace from the list."),
        }
    }
    let from = parse_day(&form.from)
        .map_err(|e| errors.add("from", e))
        .ok()
        .flatten();
    let to = parse_day(&form.to)
        .map_err(|e| errors.add("to", e))
        .ok()
        .flatten();
    if let (Some(a), Some(b)) = (from, to)
        && b < a
    {
        errors.add("to", "The end date is before the start date.");
    }
    f.since = from.map(|d| start_of(d, tz));
    f.until = to.and_then(|d| d.succ_opt()).map(|d| start_of(d, tz));
    let actor = form.actor.trim();
    if actor.chars().any(char::is_control) {
        // No one goes by such a name (and PostgreSQL cannot compare a NUL).
        errors.add(
            "actor",
            "Use an e-mail, a handle or a service account's name.",
        );
    } else if !actor.is_empty() {
        match query::resolve_actor(c, account_id, actor)? {
            Some(id) => f.actors = Some(vec![id]),
            None => errors.add(
                "actor",
                "No member or service account of this account goes by that name. Use an e-mail, a handle or a service account's name.",
            ),
        }
    }
    Ok(if errors.is_empty() {
        Ok(f)
    } else {
        Err(errors)
    })
}

/// One row of the page.
pub struct Row {
    pub id: i64,
    pub when: String,
    pub utc: String,
    pub actor_name: String,
    pub actor_kind: &'static str,
    pub actor_id: Option<String>,
    pub ip: Option<String>,
    pub label: &'static str,
    pub sentence: String,
    pub raw: String,
    /// Where the actor can be seen (a member or a service account of the account that
    /// still exists and the viewer may see), else `None` (plain text).
    pub who_href: Option<String>,
    /// What the event concerns, when the viewer may open it and it still exists: the link's
    /// text and address.
    pub target: Option<(String, String)>,
}

/// What the links of a page's rows may point to: the account's members (user id →
/// handle) and service accounts that still exist, its workspaces, and what the viewer may
/// open.
#[derive(Default)]
pub struct Links {
    pub account_id: String,
    pub members: HashMap<String, String>,
    pub bots: std::collections::HashSet<String>,
    pub see_members: bool,
    pub see_bots: bool,
    pub see_workspaces: bool,
}

impl Links {
    fn member(&self, id: Option<&str>) -> Option<String> {
        let handle = self.members.get(id?)?;
        self.see_members.then(|| {
            format!(
                "/account/{}/members?q={}",
                self.account_id,
                url::form_urlencoded::byte_serialize(handle.as_bytes()).collect::<String>()
            )
        })
    }

    fn bot(&self, id: Option<&str>) -> Option<String> {
        let id = id?;
        (self.see_bots && self.bots.contains(id))
            .then(|| format!("/account/{}/service-accounts/{id}", self.account_id))
    }

    fn workspace(&self, id: Option<&str>, names: &Names) -> Option<(String, String)> {
        let id = id?;
        let name = names.workspaces.get(id)?;
        self.see_workspaces.then(|| {
            (
                format!("Workspace {name}"),
                format!("/account/{}/workspace/{id}/dashboard", self.account_id),
            )
        })
    }

    fn who(&self, e: &StoredEvent) -> Option<String> {
        match e.actor_kind.as_str() {
            "user" => self.member(e.actor_id.as_deref()),
            "service_account" => self.bot(e.actor_id.as_deref()),
            _ => None,
        }
    }

    fn target(&self, e: &StoredEvent, names: &Names) -> Option<(String, String)> {
        let id = e.resource_id.as_deref();
        match e.resource_kind.as_str() {
            "user" => self
                .member(id)
                .map(|h| (format!("Member {}", e.resource_name), h)),
            "service_account" => self
                .bot(id)
                .map(|h| (format!("Service account {}", e.resource_name), h)),
            "workspace" => self.workspace(id, names),
            _ => self.workspace(e.workspace_id.as_deref(), names),
        }
    }
}

fn row(e: StoredEvent, names: &Names, tz: Tz, links: &Links) -> Row {
    Row {
        who_href: links.who(&e),
        target: links.target(&e, names),
        id: e.id,
        when: view::local_time(e.occurred_at, tz),
        utc: view::utc(e.occurred_at),
        sentence: view::sentence(&e, names),
        label: catalog::find(&e.action).map_or("Other", |a| a.label),
        raw: serde_json::to_string_pretty(&view::raw(&e)).unwrap_or_default(),
        actor_kind: view::actor_kind_label(&e.actor_kind),
        actor_name: e.actor_name,
        actor_id: e.actor_id,
        ip: e.ip,
    }
}

/// An option of the action filter's groups.
pub struct ActionGroup {
    pub key: &'static str,
    pub label: &'static str,
    pub actions: Vec<(&'static str, &'static str)>,
}

fn action_groups() -> Vec<ActionGroup> {
    Group::ALL
        .into_iter()
        .map(|g| ActionGroup {
            key: g.key(),
            label: g.label(),
            actions: g.actions().map(|a| (a.name, a.label)).collect(),
        })
        .collect()
}

/// The part of the page that a filter change or a page link replaces.
pub struct Results {
    pub account_id: String,
    pub rows: Vec<Row>,
    pub newer: Option<String>,
    pub older: Option<String>,
    pub filter_query: String,
    pub zone: String,
}

#[derive(Template)]
#[template(path = "audit/index.html")]
struct IndexPage {
    shell: Shell,
    account_id: String,
    account_name: String,
    form: FilterForm,
    errors: FieldErrors,
    groups: Vec<ActionGroup>,
    workspaces: Vec<(String, String)>,
    r: Results,
    /// Quick date ranges: (label, address, chosen now).
    ranges: Vec<(&'static str, String, bool)>,
}

/// The quick date ranges (the other filters kept): from `days` days before today, in the
/// viewer's zone, to today.
fn quick_ranges(base: &str, form: &FilterForm, tz: Tz) -> Vec<(&'static str, String, bool)> {
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    [
        ("Since yesterday", 1),
        ("Last 7 days", 6),
        ("Last 30 days", 29),
    ]
    .into_iter()
    .map(|(label, days)| {
        let from = (today - chrono::TimeDelta::days(days))
            .format("%Y-%m-%d")
            .to_string();
        let to = today.format("%Y-%m-%d").to_string();
        let chosen = form.from.trim() == from && form.to.trim() == to;
        let q = FilterForm {
            from,
            to,
            before: String::new(),
            after: String::new(),
            format: String::new(),
            ..form.clone()
        }
        .query();
        (label, format!("{base}?{q}"), chosen)
    })
    .collect()
}

/// The account's workspaces (id, name), for the filter and the sentences.
fn workspace_names(c: &mut DbConn, account_id: &str) -> Result<Vec<(String, String)>, AppError> {
    Ok(workspaces::in_account(c, account_id, MAX_WORKSPACES)?
        .into_iter()
        .map(|w| (w.id, w.name))
        .collect())
}

fn names_of(list: &[(String, String)]) -> Names {
    Names {
        workspaces: list.iter().cloned().collect::<HashMap<_, _>>(),
    }
}

/// The account's workspaces and, when the form is valid, what `then` makes of its filter
/// (one pooled connection for both).
async fn load<T: Send + 'static>(
    ctx: &AccountCtx,
    form: &FilterForm,
    tz: Tz,
    then: impl FnOnce(&mut DbConn, &str, &Filter) -> Result<T, AppError> + Send + 'static,
) -> Result<(Vec<(String, String)>, Result<T, FieldErrors>), AppError> {
    let account_id = ctx.account.id.clone();
    let form = form.clone();
    db(&ctx.auth.pool, move |c| {
        let list = workspace_names(c, &account_id)?;
        let outcome = match parse_filter(c, &account_id, &form, tz)? {
            Ok(f) => Ok(then(c, &account_id, &f)?),
            Err(e) => Err(e),
        };
        Ok((list, outcome))
    })
    .await
}

async fn index(
    req: HttpRequest,
    ctx: AccountCtx,
    form: web::Query<FilterForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadAuditEvent)?;
    let form = form.into_inner();
    let tz = viewer_zone(&req);
    let cursor = form.cursor();
    let (list, outcome) = load(&ctx, &form, tz, move |c, account_id, f| {
        let page = query::page(c, account_id, f, cursor, PAGE_SIZE)?;
        // Who and what the rows name, if they still exist (for the links).
        let ids_of = |kind: &str| -> Vec<String> {
            let mut ids: Vec<String> = page
                .events
                .iter()
                .flat_map(|e| {
                    let actor = (e.actor_kind == kind).then(|| e.actor_id.clone()).flatten();
                    let target = (e.resource_kind == kind)
                        .then(|| e.resource_id.clone())
                        .flatten();
                    [actor, target]
                })
                .flatten()
                .collect();
            ids.sort();
            ids.dedup();
            ids
        };
        let live = query::live_targets(c, account_id, &ids_of("user"), &ids_of("service_account"))?;
        Ok((page, live))
    })
    .await?;
    let names = names_of(&list);
    let links_base = Links {
        account_id: ctx.account.id.clone(),
        see_members: ctx.can(AccountPerm::ReadMembership),
        see_bots: ctx.can(AccountPerm::ReadBot),
        // Which workspaces the viewer reaches without a role of their own (Owners and
        // Admins: all of them), as the one rule of workspace access says.
        see_workspaces: crate::authz::workspace::can_see_workspace(
            &crate::authz::workspace::effective_scopes(&crate::authz::workspace::Inputs {
                actor: crate::authz::workspace::ActorKind::User,
                account_role: Some(ctx.role),
                own_role: None,
                default_role: None,
                team_roles: &[],
            }),
        ),
        ..Links::default()
    };
    let filter_query = form.query();
    let form_for_ranges = form.clone();
    let base = format!("/account/{}/audit-log", ctx.account.id);
    let link = |k: &str, id: i64| {
        if filter_query.is_empty() {
            format!("{base}?{k}={id}")
        } else {
            format!("{base}?{filter_query}&{k}={id}")
        }
    };
    let (status, rows, newer, older, errors) = match outcome {
        Ok((p, (members, bots))) => {
            let links = Links {
                members,
                bots,
                ..links_base
            };
            (
                StatusCode::OK,
                p.events
                    .into_iter()
                    .map(|e| row(e, &names, tz, &links))
                    .collect(),
                p.newer.map(|id| link("after", id)),
                p.older.map(|id| link("before", id)),
                FieldErrors::default(),
            )
        }
        Err(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Vec::new(),
            None,
            None,
            errors,
        ),
    };
    let r = Results {
        account_id: ctx.account.id.clone(),
        rows,
        newer,
        older,
        filter_query,
        zone: tz.name().to_string(),
    };
    render(
        status,
        &IndexPage {
            shell: ctx.auth.shell.at("audit-log"),
            account_id: ctx.account.id.clone(),
            account_name: ctx.account.name.clone(),
            form,
            errors,
            groups: action_groups(),
            workspaces: list,
            ranges: quick_ranges(&base, &form_for_ranges, tz),
            r,
        },
    )
}

/// The export's formats.
#[derive(Clone, Copy)]
enum Format {
    Csv,
    JsonLines,
}

const CSV_HEADER: &str = "occurred_at,event_id,event,description,actor_kind,actor_id,actor_name,ip,resource_kind,resource_id,resource_name,workspace_id,payload\r\n";

/// A CSV cell: quoted when needed, and a leading `'` before what a spreadsheet would run
/// as a formula (`=`, `+`, `-`, `@`, tab, carriage return).
pub fn csv_cell(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn csv_line(e: &StoredEvent, names: &Names) -> String {
    let cells = [
        view::utc(e.occurred_at),
        e.event_id.clone(),
        e.action.clone(),
        view::sentence(e, names),
        e.actor_kind.clone(),
        e.actor_id.clone().unwrap_or_default(),
        e.actor_name.clone(),
        e.ip.clone().unwrap_or_default(),
        e.resource_kind.clone(),
        e.resource_id.clone().unwrap_or_default(),
        e.resource_name.clone(),
        e.workspace_id.clone().unwrap_or_default(),
        e.payload.clone(),
    ];
    let mut line = cells
        .iter()
        .map(|c| csv_cell(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

fn json_line(e: &StoredEvent, names: &Names) -> String {
    let mut v = view::raw(e);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "description".into(),
            serde_json::Value::String(view::sentence(e, names)),
        );
    }
    let mut line = v.to_string();
    line.push('\n');
    line
}

/// Where the export's walk is.
struct Walk {
    pool: Pool,
    account_id: String,
    filter: Filter,
    names: Names,
    format: Format,
    after: Option<i64>,
    header: bool,
    done: bool,
}

/// The next piece of the export: the header, then one chunk of rows at a time, read by
/// keyset, so memory stays flat however many events there are.
async fn next_piece(mut w: Walk) -> Option<(Result<Bytes, AppError>, Walk)> {
    if w.done {
        return None;
    }
    if !w.header {
        w.header = true;
        if let Format::Csv = w.format {
            return Some((Ok(Bytes::from_static(CSV_HEADER.as_bytes())), w));
        }
    }
    let (account_id, filter, after) = (w.account_id.clone(), w.filter.clone(), w.after);
    let rows = db(&w.pool, move |c| {
        Ok(query::chunk(
            c,
            &account_id,
            &filter,
            after,
            false,
            EXPORT_CHUNK,
        )?)
    })
    .await;
    let rows = match rows {
        Ok(r) => r,
        Err(e) => {
            w.done = true;
            return Some((Err(e), w));
        }
    };
    if (rows.len() as i64) < EXPORT_CHUNK {
        w.done = true;
    }
    if rows.is_empty() {
        return None;
    }
    w.after = rows.last().map(|e| e.id);
    let mut out = String::with_capacity(rows.len() * 256);
    for e in &rows {
        match w.format {
            Format::Csv => out.push_str(&csv_line(e, &w.names)),
            Format::JsonLines => out.push_str(&json_line(e, &w.names)),
        }
    }
    Some((Ok(Bytes::from(out)), w))
}

async fn export(
    req: HttpRequest,
    ctx: AccountCtx,
    form: web::Query<FilterForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadAuditEvent)?;
    let form = form.into_inner();
    let format = match form.format.as_str() {
        "csv" | "" => Format::Csv,
        "jsonl" => Format::JsonLines,
        _ => {
            return Ok(HttpResponse::UnprocessableEntity()
                .content_type("text/plain; charset=utf-8")
                .body("Choose the format csv or jsonl."));
        }
    };
    let tz = viewer_zone(&req);
    let (list, filter) = load(&ctx, &form, tz, |_, _, f| Ok(f.clone())).await?;
    let filter = match filter {
        Ok(f) => f,
        Err(errors) => {
            let msg = errors
                .0
                .iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect::<Vec<_>>()
                .join("\n");
            return Ok(HttpResponse::UnprocessableEntity()
                .content_type("text/plain; charset=utf-8")
                .body(msg));
        }
    };
    let (content_type, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::JsonLines => ("application/x-ndjson", "jsonl"),
    };
    let file = format!(
        "audit-log-{}-{}.{ext}",
        ctx.account.handle,
        chrono::Utc::now().format("%Y%m%d-%H%M%S")
    );
    let walk = Walk {
        pool: ctx.auth.pool.clone(),
        account_id: ctx.account.id.clone(),
        filter,
        names: names_of(&list),
        format,
        after: None,
        header: false,
        done: false,
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{file}\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(futures_util::stream::unfold(walk, next_piece)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("@SUM(1)"), "'@SUM(1)");
        assert_eq!(csv_cell("-2+3"), "'-2+3");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn date_ranges_follow_the_viewer_zone() {
        let day = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap_or_default();
        assert_eq!(
            start_of(day, Tz::Europe__Berlin).to_string(),
            "2026-06-30 22:00:00"
        );
        assert_eq!(start_of(day, Tz::UTC).to_string(), "2026-07-01 00:00:00");
    }

    #[test]
    fn the_action_filter_takes_a_name_or_a_group() {
        assert_eq!(
            parse_action("atrium.workspace.created"),
            Ok(Some(vec!["atrium.workspace.created".to_string()]))
        );
        let group = parse_action("group:access")
            .ok()
            .flatten()
            .unwrap_or_default();
        assert!(group.contains(&"atrium.workspace_access.role_changed".to_string()));
        assert!(parse_action("atrium.nope").is_err());
        assert_eq!(parse_action(""), Ok(None));
    }
}

//! `POST /api/accounts/{account_id}/events/filter` and `GET …/events/filter/next`: the
//! account's audit events as the reference document's `EventPage` of `ReceivedEvent`s,
//! filtered by time, event name and resource, paged by keyset (the `next_page` link
//! carries the filter and the position). Needs `read:audit_event` (404 without).

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{OpenApi, ToSchema};

use super::body::{self, Errors, Field, Obj};
use super::error::Detail;
use super::{ApiAccount, ApiError, db};
use crate::audit::query::{self, Filter};
use crate::audit::{StoredEvent, catalog};
use crate::authz::AccountPerm;
use crate::settings::AppConfig;

pub fn routes(cfg: &mut web::ServiceConfig) {
    const BASE: &str = "/accounts/{account_id}/events/filter";
    cfg.route(BASE, web::post().to(read_events))
        .route(&format!("{BASE}/next"), web::get().to(read_events_page));
}

#[derive(OpenApi)]
#[openapi(
    paths(read_events, read_events_page),
    components(schemas(EventPage, ReceivedEvent, EventsFilterBody))
)]
pub struct Doc;

/// `ReceivedEvent`: `resource` and each of `related` are label maps
/// (`prefect.resource.id`, `prefect.resource.name`, `prefect.resource.role`).
#[derive(Serialize, ToSchema)]
pub struct ReceivedEvent {
    pub occurred: DateTime<Utc>,
    pub event: String,
    #[schema(value_type = Object)]
    pub resource: Map<String, Value>,
    #[schema(value_type = Vec<Object>)]
    pub related: Vec<Map<String, Value>>,
    #[schema(value_type = Object)]
    pub payload: Map<String, Value>,
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub follows: Option<String>,
    #[schema(format = Uuid)]
    pub account: String,
    #[schema(format = Uuid)]
    pub workspace: Option<String>,
    pub received: DateTime<Utc>,
}

/// `EventPage`.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<ReceivedEvent>,
    pub total: i64,
    pub next_page: Option<String>,
}

/// The request body: `limit` (0–200, default 50) and `filter` (`occurred.since/until`,
/// `event.name/prefix/exclude_name/exclude_prefix`, `resource.id`, `related.id` (the actor),
/// `id.id`, `order` `DESC`/`ASC`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EventsFilterBody {
    #[schema(minimum = 0, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
}

/// What a `next_page` token holds.
#[derive(Serialize, Deserialize)]
struct Token {
    f: Filter,
    asc: bool,
    limit: i64,
    after: i64,
}

/// `prefect.resource.id` of an Atrium resource: `atrium.<kind>.<id>`.
fn resource_id(kind: &str, id: Option<&str>, name: &str) -> String {
    format!("atrium.{kind}.{}", id.unwrap_or(name))
}

/// The id inside `atrium.<kind>.<id>` (or a bare id).
fn bare_id(s: &str) -> String {
    s.rsplit('.').next().unwrap_or(s).to_string()
}

fn label(pairs: &[(&str, Option<String>)]) -> Map<String, Value> {
    pairs
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| ((*k).to_string(), Value::String(v))))
        .collect()
}

fn received(e: StoredEvent) -> ReceivedEvent {
    let payload = match serde_json::from_str::<Value>(&e.payload) {
        Ok(Value::Object(m)) => m,
        Ok(Value::Null) | Err(_) => Map::new(),
        Ok(other) => Map::from_iter([("value".to_string(), other)]),
    };
    let resource = label(&[
        (
            "prefect.resource.id",
            Some(resource_id(
                &e.resource_kind,
                e.resource_id.as_deref(),
                &e.resource_name,
            )),
        ),
        ("prefect.resource.name", Some(e.resource_name.clone())),
    ]);
    let actor = label(&[
        (
            "prefect.resource.id",
            Some(resource_id(
                &e.actor_kind,
                e.actor_id.as_deref(),
                &e.actor_name,
            )),
        ),
        ("prefect.resource.role", Some("actor".into())),
        ("prefect.resource.name", Some(e.actor_name.clone())),
        ("atrium.ip", e.ip.clone()),
    ]);
    let occurred = e.occurred_at.and_utc();
    ReceivedEvent {
        occurred,
        event: e.action,
        resource,
        related: vec![actor],
        payload,
        id: e.event_id,
        follows: None,
        account: e.account_id.unwrap_or_default(),
        workspace: e.workspace_id,
        received: occurred,
    }
}

fn time(o: &Obj<'_>, name: &str, errors: &mut Errors) -> Option<NaiveDateTime> {
    match o.string(name, errors) {
        Field::Value(s) => match DateTime::parse_from_rfc3339(&s) {
            Ok(t) => Some(t.with_timezone(&Utc).naive_utc()),
            Err(_) => {
                errors.push(
                    o.loc(name),
                    "datetime_parsing",
                    "Input should be a valid datetime",
                );
                None
            }
        },
        _ => None,
    }
}

/// Filter keys of the reference that Atrium does not support: a 422 rather than a filter
/// silently ignored.
const UNSUPPORTED: [&str; 3] = ["any_resource", "text", "scope"];

/// Reads the body into a filter, its order and page size.
fn read_body(raw: &[u8]) -> Result<(Filter, bool, i64), ApiError> {
    let v = body::parse(raw, false)?;
    let mut errors = Errors::default();
    let o = Obj::body(&v, &mut errors);
    let limit = match o.int("limit", &mut errors) {
        Field::Value(n) if (0..=200).contains(&n) => n,
        Field::Value(_) => {
            errors.push(
                o.loc("limit"),
                "less_than_equal",
                "Input should be between 0 and 200",
            );
            0
        }
        _ => 50,
    };
    let mut f = Filter::default();
    let mut asc = false;
    if let Some(fo) = o.object("filter", &mut errors) {
        for key in UNSUPPORTED {
            if fo.has(key) {
                errors.push(
                    fo.loc(key),
                    "unsupported",
                    "Atrium does not filter events by this",
                );
            }
        }
        if let Some(occ) = fo.object("occurred", &mut errors) {
            f.since = time(&occ, "since", &mut errors);
            // `until` is inclusive in the reference: up to the next microsecond.
            f.until =
                time(&occ, "until", &mut errors).map(|t| t + chrono::TimeDelta::microseconds(1));
        }
        if let Some(ev) = fo.object("event", &mut errors) {
            let names = ev.strings("name", &mut errors).value();
            let prefixes = ev.strings("prefix", &mut errors).value();
            if names.is_some() || prefixes.is_some() {
                let mut wanted: Vec<String> = names.unwrap_or_default();
                for p in prefixes.unwrap_or_default() {
                    wanted.extend(
                        catalog::ACTIONS
                            .iter()
                            .filter(|a| a.name.starts_with(&p))
                            .map(|a| a.name.to_string()),
                    );
                }
                f.actions = Some(wanted);
            }
            f.exclude_actions = ev
                .strings("exclude_name", &mut errors)
                .value()
                .unwrap_or_default();
            for p in ev
                .strings("exclude_prefix", &mut errors)
                .value()
                .unwrap_or_default()
            {
                f.exclude_actions.extend(
                    catalog::ACTIONS
                        .iter()
                        .filter(|a| a.name.starts_with(&p))
                        .map(|a| a.name.to_string()),
                );
            }
        }
        if let Some(res) = fo.object("resource", &mut errors) {
            f.resource_ids = res
                .strings("id", &mut errors)
                .value()
                .map(|ids| ids.iter().map(|s| bare_id(s)).collect());
        }
        if let Some(rel) = fo.object("related", &mut errors) {
            f.actors = rel
                .strings("id", &mut errors)
                .value()
                .map(|ids| ids.iter().map(|s| bare_id(s)).collect());
        }
        if let Some(ids) = fo.object("id", &mut errors) {
            f.event_ids = ids.uuids("id", &mut errors).value();
        }
        match fo.string("order", &mut errors) {
            Field::Value(s) if s == "ASC" => asc = true,
            Field::Value(s) if s == "DESC" => asc = false,
            Field::Value(_) => {
                errors.push(fo.loc("order"), "enum", "Input should be 'DESC' or 'ASC'")
            }
            _ => {}
        }
    }
    errors.finish()?;
    Ok((f, asc, limit))
}

/// One page from `after` on, with the link to the next.
async fn respond(
    ctx: &ApiAccount,
    config: &AppConfig,
    f: Filter,
    asc: bool,
    limit: i64,
    after: Option<i64>,
) -> Result<HttpResponse, ApiError> {
    let account_id = ctx.account.id.clone();
    let f2 = f.clone();
    let (rows, total) = db(&ctx.caller.pool, move |c| {
        let rows = query::chunk(c, &account_id, &f2, after, asc, limit + 1)?;
        let total = query::count(c, &account_id, &f2)?;
        Ok((rows, total))
    })
    .await?;
    let mut rows = rows;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_page = match (more, rows.last()) {
        (true, Some(last)) => {
            let token = Token {
                f,
                asc,
                limit,
                after: last.id,
            };
            let json = serde_json::to_vec(&token)
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("page token: {e}")))?;
            Some(format!(
                "{}/api/accounts/{}/events/filter/next?page-token={}",
                config.base(),
                ctx.account.id,
                URL_SAFE_NO_PAD.encode(json)
            ))
        }
        _ => None,
    };
    Ok(HttpResponse::Ok().json(EventPage {
        events: rows.into_iter().map(received).collect(),
        total,
        next_page,
    }))
}

#[utoipa::path(post, path = "/api/accounts/{account_id}/events/filter", tag = "events",
    params(("account_id" = uuid::Uuid, Path)),
    request_body(content = Option<EventsFilterBody>),
    responses((status = 200, body = EventPage), (status = 401, body = Detail),
        (status = 404, body = Detail), (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn read_events(
    ctx: ApiAccount,
    config: web::Data<AppConfig>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    ctx.require_to_see(AccountPerm::ReadAuditEvent)?;
    let (f, asc, limit) = read_body(&raw)?;
    respond(&ctx, &config, f, asc, limit, None).await
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(rename = "page-token", default)]
    page_token: String,
}

#[utoipa::path(get, path = "/api/accounts/{account_id}/events/filter/next", tag = "events",
    params(("account_id" = uuid::Uuid, Path), ("page-token" = String, Query)),
    responses((status = 200, body = EventPage), (status = 401, body = Detail),
        (status = 404, body = Detail), (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn read_events_page(
    ctx: ApiAccount,
    config: web::Data<AppConfig>,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, ApiError> {
    ctx.require_to_see(AccountPerm::ReadAuditEvent)?;
    let token: Token = URL_SAFE_NO_PAD
        .decode(q.page_token.as_bytes())
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .filter(|t: &Token| (0..=200).contains(&t.limit))
        .ok_or_else(|| {
            ApiError::Validation(vec![super::error::FieldError::at(
                vec!["query".into(), "page-token".into()],
                "value_error",
                "Invalid page token",
            )])
        })?;
    respond(
        &ctx,
        &config,
        token.f,
        token.asc,
        token.limit,
        Some(token.after),
    )
    .await
}

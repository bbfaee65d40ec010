//! Service accounts (the API calls them "bots", as Prefect Cloud's paths do) and their
//! workspace accesses, with the reference document's paths and shapes: `/api/accounts/{account_id}/bots/…` (account permissions
//! `read:bot`, `create:bot`, `update:bot`, `delete:bot`) and
//! `/api/accounts/{account_id}/workspaces/{workspace_id}/bot_access/…` (scopes
//! `see_workspace_service_accounts`, `manage_workspace_service_accounts`). The changes go
//! through `service_accounts::ops`, the same functions the pages use.
//!
//! Bodies are read after the caller is authenticated and authorized, so a missing key is
//! 401 and a forbidden action 403 whatever the body holds; bad input then answers 422.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::body::utc;
use super::error::{Detail, FieldError, ValidationDetail};
use super::{ApiAccount, ApiError, ApiWorkspace, db};
use crate::apikeys::{self, ApiKey};
use crate::authz::AccountPerm;
use crate::authz::AccountRole;
use crate::ids::ServiceAccountId;
use crate::outcome::{OpError, Refusal};
use crate::service_accounts::ops::{self, BotAccess, Field, Grant, ServiceAccount, Who};

const SEE: &str = "see_workspace_service_accounts";
const MANAGE: &str = "manage_workspace_service_accounts";

pub fn routes(cfg: &mut web::ServiceConfig) {
    let bots = "/accounts/{account_id}/bots";
    let access = "/accounts/{account_id}/workspaces/{workspace_id}/bot_access";
    cfg.route(&format!("{bots}/"), web::post().to(create_bot))
        .route(bots, web::post().to(create_bot))
        .route(&format!("{bots}/filter"), web::post().to(read_bots))
        .route(&format!("{bots}/{{id}}"), web::get().to(read_bot))
        .route(&format!("{bots}/{{id}}"), web::patch().to(update_bot))
        .route(&format!("{bots}/{{id}}"), web::delete().to(delete_bot))
        .route(
            &format!("{bots}/{{id}}/rotate_api_key"),
            web::post().to(rotate_api_key),
        )
        .route(
            &format!("{bots}/{{id}}/read_bot_api_keys"),
            web::get().to(read_bot_api_keys),
        )
        .route(&format!("{access}/"), web::post().to(upsert_bot_access))
        .route(access, web::post().to(upsert_bot_access))
        .route(
            &format!("{access}/filter"),
            web::post().to(read_bot_accesses),
        )
        .route(&format!("{access}/{{id}}"), web::get().to(read_bot_access))
        .route(
            &format!("{access}/{{id}}"),
            web::delete().to(delete_bot_access),
        );
}

#[derive(OpenApi)]
#[openapi(
    paths(
        create_bot,
        read_bots,
        read_bot,
        update_bot,
        delete_bot,
        rotate_api_key,
        read_bot_api_keys,
        upsert_bot_access,
        read_bot_accesses,
        read_bot_access,
        delete_bot_access
    ),
    components(schemas(
        BotCreate,
        BotUpdate,
        BotRotateApiKey,
        BotCreateResponse,
        BotReadResponse,
        BotApiKeysResponse,
        ApiKeyCreateResponse,
        ApiKeyReadResponse,
        BotsFilterBody,
        BotFilter,
        AnyIds,
        BotFilterName,
        WorkspaceBotAccessCreate,
        WorkspaceBotAccessResponse,
        BotAccessFilterBody,
        WorkspaceActorAccessFilter,
        BotAccessSort
    ))
)]
pub struct Doc;

// ---------- shapes ----------

/// `BotCreate`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BotCreate {
    /// The name of the bot (1–100 characters, unique in the account).
    pub name: String,
    /// When the key expires (must be in the future); `null`: never.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub api_key_expiration: Option<String>,
    /// Only the Member role's id (or `null`): a service account is always Member.
    #[serde(default)]
    #[schema(schema_with = super::schema::bot_role_id)]
    pub account_role_id: Option<String>,
}

/// `BotUpdate`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct BotUpdate {
    #[serde(default)]
    pub name: Option<String>,
    /// Only the Member role's id (or `null`): a service account is always Member.
    #[serde(default)]
    #[schema(schema_with = super::schema::bot_role_id)]
    pub account_role_id: Option<String>,
}

/// `BotRotateAPIKey`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(as = BotRotateAPIKey)]
pub struct BotRotateApiKey {
    /// When the new key expires; `null`: never.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub api_key_expiration: Option<String>,
    /// How long the current key keeps working (at most 172800 s = 48 h); `null`: it is
    /// deleted at once.
    #[serde(default, deserialize_with = "super::body::opt_int")]
    #[schema(minimum = 0, maximum = 172800)]
    pub old_key_expires_in_seconds: Option<i64>,
}

/// `APIKeyCreateResponse`: the only shape that carries a key's plaintext.
#[derive(Serialize, ToSchema)]
#[schema(as = APIKeyCreateResponse)]
pub struct ApiKeyCreateResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub name: String,
    pub expiration: Option<DateTime<Utc>>,
    pub key: String,
}

/// `APIKeyReadResponse`.
#[derive(Serialize, ToSchema)]
#[schema(as = APIKeyReadResponse)]
pub struct ApiKeyReadResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub name: String,
    pub expiration: Option<DateTime<Utc>>,
    pub masked_key: Option<String>,
}

/// `BotCreateResponse`.
#[derive(Serialize, ToSchema)]
pub struct BotCreateResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    #[schema(format = Uuid)]
    pub actor_id: String,
    #[schema(format = Uuid)]
    pub account_id: String,
    pub name: String,
    pub account_role_name: String,
    pub api_key: ApiKeyCreateResponse,
}

/// `BotReadResponse`.
#[derive(Serialize, ToSchema)]
pub struct BotReadResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    #[schema(format = Uuid)]
    pub actor_id: String,
    #[schema(format = Uuid)]
    pub account_id: String,
    pub name: String,
    pub account_role_name: String,
    pub api_key: ApiKeyReadResponse,
}

/// `BotAPIKeyReadResponse`.
#[derive(Serialize, ToSchema)]
#[schema(as = BotAPIKeyReadResponse)]
pub struct BotApiKeysResponse {
    pub active_key: ApiKeyReadResponse,
    pub rotating_keys: Vec<ApiKeyReadResponse>,
}

/// `{"any_": [...]}`.
#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct AnyIds {
    #[serde(default)]
    pub any_: Option<Vec<String>>,
}

/// `BotFilterName`.
#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct BotFilterName {
    #[serde(default)]
    pub any_: Option<Vec<String>>,
    #[serde(default)]
    pub like_: Option<String>,
}

/// `BotFilter`.
#[derive(Deserialize, ToSchema, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct BotFilter {
    #[serde(default)]
    pub id: Option<AnyIds>,
    #[serde(default)]
    pub name: Option<BotFilterName>,
}

impl BotFilter {
    fn to_model(&self) -> ops::Filter {
        ops::Filter {
            ids: self.id.as_ref().and_then(|i| i.any_.clone()),
            names: self.name.as_ref().and_then(|n| n.any_.clone()),
            like: self.name.as_ref().and_then(|n| n.like_.clone()),
        }
    }
}

/// `Body_read_bots_api_accounts__account_id__bots_filter_post`.
#[derive(Deserialize, ToSchema, Default)]
pub struct BotsFilterBody {
    #[serde(default, deserialize_with = "super::body::opt_int")]
    #[schema(minimum = 0, maximum = 200, default = 200)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "super::body::opt_int")]
    #[schema(minimum = 0, default = 0)]
    pub offset: Option<i64>,
    #[serde(default)]
    pub service_accounts: Option<BotFilter>,
}

/// `WorkspaceBotAccessCreate`.
#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceBotAccessCreate {
    #[schema(format = Uuid)]
    pub bot_id: String,
    #[schema(format = Uuid)]
    pub workspace_role_id: String,
}

/// One access or a list of them (the upsert takes and answers either).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BotAccessUpsert {
    One(WorkspaceBotAccessCreate),
    Many(Vec<WorkspaceBotAccessCreate>),
}

/// `WorkspaceBotAccessResponse`.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceBotAccessResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    #[schema(format = Uuid)]
    pub workspace_id: String,
    #[schema(format = Uuid)]
    pub workspace_role_id: String,
    #[schema(format = Uuid)]
    pub actor_id: String,
    #[schema(format = Uuid)]
    pub bot_id: String,
    pub bot_name: String,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum BotAccessUpserted {
    One(WorkspaceBotAccessResponse),
    Many(Vec<WorkspaceBotAccessResponse>),
}

/// `WorkspaceActorAccessFilter`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceActorAccessFilter {
    #[serde(default)]
    pub workspace_role_id: Option<AnyIds>,
    #[serde(default)]
    pub actor_id: Option<AnyIds>,
}

/// `WorkspaceBotAccessSort`.
#[derive(Deserialize, ToSchema, Clone, Copy, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(as = WorkspaceBotAccessSort)]
pub enum BotAccessSort {
    CreatedAsc,
    CreatedDesc,
    #[default]
    BotNameAsc,
    BotNameDesc,
}

/// `Body_read_workspace_bot_accesses_…_bot_access_filter_post`.
#[derive(Deserialize, ToSchema, Default)]
pub struct BotAccessFilterBody {
    #[serde(default, deserialize_with = "super::body::opt_int")]
    #[schema(minimum = 0, maximum = 200, default = 200)]
    pub limit: Option<i64>,
    #[serde(default, deserialize_with = "super::body::opt_int")]
    #[schema(minimum = 0, default = 0)]
    pub offset: Option<i64>,
    #[serde(default)]
    pub workspace_accesses: Option<WorkspaceActorAccessFilter>,
    #[serde(default)]
    pub bots: Option<BotFilter>,
    #[serde(default)]
    pub sort: Option<BotAccessSort>,
}

// ---------- helpers ----------

/// The API's field name for an operation's field error (its key: [`Field::key`]).
fn api_field(key: &'static str) -> &'static str {
    match Field::of_key(key) {
        Some(Field::Name) => "name",
        Some(Field::Expiration) => "api_key_expiration",
        Some(Field::Workspace) => "workspace_id",
        Some(Field::Role) => "workspace_role_id",
        Some(Field::Overlap) => "old_key_expires_in_seconds",
        Some(Field::ServiceAccount) => "bot_id",
        None => key,
    }
}

/// A service-account operation's error as the API's: field errors under the API's names
/// (at their item of a list), the rest as every operation's.
fn bot_error(e: OpError) -> ApiError {
    let (item, fields) = match e {
        OpError::Refused(Refusal::Invalid(f)) => (None, f),
        OpError::Refused(Refusal::InvalidItem(i, f)) => (Some(i), f),
        other => return other.into(),
    };
    ApiError::Validation(
        fields
            .0
            .into_iter()
            .map(|(key, msg)| {
                let mut loc = vec!["body".to_string()];
                if let Some(n) = item {
                    loc.push(n.to_string());
                }
                loc.push(api_field(key).to_string());
                FieldError {
                    loc,
                    msg,
                    kind: "value_error".into(),
                }
            })
            .collect(),
    )
}

/// An optional JSON body: absent or `null` is the default.
fn optional_body<T: DeserializeOwned + Default>(raw: &[u8]) -> Result<T, ApiError> {
    match super::body::parse(raw, false)? {
        serde_json::Value::Null => Ok(T::default()),
        v => {
            if !v.is_object() {
                return Err(super::body::not_an_object(vec!["body".into()]));
            }
            objects_where_objects(&v, &mut vec!["body".into()])?;
            super::body::deserialize(&v)
        }
    }
}

/// The filter bodies' keys whose values are objects (or `null`).
const OBJECT_KEYS: [&str; 7] = [
    "service_accounts",
    "bots",
    "workspace_accesses",
    "id",
    "name",
    "workspace_role_id",
    "actor_id",
];

/// serde reads a struct from a JSON list too (`"name": [null, null]` as a `BotFilterName`
/// of nothing): a list where the document says object is a 422, as FastAPI answers.
fn objects_where_objects(v: &serde_json::Value, loc: &mut Vec<String>) -> Result<(), ApiError> {
    let serde_json::Value::Object(map) = v else {
        return Ok(());
    };
    for (k, item) in map {
        if !OBJECT_KEYS.contains(&k.as_str()) {
            continue;
        }
        loc.push(k.clone());
        if !(item.is_object() || item.is_null()) {
            return Err(super::body::not_an_object(loc.clone()));
        }
        objects_where_objects(item, loc)?;
        loc.pop();
    }
    Ok(())
}

/// A date-time from the API (RFC 3339; without an offset it is UTC).
fn parse_datetime(field: &str, raw: Option<&str>) -> Result<Option<NaiveDateTime>, ApiError> {
    let Some(raw) = raw.map(str::trim) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(t.naive_utc()));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, f) {
            return Ok(Some(t));
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(Some(t));
    }
    Err(ApiError::field(field, "Input should be a valid datetime"))
}

fn limit_offset(limit: Option<i64>, offset: Option<i64>) -> Result<(i64, i64), ApiError> {
    let limit = limit.unwrap_or(200);
    let offset = offset.unwrap_or(0);
    let mut errors = Vec::new();
    if !(0..=200).contains(&limit) {
        errors.push(FieldError::body(
            "limit",
            "Input should be between 0 and 200",
        ));
    }
    if offset < 0 {
        errors.push(FieldError::body(
            "offset",
            "Input should be greater than or equal to 0",
        ));
    }
    if errors.is_empty() {
        Ok((limit, offset))
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// A UUID path segment (anything else: 404).
fn path_id(req: &HttpRequest, name: &str) -> Result<String, ApiError> {
    super::path_id(req, name).ok_or(ApiError::NotFound)
}

/// The operations' caller, from what the call's scene holds.
fn who(holder: &crate::apikeys::KeyHolder, ip: &str) -> Who {
    Who {
        holder: holder.clone(),
        ip: ip.to_string(),
    }
}

fn key_read(key: &ApiKey) -> ApiKeyReadResponse {
    ApiKeyReadResponse {
        id: key.id.clone(),
        created: Some(utc(key.created_at)),
        name: key.name.clone(),
        expiration: key.expires_at.map(utc),
        masked_key: Some(key.mask()),
    }
}

fn bot_read(sa: ServiceAccount, key: Option<&ApiKey>) -> BotReadResponse {
    let api_key = match key {
        Some(k) => key_read(k),
        None => ApiKeyReadResponse {
            id: String::new(),
            created: None,
            name: sa.name.clone(),
            expiration: None,
            masked_key: None,
        },
    };
    BotReadResponse {
        created: Some(utc(sa.created_at)),
        updated: Some(utc(sa.updated_at)),
        actor_id: sa.id.clone(),
        account_role_name: AccountRole::Member.label().into(),
        id: sa.id,
        account_id: sa.account_id,
        name: sa.name,
        api_key,
    }
}

fn bot_created(sa: ServiceAccount, key: &ApiKey, plain: String) -> BotCreateResponse {
    BotCreateResponse {
        created: Some(utc(sa.created_at)),
        updated: Some(utc(sa.updated_at)),
        actor_id: sa.id.clone(),
        account_role_name: AccountRole::Member.label().into(),
        id: sa.id,
        account_id: sa.account_id,
        name: sa.name,
        api_key: ApiKeyCreateResponse {
            id: key.id.clone(),
            created: Some(utc(key.created_at)),
            name: key.name.clone(),
            expiration: key.expires_at.map(utc),
            key: plain,
        },
    }
}

fn access_response(workspace_id: &str, a: BotAccess) -> WorkspaceBotAccessResponse {
    WorkspaceBotAccessResponse {
        id: a.id,
        created: Some(utc(a.created_at)),
        updated: None,
        workspace_id: workspace_id.to_string(),
        workspace_role_id: a.role_id,
        actor_id: a.service_account_id.clone(),
        bot_id: a.service_account_id,
        bot_name: a.name,
    }
}

/// `account_role_id` may only name the Member role: a service account is never more.
fn check_account_role(raw: Option<&str>) -> Result<(), ApiError> {
    match raw {
        None => Ok(()),
        Some(id) if AccountRole::from_id(id) == Some(AccountRole::Member) => Ok(()),
        Some(_) => Err(ApiError::field(
            "account_role_id",
            "A service account's account role is always Member.",
        )),
    }
}

// ---------- bots ----------

/// Creates a service account; the answer holds its key, the only time it is shown.
#[utoipa::path(post, path = "/api/accounts/{account_id}/bots/", tag = "bots",
    params(("account_id" = uuid::Uuid, Path)),
    request_body = BotCreate,
    responses((status = 201, body = BotCreateResponse), (status = 401, body = Detail),
        (status = 403, body = Detail), (status = 404, body = Detail),
        (status = 422, body = ValidationDetail)),
    security(("api_key" = [])))]
pub async fn create_bot(acct: ApiAccount, raw: web::Bytes) -> Result<HttpResponse, ApiError> {
    acct.require_to_see(AccountPerm::ReadBot)?;
    acct.require(AccountPerm::CreateBot)?;
    let input: BotCreate = super::body::typed(&raw, false)?;
    check_account_role(input.account_role_id.as_deref())?;
    let expires_at = parse_datetime("api_key_expiration", input.api_key_expiration.as_deref())?;
    let new = ops::NewServiceAccount {
        name: input.name,
        expires_at,
        access: None,
    };
    let created = acct
        .try_op(move |c, s| ops::create(c, &who(&s.holder, &s.ip), &s.account.id, new))
        .await?
        .map_err(bot_error)?;
    Ok(HttpResponse::Created().json(bot_created(created.sa, &created.key, created.plain)))
}

/// Service accounts of the account, by name, filtered.
#[utoipa::path(post, path = "/api/accounts/{account_id}/bots/filter", tag = "bots",
    params(("account_id" = uuid::Uuid, Path)),
    request_body(content = Option<BotsFilterBody>),
    responses((status = 200, body = [BotReadResponse]), (status = 401, body = Detail),
        (status = 404, body = Detail), (status = 422, body = ValidationDetail)),
    security(("api_key" = [])))]
pub async fn read_bots(
    acct: ApiAccount,
    raw: web::Bytes,
) -> Result<web::Json<Vec<BotReadResponse>>, ApiError> {
    acct.require_to_see(AccountPerm::ReadBot)?;
    let input: BotsFilterBody = optional_body(&raw)?;
    let (limit, offset) = limit_offset(input.limit, input.offset)?;
    let filter = input.service_accounts.unwrap_or_default().to_model();
    let aid = acct.account.id.clone();
    let listed = db(&acct.caller.pool, move |c| {
        Ok(ops::filter(c, &aid, &filter, limit, offset)?)
    })
    .await?;
    Ok(web::Json(
        listed
            .into_iter()
            .map(|l| bot_read(l.sa, l.key.as_ref()))
            .collect(),
    ))
}

/// One service account with its current key (masked).
#[utoipa::path(get, path = "/api/accounts/{account_id}/bots/{id}", tag = "bots",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = BotReadResponse), (status = 401, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn read_bot(
    req: HttpRequest,
    acct: ApiAccount,
) -> Result<web::Json<BotReadResponse>, ApiError> {
    acct.require_to_see(AccountPerm::ReadBot)?;
    let id = path_id(&req, "id")?;
    let aid = acct.account.id.clone();
    let (sa, key) = super::load(&acct.caller.pool, move |c| {
        let Some(sa) = ops::find(c, &aid, &id)? else {
            return Ok(None);
        };
        let key = apikeys::newest_for_service_account(c, &sa.id)?;
        Ok(Some((sa, key)))
    })
    .await?;
    Ok(web::Json(bot_read(sa, key.as_ref())))
}

/// Renames a service account (its account role stays Member).
#[utoipa::path(patch, path = "/api/accounts/{account_id}/bots/{id}", tag = "bots",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    request_body = BotUpdate,
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail), (status = 422, body = ValidationDetail)),
    security(("api_key" = [])))]
pub async fn update_bot(
    req: HttpRequest,
    acct: ApiAccount,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    acct.require_to_see(AccountPerm::ReadBot)?;
    let id = path_id(&req, "id")?;
    acct.require(AccountPerm::UpdateBot)?;
    let input: BotUpdate = super::body::typed(&raw, false)?;
    check_account_role(input.account_role_id.as_deref())?;
    acct.try_op(move |c, s| match &input.name {
        Some(name) => {
            let sa = ServiceAccountId::from_stored(id);
            ops::rename(c, &who(&s.holder, &s.ip), &s.account.id, &sa, name).map(|_| ())
        }
        None => match ops::find(c, &s.account.id, &id)? {
            Some(_) => Ok(()),
            None => Err(Refusal::NotFound.into()),
        },
    })
    .await?
    .map_err(bot_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a service account: its keys stop at once, its workspace roles go.
#[utoipa::path(delete, path = "/api/accounts/{account_id}/bots/{id}", tag = "bots",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn delete_bot(req: HttpRequest, acct: ApiAccount) -> Result<HttpResponse, ApiError> {
    acct.require_to_see(AccountPerm::ReadBot)?;
    let id = path_id(&req, "id")?;
    acct.require(AccountPerm::DeleteBot)?;
    let sa = ServiceAccountId::from_stored(id);
    acct.try_op(move |c, s| ops::delete(c, &who(&s.holder, &s.ip), &s.account.id, &sa))
        .await?
        .map_err(bot_error)?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new key; the current one is deleted, or keeps working for up to 48 hours.
#[utoipa::path(post, path = "/api/accounts/{account_id}/bots/{id}/rotate_api_key", tag = "bots",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    request_body(content = Option<BotRotateApiKey>),
    responses((status = 201, body = BotCreateResponse), (status = 401, body = Detail),
        (status = 403, body = Detail), (status = 404, body = Detail),
        (status = 422, body = ValidationDetail)),
    security(("api_key" = [])))]
pub async fn rotate_api_key(
    req: HttpRequest,
    acct: ApiAccount,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    acct.require_to_see(AccountPerm::ReadBot)?;
    let id = path_id(&req, "id")?;
    acct.require(AccountPerm::UpdateBot)?;
    let input: BotRotateApiKey = optional_body(&raw)?;
    let expires_at = parse_datetime("api_key_expiration", input.api_key_expiration.as_deref())?;
    let overlap = match input.old_key_expires_in_seconds {
        None => None,
        Some(s) if !(0..=ops::MAX_OVERLAP.num_seconds()).contains(&s) => {
            return Err(ApiError::field(
                "old_key_expires_in_seconds",
                "Input should be between 0 and 172800 (48 hours)",
            ));
        }
        Some(s) => Some(TimeDelta::seconds(s)),
    };
    let sa = ServiceAccountId::from_stored(id);
    let rotated = acct
        .try_op(move |c, s| {
            let by = who(&s.holder, &s.ip);
            ops::rotate(c, &by, &s.account.id, &sa, expires_at, overlap)
        })
        .await?
        .map_err(bot_error)?;
    Ok(HttpResponse::Created().json(bot_created(rotated.sa, &rotated.key, rotated.plain)))
}

/// The current key and the older keys still working after a rotation (masked).
#[utoipa::path(get, path = "/api/accounts/{account_id}/bots/{id}/read_bot_api_keys", tag = "bots",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = BotApiKeysResponse), (status = 401, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn read_bot_api_keys(
    req: HttpRequest,
    acct: ApiAccount,
) -> Result<web::Json<BotApiKeysResponse>, ApiError> {
    acct.require_to_see(AccountPerm::ReadBot)?;
    let id = path_id(&req, "id")?;
    let aid = acct.account.id.clone();
    let keys = db(&acct.caller.pool, move |c| {
        ops::find(c, &aid, &id)?.ok_or(ApiError::NotFound)?;
        Ok(apikeys::for_service_account(c, &id)?)
    })
    .await?;
    let mut keys = keys.into_iter();
    let active = keys.next().ok_or(ApiError::NotFound)?;
    Ok(web::Json(BotApiKeysResponse {
        active_key: key_read(&active),
        rotating_keys: keys
            .filter(|k| !k.is_expired())
            .map(|k| key_read(&k))
            .collect(),
    }))
}

// ---------- workspace bot access ----------

/// Gives service accounts of the account a role on the workspace (or changes it): one
/// object or a list, all or nothing. Nobody gives a role above their own scopes (403).
#[utoipa::path(post, path = "/api/accounts/{account_id}/workspaces/{workspace_id}/bot_access/",
    tag = "bot access",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path)),
    request_body = BotAccessUpsert,
    responses((status = 200, body = BotAccessUpserted), (status = 401, body = Detail),
        (status = 403, body = Detail), (status = 404, body = Detail),
        (status = 422, body = ValidationDetail)),
    security(("api_key" = [])))]
pub async fn upsert_bot_access(
    ws: ApiWorkspace,
    raw: web::Bytes,
) -> Result<web::Json<BotAccessUpserted>, ApiError> {
    ws.require_to_see(SEE)?;
    ws.require(MANAGE)?;
    let input: BotAccessUpsert = super::body::typed(&raw, true)?;
    let (items, many) = match input {
        BotAccessUpsert::One(a) => (vec![a], false),
        BotAccessUpsert::Many(list) => (list, true),
    };
    let grants: Vec<Grant> = items
        .into_iter()
        .map(|a| Grant {
            service_account_id: a.bot_id,
            role_id: a.workspace_role_id,
        })
        .collect();
    let done = if grants.is_empty() {
        Vec::new()
    } else {
        ws.try_op(move |c, s| {
            let by = who(&s.holder, &s.ip);
            ops::grant(c, &by, &s.account.id, &s.workspace.id, &grants)
        })
        .await?
        .map_err(bot_error)?
    };
    let wid = ws.workspace.id.as_str();
    let mut out: Vec<WorkspaceBotAccessResponse> =
        done.into_iter().map(|a| access_response(wid, a)).collect();
    Ok(web::Json(match (many, out.pop()) {
        (false, Some(one)) => BotAccessUpserted::One(one),
        (_, last) => {
            out.extend(last);
            BotAccessUpserted::Many(out)
        }
    }))
}

fn sort_accesses(rows: &mut [BotAccess], sort: BotAccessSort) {
    match sort {
        BotAccessSort::CreatedAsc => rows.sort_by_key(|a| a.created_at),
        BotAccessSort::CreatedDesc => rows.sort_by_key(|a| std::cmp::Reverse(a.created_at)),
        BotAccessSort::BotNameAsc => {
            rows.sort_by_key(|a| ops::normalize(&a.name));
        }
        BotAccessSort::BotNameDesc => {
            rows.sort_by_key(|a| std::cmp::Reverse(ops::normalize(&a.name)));
        }
    }
}

/// The workspace's service-account accesses, filtered and sorted.
#[utoipa::path(post, path = "/api/accounts/{account_id}/workspaces/{workspace_id}/bot_access/filter",
    tag = "bot access",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path)),
    request_body(content = Option<BotAccessFilterBody>),
    responses((status = 200, body = [WorkspaceBotAccessResponse]), (status = 401, body = Detail),
        (status = 404, body = Detail), (status = 422, body = ValidationDetail)),
    security(("api_key" = [])))]
pub async fn read_bot_accesses(
    ws: ApiWorkspace,
    raw: web::Bytes,
) -> Result<web::Json<Vec<WorkspaceBotAccessResponse>>, ApiError> {
    ws.require_to_see(SEE)?;
    let input: BotAccessFilterBody = optional_body(&raw)?;
    let (limit, offset) = limit_offset(input.limit, input.offset)?;
    let wid = ws.workspace.id.clone();
    let mut rows = db(&ws.caller.pool, move |c| Ok(ops::bot_accesses(c, &wid)?)).await?;
    let access = input.workspace_accesses.unwrap_or_default();
    let roles = access.workspace_role_id.and_then(|f| f.any_);
    let actors = access.actor_id.and_then(|f| f.any_);
    let bots = input.bots.unwrap_or_default().to_model();
    let like = bots.like.as_deref().map(ops::normalize);
    rows.retain(|a| {
        roles.as_ref().is_none_or(|r| r.contains(&a.role_id))
            && actors
                .as_ref()
                .is_none_or(|r| r.contains(&a.service_account_id))
            && bots
                .ids
                .as_ref()
                .is_none_or(|r| r.contains(&a.service_account_id))
            && bots.names.as_ref().is_none_or(|r| r.contains(&a.name))
            && like
                .as_ref()
                .is_none_or(|l| ops::normalize(&a.name).contains(l.as_str()))
    });
    sort_accesses(&mut rows, input.sort.unwrap_or_default());
    let wid = ws.workspace.id.as_str();
    Ok(web::Json(
        rows.into_iter()
            .skip(usize::try_from(offset).unwrap_or(0))
            .take(usize::try_from(limit).unwrap_or(0))
            .map(|a| access_response(wid, a))
            .collect(),
    ))
}

/// One access, by its id.
#[utoipa::path(get, path = "/api/accounts/{account_id}/workspaces/{workspace_id}/bot_access/{id}",
    tag = "bot access",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path),
        ("id" = uuid::Uuid, Path, description = "The access id")),
    responses((status = 200, body = WorkspaceBotAccessResponse), (status = 401, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn read_bot_access(
    req: HttpRequest,
    ws: ApiWorkspace,
) -> Result<web::Json<WorkspaceBotAccessResponse>, ApiError> {
    ws.require_to_see(SEE)?;
    let id = path_id(&req, "id")?;
    let wid = ws.workspace.id.clone();
    let a = super::load(&ws.caller.pool, move |c| {
        ops::bot_access_by_id(c, &wid, &id)
    })
    .await?;
    Ok(web::Json(access_response(&ws.workspace.id, a)))
}

/// Takes a service account's role on the workspace away, by the access id.
#[utoipa::path(delete, path = "/api/accounts/{account_id}/workspaces/{workspace_id}/bot_access/{id}",
    tag = "bot access",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path),
        ("id" = uuid::Uuid, Path, description = "The access id")),
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn delete_bot_access(
    req: HttpRequest,
    ws: ApiWorkspace,
) -> Result<HttpResponse, ApiError> {
    ws.require_to_see(SEE)?;
    let id = path_id(&req, "id")?;
    ws.require(MANAGE)?;
    ws.try_op(move |c, s| {
        let Some(a) = ops::bot_access_by_id(c, &s.workspace.id, &id)? else {
            return Err(Refusal::NotFound.into());
        };
        let sa = ServiceAccountId::from_stored(a.service_account_id);
        ops::revoke(
            c,
            &who(&s.holder, &s.ip),
            &s.account.id,
            &s.workspace.id,
            &sa,
        )
    })
    .await?
    .map_err(bot_error)?;
    Ok(HttpResponse::NoContent().finish())
}

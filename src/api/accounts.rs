//! `/api/accounts/{account_id}` and its `account_memberships`: read the account, list
//! members, change a member's account role, remove a member. The rules are the members
//! page's (`members::ops::change_role`, `members::ops::remove`).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::body::{self, Errors, Field, Obj, like, utc};
use super::error::Detail;
use super::{ApiAccount, ApiError, db};
use crate::authz::AccountPerm;
use crate::authz::AccountRole;
use crate::ids::UserId;
use crate::members::ops::{self as members, MembershipDetail};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/accounts/{account_id}", web::get().to(read_account))
        .route("/accounts/{account_id}/", web::get().to(read_account))
        .route(
            "/accounts/{account_id}/account_memberships/filter",
            web::post().to(read_memberships),
        )
        .route(
            "/accounts/{account_id}/account_memberships/{id}",
            web::patch().to(update_membership),
        )
        .route(
            "/accounts/{account_id}/account_memberships/{id}",
            web::delete().to(delete_membership),
        );
}

#[derive(OpenApi)]
#[openapi(
    paths(read_account, read_memberships, update_membership, delete_membership),
    components(schemas(
        AccountResponse,
        AccountSettings,
        AccountMembershipsResponse,
        AccountMembershipUpdate,
        MembershipFilterBody
    ))
)]
pub struct Doc;

/// `AccountSettings`: Atrium has none of these features; all off.
#[derive(Serialize, ToSchema)]
pub struct AccountSettings {
    pub allow_public_workspaces: bool,
    pub ai_log_summaries: bool,
    pub managed_execution: bool,
    pub enforce_ip_allowlist: bool,
    pub enforce_webhook_authentication: bool,
    pub self_healing_enabled: bool,
    pub enabled_feature_flags: Vec<String>,
}

/// `AccountResponse`. Fields Atrium has no concept of are null where the reference allows
/// it; its required limits are constants: no managed execution, no automations, no run
/// data kept (Atrium stores none), the audit log kept (36500 days).
#[derive(Serialize, ToSchema)]
pub struct AccountResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub name: String,
    pub handle: String,
    pub location: Option<String>,
    pub link: Option<String>,
    pub image_location: Option<String>,
    pub stripe_customer_id: Option<String>,
    pub auth_expiration_seconds: Option<i64>,
    pub status_last_updated: Option<DateTime<Utc>>,
    pub settings: AccountSettings,
    /// `ACTIVE`.
    pub status: &'static str,
    pub workos_connection_ids: Vec<String>,
    pub workos_directory_ids: Vec<String>,
    pub workos_organization_id: Option<String>,
    /// `PERSONAL` or `ORGANIZATION`.
    pub plan_type: &'static str,
    pub plan_tier: Option<String>,
    pub self_serve: bool,
    /// `DISABLED`.
    pub scim_state: &'static str,
    /// `DISABLED`.
    pub sso_state: &'static str,
    pub billing_email: Option<String>,
    pub features: Vec<String>,
    pub max_deployments_per_workspace: Option<i64>,
    pub work_pool_limit: Option<i64>,
    pub non_mex_work_pool_limit: Option<i64>,
    pub mex_work_pool_limit: i64,
    pub run_retention_days: i64,
    pub audit_log_retention_days: i64,
    pub automations_limit: i64,
}

/// The account (`read:account`; non-members and Collaborators: 404).
#[utoipa::path(get, path = "/api/accounts/{account_id}", tag = "accounts",
    params(("account_id" = uuid::Uuid, Path)),
    responses((status = 200, body = AccountResponse), (status = 401, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn read_account(ctx: ApiAccount) -> Result<web::Json<AccountResponse>, ApiError> {
    ctx.require_to_see(AccountPerm::ReadAccount)?;
    let a = ctx.account;
    Ok(web::Json(AccountResponse {
        plan_type: if a.is_personal() {
            "PERSONAL"
        } else {
            "ORGANIZATION"
        },
        id: a.id,
        created: Some(utc(a.created_at)),
        updated: Some(utc(a.updated_at)),
        name: a.name,
        handle: a.handle,
        location: None,
        link: None,
        image_location: None,
        stripe_customer_id: None,
        auth_expiration_seconds: None,
        status_last_updated: None,
        settings: AccountSettings {
            allow_public_workspaces: false,
            ai_log_summaries: false,
            managed_execution: false,
            enforce_ip_allowlist: false,
            enforce_webhook_authentication: false,
            self_healing_enabled: false,
            enabled_feature_flags: Vec::new(),
        },
        status: "ACTIVE",
        workos_connection_ids: Vec::new(),
        workos_directory_ids: Vec::new(),
        workos_organization_id: None,
        plan_tier: None,
        self_serve: false,
        scim_state: "DISABLED",
        sso_state: "DISABLED",
        billing_email: None,
        features: Vec::new(),
        max_deployments_per_workspace: None,
        work_pool_limit: None,
        non_mex_work_pool_limit: None,
        mex_work_pool_limit: 0,
        run_retention_days: i64::from(a.flow_run_retention_days),
        audit_log_retention_days: i64::from(a.audit_retention_days),
        automations_limit: 0,
    }))
}

/// `AccountMembershipsResponse`. Users' memberships, then the account's service accounts
/// (`user_id` and the person fields null; their role is always Member). `actor_id` is the
/// user's or the service account's id.
#[derive(Serialize, ToSchema)]
pub struct AccountMembershipsResponse {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub actor_id: String,
    #[schema(format = Uuid)]
    pub user_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub handle: Option<String>,
    pub email: Option<String>,
    pub account_role_name: String,
    #[schema(format = Uuid)]
    pub account_role_id: String,
    pub last_login: Option<DateTime<Utc>>,
    pub active: bool,
}

/// The body of `account_memberships/filter` (every field optional): `limit` (≤ 200),
/// `offset`, `account_memberships` (`operator` `and_`/`or_`, `account_role_id.any_`,
/// `user_id.any_`/`not_any_`, `email.any_`/`like_`, `handle.any_`/`like_`, `name.like_`,
/// `actor_id.any_`), `sort`, `only_users`, `only_bots`, `active`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MembershipFilterBody {
    #[schema(minimum = 0, maximum = 200)]
    pub limit: Option<i64>,
    #[schema(minimum = 0)]
    pub offset: Option<i64>,
    #[schema(value_type = Option<Object>)]
    pub account_memberships: Option<serde_json::Value>,
    #[schema(schema_with = membership_sort)]
    pub sort: Option<String>,
    pub only_users: Option<bool>,
    pub only_bots: Option<bool>,
    pub active: Option<bool>,
}

fn membership_sort() -> utoipa::openapi::Object {
    super::schema::choice(&MEMBERSHIP_SORTS, true)
}

const MEMBERSHIP_SORTS: [&str; 12] = [
    "CREATED_ASC",
    "CREATED_DESC",
    "LAST_LOGIN_ASC",
    "LAST_LOGIN_DESC",
    "NAME_ASC",
    "NAME_DESC",
    "HANDLE_ASC",
    "HANDLE_DESC",
    "EMAIL_ASC",
    "EMAIL_DESC",
    "ACCOUNT_ROLE_NAME_ASC",
    "ACCOUNT_ROLE_NAME_DESC",
];

/// One membership row of the list, a user's or a service account's.
struct Row {
    resp: AccountMembershipsResponse,
    created: chrono::NaiveDateTime,
    last_login: Option<chrono::NaiveDateTime>,
}

fn user_row(m: MembershipDetail) -> Row {
    Row {
        created: m.created_at,
        last_login: m.last_login,
        resp: AccountMembershipsResponse {
            id: m.membership_id,
            actor_id: m.user_id.clone(),
            user_id: Some(m.user_id),
            first_name: Some(m.first_name),
            last_name: Some(m.last_name),
            handle: Some(m.handle),
            email: Some(m.email),
            account_role_name: m.role.label().into(),
            account_role_id: m.role.id().into(),
            last_login: m.last_login.map(utc),
            active: true,
        },
    }
}

/// The filter's criteria, each `None` when not given.
#[derive(Default)]
struct Criteria {
    or: bool,
    role_ids: Option<Vec<String>>,
    user_ids: Option<Vec<String>>,
    not_user_ids: Option<Vec<String>>,
    emails: Option<Vec<String>>,
    email_like: Option<String>,
    handles: Option<Vec<String>>,
    handle_like: Option<String>,
    name_like: Option<String>,
    actor_ids: Option<Vec<String>>,
}

impl Criteria {
    fn parse(o: &Obj<'_>, errors: &mut Errors) -> Criteria {
        let mut c = Criteria::default();
        match o.string("operator", errors) {
            Field::Value(op) if op == "or_" => c.or = true,
            Field::Value(op) if op == "and_" => {}
            Field::Value(_) => {
                errors.push(o.loc("operator"), "enum", "Input should be 'and_' or 'or_'")
            }
            _ => {}
        }
        c.role_ids = o.any_uuids("account_role_id", errors);
        if let Some(u) = o.object("user_id", errors) {
            c.user_ids = u.uuids("any_", errors).value();
            c.not_user_ids = u.uuids("not_any_", errors).value();
        }
        if let Some(e) = o.object("email", errors) {
            c.emails = e.strings("any_", errors).value();
            c.email_like = e.string("like_", errors).value();
        }
        if let Some(h) = o.object("handle", errors) {
            c.handles = h.strings("any_", errors).value();
            c.handle_like = h.string("like_", errors).value();
        }
        if let Some(n) = o.object("name", errors) {
            c.name_like = n.string("like_", errors).value();
        }
        c.actor_ids = o.any_uuids("actor_id", errors);
        c
    }

    /// Whether the row passes: every given criterion (`and_`) or any of them (`or_`).
    fn matches(&self, r: &AccountMembershipsResponse) -> bool {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut checks: Vec<bool> = Vec::new();
        if let Some(ids) = &self.role_ids {
            checks.push(ids.contains(&r.account_role_id));
        }
        if let Some(ids) = &self.user_ids {
            checks.push(r.user_id.as_ref().is_some_and(|u| ids.contains(u)));
        }
        if let Some(ids) = &self.not_user_ids {
            checks.push(!r.user_id.as_ref().is_some_and(|u| ids.contains(u)));
        }
        if let Some(emails) = &self.emails {
            checks.push(
                emails
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case(&opt(&r.email))),
            );
        }
        if let Some(l) = &self.email_like {
            checks.push(r.email.as_ref().is_some_and(|e| like(e, l)));
        }
        if let Some(handles) = &self.handles {
            checks.push(handles.contains(&opt(&r.handle)));
        }
        if let Some(l) = &self.handle_like {
            checks.push(r.handle.as_ref().is_some_and(|h| like(h, l)));
        }
        if let Some(l) = &self.name_like {
            checks.push(like(&opt(&r.first_name), l) || like(&opt(&r.last_name), l));
        }
        if let Some(ids) = &self.actor_ids {
            checks.push(ids.contains(&r.actor_id));
        }
        if checks.is_empty() {
            return true;
        }
        if self.or {
            checks.iter().any(|b| *b)
        } else {
            checks.iter().all(|b| *b)
        }
    }
}

fn sort_rows(rows: &mut [Row], sort: &str) {
    let name = |r: &Row| {
        format!(
            "{} {}",
            r.resp.first_name.clone().unwrap_or_default(),
            r.resp.last_name.clone().unwrap_or_default()
        )
        .to_lowercase()
    };
    let text = |v: &Option<String>| v.clone().unwrap_or_default().to_lowercase();
    match sort {
        "CREATED_ASC" => rows.sort_by_key(|r| r.created),
        "CREATED_DESC" => rows.sort_by_key(|r| std::cmp::Reverse(r.created)),
        "LAST_LOGIN_ASC" => rows.sort_by_key(|r| r.last_login),
        "LAST_LOGIN_DESC" => rows.sort_by_key(|r| std::cmp::Reverse(r.last_login)),
        "NAME_ASC" => rows.sort_by_key(name),
        "NAME_DESC" => rows.sort_by_key(|r| std::cmp::Reverse(name(r))),
        "EMAIL_ASC" => rows.sort_by_key(|r| text(&r.resp.email)),
        "EMAIL_DESC" => rows.sort_by_key(|r| std::cmp::Reverse(text(&r.resp.email))),
        "ACCOUNT_ROLE_NAME_ASC" => rows.sort_by_key(|r| r.resp.account_role_name.clone()),
        "ACCOUNT_ROLE_NAME_DESC" => {
            rows.sort_by_key(|r| std::cmp::Reverse(r.resp.account_role_name.clone()))
        }
        "HANDLE_DESC" => rows.sort_by_key(|r| std::cmp::Reverse(text(&r.resp.handle))),
        _ => rows.sort_by_key(|r| text(&r.resp.handle)),
    }
}

/// The account's members (`read:account_membership`, like the Members page; otherwise
/// 404). Users sorted as asked (handle by default), service accounts after them by name.
#[utoipa::path(post, path = "/api/accounts/{account_id}/account_memberships/filter",
    tag = "account_memberships",
    params(("account_id" = uuid::Uuid, Path)),
    request_body(content = Option<MembershipFilterBody>),
    responses((status = 200, body = [AccountMembershipsResponse]), (status = 401, body = Detail),
        (status = 404, body = Detail), (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn read_memberships(
    ctx: ApiAccount,
    raw: web::Bytes,
) -> Result<web::Json<Vec<AccountMembershipsResponse>>, ApiError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    let v = body::parse(&raw, false)?;
    let mut errors = Errors::default();
    let o = Obj::body(&v, &mut errors);
    let (limit, offset) = o.paging(&mut errors);
    let criteria = o
        .object("account_memberships", &mut errors)
        .map(|f| Criteria::parse(&f, &mut errors))
        .unwrap_or_default();
    let sort = match o.string("sort", &mut errors) {
        Field::Value(s) if MEMBERSHIP_SORTS.contains(&s.as_str()) => s,
        Field::Value(_) => {
            errors.push(
                o.loc("sort"),
                "enum",
                format!("Input should be one of {}", MEMBERSHIP_SORTS.join(", ")),
            );
            String::new()
        }
        _ => String::new(),
    };
    let only_users = o.bool("only_users", &mut errors).value().unwrap_or(false);
    let only_bots = o.bool("only_bots", &mut errors).value().unwrap_or(false);
    let active = o.bool("active", &mut errors).value();
    errors.finish()?;
    if active == Some(false) {
        // Atrium has no inactive memberships.
        return Ok(web::Json(Vec::new()));
    }
    let aid = ctx.account.id.clone();
    let (users, bots) = db(&ctx.caller.pool, move |c| {
        let users = if only_bots {
            Vec::new()
        } else {
            members::all_details(c, &aid)?
        };
        let bots = if only_users {
            Vec::new()
        } else {
            crate::service_accounts::ops::list(c, &aid)?
        };
        Ok((users, bots))
    })
    .await?;
    let mut rows: Vec<Row> = users.into_iter().map(user_row).collect();
    rows.retain(|r| criteria.matches(&r.resp));
    sort_rows(&mut rows, &sort);
    let bot_rows = bots.into_iter().map(|l| Row {
        created: l.sa.created_at,
        last_login: None,
        resp: AccountMembershipsResponse {
            id: l.sa.id.clone(),
            actor_id: l.sa.id,
            user_id: None,
            first_name: None,
            last_name: None,
            handle: None,
            email: None,
            account_role_name: AccountRole::Member.label().into(),
            account_role_id: AccountRole::Member.id().into(),
            last_login: None,
            active: true,
        },
    });
    rows.extend(bot_rows.filter(|r| criteria.matches(&r.resp)));
    Ok(web::Json(
        body::page(rows, limit, offset)
            .into_iter()
            .map(|r| r.resp)
            .collect(),
    ))
}

/// `AccountMembershipUpdate`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AccountMembershipUpdate {
    /// Owner's, Admin's or Member's id.
    #[schema(schema_with = super::schema::invitable_role_id)]
    pub account_role_id: String,
}

/// The membership `id` of the account: its user. Unknown (or a service account's): 404.
async fn membership_user(ctx: &ApiAccount, mid: String) -> Result<UserId, ApiError> {
    let aid = ctx.account.id.clone();
    super::load(&ctx.caller.pool, move |c| {
        members::member_of_membership(c, &aid, &mid)
    })
    .await
    .map(UserId::from_stored)
}

/// Changes a member's account role (`update:account_membership`): Owner, Admin or Member
/// (422 otherwise); nobody gives or changes a role above their own (403); the last Owner
/// stays one (409). Recorded as `atrium.member.role_changed`.
#[utoipa::path(patch, path = "/api/accounts/{account_id}/account_memberships/{id}",
    tag = "account_memberships",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path, description = "The membership id")),
    request_body = AccountMembershipUpdate,
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail), (status = 409, body = Detail),
        (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn update_membership(
    ctx: ApiAccount,
    path: web::Path<(String, String)>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    ctx.require(AccountPerm::UpdateMembership)?;
    let id = super::path_uuid(&path.1)?;
    let target = membership_user(&ctx, id).await?;
    let v = body::parse(&raw, true)?;
    let mut errors = Errors::default();
    let o = Obj::body(&v, &mut errors);
    let f = o.uuid("account_role_id", &mut errors);
    let role_id = o.required("account_role_id", &mut errors, f);
    let role = match role_id.as_deref().map(AccountRole::from_id) {
        Some(Some(r)) if r != AccountRole::Collaborator => Some(r),
        Some(_) => {
            errors.push(
                o.loc("account_role_id"),
                "value_error",
                "Choose Owner, Admin or Member.",
            );
            None
        }
        None => None,
    };
    errors.finish()?;
    let Some(role) = role else {
        return Err(ApiError::field("account_role_id", "Field required"));
    };
    let Some(user) = ctx.caller.user().cloned() else {
        return Err(ApiError::Forbidden);
    };
    ctx.op(move |c, s| {
        members::change_role(c, &s.account.key(), &user, &target, role, s.ip.clone())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a member (`delete:account_membership`) with their workspace accesses in the
/// account. Not oneself, not above one's own role (403), not the last Owner (409).
/// Recorded as `atrium.member.removed`.
#[utoipa::path(delete, path = "/api/accounts/{account_id}/account_memberships/{id}",
    tag = "account_memberships",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path, description = "The membership id")),
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail), (status = 409, body = Detail)),
    security(("api_key" = [])))]
pub async fn delete_membership(
    ctx: ApiAccount,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    ctx.require(AccountPerm::DeleteMembership)?;
    let id = super::path_uuid(&path.1)?;
    let target = membership_user(&ctx, id).await?;
    let Some(user) = ctx.caller.user().cloned() else {
        return Err(ApiError::Forbidden);
    };
    ctx.op(move |c, s| members::remove(c, &s.account.key(), &user, &target, s.ip.clone()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

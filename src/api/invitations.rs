//! `/api/accounts/{account_id}/invitations/…`: invite several addresses at once, list,
//! revoke. Same rules, e-mails (through the outbox) and audit events as the Invitations
//! tab (`invitations::ops::invite_all`, `invitations::ops::revoke`).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::body::utc;
use super::body::{self, Errors, Obj, like};
use super::error::Detail;
use super::{ApiAccount, ApiError, db};
use crate::authz::{AccountPerm, AccountRole};
use crate::ids::InvitationId;
use crate::invitations::ops::{
    self as invitations, ALREADY_MEMBER, Invitation, InvitedAll, MAX_ADDRESSES, NO_ADDRESS,
    ROLE_CHOICE, Status,
};
use crate::members::ops::invite_roles;
use crate::outcome::Reason;
use crate::settings::AppConfig;
use crate::users::domain::Email;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/accounts/{account_id}/invitations/",
        web::post().to(create_invitations),
    )
    .route(
        "/accounts/{account_id}/invitations",
        web::post().to(create_invitations),
    )
    .route(
        "/accounts/{account_id}/invitations/filter",
        web::post().to(read_invitations),
    )
    .route(
        "/accounts/{account_id}/invitations/{id}/revoke",
        web::post().to(revoke_invitation),
    );
}

#[derive(OpenApi)]
#[openapi(
    paths(create_invitations, read_invitations, revoke_invitation),
    components(schemas(InvitationCreate, InvitationReadResponse, InvitationFilterBody))
)]
pub struct Doc;

/// `InvitationCreate`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InvitationCreate {
    #[schema(format = Email)]
    pub email: String,
    /// Owner's, Admin's or Member's id (a Collaborator is invited to a workspace).
    #[schema(schema_with = super::schema::invitable_role_id)]
    pub account_role_id: String,
}

/// `InvitationReadResponse`. `status`: `PENDING` (also once expired: compare
/// `expiration`), `ACCEPTED`, `REJECTED` (declined), `REVOKED`. A workspace invitation's
/// account role is Collaborator.
#[derive(Serialize, ToSchema)]
pub struct InvitationReadResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub email: String,
    #[schema(format = Uuid)]
    pub account_id: String,
    #[schema(format = Uuid)]
    pub account_role_id: String,
    pub status: &'static str,
    pub expiration: DateTime<Utc>,
}

fn status_name(inv: &Invitation) -> &'static str {
    match inv.status() {
        Status::Pending | Status::Expired => "PENDING",
        Status::Accepted => "ACCEPTED",
        Status::Declined => "REJECTED",
        Status::Revoked => "REVOKED",
    }
}

fn response(inv: Invitation) -> InvitationReadResponse {
    InvitationReadResponse {
        status: status_name(&inv),
        account_role_id: inv.role().id().into(),
        id: inv.id,
        created: Some(utc(inv.created_at)),
        updated: Some(utc(inv.responded_at.unwrap_or(inv.created_at))),
        email: inv.email,
        account_id: inv.account_id,
        expiration: utc(inv.expires_at),
    }
}

/// Invites each address with its role (`create:invitation`), all or nothing: a bad
/// address, an address that is already a member, or a role that is not Owner, Admin or
/// Member is a 422 naming the item; a role above the caller's own is 403. A pending
/// invitation for the same address is replaced. At most 50 at once; the same address
/// twice is invited once. The e-mails go through the outbox like the page's.
#[utoipa::path(post, path = "/api/accounts/{account_id}/invitations/", tag = "invitations",
    params(("account_id" = uuid::Uuid, Path)),
    request_body = [InvitationCreate],
    responses((status = 201, body = [InvitationReadResponse]), (status = 401, body = Detail),
        (status = 403, body = Detail), (status = 404, body = Detail),
        (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn create_invitations(
    ctx: ApiAccount,
    cfg: web::Data<AppConfig>,
    raw: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    ctx.require(AccountPerm::CreateInvitation)?;
    let v = body::parse(&raw, true)?;
    let Some(items) = v.as_array() else {
        return Err(ApiError::Validation(vec![super::error::FieldError::at(
            vec!["body".into()],
            "list_type",
            "Input should be a valid list",
        )]));
    };
    if items.is_empty() {
        return Err(ApiError::Validation(vec![super::error::FieldError::at(
            vec!["body".into()],
            "too_short",
            NO_ADDRESS,
        )]));
    }
    if items.len() > MAX_ADDRESSES {
        return Err(ApiError::Validation(vec![super::error::FieldError::at(
            vec!["body".into()],
            "too_long",
            format!(
                "Invite at most {MAX_ADDRESSES} addresses at once (you entered {}).",
                items.len()
            ),
        )]));
    }
    let mut errors = Errors::default();
    let mut wanted: Vec<(usize, Email, AccountRole)> = Vec::new();
    let mut above_own = false;
    for (i, item) in items.iter().enumerate() {
        let o = Obj::at(item, vec!["body".into(), i.to_string()], &mut errors);
        let f = o.string("email", &mut errors);
        let email = o
            .required("email", &mut errors, f)
            .and_then(|raw| match Email::parse(&raw) {
                Ok(e) => Some(e),
                Err(msg) => {
                    errors.push(o.loc("email"), "value_error", msg);
                    None
                }
            });
        let f = o.uuid("account_role_id", &mut errors);
        let role = o
            .required("account_role_id", &mut errors, f)
            .and_then(|id| match AccountRole::from_id(&id) {
                Some(r) if r != AccountRole::Collaborator => Some(r),
                _ => {
                    errors.push(o.loc("account_role_id"), "value_error", ROLE_CHOICE);
                    None
                }
            });
        if let Some(r) = role
            && !invite_roles(ctx.role).contains(&r)
        {
            above_own = true;
        }
        if let (Some(e), Some(r)) = (email, role)
            && !wanted
                .iter()
                .any(|(_, w, _)| w.normalized() == e.normalized())
        {
            wanted.push((i, e, r));
        }
    }
    errors.finish()?;
    if above_own {
        return Err(ApiError::Denied(Reason::AboveOwnRole.message().into()));
    }
    let Some(inviter) = ctx.caller.user().cloned() else {
        return Err(ApiError::Forbidden);
    };
    let cfg = cfg.into_inner();
    let list: Vec<(Email, AccountRole)> = wanted.iter().map(|(_, e, r)| (e.clone(), *r)).collect();
    let created = ctx
        .op(move |c, s| invitations::invite_all(c, &cfg, &s.account, &list, &inviter, &s.ip))
        .await?;
    let created = match created {
        InvitedAll::Sent(created) => created,
        InvitedAll::AlreadyMember { index } => {
            return Err(ApiError::Validation(vec![super::error::FieldError::at(
                vec!["body".into(), wanted[index].0.to_string(), "email".into()],
                "value_error",
                ALREADY_MEMBER,
            )]));
        }
    };
    Ok(HttpResponse::Created().json(created.into_iter().map(response).collect::<Vec<_>>()))
}

/// The body of `invitations/filter` (every field optional): `invitations` (`status.any_`,
/// `expiration.before_`/`after_`, `email.any_`/`like_`), `limit` (≤ 200), `offset`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct InvitationFilterBody {
    #[schema(value_type = Option<Object>)]
    pub invitations: Option<serde_json::Value>,
    #[schema(minimum = 0, maximum = 200)]
    pub limit: Option<i64>,
    #[schema(minimum = 0)]
    pub offset: Option<i64>,
}

const STATUSES: [&str; 4] = ["ACCEPTED", "PENDING", "REJECTED", "REVOKED"];

fn parse_time(o: &Obj<'_>, name: &str, errors: &mut Errors) -> Option<DateTime<Utc>> {
    let raw = o.string(name, errors).value()?;
    match DateTime::parse_from_rfc3339(&raw) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            errors.push(
                o.loc(name),
                "datetime_parsing",
                "Input should be a valid datetime",
            );
            None
        }
    }
}

/// The account's invitations, newest first (`read:invitation`, like the Invitations tab;
/// otherwise 404).
#[utoipa::path(post, path = "/api/accounts/{account_id}/invitations/filter", tag = "invitations",
    params(("account_id" = uuid::Uuid, Path)),
    request_body(content = Option<InvitationFilterBody>),
    responses((status = 200, body = [InvitationReadResponse]), (status = 401, body = Detail),
        (status = 404, body = Detail), (status = 422, body = super::error::ValidationDetail)),
    security(("api_key" = [])))]
pub async fn read_invitations(
    ctx: ApiAccount,
    raw: web::Bytes,
) -> Result<web::Json<Vec<InvitationReadResponse>>, ApiError> {
    ctx.require_to_see(AccountPerm::ReadMembership)?;
    ctx.require_to_see(AccountPerm::ReadInvitation)?;
    let v = body::parse(&raw, false)?;
    let mut errors = Errors::default();
    let o = Obj::body(&v, &mut errors);
    let (limit, offset) = o.paging(&mut errors);
    let (mut statuses, mut before, mut after, mut emails, mut email_like) =
        (None, None, None, None, None);
    if let Some(f) = o.object("invitations", &mut errors) {
        statuses = f.any_strings("status", &mut errors);
        if let Some(s) = &statuses
            && s.iter().any(|s| !STATUSES.contains(&s.as_str()))
        {
            errors.push(
                f.loc("status"),
                "enum",
                "Input should be 'ACCEPTED', 'PENDING', 'REJECTED' or 'REVOKED'",
            );
        }
        if let Some(e) = f.object("expiration", &mut errors) {
            before = parse_time(&e, "before_", &mut errors);
            after = parse_time(&e, "after_", &mut errors);
        }
        if let Some(e) = f.object("email", &mut errors) {
            emails = e.strings("any_", &mut errors).value();
            email_like = e.string("like_", &mut errors).value();
        }
    }
    errors.finish()?;
    let aid = ctx.account.id.clone();
    let all = db(&ctx.caller.pool, move |c| {
        Ok(invitations::list(c, &aid, 100_000)?)
    })
    .await?;
    let rows: Vec<InvitationReadResponse> = all
        .into_iter()
        .filter(|inv| {
            statuses
                .as_ref()
                .is_none_or(|s| s.iter().any(|s| s == status_name(inv)))
                && before.is_none_or(|b| utc(inv.expires_at) <= b)
                && after.is_none_or(|a| utc(inv.expires_at) >= a)
                && emails
                    .as_ref()
                    .is_none_or(|e| e.iter().any(|e| e.eq_ignore_ascii_case(&inv.email)))
                && email_like.as_ref().is_none_or(|l| like(&inv.email, l))
        })
        .map(response)
        .collect();
    Ok(web::Json(body::page(rows, limit, offset)))
}

/// Revokes an invitation (`update:invitation`): its link stops working and its queued
/// e-mail is cancelled. Already answered or revoked: nothing to do (204). Recorded as
/// `atrium.invitation.revoked`.
#[utoipa::path(post, path = "/api/accounts/{account_id}/invitations/{id}/revoke",
    tag = "invitations",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn revoke_invitation(
    ctx: ApiAccount,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    ctx.require_to_see(AccountPerm::ReadInvitation)?;
    let iid = InvitationId::parse(&path.1).ok_or(ApiError::NotFound)?;
    let (aid, iid2) = (ctx.account.id.clone(), iid.clone());
    super::load(&ctx.caller.pool, move |c| {
        Ok(invitations::find(c, iid2.as_str())?.filter(|i| i.account_id == aid))
    })
    .await?;
    ctx.require(AccountPerm::UpdateInvitation)?;
    ctx.op(move |c, s| invitations::revoke(c, &s.account.key(), &iid, s.actor.clone(), &s.ip))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

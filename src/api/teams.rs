//! Teams (issue #25) with Prefect Cloud's paths and shapes: `/api/accounts/{account_id}/teams/…`
//! (account permissions `read:team`, `create:team`, `update:team`, `delete:team`) and
//! `/api/accounts/{account_id}/workspaces/{workspace_id}/team_access/…` (scopes
//! `see_workspace_users` to see, `manage_workspace_teams` to change). The changes go through
//! `teams::ops`, the same functions the pages use, which re-check the caller's rights in
//! their transaction and record the audit events.
//!
//! Atrium's teams hold people only: a `member_type` of `service_account` is refused at its
//! item (service accounts get a workspace role directly). `workos_directory_group_id` is
//! accepted and ignored (Atrium has no directory sync); it is always `null` in answers.
//!
//! The caller is authenticated and authorized before the body is read, so a missing key is
//! 401 and a forbidden action 403 (404 for what they may not see) whatever the body holds;
//! bad input then answers 422 at the field (`["body", "name"]`, `["body", "members", 1,
//! "member_type"]`, `["body", 0, "team_id"]`), nothing changed.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use super::body::{self, Errors, Field, Obj, like, utc};
use super::error::{Detail, FieldError, ValidationDetail};
use super::{ApiAccount, ApiError, ApiWorkspace, db};
use crate::apikeys::KeyHolder;
use crate::authz::AccountPerm;
use crate::db::DbConn;
use crate::outcome::{OpError, Refusal};
use crate::teams::ops::{self, Filter, Team, TeamAccess, Who};

/// To see who has access to a workspace (teams included).
const SEE: &str = "see_workspace_users";
/// To give, change or take away a team's role on a workspace.
const MANAGE: &str = "manage_workspace_teams";

/// The members one team answer lists at most (a team holds members of one account).
const MEMBERS_MAX: i64 = 100_000;
/// "No limit" for the lists read to narrow a filter.
const ALL: i64 = 1_000_000;

pub const PEOPLE_ONLY: &str =
    "Teams in Atrium hold people; give service accounts a workspace role directly.";

pub fn routes(cfg: &mut web::ServiceConfig) {
    let teams = "/accounts/{account_id}/teams";
    let access = "/accounts/{account_id}/workspaces/{workspace_id}/team_access";
    cfg.route(&format!("{teams}/"), web::post().to(create_team))
        .route(teams, web::post().to(create_team))
        .route(&format!("{teams}/filter"), web::post().to(read_teams))
        .route(&format!("{teams}/{{id}}"), web::get().to(read_team))
        .route(&format!("{teams}/{{id}}"), web::put().to(update_team))
        .route(&format!("{teams}/{{id}}"), web::delete().to(delete_team))
        .route(
            &format!("{teams}/{{id}}/members"),
            web::put().to(upsert_team_members),
        )
        .route(
            &format!("{teams}/{{team_id}}/members/{{actor_id}}"),
            web::delete().to(remove_team_member),
        )
        .route(
            &format!("{access}/"),
            web::put().to(upsert_workspace_team_access),
        )
        .route(access, web::put().to(upsert_workspace_team_access))
        .route(
            &format!("{access}/filter"),
            web::post().to(read_workspace_team_accesses),
        )
        .route(
            &format!("{access}/{{team_id}}"),
            web::delete().to(remove_workspace_team_access),
        );
}

#[derive(OpenApi)]
#[openapi(
    paths(
        create_team,
        read_teams,
        read_team,
        update_team,
        delete_team,
        upsert_team_members,
        remove_team_member,
        upsert_workspace_team_access,
        read_workspace_team_accesses,
        remove_workspace_team_access
    ),
    components(schemas(
        TeamCreate,
        TeamUpdate,
        TeamResponse,
        TeamMemberResponse,
        TeamWorkspaceAccess,
        TeamsFilterBody,
        TeamFilter,
        TeamFilterId,
        TeamNameFilter,
        TeamFilterDirectoryId,
        TeamFilterWorkspaceId,
        TeamFilterWorkspaceRoleId,
        TeamFilterMemberId,
        UserFilter,
        UserFilterId,
        UserFilterEmail,
        UserFilterHandle,
        UserFilterName,
        TeamSort,
        TeamMembersBody,
        TeamMembershipCreate,
        WorkspaceTeamAccessCreate,
        WorkspaceTeamAccess,
        WorkspaceTeamAccessResponse,
        TeamAccessFilterBody
    ))
)]
pub struct Doc;

// ---------- shapes (what the document says; bodies are read field by field below) ----------

/// `TeamCreate` (plus `TeamUpdate`'s `workos_directory_group_id`, ignored).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TeamCreate {
    /// The name of the team (unique in the account, ignoring case).
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// An optional description of the team.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// Accepted and ignored (as in `TeamUpdate`): Atrium has no directory sync.
    #[serde(default)]
    pub workos_directory_group_id: Option<String>,
}

/// `TeamUpdate`: the name and the description replace the team's (an absent description
/// is empty).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TeamUpdate {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    /// Accepted and ignored: Atrium has no directory sync.
    #[serde(default)]
    pub workos_directory_group_id: Option<String>,
}

fn member_type_choice() -> utoipa::openapi::Object {
    super::schema::choice(&["user", "service_account"], false)
}

/// `TeamMemberResponse`: a person in the team (`type` is always `user` in Atrium).
#[derive(Serialize, ToSchema)]
pub struct TeamMemberResponse {
    /// The user's id.
    #[schema(format = Uuid)]
    pub id: String,
    pub handle: String,
    pub name: String,
    pub email: Option<String>,
    #[serde(rename = "type")]
    #[schema(schema_with = member_type_choice)]
    pub kind: String,
}

/// `TeamWorkspaceAccess`: the team's role on one workspace.
#[derive(Serialize, ToSchema)]
pub struct TeamWorkspaceAccess {
    #[schema(format = Uuid)]
    pub workspace_id: String,
    pub workspace_handle: String,
    #[schema(format = Uuid)]
    pub workspace_role_id: String,
    pub workspace_role_name: String,
}

/// `TeamResponse`: the team with its members and its workspace roles.
#[derive(Serialize, ToSchema)]
pub struct TeamResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    #[schema(format = Uuid)]
    pub account_id: String,
    pub name: String,
    pub description: String,
    /// Always `null`: Atrium has no directory sync.
    pub workos_directory_group_id: Option<String>,
    pub memberships: Vec<TeamMemberResponse>,
    pub workspaces: Vec<TeamWorkspaceAccess>,
}

/// `TeamFilterId`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TeamFilterId {
    #[schema(value_type = Option<Vec<uuid::Uuid>>)]
    pub any_: Option<Vec<String>>,
}

/// `TeamNameFilter`: `any_` the exact names (ignoring case), `like_` a part of the name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TeamNameFilter {
    pub any_: Option<Vec<String>>,
    pub like_: Option<String>,
}

/// `TeamFilterDirectoryId`: Atrium's teams have no directory id, so a list matches none.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TeamFilterDirectoryId {
    pub any_: Option<Vec<String>>,
}

/// `TeamFilterWorkspaceId`: teams with a role on one of these workspaces.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TeamFilterWorkspaceId {
    #[schema(value_type = Option<Vec<uuid::Uuid>>)]
    pub any_: Option<Vec<String>>,
}

/// `TeamFilterWorkspaceRoleId`: teams holding one of these roles on some workspace.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TeamFilterWorkspaceRoleId {
    #[schema(value_type = Option<Vec<uuid::Uuid>>)]
    pub any_: Option<Vec<String>>,
}

/// `TeamFilterMemberId`: teams with one of these people in them.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TeamFilterMemberId {
    #[schema(value_type = Option<Vec<uuid::Uuid>>)]
    pub any_: Option<Vec<String>>,
}

/// `TeamFilter`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TeamFilter {
    pub id: Option<TeamFilterId>,
    pub name: Option<TeamNameFilter>,
    pub directory_id: Option<TeamFilterDirectoryId>,
    pub workspace_id: Option<TeamFilterWorkspaceId>,
    pub workspace_role_id: Option<TeamFilterWorkspaceRoleId>,
    pub member_id: Option<TeamFilterMemberId>,
}

/// `UserFilterId`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UserFilterId {
    #[schema(value_type = Option<Vec<uuid::Uuid>>)]
    pub any_: Option<Vec<String>>,
    #[schema(value_type = Option<Vec<uuid::Uuid>>)]
    pub not_any_: Option<Vec<String>>,
}

/// `UserFilterEmail`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UserFilterEmail {
    pub any_: Option<Vec<String>>,
    pub like_: Option<String>,
}

/// `UserFilterHandle`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UserFilterHandle {
    pub any_: Option<Vec<String>>,
    pub like_: Option<String>,
}

/// `UserFilterName`: a part of the first or last name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UserFilterName {
    pub like_: Option<String>,
}

/// `UserFilter`: teams with at least one member matching every criterion given.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UserFilter {
    pub id: Option<UserFilterId>,
    pub email: Option<UserFilterEmail>,
    pub handle: Option<UserFilterHandle>,
    pub name: Option<UserFilterName>,
}

/// `TeamSort` (by name unless told otherwise).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
pub enum TeamSort {
    NameAsc,
    NameDesc,
    CreatedAsc,
    CreatedDesc,
}

const SORTS: [&str; 4] = ["NAME_ASC", "NAME_DESC", "CREATED_ASC", "CREATED_DESC"];

/// `Body_read_teams_api_accounts__account_id__teams_filter_post`. `users`: teams with a
/// member matching it; `bots`: teams with a service account matching it, which in Atrium is
/// none (a `bots` filter that asks for anything matches no team).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TeamsFilterBody {
    pub teams: Option<TeamFilter>,
    pub users: Option<UserFilter>,
    pub bots: Option<super::service_accounts::BotFilter>,
    pub sort: Option<TeamSort>,
    #[schema(minimum = 0, maximum = 200, default = 200)]
    pub limit: Option<i64>,
    #[schema(minimum = 0, default = 0)]
    pub offset: Option<i64>,
}

/// `TeamMembershipCreate`. Only `user` is accepted: Atrium's teams hold people.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct TeamMembershipCreate {
    #[schema(format = Uuid)]
    pub member_id: String,
    #[schema(schema_with = member_type_choice)]
    pub member_type: String,
}

/// `Body_upsert_team_members_api_accounts__account_id__teams__id__members_put`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TeamMembersBody {
    pub members: Vec<TeamMembershipCreate>,
}

/// `WorkspaceTeamAccessCreate`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct WorkspaceTeamAccessCreate {
    #[schema(format = Uuid)]
    pub team_id: String,
    #[schema(format = Uuid)]
    pub workspace_role_id: String,
}

/// `WorkspaceTeamAccess`: a team's role on the workspace, as given.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceTeamAccess {
    #[schema(format = Uuid)]
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    #[schema(format = Uuid)]
    pub team_id: String,
    #[schema(format = Uuid)]
    pub workspace_id: String,
    #[schema(format = Uuid)]
    pub workspace_role_id: String,
}

/// `WorkspaceTeamAccessResponse`: a team with a role on the workspace.
#[derive(Serialize, ToSchema)]
pub struct WorkspaceTeamAccessResponse {
    #[schema(format = Uuid)]
    pub id: String,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    #[schema(format = Uuid)]
    pub workspace_id: String,
    #[schema(format = Uuid)]
    pub workspace_role_id: String,
    #[schema(format = Uuid)]
    pub team_id: String,
    pub team_name: String,
}

/// `Body_read_workspace_team_accesses_…_team_access_filter_post`.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TeamAccessFilterBody {
    #[schema(minimum = 0, maximum = 200, default = 200)]
    pub limit: Option<i64>,
    #[schema(minimum = 0, default = 0)]
    pub offset: Option<i64>,
}

// ---------- helpers ----------

/// The operations' caller.
fn who(holder: &KeyHolder, ip: &str) -> Who {
    Who {
        holder: holder.clone(),
        ip: ip.to_string(),
    }
}

/// A UUID path segment (anything else: 404).
fn path_id(req: &HttpRequest, name: &str) -> Result<String, ApiError> {
    super::path_id(req, name).ok_or(ApiError::NotFound)
}

/// The team the path names, of the caller's account (404 otherwise).
async fn team_in(acct: &ApiAccount, req: &HttpRequest, name: &str) -> Result<Team, ApiError> {
    let id = path_id(req, name)?;
    let aid = acct.account.id.clone();
    super::load(&acct.caller.pool, move |c| ops::find(c, &aid, &id)).await
}

/// The team as the API shows it: with its members and its workspace roles.
fn full(c: &mut DbConn, team: Team, viewer: &KeyHolder) -> diesel::QueryResult<TeamResponse> {
    let members = ops::members(c, &team.id, None, MEMBERS_MAX)?;
    // Only the workspaces the caller can see (an Owner or Admin: all of them).
    let accesses = ops::accesses_of_team_seen_by(c, &team, viewer)?;
    Ok(TeamResponse {
        id: team.id,
        created: Some(utc(team.created_at)),
        updated: Some(utc(team.updated_at)),
        account_id: team.account_id,
        name: team.name,
        description: team.description,
        workos_directory_group_id: None,
        memberships: members
            .into_iter()
            .map(|m| TeamMemberResponse {
                id: m.user_id,
                handle: m.handle,
                name: m.name,
                email: Some(m.email),
                kind: "user".into(),
            })
            .collect(),
        workspaces: accesses
            .into_iter()
            .map(|a| TeamWorkspaceAccess {
                workspace_id: a.workspace_id,
                workspace_handle: a.workspace_handle,
                workspace_role_id: a.role_id,
                workspace_role_name: a.role_name,
            })
            .collect(),
    })
}

fn access_given(a: TeamAccess) -> WorkspaceTeamAccess {
    WorkspaceTeamAccess {
        id: a.id,
        created: Some(utc(a.created_at)),
        updated: Some(utc(a.updated_at)),
        team_id: a.team_id,
        workspace_id: a.workspace_id,
        workspace_role_id: a.role_id,
    }
}

fn access_listed(a: TeamAccess) -> WorkspaceTeamAccessResponse {
    WorkspaceTeamAccessResponse {
        id: a.id,
        created: Some(utc(a.created_at)),
        updated: Some(utc(a.updated_at)),
        workspace_id: a.workspace_id,
        workspace_role_id: a.role_id,
        team_id: a.team_id,
        team_name: a.team_name,
    }
}

/// An operation's refusal of item `i` of a list at `prefix` (e.g. `["body", "members"]`)
/// answered at that item's field; other errors as every operation's.
fn at_item(e: OpError, prefix: &[&str]) -> ApiError {
    match e {
        OpError::Refused(Refusal::InvalidItem(i, fields)) => ApiError::Validation(
            fields
                .0
                .into_iter()
                .map(|(field, msg)| {
                    let mut loc: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
                    loc.push(i.to_string());
                    loc.push(field.to_string());
                    FieldError::at(loc, "value_error", msg)
                })
                .collect(),
        ),
        other => other.into(),
    }
}

/// The reference's `additionalProperties: false`: a 422 at every key of the object `v`
/// (at `loc`) that is not one of `known`.
fn no_extra(v: &Value, loc: &[String], known: &[&str], errors: &mut Errors) {
    if let Value::Object(m) = v {
        for k in m.keys().filter(|k| !known.contains(&k.as_str())) {
            let mut l = loc.to_vec();
            l.push(k.clone());
            errors.push(l, "extra_forbidden", "Extra inputs are not permitted");
        }
    }
}

/// The nested object `name` of `o` (whose JSON is `raw`) with only the keys `known`;
/// `None` when absent or null (or refused).
fn closed<'a>(
    o: &Obj<'a>,
    raw: &'a Value,
    name: &str,
    known: &[&str],
    errors: &mut Errors,
) -> Option<(Obj<'a>, &'a Value)> {
    let inner = o.object(name, errors)?;
    let v = raw.get(name)?;
    no_extra(v, &o.loc(name), known, errors);
    Some((inner, v))
}

/// A team's name and description from a `TeamCreate` or `TeamUpdate` body.
fn read_team_body(raw: &[u8]) -> Result<(String, String), ApiError> {
    let v = body::parse(raw, true)?;
    let mut errors = Errors::default();
    let o = Obj::body(&v, &mut errors);
    no_extra(
        &v,
        &["body".to_string()],
        &["name", "description", "workos_directory_group_id"],
        &mut errors,
    );
    let f = o.string("name", &mut errors);
    let name = o.required("name", &mut errors, f);
    let description = o.string("description", &mut errors).value();
    // Type-checked, then ignored.
    o.string("workos_directory_group_id", &mut errors);
    errors.finish()?;
    Ok((name.unwrap_or_default(), description.unwrap_or_default()))
}

/// What a `users` filter asks of a team's member.
#[derive(Default)]
struct PersonMatch {
    ids: Option<Vec<String>>,
    not_ids: Option<Vec<String>>,
    emails: Option<Vec<String>>,
    email_like: Option<String>,
    handles: Option<Vec<String>>,
    handle_like: Option<String>,
    name_like: Option<String>,
}

impl PersonMatch {
    fn asks_anything(&self) -> bool {
        self.ids.is_some()
            || self.not_ids.is_some()
            || self.emails.is_some()
            || self.email_like.is_some()
            || self.handles.is_some()
            || self.handle_like.is_some()
            || self.name_like.is_some()
    }

    fn matches(&self, p: &crate::members::ops::MembershipDetail) -> bool {
        self.ids.as_ref().is_none_or(|i| i.contains(&p.user_id))
            && self
                .not_ids
                .as_ref()
                .is_none_or(|i| !i.contains(&p.user_id))
            && self
                .emails
                .as_ref()
                .is_none_or(|e| e.iter().any(|e| e.eq_ignore_ascii_case(&p.email)))
            && self.email_like.as_ref().is_none_or(|l| like(&p.email, l))
            && self.handles.as_ref().is_none_or(|h| h.contains(&p.handle))
            && self.handle_like.as_ref().is_none_or(|l| like(&p.handle, l))
            && self
                .name_like
                .as_ref()
                .is_none_or(|l| like(&p.first_name, l) || like(&p.last_name, l))
    }
}

// ---------- teams ----------

/// Creates a team (`create:team`; Owners and Admins). Its name is unique in the account,
/// ignoring case. Recorded as `atrium.team.created`.
#[utoipa::path(post, path = "/api/accounts/{account_id}/teams/", tag = "teams",
    params(("account_id" = uuid::Uuid, Path)),
    request_body = TeamCreate,
    responses((status = 201, body = TeamResponse), (status = 401, body = Detail),
        (status = 403, body = Detail), (status = 404, body = Detail),
        (status = 422, body = ValidationDetail)),
    security(("api_key" = [])))]
pub async fn create_team(acct: ApiAccount, raw: web::Bytes) -> Result<HttpResponse, ApiError> {
    acct.require_to_see(AccountPerm::ReadTeam)?;
    acct.require(AccountPerm::CreateTeam)?;
    let (name, description) = read_team_body(&raw)?;
    let team = acct
        .op(move |c, s| {
            let team = ops::create(
                c,
                &who(&s.holder, &s.ip),
                &s.account.id,
                &name,
                &description,
            )?;
            Ok(full(c, team, &s.holder)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(team))
}

/// The account's teams (`read:team`: every member of the account but Collaborators), by
/// name unless sorted otherwise, filtered.
#[utoipa::path(post, path = "/api/accounts/{account_id}/teams/filter", tag = "teams",
    params(("account_id" = uuid::Uuid, Path)),
    request_body(content = Option<TeamsFilterBody>),
    responses((status = 200, body = [TeamResponse]), (status = 401, body = Detail),
        (status = 404, body = Detail), (status = 422, body = ValidationDetail)),
    security(("api_key" = [])))]
pub async fn read_teams(
    acct: ApiAccount,
    raw: web::Bytes,
) -> Result<web::Json<Vec<TeamResponse>>, ApiError> {
    acct.require_to_see(AccountPerm::ReadTeam)?;
    let v = body::parse(&raw, false)?;
    let mut errors = Errors::default();
    let o = Obj::body(&v, &mut errors);
    let (limit, offset) = o.paging(&mut errors);
    let mut f = Filter {
        limit: limit as i64,
        offset: offset as i64,
        ..Filter::default()
    };
    // A criterion no team of Atrium meets (a directory id, a service account member).
    let mut none = false;
    let e = &mut errors;
    if let Some((t, tv)) = closed(
        &o,
        &v,
        "teams",
        &[
            "id",
            "name",
            "directory_id",
            "workspace_id",
            "workspace_role_id",
            "member_id",
        ],
        e,
    ) {
        if let Some((i, _)) = closed(&t, tv, "id", &["any_"], e) {
            f.ids = i.uuids("any_", e).value();
        }
        if let Some((n, _)) = closed(&t, tv, "name", &["any_", "like_"], e) {
            f.names = n.strings("any_", e).value();
            f.q = n.string("like_", e).value().unwrap_or_default();
        }
        if let Some((d, _)) = closed(&t, tv, "directory_id", &["any_"], e) {
            none |= d.strings("any_", e).value().is_some();
        }
        if let Some((w, _)) = closed(&t, tv, "workspace_id", &["any_"], e) {
            f.workspace_ids = w.uuids("any_", e).value();
        }
        if let Some((r, _)) = closed(&t, tv, "workspace_role_id", &["any_"], e) {
            f.role_ids = r.uuids("any_", e).value();
        }
        if let Some((m, _)) = closed(&t, tv, "member_id", &["any_"], e) {
            f.member_ids = m.uuids("any_", e).value();
        }
    }
    let mut people = PersonMatch::default();
    if let Some((u, uv)) = closed(&o, &v, "users", &["id", "email", "handle", "name"], e) {
        if let Some((i, _)) = closed(&u, uv, "id", &["any_", "not_any_"], e) {
            people.ids = i.uuids("any_", e).value();
            people.not_ids = i.uuids("not_any_", e).value();
        }
        if let Some((m, _)) = closed(&u, uv, "email", &["any_", "like_"], e) {
            people.emails = m.strings("any_", e).value();
            people.email_like = m.string("like_", e).value();
        }
        if let Some((h, _)) = closed(&u, uv, "handle", &["any_", "like_"], e) {
            people.handles = h.strings("any_", e).value();
            people.handle_like = h.string("like_", e).value();
        }
        if let Some((n, _)) = closed(&u, uv, "name", &["like_"], e) {
            people.name_like = n.string("like_", e).value();
        }
    }
    if let Some((b, bv)) = closed(&o, &v, "bots", &["id", "name"], e) {
        if let Some((i, _)) = closed(&b, bv, "id", &["any_"], e) {
            none |= i.strings("any_", e).value().is_some();
        }
        if let Some((n, _)) = closed(&b, bv, "name", &["any_", "like_"], e) {
            let names = n.strings("any_", e).value();
            let like = n.string("like_", e).value();
            none |= names.is_some() || like.is_some();
        }
    }
    match o.string("sort", e) {
        Field::Value(s) if SORTS.contains(&s.as_str()) => {
            f.descending = s.ends_with("_DESC");
            f.by_created = s.starts_with("CREATED");
        }
        Field::Value(_) => e.push(
            o.loc("sort"),
            "enum",
            "Input should be 'NAME_ASC', 'NAME_DESC', 'CREATED_ASC' or 'CREATED_DESC'",
        ),
        _ => {}
    }
    errors.finish()?;
    if none {
        return Ok(web::Json(Vec::new()));
    }
    let aid = acct.account.id.clone();
    let holder = acct.caller.holder.clone();
    let teams = db(&acct.caller.pool, move |c| {
        if people.asks_anything() {
            let ids: Vec<String> = crate::members::ops::all_details(c, &aid)?
                .into_iter()
                .filter(|p| people.matches(p))
                .map(|p| p.user_id)
                .collect();
            let with = Filter {
                member_ids: Some(ids),
                limit: ALL,
                ..Filter::default()
            };
            let with: Vec<String> = ops::list(c, &aid, &with)?
                .into_iter()
                .map(|l| l.team.id)
                .collect();
            f.ids = Some(match f.ids.take() {
                Some(asked) => asked.into_iter().filter(|i| with.contains(i)).collect(),
                None => with,
            });
        }
        let mut out = Vec::new();
        for l in ops::list(c, &aid, &f)? {
            out.push(full(c, l.team, &holder)?);
        }
        Ok(out)
    })
    .await?;
    Ok(web::Json(teams))
}

/// One team with its members and workspace roles (`read:team`).
#[utoipa::path(get, path = "/api/accounts/{account_id}/teams/{id}", tag = "teams",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 200, body = TeamResponse), (status = 401, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn read_team(
    req: HttpRequest,
    acct: ApiAccount,
) -> Result<web::Json<TeamResponse>, ApiError> {
    acct.require_to_see(AccountPerm::ReadTeam)?;
    let team = team_in(&acct, &req, "id").await?;
    let holder = acct.caller.holder.clone();
    let team = db(&acct.caller.pool, move |c| Ok(full(c, team, &holder)?)).await?;
    Ok(web::Json(team))
}

/// Renames the team or changes its description (`update:team`). Recorded as
/// `atrium.team.renamed` (or `….updated` when only the description changed).
#[utoipa::path(put, path = "/api/accounts/{account_id}/teams/{id}", tag = "teams",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    request_body = TeamUpdate,
    responses((status = 200, body = TeamResponse), (status = 401, body = Detail),
        (status = 403, body = Detail), (status = 404, body = Detail),
        (status = 422, body = ValidationDetail)),
    security(("api_key" = [])))]
pub async fn update_team(
    req: HttpRequest,
    acct: ApiAccount,
    raw: web::Bytes,
) -> Result<web::Json<TeamResponse>, ApiError> {
    acct.require_to_see(AccountPerm::ReadTeam)?;
    let team = team_in(&acct, &req, "id").await?;
    acct.require(AccountPerm::UpdateTeam)?;
    let (name, description) = read_team_body(&raw)?;
    let team = acct
        .op(move |c, s| {
            let by = who(&s.holder, &s.ip);
            let team = ops::update(c, &by, &s.account.id, &team.id, &name, &description)?;
            Ok(full(c, team, &s.holder)?)
        })
        .await?;
    Ok(web::Json(team))
}

/// Deletes the team (`delete:team`): its members lose its workspace roles at their next
/// request. Refused (403) when one of those roles has scopes the caller lacks. Recorded as
/// `atrium.team.deleted`.
#[utoipa::path(delete, path = "/api/accounts/{account_id}/teams/{id}", tag = "teams",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn delete_team(req: HttpRequest, acct: ApiAccount) -> Result<HttpResponse, ApiError> {
    acct.require_to_see(AccountPerm::ReadTeam)?;
    let team = team_in(&acct, &req, "id").await?;
    acct.require(AccountPerm::DeleteTeam)?;
    acct.op(move |c, s| ops::delete(c, &who(&s.holder, &s.ip), &s.account.id, &team.id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Adds people to the team (`update:team`), all or none; those already in it stay. Each
/// must be a member of the account (not a Collaborator), and the caller must be able to
/// give the team's roles (403 otherwise). `member_type: service_account` is refused at its
/// item. Each addition is recorded as `atrium.team.member_added`.
#[utoipa::path(put, path = "/api/accounts/{account_id}/teams/{id}/members", tag = "teams",
    params(("account_id" = uuid::Uuid, Path), ("id" = uuid::Uuid, Path)),
    request_body = TeamMembersBody,
    responses((status = 200, body = TeamResponse), (status = 401, body = Detail),
        (status = 403, body = Detail), (status = 404, body = Detail),
        (status = 422, body = ValidationDetail)),
    security(("api_key" = [])))]
pub async fn upsert_team_members(
    req: HttpRequest,
    acct: ApiAccount,
    raw: web::Bytes,
) -> Result<web::Json<TeamResponse>, ApiError> {
    acct.require_to_see(AccountPerm::ReadTeam)?;
    let team = team_in(&acct, &req, "id").await?;
    acct.require(AccountPerm::UpdateTeam)?;
    let v = body::parse(&raw, true)?;
    let mut errors = Errors::default();
    Obj::body(&v, &mut errors);
    let list_loc = vec!["body".to_string(), "members".to_string()];
    let items: &[Value] = match v.get("members") {
        Some(Value::Array(a)) => a,
        None if v.is_object() => {
            errors.push(list_loc.clone(), "missing", "Field required");
            &[]
        }
        None => &[],
        Some(_) => {
            errors.push(
                list_loc.clone(),
                "list_type",
                "Input should be a valid list",
            );
            &[]
        }
    };
    let mut user_ids = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut loc = list_loc.clone();
        loc.push(i.to_string());
        let o = Obj::at(item, loc.clone(), &mut errors);
        no_extra(item, &loc, &["member_id", "member_type"], &mut errors);
        let f = o.uuid("member_id", &mut errors);
        let member = o.required("member_id", &mut errors, f);
        let f = o.string("member_type", &mut errors);
        match o.required("member_type", &mut errors, f).as_deref() {
            Some("user") => user_ids.extend(member),
            Some("service_account") => {
                errors.push(o.loc("member_type"), "value_error", PEOPLE_ONLY)
            }
            Some(_) => errors.push(
                o.loc("member_type"),
                "enum",
                "Input should be 'user' or 'service_account'",
            ),
            None => {}
        }
    }
    errors.finish()?;
    let team = acct
        .try_op(move |c, s| {
            let by = who(&s.holder, &s.ip);
            ops::add_members(c, &by, &s.account.id, &team.id, &user_ids)?;
            Ok(full(c, team, &s.holder)?)
        })
        .await?
        .map_err(|e| at_item(e, &["body", "members"]))?;
    Ok(web::Json(team))
}

/// Removes someone from the team (`update:team`; 404 when they are not in it). They lose
/// the team's roles at their next request. Recorded as `atrium.team.member_removed`.
#[utoipa::path(delete, path = "/api/accounts/{account_id}/teams/{team_id}/members/{actor_id}",
    tag = "teams",
    params(("account_id" = uuid::Uuid, Path), ("team_id" = uuid::Uuid, Path),
        ("actor_id" = uuid::Uuid, Path, description = "The user's id")),
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn remove_team_member(
    req: HttpRequest,
    acct: ApiAccount,
) -> Result<HttpResponse, ApiError> {
    acct.require_to_see(AccountPerm::ReadTeam)?;
    let team = team_in(&acct, &req, "team_id").await?;
    let user = path_id(&req, "actor_id")?;
    acct.require(AccountPerm::UpdateTeam)?;
    acct.op(move |c, s| {
        let by = who(&s.holder, &s.ip);
        ops::remove_member(c, &by, &s.account.id, &team.id, &user)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------- workspace team access ----------

/// Gives teams of the account a role on the workspace, or changes it
/// (`manage_workspace_teams`; who cannot see the workspace's users gets 404): all or none.
/// A team or role not of this account: 422 at its item; a role (new or replaced) with
/// scopes the caller lacks: 403. Recorded as `atrium.team_access.granted` /
/// `….role_changed`.
#[utoipa::path(put, path = "/api/accounts/{account_id}/workspaces/{workspace_id}/team_access/",
    tag = "workspace team access",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path)),
    request_body = Vec<WorkspaceTeamAccessCreate>,
    responses((status = 200, body = [WorkspaceTeamAccess]), (status = 401, body = Detail),
        (status = 403, body = Detail), (status = 404, body = Detail),
        (status = 422, body = ValidationDetail)),
    security(("api_key" = [])))]
pub async fn upsert_workspace_team_access(
    ws: ApiWorkspace,
    raw: web::Bytes,
) -> Result<web::Json<Vec<WorkspaceTeamAccess>>, ApiError> {
    ws.require_to_see(SEE)?;
    ws.require(MANAGE)?;
    let v = body::parse(&raw, true)?;
    let Value::Array(items) = &v else {
        return Err(ApiError::Validation(vec![FieldError::at(
            vec!["body".into()],
            "list_type",
            "Input should be a valid list",
        )]));
    };
    let mut errors = Errors::default();
    let mut wanted = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let loc = vec!["body".to_string(), i.to_string()];
        let o = Obj::at(item, loc.clone(), &mut errors);
        no_extra(item, &loc, &["team_id", "workspace_role_id"], &mut errors);
        let f = o.uuid("team_id", &mut errors);
        let team = o.required("team_id", &mut errors, f);
        let f = o.uuid("workspace_role_id", &mut errors);
        let role = o.required("workspace_role_id", &mut errors, f);
        wanted.extend(team.zip(role));
    }
    errors.finish()?;
    let done = ws
        .try_op(move |c, s| {
            let by = who(&s.holder, &s.ip);
            ops::grant_all(c, &by, &s.account.id, &s.workspace.id, &wanted)
        })
        .await?
        .map_err(|e| at_item(e, &["body"]))?;
    Ok(web::Json(done.into_iter().map(access_given).collect()))
}

/// The teams with a role on the workspace, by team name (`see_workspace_users`, otherwise
/// 404).
#[utoipa::path(post, path = "/api/accounts/{account_id}/workspaces/{workspace_id}/team_access/filter",
    tag = "workspace team access",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path)),
    request_body(content = Option<TeamAccessFilterBody>),
    responses((status = 200, body = [WorkspaceTeamAccessResponse]), (status = 401, body = Detail),
        (status = 404, body = Detail), (status = 422, body = ValidationDetail)),
    security(("api_key" = [])))]
pub async fn read_workspace_team_accesses(
    ws: ApiWorkspace,
    raw: web::Bytes,
) -> Result<web::Json<Vec<WorkspaceTeamAccessResponse>>, ApiError> {
    ws.require_to_see(SEE)?;
    let v = body::parse(&raw, false)?;
    let mut errors = Errors::default();
    let o = Obj::body(&v, &mut errors);
    let (limit, offset) = o.paging(&mut errors);
    errors.finish()?;
    let rows = ws
        .op(move |c, s| {
            let by = who(&s.holder, &s.ip);
            ops::accesses_for(
                c,
                &by,
                &s.account.id,
                &s.workspace.id,
                offset as i64,
                limit as i64,
            )
        })
        .await?;
    Ok(web::Json(rows.into_iter().map(access_listed).collect()))
}

/// Takes the team's role on the workspace away (`manage_workspace_teams`; 404 when it has
/// none). Refused (403) when that role has scopes the caller lacks. Its members lose it at
/// their next request. Recorded as `atrium.team_access.revoked`.
#[utoipa::path(delete, path = "/api/accounts/{account_id}/workspaces/{workspace_id}/team_access/{team_id}",
    tag = "workspace team access",
    params(("account_id" = uuid::Uuid, Path), ("workspace_id" = uuid::Uuid, Path),
        ("team_id" = uuid::Uuid, Path)),
    responses((status = 204), (status = 401, body = Detail), (status = 403, body = Detail),
        (status = 404, body = Detail)),
    security(("api_key" = [])))]
pub async fn remove_workspace_team_access(
    req: HttpRequest,
    ws: ApiWorkspace,
) -> Result<HttpResponse, ApiError> {
    ws.require_to_see(SEE)?;
    ws.require(MANAGE)?;
    let team = path_id(&req, "team_id")?;
    ws.op(move |c, s| {
        let by = who(&s.holder, &s.ip);
        ops::revoke(c, &by, &s.account.id, &s.workspace.id, &team)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

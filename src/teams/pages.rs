//! The Teams pages (issue #25).
//!
//! - `/account/{a}/teams`: the account's teams (search, keyset pages by name) and the create
//!   form. `read:team` to see it (404 otherwise), `create:team` to create (403 otherwise).
//! - `/account/{a}/teams/{t}`: a team's members (keyset pages by handle) with Remove (each
//!   behind a confirmation), the Add member form with its type-ahead picker (a `<datalist>`
//!   htmx fills from `…/candidates`; without JavaScript a typed handle or e-mail address
//!   works the same), the workspaces the team has a role on, rename and description
//!   (`update:team`), and Delete (`delete:team`) through a confirmation page naming what the
//!   members lose.
//! - `/account/{a}/workspace/{w}/teams`: the workspace sharing page's Teams panel — the
//!   teams with a role here (`see_workspace_users`), and with `manage_workspace_teams` give
//!   a team a role, change it inline (htmx swaps the row) or take it away. Nobody gives a
//!   role with scopes they do not hold (`teams::ops::grant`, the one grant check).
//!
//! Every change is one operation of [`super::ops`] (its own transaction and audit event).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::ops::{self, Listed, Member, Who};
use super::ops::{Team, TeamAccess};
use crate::authz::AccountPerm;
use crate::authz::account::PermSet;
use crate::outcome::{FieldErrors, OpError, Refusal};
use crate::web::ctx::{AccountCtx, Acting, WorkspaceActing, WorkspaceCtx};
use crate::web::{AppError, Shell, db, is_htmx, redirect, render};
use crate::workspaces::ops::{self as workspaces, WorkspaceRole};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/account/{account_id}/teams", web::get().to(index))
        .route("/account/{account_id}/teams", web::post().to(create))
        .route("/account/{account_id}/teams/{team_id}", web::get().to(team))
        .route(
            "/account/{account_id}/teams/{team_id}/edit",
            web::post().to(edit),
        )
        .route(
            "/account/{account_id}/teams/{team_id}/candidates",
            web::get().to(candidates),
        )
        .route(
            "/account/{account_id}/teams/{team_id}/members",
            web::post().to(add_member),
        )
        .route(
            "/account/{account_id}/teams/{team_id}/members/{user_id}/remove",
            web::post().to(remove_member),
        )
        .route(
            "/account/{account_id}/teams/{team_id}/delete",
            web::get().to(confirm_delete),
        )
        .route(
            "/account/{account_id}/teams/{team_id}/delete",
            web::post().to(delete),
        )
        .route(
            "/account/{account_id}/workspace/{workspace_id}/teams",
            web::get().to(panel),
        )
        .route(
            "/account/{account_id}/workspace/{workspace_id}/teams",
            web::post().to(grant),
        )
        .route(
            "/account/{account_id}/workspace/{workspace_id}/teams/{team_id}/role",
            web::post().to(change_role),
        )
        .route(
            "/account/{account_id}/workspace/{workspace_id}/teams/{team_id}/remove",
            web::post().to(revoke),
        );
}

/// Members of a team shown per page.
pub const MEMBERS_PAGE: i64 = 50;
/// Suggestions the type-ahead picker offers at once.
pub const SUGGESTIONS: i64 = 20;
/// Where the Teams panel's list and its pick list stop.
pub const PANEL_MAX: i64 = 500;
/// The longest search text, handle or e-mail address a page reads (anything longer is not
/// one).
const TEXT_MAX: usize = 320;

/// The operations' caller: the signed-in user, from where the page was asked.
fn who(a: &Acting) -> Who {
    Who::user(&a.user, a.ip.clone())
}

fn who_ws(a: &WorkspaceActing) -> Who {
    Who::user(&a.user, a.ip.clone())
}

/// A query parameter cut to a length no real value exceeds; NUL (which PostgreSQL refuses
/// in text) makes it empty.
fn bounded(s: &str) -> String {
    if crate::db::holds_nul(s) {
        return String::new();
    }
    s.chars().take(TEXT_MAX).collect()
}

/// An operation's refusal for a page with a form: field errors (an item's too), or the
/// reason's message beside `field`; anything else is the page's error (404, 403, failure).
fn refusal(e: OpError, field: &'static str) -> Result<FieldErrors, AppError> {
    match e {
        OpError::Refused(Refusal::Invalid(f) | Refusal::InvalidItem(_, f)) => Ok(f),
        OpError::Refused(Refusal::Forbidden(Some(r)) | Refusal::Conflict(r)) => {
            Ok(FieldErrors::one(field, r.message()))
        }
        other => Err(other.into()),
    }
}

/// Field errors under the page's field names (`member_id` is the typed `member`).
fn page_fields(f: FieldErrors) -> FieldErrors {
    let mut out = FieldErrors::default();
    for (k, m) in f.0 {
        let k = match k {
            "member_id" | "user_id" => "member",
            "workspace_role_id" => "role_id",
            other => other,
        };
        out.add(k, m);
    }
    out
}

/// All the messages in one line (a row or a page shows them in one place).
fn one_line(f: &FieldErrors) -> String {
    f.0.iter()
        .map(|(_, m)| m.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------
// The account's Teams page
// ---------------------------------------------------------------------------------------

#[derive(Deserialize, Default, Clone)]
struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    q: String,
    /// "Next": the page after this (normalized) name.
    #[serde(default)]
    after: Option<String>,
    /// "Previous": the page before this (normalized) name.
    #[serde(default)]
    before: Option<String>,
}

#[derive(Template)]
#[template(path = "teams/index.html")]
struct IndexPage {
    shell: Shell,
    account_id: String,
    account_name: String,
    csrf: String,
    can_create: bool,
    q: String,
    rows: Vec<Listed>,
    /// Teams of the account (all of them, whatever the search).
    total: i64,
    /// The first and last names shown ("Previous" and "Next" around them).
    first: String,
    last: String,
    has_prev: bool,
    has_next: bool,
    form: CreateForm,
    errors: FieldErrors,
    notice: Option<String>,
    /// The team just created (the notice links to it).
    created: Option<String>,
}

/// What the Teams page shows besides the list.
#[derive(Default)]
struct IndexExtras {
    form: Option<CreateForm>,
    errors: FieldErrors,
    notice: Option<String>,
    created: Option<String>,
}

async fn show_index(
    ctx: AccountCtx,
    query: ListQuery,
    extras: IndexExtras,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadTeam)?;
    let q: String = bounded(&query.q).chars().take(100).collect();
    let cursor = |c: &Option<String>| c.as_deref().map(bounded).filter(|c| !c.is_empty());
    let (after, before) = (cursor(&query.after), cursor(&query.before));
    let backwards = after.is_none() && before.is_some();
    // Names are unique in the account: the cursor's row is excluded by an id beyond every
    // id ("~" sorts after UUIDs going up, "" before them going down).
    let position = match (&after, &before) {
        (Some(n), _) => Some((n.clone(), "~".to_string())),
        (None, Some(n)) => Some((n.clone(), String::new())),
        (None, None) => None,
    };
    let filter = ops::Filter {
        q: q.clone(),
        after: position,
        descending: backwards,
        limit: ops::PAGE_SIZE + 1,
        ..ops::Filter::default()
    };
    let aid = ctx.account.id.clone();
    let (mut rows, total) = db(&ctx.auth.pool, move |c| {
        Ok((
            ops::list(c, &aid, &filter)?,
            ops::count_in_account(c, &aid)?,
        ))
    })
    .await?;
    let beyond = rows.len() as i64 > ops::PAGE_SIZE;
    rows.truncate(ops::PAGE_SIZE as usize);
    if backwards {
        rows.reverse();
    }
    let (has_prev, has_next) = match (&after, backwards) {
        (Some(_), _) => (true, beyond),
        (None, true) => (beyond, true),
        (None, false) => (false, beyond),
    };
    let name_of = |l: Option<&Listed>| l.map(|l| l.team.name_normalized.clone());
    render(
        status,
        &IndexPage {
            account_id: ctx.account.id.clone(),
            account_name: ctx.account.name.clone(),
            csrf: ctx.auth.shell.csrf.clone(),
            can_create: ctx.can(AccountPerm::CreateTeam),
            q,
            first: name_of(rows.first()).unwrap_or_default(),
            last: name_of(rows.last()).unwrap_or_default(),
            rows,
            total,
            has_prev,
            has_next,
            form: extras.form.unwrap_or_default(),
            errors: extras.errors,
            notice: extras.notice,
            created: extras.created,
            shell: ctx.auth.shell.at("teams"),
        },
    )
}

async fn index(ctx: AccountCtx, query: web::Query<ListQuery>) -> Result<HttpResponse, AppError> {
    show_index(
        ctx,
        query.into_inner(),
        IndexExtras::default(),
        StatusCode::OK,
    )
    .await
}

async fn create(
    req: HttpRequest,
    ctx: AccountCtx,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadTeam)?;
    ctx.require(AccountPerm::CreateTeam)?;
    let form = form.into_inner();
    let (name, description) = (form.name.clone(), form.description.clone());
    let result = ctx
        .try_op(&req, move |c, a| {
            ops::create(c, &who(a), &a.account.id, &name, &description)
        })
        .await?;
    match result {
        Ok(team) => {
            show_index(
                ctx,
                ListQuery::default(),
                IndexExtras {
                    notice: Some(format!("Team “{}” created.", team.name)),
                    created: Some(team.id),
                    ..IndexExtras::default()
                },
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let errors = refusal(e, "name")?;
            show_index(
                ctx,
                ListQuery::default(),
                IndexExtras {
                    form: Some(form),
                    errors,
                    ..IndexExtras::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------------
// One team's page
// ---------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "teams/team.html")]
struct TeamPage {
    shell: Shell,
    account_id: String,
    csrf: String,
    team: Team,
    can_update: bool,
    can_delete: bool,
    members: Vec<Member>,
    member_count: i64,
    /// `?after=` for the next page of members, when there is one.
    next: Option<String>,
    /// This page of members starts after the first one.
    paged: bool,
    accesses: Vec<TeamAccess>,
    /// The rename form's values (the team's, or what was refused).
    name: String,
    description: String,
    /// What was typed into Add member (kept when refused).
    member: String,
    errors: FieldErrors,
    notice: Option<String>,
    error: Option<String>,
}

impl TeamPage {
    /// What removing one person from the team takes away, in words.
    fn removal_loses(&self) -> String {
        if self.accesses.is_empty() {
            "The team has no role on any workspace.".into()
        } else {
            format!(
                "They lose the access this team gives on: {}.",
                on_workspaces(&self.accesses)
            )
        }
    }
}

/// "prod (Developer), staging (Viewer)".
fn on_workspaces(accesses: &[TeamAccess]) -> String {
    accesses
        .iter()
        .map(|a| format!("{} ({})", a.workspace_name, a.role_name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the team page shows besides the team.
#[derive(Default)]
struct TeamExtras {
    after: String,
    /// A refused rename: the values sent.
    edit: Option<(String, String)>,
    member: String,
    errors: FieldErrors,
    notice: Option<String>,
    error: Option<String>,
}

async fn show_team(
    ctx: AccountCtx,
    team_id: String,
    extras: TeamExtras,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadTeam)?;
    let after = bounded(&extras.after);
    let aid = ctx.account.id.clone();
    let a2 = after.clone();
    let viewer = crate::apikeys::KeyHolder::User(ctx.auth.user.clone());
    let loaded = db(&ctx.auth.pool, move |c| {
        let Some(team) = ops::find(c, &aid, &team_id)? else {
            return Ok(None);
        };
        let after = (!a2.is_empty()).then_some(a2.as_str());
        let members = ops::members(c, &team.id, after, MEMBERS_PAGE + 1)?;
        let count = ops::count_members(c, &team.id)?;
        // Only the workspaces the viewer can see (Owners and Admins: all).
        let accesses = ops::accesses_of_team_seen_by(c, &team, &viewer)?;
        Ok(Some((team, members, count, accesses)))
    })
    .await?;
    let (team, mut members, member_count, accesses) = loaded.ok_or(AppError::NotFound)?;
    let next = if members.len() as i64 > MEMBERS_PAGE {
        members.truncate(MEMBERS_PAGE as usize);
        members.last().map(|m| m.handle.clone())
    } else {
        None
    };
    let (name, description) = extras
        .edit
        .unwrap_or_else(|| (team.name.clone(), team.description.clone()));
    render(
        status,
        &TeamPage {
            account_id: ctx.account.id.clone(),
            csrf: ctx.auth.shell.csrf.clone(),
            can_update: ctx.can(AccountPerm::UpdateTeam),
            can_delete: ctx.can(AccountPerm::DeleteTeam),
            team,
            members,
            member_count,
            next,
            paged: !after.is_empty(),
            accesses,
            name,
            description,
            member: extras.member,
            errors: extras.errors,
            notice: extras.notice,
            error: extras.error,
            shell: ctx.auth.shell.at("teams"),
        },
    )
}

#[derive(Deserialize, Default)]
struct TeamQuery {
    /// Handle of the last member of the previous page.
    #[serde(default)]
    after: String,
}

async fn team(
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
    query: web::Query<TeamQuery>,
) -> Result<HttpResponse, AppError> {
    let (_, team_id) = path.into_inner();
    show_team(
        ctx,
        team_id,
        TeamExtras {
            after: query.into_inner().after,
            ..TeamExtras::default()
        },
        StatusCode::OK,
    )
    .await
}

async fn edit(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadTeam)?;
    ctx.require(AccountPerm::UpdateTeam)?;
    let (_, team_id) = path.into_inner();
    let form = form.into_inner();
    let (id, name, description) = (team_id.clone(), form.name.clone(), form.description.clone());
    let result = ctx
        .try_op(&req, move |c, a| {
            ops::update(c, &who(a), &a.account.id, &id, &name, &description)
        })
        .await?;
    let extras = match result {
        Ok(t) => TeamExtras {
            notice: Some(format!("Team “{}” saved.", t.name)),
            ..TeamExtras::default()
        },
        Err(e) => TeamExtras {
            errors: refusal(e, "name")?,
            edit: Some((form.name, form.description)),
            ..TeamExtras::default()
        },
    };
    let status = if extras.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    show_team(ctx, team_id, extras, status).await
}

#[derive(Deserialize, Default)]
struct CandidatesQuery {
    /// The typed text (`?q=`; the picker's own field sends it as `member`).
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    member: Option<String>,
}

/// The type-ahead picker's suggestions: members of the account (not Collaborators) not in
/// the team matching the text by any part of their name, handle or e-mail address
/// (`members::ops::suggest`, the members list's indexed search), as the listbox's options.
async fn candidates(
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
    query: web::Query<CandidatesQuery>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadTeam)?;
    ctx.require(AccountPerm::UpdateTeam)?;
    let (_, team_id) = path.into_inner();
    let query = query.into_inner();
    let q = bounded(query.q.or(query.member).as_deref().unwrap_or_default());
    let aid = ctx.account.id.clone();
    let options = db(&ctx.auth.pool, move |c| {
        let Some(team) = ops::find(c, &aid, &team_id)? else {
            return Ok(None);
        };
        let found = crate::members::ops::suggest(
            c,
            &aid,
            &q,
            &crate::members::ops::Without::TeamMembers(team.id.clone()),
            SUGGESTIONS,
        )?;
        Ok(Some(found))
    })
    .await?
    .ok_or(AppError::NotFound)?;
    render(
        StatusCode::OK,
        &crate::workspaces::pages::picker::Options {
            list_id: "member-suggestions",
            options,
        },
    )
}

#[derive(Deserialize)]
struct AddMemberForm {
    /// A handle or an e-mail address (typed, or picked from the suggestions).
    #[serde(default)]
    member: String,
}

async fn add_member(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
    form: web::Form<AddMemberForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadTeam)?;
    ctx.require(AccountPerm::UpdateTeam)?;
    let (_, team_id) = path.into_inner();
    let typed = bounded(form.member.trim());
    let (id, person) = (team_id.clone(), typed.clone());
    let result = ctx
        .try_op(&req, move |c, a| {
            let who = who(a);
            // The team first: an unknown team is 404, whatever was typed.
            let team = ops::visible(c, &who, &a.account.id, &id)?;
            if person.is_empty() {
                return crate::outcome::invalid(
                    "member",
                    "Enter the handle or e-mail address of a member of the account.",
                );
            }
            let Some(user_id) = ops::member_by_handle_or_email(c, &a.account.id, &person)? else {
                return crate::outcome::invalid("member", ops::NO_SUCH_PERSON);
            };
            let added = ops::add_members(
                c,
                &who,
                &a.account.id,
                &team.id,
                std::slice::from_ref(&user_id),
            )?;
            if added.is_empty() {
                return crate::outcome::invalid("member", ops::ALREADY_IN_TEAM);
            }
            let handle = crate::users::ops::find(c, &user_id)?
                .map(|u| u.handle)
                .unwrap_or_default();
            Ok((handle, team.name))
        })
        .await?;
    let extras = match result {
        Ok((handle, team)) => TeamExtras {
            notice: Some(format!("{handle} added to {team}.")),
            ..TeamExtras::default()
        },
        Err(e) => TeamExtras {
            errors: page_fields(refusal(e, "member")?),
            member: typed,
            ..TeamExtras::default()
        },
    };
    let status = if extras.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    show_team(ctx, team_id, extras, status).await
}

async fn remove_member(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadTeam)?;
    ctx.require(AccountPerm::UpdateTeam)?;
    let (_, team_id, user_id) = path.into_inner();
    let id = team_id.clone();
    let result = ctx
        .try_op(&req, move |c, a| {
            let who = who(a);
            let team = ops::visible(c, &who, &a.account.id, &id)?;
            ops::remove_member(c, &who, &a.account.id, &team.id, &user_id)?;
            let handle = crate::users::ops::find(c, &user_id)?
                .map(|u| u.handle)
                .unwrap_or_default();
            Ok((handle, team.name))
        })
        .await?;
    let (extras, status) = match result {
        Ok((handle, team)) => (
            TeamExtras {
                notice: Some(format!("{handle} removed from {team}.")),
                ..TeamExtras::default()
            },
            StatusCode::OK,
        ),
        Err(e) => (
            TeamExtras {
                error: Some(one_line(&refusal(e, "member")?)),
                ..TeamExtras::default()
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    show_team(ctx, team_id, extras, status).await
}

#[derive(Template)]
#[template(path = "teams/delete.html")]
struct DeletePage {
    shell: Shell,
    account_id: String,
    csrf: String,
    team: Team,
    /// What deleting the team takes away, in words.
    impact: String,
    error: Option<String>,
}

/// "2 members lose the access this team gives on: prod (Developer), staging (Viewer)."
fn impact_text(members: i64, accesses: &[TeamAccess]) -> String {
    let people = if members == 1 {
        "1 member".to_string()
    } else {
        format!("{members} members")
    };
    if accesses.is_empty() {
        format!(
            "The team has no role on any workspace: its {people} lose{} nothing but the team.",
            if members == 1 { "s" } else { "" }
        )
    } else {
        format!(
            "{people} lose{} the access this team gives on: {}.",
            if members == 1 { "s" } else { "" },
            on_workspaces(accesses)
        )
    }
}

async fn show_delete(
    ctx: AccountCtx,
    team_id: String,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadTeam)?;
    ctx.require(AccountPerm::DeleteTeam)?;
    let aid = ctx.account.id.clone();
    let (team, impact) = db(&ctx.auth.pool, move |c| {
        let Some(team) = ops::find(c, &aid, &team_id)? else {
            return Ok(None);
        };
        let impact = ops::delete_impact(c, &team.id)?;
        Ok(Some((team, impact)))
    })
    .await?
    .ok_or(AppError::NotFound)?;
    render(
        status,
        &DeletePage {
            account_id: ctx.account.id.clone(),
            csrf: ctx.auth.shell.csrf.clone(),
            impact: impact_text(impact.members, &impact.accesses),
            team,
            error,
            shell: ctx.auth.shell.at("teams"),
        },
    )
}

/// The confirmation step before deleting a team.
async fn confirm_delete(
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (_, team_id) = path.into_inner();
    show_delete(ctx, team_id, None, StatusCode::OK).await
}

async fn delete(
    req: HttpRequest,
    ctx: AccountCtx,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(AccountPerm::ReadTeam)?;
    ctx.require(AccountPerm::DeleteTeam)?;
    let (_, team_id) = path.into_inner();
    let id = team_id.clone();
    let result = ctx
        .try_op(&req, move |c, a| {
            let who = who(a);
            let team = ops::visible(c, &who, &a.account.id, &id)?;
            ops::delete(c, &who, &a.account.id, &team.id)?;
            Ok(team.name)
        })
        .await?;
    match result {
        Ok(name) => {
            show_index(
                ctx,
                ListQuery::default(),
                IndexExtras {
                    notice: Some(format!("Team “{name}” deleted.")),
                    ..IndexExtras::default()
                },
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let why = one_line(&refusal(e, "team")?);
            show_delete(ctx, team_id, Some(why), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

// ---------------------------------------------------------------------------------------
// The workspace sharing page's Teams panel
// ---------------------------------------------------------------------------------------

const SEE: &str = "see_workspace_users";
const MANAGE: &str = "manage_workspace_teams";

#[derive(Template)]
#[template(path = "teams/workspace.html")]
struct PanelPage {
    shell: Shell,
    base: String,
    csrf: String,
    account_id: String,
    can_manage: bool,
    /// The viewer may open the teams' pages (`read:team`).
    link_teams: bool,
    rows: Vec<TeamAccess>,
    roles: Vec<WorkspaceRole>,
    /// Teams of the account without a role here (the add form's choices).
    candidates: Vec<Team>,
    /// The account has teams at all.
    has_teams: bool,
    /// A refused add: what was chosen.
    form_team: String,
    form_role: String,
    errors: FieldErrors,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Template)]
#[template(path = "teams/_access_row.html")]
struct RowFragment {
    base: String,
    csrf: String,
    account_id: String,
    can_manage: bool,
    link_teams: bool,
    a: TeamAccess,
    roles: Vec<WorkspaceRole>,
    message: Option<String>,
    error: Option<String>,
}

/// Is `role_id` among the roles the select offers? (If not, the current role is shown as
/// a disabled option: the viewer may not give it.)
pub fn role_listed(roles: &[WorkspaceRole], role_id: &str) -> bool {
    roles.iter().any(|r| r.id == role_id)
}

fn base(ctx: &WorkspaceCtx) -> String {
    format!("/account/{}/workspace/{}", ctx.account.id, ctx.workspace.id)
}

fn panel_path(ctx: &WorkspaceCtx) -> String {
    format!("{}/teams", base(ctx))
}

fn link_teams(ctx: &WorkspaceCtx) -> bool {
    ctx.account_role
        .is_some_and(|r| PermSet::of_role(r).has(AccountPerm::ReadTeam))
}

/// What the panel shows besides the list.
#[derive(Default)]
struct PanelExtras {
    form_team: String,
    form_role: String,
    errors: FieldErrors,
    error: Option<String>,
    notice: Option<String>,
}

async fn show_panel(
    ctx: WorkspaceCtx,
    extras: PanelExtras,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(SEE)?;
    let can_manage = ctx.has(MANAGE);
    let (aid, wid) = (ctx.account.id.clone(), ctx.workspace.id.clone());
    let (rows, roles, candidates, has_teams) = db(&ctx.auth.pool, move |c| {
        let rows = ops::accesses_of_workspace(c, &wid, 0, PANEL_MAX)?;
        let (roles, candidates, has_teams) = if can_manage {
            (
                workspaces::roles_for_account(c, &aid)?,
                ops::without_access(c, &aid, &wid, PANEL_MAX)?,
                ops::count_in_account(c, &aid)? > 0,
            )
        } else {
            (Vec::new(), Vec::new(), true)
        };
        Ok((rows, roles, candidates, has_teams))
    })
    .await?;
    render(
        status,
        &PanelPage {
            base: base(&ctx),
            csrf: ctx.auth.shell.csrf.clone(),
            account_id: ctx.account.id.clone(),
            can_manage,
            link_teams: link_teams(&ctx),
            roles: workspaces::grantable(&ctx.scopes, roles),
            rows,
            candidates,
            has_teams,
            form_team: extras.form_team,
            form_role: extras.form_role,
            errors: extras.errors,
            error: extras.error,
            notice: extras.notice,
            shell: ctx.auth.shell.at("workspace-members"),
        },
    )
}

async fn panel(ctx: WorkspaceCtx) -> Result<HttpResponse, AppError> {
    show_panel(ctx, PanelExtras::default(), StatusCode::OK).await
}

#[derive(Deserialize)]
struct GrantForm {
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    role_id: String,
}

async fn grant(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    form: web::Form<GrantForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(SEE)?;
    ctx.require(MANAGE)?;
    let GrantForm { team_id, role_id } = form.into_inner();
    let (t, r) = (team_id.clone(), role_id.clone());
    let result = ctx
        .try_op(&req, move |c, a| {
            ops::grant(c, &who_ws(a), &a.account.id, &a.workspace.id, &t, &r)
        })
        .await?;
    match result {
        Ok(_) => Ok(redirect(&req, &panel_path(&ctx))),
        Err(e) => {
            let errors = page_fields(refusal(e, "role_id")?);
            show_panel(
                ctx,
                PanelExtras {
                    form_team: team_id,
                    form_role: role_id,
                    errors,
                    ..PanelExtras::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// The row of `team_id` again, with a message or a refusal beside it.
async fn row(
    ctx: &WorkspaceCtx,
    team_id: String,
    status: StatusCode,
    message: Option<String>,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (aid, wid) = (ctx.account.id.clone(), ctx.workspace.id.clone());
    let (roles, current) = db(&ctx.auth.pool, move |c| {
        Ok((
            workspaces::roles_for_account(c, &aid)?,
            ops::access(c, &wid, &team_id)?,
        ))
    })
    .await?;
    let a = current.ok_or(AppError::NotFound)?;
    render(
        status,
        &RowFragment {
            base: base(ctx),
            csrf: ctx.auth.shell.csrf.clone(),
            account_id: ctx.account.id.clone(),
            can_manage: true,
            link_teams: link_teams(ctx),
            roles: workspaces::grantable(&ctx.scopes, roles),
            a,
            message,
            error,
        },
    )
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    role_id: String,
}

async fn change_role(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    path: web::Path<(String, String, String)>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(SEE)?;
    ctx.require(MANAGE)?;
    let (_, _, team_id) = path.into_inner();
    let (t, r) = (team_id.clone(), form.role_id.clone());
    // Only a team with a role here can have it changed (else 404).
    let result = ctx
        .try_op(&req, move |c, a| {
            if crate::db::holds_nul(&t) || ops::access(c, &a.workspace.id, &t)?.is_none() {
                return Err(Refusal::NotFound.into());
            }
            ops::grant(c, &who_ws(a), &a.account.id, &a.workspace.id, &t, &r)
        })
        .await?;
    let outcome = match result {
        Ok(_) => Ok(()),
        Err(e) => Err(one_line(&refusal(e, "role_id")?)),
    };
    if !is_htmx(&req) {
        return match outcome {
            Ok(()) => Ok(redirect(&req, &panel_path(&ctx))),
            Err(why) => {
                show_panel(
                    ctx,
                    PanelExtras {
                        error: Some(why),
                        ..PanelExtras::default()
                    },
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
        };
    }
    match outcome {
        Ok(()) => {
            row(
                &ctx,
                team_id,
                StatusCode::OK,
                Some("Role saved.".into()),
                None,
            )
            .await
        }
        Err(why) => {
            row(
                &ctx,
                team_id,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(why),
            )
            .await
        }
    }
}

async fn revoke(
    req: HttpRequest,
    ctx: WorkspaceCtx,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, AppError> {
    ctx.require_to_see(SEE)?;
    ctx.require(MANAGE)?;
    let (_, _, team_id) = path.into_inner();
    let t = team_id.clone();
    let result = ctx
        .try_op(&req, move |c, a| {
            let before = if crate::db::holds_nul(&t) {
                None
            } else {
                ops::access(c, &a.workspace.id, &t)?
            };
            ops::revoke(c, &who_ws(a), &a.account.id, &a.workspace.id, &t)?;
            Ok(before.map(|b| b.team_name).unwrap_or_default())
        })
        .await?;
    match result {
        Ok(_) if is_htmx(&req) => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body("")),
        Ok(name) => {
            show_panel(
                ctx,
                PanelExtras {
                    notice: Some(format!("The team “{name}” no longer has a role here.")),
                    ..PanelExtras::default()
                },
                StatusCode::OK,
            )
            .await
        }
        Err(e) => {
            let why = one_line(&refusal(e, "role_id")?);
            if is_htmx(&req) {
                return row(
                    &ctx,
                    team_id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(why),
                )
                .await;
            }
            show_panel(
                ctx,
                PanelExtras {
                    error: Some(why),
                    ..PanelExtras::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delete_impact_names_the_members_and_each_workspace_with_its_role() {
        let at = chrono::NaiveDateTime::default();
        let access = |ws: &str, role: &str| TeamAccess {
            id: String::new(),
            workspace_id: String::new(),
            workspace_name: ws.into(),
            workspace_handle: ws.into(),
            team_id: String::new(),
            team_name: "Data".into(),
            role_id: String::new(),
            role_name: role.into(),
            created_at: at,
            updated_at: at,
        };
        assert_eq!(
            impact_text(
                3,
                &[access("prod", "Developer"), access("staging", "Viewer")]
            ),
            "3 members lose the access this team gives on: prod (Developer), staging (Viewer)."
        );
        assert_eq!(
            impact_text(1, &[access("prod", "Runner")]),
            "1 member loses the access this team gives on: prod (Runner)."
        );
        assert_eq!(
            impact_text(0, &[]),
            "The team has no role on any workspace: its 0 members lose nothing but the team."
        );
    }
}

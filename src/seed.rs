//! `atrium seed`: fills a database with a large tenant and a small one, for the benchmarks
//! (`bench/run`) and for tests that need many rows.
//!
//! Rows go in with multi-row `INSERT`s (a few thousand rows a statement) inside
//! transactions, through the same `DbConn` as the application, so it runs on both backends.
//! One password is hashed once and the hash reused for every seeded user. Not idempotent:
//! run it on a fresh database (handles are unique and would collide).

use std::path::Path;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;

use crate::apikeys;
use crate::authn::digest;
use crate::authz::AccountRole;
use crate::authz::workspace::BuiltinRole;
use crate::db::schema::{
    account_memberships, accounts, api_keys, audit_events, service_accounts, team_members, teams,
    users, workspace_access, workspace_bot_access, workspace_team_access, workspace_visits,
    workspaces,
};
use crate::db::{DbConn, new_id, now};
use crate::workspaces::model::builtin_role_id;

/// Runs a multi-row insert on the connection's own backend (`MultiConnection` does not
/// render SQLite's batch inserts).
macro_rules! batch {
    ($c:expr, $q:expr) => {
        match $c {
            DbConn::Sqlite(conn) => $q.execute(conn),
            DbConn::Postgres(conn) => $q.execute(conn),
        }
    };
}

/// The password of every seeded user.
pub const PASSWORD: &str = "bench-password-1";

/// Rows per `INSERT` statement (bind parameters stay below SQLite's 32,766).
const BATCH: usize = 2_000;

/// How much to make.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Members of the large account (besides its Owner).
    pub members: usize,
    /// Workspaces of the large account.
    pub workspaces: usize,
    /// Accesses on the large account's first workspace.
    pub accesses: usize,
    /// Service accounts (each with a key) of the large account.
    pub service_accounts: usize,
    /// Workspaces the benchmark's service account has a role on.
    pub bot_workspaces: usize,
    /// Audit events, spread over the last [`AUDIT_DAYS`] days.
    pub audit_events: usize,
    pub small_members: usize,
    pub small_workspaces: usize,
    /// Prefix of every handle, so that several seeds can share a database (tests).
    pub prefix: String,
}

/// The seeded audit events span the default retention less a day, as on a live database
/// whose retention sweep has run. Spread over 400 days (as before), the server's first sweep
/// deleted about 90,000 events while the benchmark's first scenario ran, and that
/// scenario's CPU per request came out 40% higher in the first round than in the last.
pub const AUDIT_DAYS: i64 = crate::audit::retention::DEFAULT_DAYS as i64 - 1;

impl Default for Plan {
    fn default() -> Self {
        Plan {
            members: 10_000,
            workspaces: 1_000,
            accesses: 5_000,
            service_accounts: 500,
            bot_workspaces: 50,
            audit_events: 1_000_000,
            small_members: 100,
            small_workspaces: 10,
            prefix: "bench".into(),
        }
    }
}

impl Plan {
    /// Reads `--members N`, `--workspaces N`, `--accesses N`, `--service-accounts N`,
    /// `--bot-workspaces N`, `--audit-events N`, `--small-members N`, `--small-workspaces N`,
    /// `--prefix P` over the defaults.
    pub fn from_args(args: &[String]) -> Result<Plan, String> {
        let mut plan = Plan::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let n = || {
                value
                    .parse::<usize>()
                    .map_err(|_| format!("{flag}: {value:?} is not a number"))
            };
            match flag.as_str() {
                "--members" => plan.members = n()?,
                "--workspaces" => plan.workspaces = n()?.max(1),
                "--accesses" => plan.accesses = n()?,
                "--service-accounts" => plan.service_accounts = n()?.max(1),
                "--bot-workspaces" => plan.bot_workspaces = n()?,
                "--audit-events" => plan.audit_events = n()?,
                "--small-members" => plan.small_members = n()?,
                "--small-workspaces" => plan.small_workspaces = n()?.max(1),
                "--prefix" => {
                    if value.is_empty()
                        || value.len() > 12
                        || !value
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                    {
                        return Err("--prefix: 1-12 lowercase letters or digits".into());
                    }
                    plan.prefix = value.clone();
                }
                other => return Err(format!("unknown option {other}")),
            }
        }
        Ok(plan)
    }
}

/// One seeded tenant.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub account_id: String,
    pub account_handle: String,
    /// The Owner's handle; log in with it and [`PASSWORD`].
    pub owner_handle: String,
    pub owner_id: String,
    /// A plain Member's handle (for pages a Member may not open).
    pub member_handle: String,
    /// The workspace with the most accesses.
    pub workspace_id: String,
    /// Every workspace, in creation order.
    pub workspace_ids: Vec<String>,
    /// The plaintext key of the first service account.
    pub bot_key: String,
    pub member_ids: Vec<String>,
    /// A Member in [`TEAMS`] teams, each with Viewer on another workspace (the first is
    /// [`Tenant::workspace_id`]), and Owner there by an own role (`bench/run`'s "person in 50
    /// teams"); empty when the tenant has fewer than three members.
    pub teamed_handle: String,
    /// A Member in no team with the same reach: own Viewer on the same workspaces, Owner on
    /// the first.
    pub teamless_handle: String,
}

/// How many teams the large tenant's "teamed" Member belongs to.
pub const TEAMS: usize = 50;

/// What [`run`] made.
#[derive(Clone, Debug)]
pub struct Seeded {
    pub big: Tenant,
    pub small: Tenant,
    pub audit_events: usize,
}

impl Seeded {
    /// `KEY=value` lines for `bench/run` (the keys' plaintexts are written separately).
    pub fn env_lines(&self) -> String {
        let mut out = String::new();
        for (tag, t) in [("BIG", &self.big), ("SMALL", &self.small)] {
            out.push_str(&format!(
                "{tag}_ACCOUNT={}\n{tag}_OWNER={}\n{tag}_OWNER_ID={}\n{tag}_MEMBER={}\n{tag}_WORKSPACE={}\n{tag}_TEAMED={}\n{tag}_TEAMLESS={}\n",
                t.account_id,
                t.owner_handle,
                t.owner_id,
                t.member_handle,
                t.workspace_id,
                t.teamed_handle,
                t.teamless_handle
            ));
        }
        out.push_str(&format!("PASSWORD={PASSWORD}\n"));
        out
    }
}

/// Seeds both tenants and the audit events. Prints progress to stderr.
pub fn run(conn: &mut DbConn, plan: &Plan) -> anyhow::Result<Seeded> {
    let started = std::time::Instant::now();
    if let DbConn::Sqlite(_) = conn {
        // The audit events' indexes by actor and by workspace take each new row at one of
        // thousands of places, and with random event ids the id's index did too: with
        // SQLite's default 2 MiB page cache every row read and wrote back index pages
        // through the file (9 writes and 5 reads a row, measured). A 1 GiB cache keeps them
        // in memory. This connection only.
        use diesel::connection::SimpleConnection;
        conn.batch_execute("PRAGMA cache_size = -1048576")?;
    }
    let big = conn.transaction(|c| {
        tenant(
            c,
            &format!("{}-big", plan.prefix),
            "Big Tenant",
            plan.members,
            plan.workspaces,
            plan.accesses,
            plan.service_accounts,
            plan.bot_workspaces,
        )
    })?;
    eprintln!(
        "seed: large account {} ({} members, {} workspaces, {} accesses, {} service accounts) in {:.1}s",
        big.account_handle,
        plan.members + 1,
        plan.workspaces,
        plan.accesses,
        plan.service_accounts,
        started.elapsed().as_secs_f64()
    );
    let small = conn.transaction(|c| {
        tenant(
            c,
            &format!("{}-small", plan.prefix),
            "Small Tenant",
            plan.small_members,
            plan.small_workspaces,
            plan.small_members.min(plan.accesses),
            5.min(plan.service_accounts),
            plan.bot_workspaces.min(plan.small_workspaces),
        )
    })?;
    eprintln!(
        "seed: small account {} ({} members, {} workspaces)",
        small.account_handle,
        plan.small_members + 1,
        plan.small_workspaces
    );
    audit(conn, &big, plan.audit_events)?;
    // PostgreSQL plans by its statistics, which autovacuum would gather some time after a
    // bulk load; without them it takes the 1,000-workspace account for a 4-workspace one
    // and sorts all of them for the switcher (8.5 ms instead of 0.25 ms). Gathered now,
    // with the vacuum autovacuum would otherwise start on the million new audit rows while
    // the benchmark measures, as on a database that has been running.
    if let DbConn::Postgres(_) = conn {
        use diesel::connection::SimpleConnection;
        conn.batch_execute("VACUUM ANALYZE")?;
    }
    // SQLite's search index after a bulk load holds many small segments, each of which a
    // search must open; merged as the server's housekeeping would (db::search::merge_index).
    while crate::db::search::merge_index(conn, 16)? {}
    eprintln!(
        "seed: {} audit events; done in {:.1}s",
        plan.audit_events,
        started.elapsed().as_secs_f64()
    );
    Ok(Seeded {
        big,
        small,
        audit_events: plan.audit_events,
    })
}

/// Writes `seed.env` and the keys (mode 0600) into `dir`, and says what was made.
pub fn write_files(dir: &Path, seeded: &Seeded) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let write_secret = |name: &str, text: &str| -> anyhow::Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, text)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    };
    write_secret("seed.env", &seeded.env_lines())?;
    write_secret("bench-big.key", &seeded.big.bot_key)?;
    write_secret("bench-small.key", &seeded.small.bot_key)?;
    Ok(())
}

const FIRST: [&str; 20] = [
    "ada",
    "alan",
    "barbara",
    "claude",
    "donald",
    "edsger",
    "frances",
    "grace",
    "hedy",
    "ivan",
    "john",
    "katherine",
    "leslie",
    "margaret",
    "niklaus",
    "ole",
    "radia",
    "shafi",
    "tim",
    "yukihiro",
];
const LAST: [&str; 20] = [
    "lovelace",
    "turing",
    "liskov",
    "shannon",
    "knuth",
    "dijkstra",
    "allen",
    "hopper",
    "lamarr",
    "sutherland",
    "mccarthy",
    "johnson",
    "lamport",
    "hamilton",
    "wirth",
    "dahl",
    "perlman",
    "goldwasser",
    "berners",
    "matsumoto",
];

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A user row: (id, handle).
struct NewUserRow {
    id: String,
    handle: String,
    first: String,
    last: String,
}

/// Inserts users, each with their personal account (as its Owner).
fn insert_users(
    c: &mut DbConn,
    hash: &str,
    rows: &[NewUserRow],
    t: NaiveDateTime,
) -> QueryResult<()> {
    for chunk in rows.chunks(BATCH) {
        let values: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let email = format!("{}@example.com", u.handle);
                (
                    users::id.eq(u.id.clone()),
                    users::email.eq(email.clone()),
                    users::email_normalized.eq(email.clone()),
                    users::handle.eq(u.handle.clone()),
                    users::first_name.eq(capitalized(&u.first)),
                    users::last_name.eq(capitalized(&u.last)),
                    users::password_hash.eq(hash.to_string()),
                    users::created_at.eq(t),
                    users::updated_at.eq(t),
                    users::last_login_at
                        .eq((i % 3 != 0).then(|| t - TimeDelta::hours(i as i64 % 500))),
                    users::email_verified_at.eq(Some(t)),
                    users::search_key.eq(crate::db::search::user_key(
                        &u.handle,
                        &capitalized(&u.first),
                        &capitalized(&u.last),
                        &email,
                    )),
                )
            })
            .collect();
        batch!(c, diesel::insert_into(users::table).values(values))?;
        let personal: Vec<(String, &NewUserRow)> = chunk.iter().map(|u| (new_id(), u)).collect();
        let values: Vec<_> = personal
            .iter()
            .map(|(aid, u)| {
                (
                    accounts::id.eq(aid.clone()),
                    accounts::kind.eq("personal"),
                    accounts::name.eq(format!(
                        "{} {}",
                        capitalized(&u.first),
                        capitalized(&u.last)
                    )),
                    accounts::handle.eq(u.handle.clone()),
                    accounts::created_at.eq(t),
                    accounts::updated_at.eq(t),
                )
            })
            .collect();
        batch!(c, diesel::insert_into(accounts::table).values(values))?;
        let values: Vec<_> = personal
            .iter()
            .map(|(aid, u)| membership(aid, &u.id, &u.handle, AccountRole::Owner, t))
            .collect();
        batch!(
            c,
            diesel::insert_into(account_memberships::table).values(values)
        )?;
    }
    Ok(())
}

type MembershipValues = (
    diesel::dsl::Eq<account_memberships::id, String>,
    diesel::dsl::Eq<account_memberships::account_id, String>,
    diesel::dsl::Eq<account_memberships::user_id, String>,
    diesel::dsl::Eq<account_memberships::role, &'static str>,
    diesel::dsl::Eq<account_memberships::created_at, NaiveDateTime>,
    diesel::dsl::Eq<account_memberships::handle, String>,
);

fn membership(
    account_id: &str,
    user_id: &str,
    handle: &str,
    role: AccountRole,
    t: NaiveDateTime,
) -> MembershipValues {
    (
        account_memberships::id.eq(new_id()),
        account_memberships::account_id.eq(account_id.to_string()),
        account_memberships::user_id.eq(user_id.to_string()),
        account_memberships::role.eq(role.as_str()),
        account_memberships::created_at.eq(t),
        account_memberships::handle.eq(handle.to_string()),
    )
}

fn insert_memberships(c: &mut DbConn, rows: Vec<MembershipValues>) -> QueryResult<()> {
    let mut rows = rows;
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(BATCH));
        batch!(
            c,
            diesel::insert_into(account_memberships::table).values(rows)
        )?;
        rows = rest;
    }
    Ok(())
}

const WORKER_ROLES: [BuiltinRole; 4] = [
    BuiltinRole::Developer,
    BuiltinRole::Runner,
    BuiltinRole::Viewer,
    BuiltinRole::Worker,
];

/// Adds `n` users (each with their personal account) to `account_id`, about 1 in 50 as
/// Admin and the rest as Members (the first always a Member). Handles are
/// `<first>-<last>-<tag>-<i>`. Returns their ids and handles.
pub fn add_members(
    c: &mut DbConn,
    account_id: &str,
    n: usize,
    tag: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let t = now();
    let hash = seed_hash()?;
    let people: Vec<NewUserRow> = (0..n)
        .map(|i| {
            let first = FIRST[i % FIRST.len()];
            let last = LAST[(i / FIRST.len()) % LAST.len()];
            NewUserRow {
                id: new_id(),
                handle: format!("{first}-{last}-{tag}-{i:05}"),
                first: first.into(),
                last: last.into(),
            }
        })
        .collect();
    insert_users(c, &hash, &people, t)?;
    let rows = people
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let role = if i % 50 == 49 {
                AccountRole::Admin
            } else {
                AccountRole::Member
            };
            membership(account_id, &u.id, &u.handle, role, t)
        })
        .collect();
    insert_memberships(c, rows)?;
    Ok(people.into_iter().map(|u| (u.id, u.handle)).collect())
}

/// Adds `n` workspaces to `account_id` (default role Viewer), named `Pipeline <tag><i>`;
/// `creator` gets the Owner role on each, as when created through the page.
pub fn add_workspaces(
    c: &mut DbConn,
    account_id: &str,
    creator: &str,
    n: usize,
    tag: &str,
) -> QueryResult<Vec<String>> {
    let t = now();
    let viewer = builtin_role_id(BuiltinRole::Viewer);
    let ids: Vec<String> = (0..n).map(|_| new_id()).collect();
    for (k, chunk) in ids.chunks(BATCH).enumerate() {
        let values: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let i = k * BATCH + i;
                (
                    workspaces::id.eq(id.clone()),
                    workspaces::account_id.eq(account_id.to_string()),
                    workspaces::name.eq(format!("Pipeline {tag}{i:04}")),
                    workspaces::handle.eq(format!("pipeline-{tag}{i:04}")),
                    workspaces::description.eq(format!("Flows of team {}", i % 37)),
                    workspaces::default_role_id.eq(Some(viewer)),
                    workspaces::created_at.eq(t),
                    workspaces::updated_at.eq(t),
                )
            })
            .collect();
        batch!(c, diesel::insert_into(workspaces::table).values(values))?;
    }
    let owner = builtin_role_id(BuiltinRole::Owner);
    let rows: Vec<(&str, &str, &str)> = ids.iter().map(|w| (w.as_str(), creator, owner)).collect();
    insert_accesses(c, &rows)?;
    Ok(ids)
}

/// Gives each of `user_ids` a built-in role (Developer, Runner, Viewer, Worker in turn) on
/// the workspace.
pub fn add_accesses(c: &mut DbConn, workspace_id: &str, user_ids: &[String]) -> QueryResult<()> {
    let rows: Vec<(&str, &str, &str)> = user_ids
        .iter()
        .enumerate()
        .map(|(i, u)| {
            (
                workspace_id,
                u.as_str(),
                builtin_role_id(WORKER_ROLES[i % WORKER_ROLES.len()]),
            )
        })
        .collect();
    insert_accesses(c, &rows)
}

fn insert_accesses(c: &mut DbConn, rows: &[(&str, &str, &str)]) -> QueryResult<()> {
    let t = now();
    for chunk in rows.chunks(BATCH) {
        // Each access carries its user's handle (the members panel's sort key).
        let mut ids: Vec<&str> = chunk.iter().map(|(_, u, _)| *u).collect();
        ids.sort_unstable();
        ids.dedup();
        let handles: std::collections::HashMap<String, String> = users::table
            .filter(users::id.eq_any(&ids))
            .select((users::id, users::handle))
            .load::<(String, String)>(c)?
            .into_iter()
            .collect();
        let values: Vec<_> = chunk
            .iter()
            .map(|(w, u, r)| {
                (
                    workspace_access::id.eq(new_id()),
                    workspace_access::workspace_id.eq(w.to_string()),
                    workspace_access::user_id.eq(u.to_string()),
                    workspace_access::role_id.eq(r.to_string()),
                    workspace_access::created_at.eq(t),
                    workspace_access::handle.eq(handles.get(*u).cloned().unwrap_or_default()),
                )
            })
            .collect();
        batch!(
            c,
            diesel::insert_into(workspace_access::table).values(values)
        )?;
    }
    Ok(())
}

/// Adds `n` service accounts (`worker <tag><i>`), each with a key that never expires;
/// returns their ids and the first one's key (plaintext).
pub fn add_service_accounts(
    c: &mut DbConn,
    account_id: &str,
    created_by: &str,
    n: usize,
    tag: &str,
) -> QueryResult<(Vec<String>, String)> {
    let t = now();
    let ids: Vec<String> = (0..n).map(|_| new_id()).collect();
    let mut first_key = String::new();
    for (k, chunk) in ids.chunks(BATCH).enumerate() {
        let values: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let name = format!("worker {tag}{:04}", k * BATCH + i);
                (
                    service_accounts::id.eq(id.clone()),
                    service_accounts::account_id.eq(account_id.to_string()),
                    service_accounts::name_normalized
                        .eq(crate::service_accounts::model::normalize(&name)),
                    service_accounts::name.eq(name),
                    service_accounts::created_by.eq(Some(created_by.to_string())),
                    service_accounts::created_at.eq(t),
                    service_accounts::updated_at.eq(t),
                )
            })
            .collect();
        batch!(
            c,
            diesel::insert_into(service_accounts::table).values(values)
        )?;
        let values: Vec<_> = chunk
            .iter()
            .map(|id| {
                let plain = apikeys::generate(apikeys::BOT_PREFIX);
                if first_key.is_empty() {
                    first_key = plain.clone();
                }
                (
                    api_keys::id.eq(new_id()),
                    api_keys::service_account_id.eq(Some(id.clone())),
                    api_keys::name.eq("key"),
                    api_keys::prefix.eq(apikeys::BOT_PREFIX),
                    api_keys::digest.eq(digest(&plain)),
                    api_keys::last4.eq(plain[plain.len() - 4..].to_string()),
                    api_keys::created_at.eq(t),
                    api_keys::expires_at.eq(None::<NaiveDateTime>),
                )
            })
            .collect();
        batch!(c, diesel::insert_into(api_keys::table).values(values))?;
    }
    Ok((ids, first_key))
}

/// Gives each (workspace, service account) pair the Worker role.
pub fn add_bot_accesses(c: &mut DbConn, pairs: &[(&str, &str)]) -> QueryResult<()> {
    let t = now();
    for chunk in pairs.chunks(BATCH) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(w, s)| {
                (
                    workspace_bot_access::id.eq(new_id()),
                    workspace_bot_access::workspace_id.eq(w.to_string()),
                    workspace_bot_access::service_account_id.eq(s.to_string()),
                    workspace_bot_access::role_id.eq(builtin_role_id(BuiltinRole::Worker)),
                    workspace_bot_access::created_at.eq(t),
                )
            })
            .collect();
        batch!(
            c,
            diesel::insert_into(workspace_bot_access::table).values(values)
        )?;
    }
    Ok(())
}

/// The hash of [`PASSWORD`], computed once per process.
fn seed_hash() -> anyhow::Result<String> {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(h) = HASH.get() {
        return Ok(h.clone());
    }
    let h = crate::authn::password::hash(PASSWORD)
        .map_err(|e| anyhow::anyhow!("hashing the seed password: {e}"))?;
    Ok(HASH.get_or_init(|| h).clone())
}

/// An organization with an Owner, `members` more users (see [`add_members`]), `workspaces`
/// workspaces (default role Viewer; the Owner created them, so holds Owner on each),
/// `accesses` users with a role on the first workspace, and `service_accounts` service
/// accounts with a key each, the first having a role on `bot_workspaces` workspaces and the
/// next 100 on the first workspace. The Owner recently visited the first 20 workspaces.
#[allow(clippy::too_many_arguments)]
fn tenant(
    c: &mut DbConn,
    handle: &str,
    name: &str,
    members: usize,
    workspace_count: usize,
    accesses: usize,
    service_account_count: usize,
    bot_workspaces: usize,
) -> anyhow::Result<Tenant> {
    let t = now();
    let owner = NewUserRow {
        id: new_id(),
        handle: format!("{handle}-owner"),
        first: "Olive".into(),
        last: "Owner".into(),
    };
    insert_users(c, &seed_hash()?, std::slice::from_ref(&owner), t)?;
    let account_id = new_id();
    diesel::insert_into(accounts::table)
        .values((
            accounts::id.eq(&account_id),
            accounts::kind.eq("organization"),
            accounts::name.eq(name),
            accounts::handle.eq(handle),
            accounts::created_at.eq(t),
            accounts::updated_at.eq(t),
        ))
        .execute(c)?;
    insert_memberships(
        c,
        vec![membership(
            &account_id,
            &owner.id,
            &owner.handle,
            AccountRole::Owner,
            t,
        )],
    )?;
    let people = add_members(c, &account_id, members, handle)?;
    let workspace_ids = add_workspaces(c, &account_id, &owner.id, workspace_count, "")?;
    let member_ids: Vec<String> = people.iter().map(|(id, _)| id.clone()).collect();
    let with_access = &member_ids[..accesses.min(member_ids.len())];
    add_accesses(c, &workspace_ids[0], with_access)?;
    let visits: Vec<_> = workspace_ids
        .iter()
        .take(20)
        .enumerate()
        .map(|(i, w)| {
            (
                workspace_visits::user_id.eq(owner.id.clone()),
                workspace_visits::workspace_id.eq(w.clone()),
                workspace_visits::visited_at.eq(t - TimeDelta::minutes(i as i64 * 7)),
            )
        })
        .collect();
    batch!(
        c,
        diesel::insert_into(workspace_visits::table).values(visits)
    )?;
    let (sa_ids, bot_key) =
        add_service_accounts(c, &account_id, &owner.id, service_account_count, "")?;
    let pairs: Vec<(&str, &str)> = workspace_ids
        .iter()
        .take(bot_workspaces)
        .map(|w| (w.as_str(), sa_ids[0].as_str()))
        .chain(
            sa_ids
                .iter()
                .skip(1)
                .take(100)
                .map(|s| (workspace_ids[0].as_str(), s.as_str())),
        )
        .collect();
    add_bot_accesses(c, &pairs)?;
    let (teamed_handle, teamless_handle) = add_teams(c, &account_id, &people, &workspace_ids)?;
    Ok(Tenant {
        teamed_handle,
        teamless_handle,
        account_id,
        account_handle: handle.to_string(),
        owner_handle: owner.handle,
        owner_id: owner.id,
        member_handle: people.first().map(|p| p.1.clone()).unwrap_or_default(),
        workspace_id: workspace_ids[0].clone(),
        workspace_ids,
        bot_key,
        member_ids,
    })
}

/// The "teamed" and "teamless" Members of [`Tenant`] (members 2 and 3): [`TEAMS`] teams,
/// team `i` with Viewer on workspace `i` and the teamed Member in every one; the teamless
/// Member gets own Viewer on the same workspaces, whose default role becomes No Access
/// (except the first's). Both hold Owner on the first workspace
/// (to open its members panel). Empty handles when there are too few members or workspaces.
fn add_teams(
    c: &mut DbConn,
    account_id: &str,
    people: &[(String, String)],
    workspace_ids: &[String],
) -> QueryResult<(String, String)> {
    if people.len() < 3 || workspace_ids.len() < TEAMS {
        return Ok((String::new(), String::new()));
    }
    let t = now();
    let (teamed, teamless) = (&people[1], &people[2]);
    let viewer = builtin_role_id(BuiltinRole::Viewer);
    let owner = builtin_role_id(BuiltinRole::Owner);
    let mut team_rows = Vec::new();
    let mut member_rows = Vec::new();
    let mut access_rows = Vec::new();
    for (i, ws) in workspace_ids.iter().take(TEAMS).enumerate() {
        let id = new_id();
        let name = format!("Team {i:02}");
        team_rows.push((
            teams::id.eq(id.clone()),
            teams::account_id.eq(account_id.to_string()),
            teams::name.eq(name.clone()),
            teams::name_normalized.eq(name.to_lowercase()),
            teams::description.eq(String::new()),
            teams::created_at.eq(t),
            teams::updated_at.eq(t),
        ));
        member_rows.push((
            team_members::id.eq(new_id()),
            team_members::team_id.eq(id.clone()),
            team_members::user_id.eq(teamed.0.clone()),
            team_members::handle.eq(teamed.1.clone()),
            team_members::created_at.eq(t),
        ));
        access_rows.push((
            workspace_team_access::id.eq(new_id()),
            workspace_team_access::workspace_id.eq(ws.clone()),
            workspace_team_access::team_id.eq(id),
            workspace_team_access::role_id.eq(viewer.to_string()),
            workspace_team_access::created_at.eq(t),
            workspace_team_access::updated_at.eq(t),
        ));
    }
    batch!(c, diesel::insert_into(teams::table).values(team_rows))?;
    batch!(
        c,
        diesel::insert_into(team_members::table).values(member_rows)
    )?;
    batch!(
        c,
        diesel::insert_into(workspace_team_access::table).values(access_rows)
    )?;
    // Workspaces 1..TEAMS get No Access as their default role, so that only the team (or
    // the teamless Member's own role) reaches them: the switcher then decides each of them
    // through the team test, not the default role's.
    diesel::update(
        workspaces::table.filter(
            workspaces::id.eq_any(
                workspace_ids
                    .iter()
                    .take(TEAMS)
                    .skip(1)
                    .cloned()
                    .collect::<Vec<_>>(),
            ),
        ),
    )
    .set(workspaces::default_role_id.eq(None::<String>))
    .execute(c)?;
    // Owner on the first workspace by an own role, for both (members 2 and 3 already hold a
    // role there when the first workspace's accesses reach them).
    for who in [teamed, teamless] {
        diesel::delete(
            workspace_access::table
                .filter(workspace_access::workspace_id.eq(&workspace_ids[0]))
                .filter(workspace_access::user_id.eq(&who.0)),
        )
        .execute(c)?;
    }
    let mut rows: Vec<(&str, &str, &str)> = vec![
        (workspace_ids[0].as_str(), teamed.0.as_str(), owner),
        (workspace_ids[0].as_str(), teamless.0.as_str(), owner),
    ];
    rows.extend(
        workspace_ids
            .iter()
            .take(TEAMS)
            .skip(1)
            .map(|w| (w.as_str(), teamless.0.as_str(), viewer)),
    );
    insert_accesses(c, &rows)?;
    Ok((teamed.1.clone(), teamless.1.clone()))
}

const ACTIONS: [(&str, &str); 8] = [
    ("atrium.workspace_access.role_changed", "user"),
    ("atrium.workspace_access.granted", "user"),
    ("atrium.workspace_access.removed", "user"),
    ("atrium.account_membership.role_changed", "user"),
    ("atrium.invitation.created", "invitation"),
    ("atrium.bot.api_key_rotated", "bot"),
    ("atrium.workspace.updated", "workspace"),
    ("atrium.user.logged_in", "user"),
];

/// `n` audit events of the tenant, spread over the last [`AUDIT_DAYS`] days, oldest first
/// (their ids in time order, as `audit::record` makes them), in statements of [`BATCH`] rows
/// (on PostgreSQL `COPY`), all in one transaction.
fn audit(c: &mut DbConn, tenant: &Tenant, n: usize) -> QueryResult<()> {
    if n == 0 {
        return Ok(());
    }
    let end = now();
    let span = TimeDelta::days(AUDIT_DAYS).num_seconds();
    let step = (span as f64 / n as f64).max(0.001);
    c.transaction(|c| {
        let mut made = 0usize;
        while made < n {
            let count = BATCH.min(n - made);
            let values: Vec<_> = (made..made + count)
                .map(|i| {
                    let (action, kind) = ACTIONS[i % ACTIONS.len()];
                    let people = tenant.member_ids.len().max(1);
                    let actor = tenant
                        .member_ids
                        .get((i * 7) % people)
                        .unwrap_or(&tenant.owner_id);
                    let subject = tenant
                        .member_ids
                        .get((i * 13 + 5) % people)
                        .unwrap_or(&tenant.owner_id);
                    let ws = &tenant.workspace_ids[i % tenant.workspace_ids.len()];
                    let ms = ((n - i) as f64 * step * 1000.0) as i64;
                    let at = end - TimeDelta::milliseconds(ms);
                    (
                        audit_events::event_id.eq(crate::db::time_ordered_id(at)),
                        audit_events::occurred_at.eq(at),
                        audit_events::account_id.eq(Some(tenant.account_id.clone())),
                        audit_events::workspace_id.eq(Some(ws.clone())),
                        audit_events::actor_kind.eq("user"),
                        audit_events::actor_id.eq(Some(actor.clone())),
                        audit_events::actor_name.eq(format!("member {}", (i * 7) % people)),
                        audit_events::action.eq(action),
                        audit_events::resource_kind.eq(kind),
                        audit_events::resource_id.eq(Some(subject.clone())),
                        audit_events::resource_name.eq(format!("member {}", (i * 13 + 5) % people)),
                        audit_events::ip.eq(Some(format!("10.0.{}.{}", i % 250, i % 200))),
                        audit_events::payload.eq(format!(
                            "{{\"from\":\"viewer\",\"to\":\"developer\",\"n\":{i}}}"
                        )),
                    )
                })
                .collect();
            // PostgreSQL takes the rows by COPY (binary): parsing and planning a 2,000-row
            // INSERT was most of its work (20,000 rows/s).
            match c {
                DbConn::Sqlite(conn) => diesel::insert_into(audit_events::table)
                    .values(values)
                    .execute(conn)?,
                DbConn::Postgres(conn) => diesel::copy_from(audit_events::table)
                    .from_insertable(values)
                    .execute(conn)?,
            };
            made += count;
            if made % 100_000 < BATCH && n >= 100_000 {
                eprintln!("seed: {made} audit events");
            }
        }
        Ok(())
    })
}

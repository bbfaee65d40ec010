//! The invariant checker (SECURITY.md §3.1): SQL that must find nothing in a database
//! Atrium has written, whatever requests it served and in whatever order. Every test
//! runs it at its end (`TestApp`'s `Drop`), so a change that leaves the data in a state
//! the design forbids fails the test that made it, on either backend.
//!
//! Each check is a query returning one text row per violation (`v`). The checks are the
//! rules of DESIGN.md §1–§2 that hold by construction; rules that only hold for live rows
//! of a certain age, or that the design lets drift (a pending transfer request whose
//! workspace was moved by someone else, the audit rows of a deleted account), are not here.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use atrium::db::DbConn;

/// (name, query): the query lists the rows that break the rule, as text in column `v`.
pub const CHECKS: &[(&str, &str)] = &[
    // Accounts and memberships -----------------------------------------------------------
    (
        "account without an Owner",
        "SELECT a.kind || ' account ' || a.handle AS v FROM accounts a
         WHERE NOT EXISTS (SELECT 1 FROM account_memberships m
                           WHERE m.account_id = a.id AND m.role = 'owner')",
    ),
    (
        "duplicate membership",
        "SELECT account_id || ' / ' || user_id AS v FROM account_memberships
         GROUP BY account_id, user_id HAVING COUNT(*) > 1",
    ),
    (
        "account whose member count is not its number of members",
        "SELECT a.handle || ': ' || CAST(a.member_count AS TEXT) AS v FROM accounts a
         WHERE a.member_count <> (SELECT COUNT(*) FROM account_memberships m
                                  WHERE m.account_id = a.id)",
    ),
    (
        "workspace whose member count is not its number of user accesses",
        "SELECT w.handle || ': ' || CAST(w.user_access_count AS TEXT) AS v FROM workspaces w
         WHERE w.user_access_count <> (SELECT COUNT(*) FROM workspace_access a
                                       WHERE a.workspace_id = w.id)",
    ),
    (
        "workspace whose service-account count is not its number of service-account accesses",
        "SELECT w.handle || ': ' || CAST(w.bot_access_count AS TEXT) AS v FROM workspaces w
         WHERE w.bot_access_count <> (SELECT COUNT(*) FROM workspace_bot_access b
                                      WHERE b.workspace_id = w.id)",
    ),
    (
        "membership whose sort key is not its user's handle",
        "SELECT m.account_id || ' / ' || u.handle || ' / ' || m.handle AS v
         FROM account_memberships m JOIN users u ON u.id = m.user_id
         WHERE m.handle <> u.handle",
    ),
    (
        "workspace access whose sort key is not its user's handle",
        "SELECT wa.workspace_id || ' / ' || u.handle || ' / ' || wa.handle AS v
         FROM workspace_access wa JOIN users u ON u.id = wa.user_id
         WHERE wa.handle <> u.handle",
    ),
    (
        "Collaborator without a workspace access in the account",
        "SELECT a.handle || ' / ' || u.handle AS v FROM account_memberships m
         JOIN accounts a ON a.id = m.account_id JOIN users u ON u.id = m.user_id
         WHERE m.role = 'collaborator' AND NOT EXISTS (
             SELECT 1 FROM workspace_access wa JOIN workspaces w ON w.id = wa.workspace_id
             WHERE w.account_id = m.account_id AND wa.user_id = m.user_id)",
    ),
    (
        "user without their personal account",
        "SELECT u.handle AS v FROM users u
         WHERE NOT EXISTS (SELECT 1 FROM accounts a
                           WHERE a.kind = 'personal' AND a.handle = u.handle)",
    ),
    (
        "personal account of no user",
        "SELECT a.handle AS v FROM accounts a
         WHERE a.kind = 'personal'
           AND NOT EXISTS (SELECT 1 FROM users u WHERE u.handle = a.handle)",
    ),
    (
        "organization handle taken by a user",
        "SELECT a.handle AS v FROM accounts a JOIN users u ON u.handle = a.handle
         WHERE a.kind = 'organization'",
    ),
    (
        "handle not in lower case",
        "SELECT 'user ' || handle AS v FROM users WHERE handle <> lower(handle)
         UNION ALL SELECT 'account ' || handle FROM accounts WHERE handle <> lower(handle)
         UNION ALL SELECT 'workspace ' || handle FROM workspaces WHERE handle <> lower(handle)",
    ),
    // Workspaces and accesses ------------------------------------------------------------
    (
        "workspace of no account",
        "SELECT w.id AS v FROM workspaces w
         WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = w.account_id)",
    ),
    (
        "duplicate workspace access (user)",
        "SELECT workspace_id || ' / ' || user_id AS v FROM workspace_access
         GROUP BY workspace_id, user_id HAVING COUNT(*) > 1",
    ),
    (
        "duplicate workspace access (service account)",
        "SELECT workspace_id || ' / ' || service_account_id AS v FROM workspace_bot_access
         GROUP BY workspace_id, service_account_id HAVING COUNT(*) > 1",
    ),
    (
        "workspace access of a user who is not a member of the workspace's account",
        "SELECT w.handle || ' / ' || u.handle AS v
         FROM workspace_access wa JOIN workspaces w ON w.id = wa.workspace_id
         JOIN users u ON u.id = wa.user_id
         WHERE NOT EXISTS (SELECT 1 FROM account_memberships m
                           WHERE m.account_id = w.account_id AND m.user_id = wa.user_id)",
    ),
    (
        "workspace access of a service account of another account",
        "SELECT w.handle || ' / ' || s.name AS v
         FROM workspace_bot_access b
         JOIN workspaces w ON w.id = b.workspace_id
         JOIN service_accounts s ON s.id = b.service_account_id
         WHERE s.account_id <> w.account_id",
    ),
    (
        "custom role of another account used in a workspace",
        "SELECT 'access ' || wa.id AS v FROM workspace_access wa
           JOIN workspaces w ON w.id = wa.workspace_id
           JOIN workspace_roles r ON r.id = wa.role_id
          WHERE r.account_id IS NOT NULL AND r.account_id <> w.account_id
         UNION ALL
         SELECT 'service account access ' || b.id FROM workspace_bot_access b
           JOIN workspaces w ON w.id = b.workspace_id
           JOIN workspace_roles r ON r.id = b.role_id
          WHERE r.account_id IS NOT NULL AND r.account_id <> w.account_id
         UNION ALL
         SELECT 'default role of ' || w.handle FROM workspaces w
           JOIN workspace_roles r ON r.id = w.default_role_id
          WHERE r.account_id IS NOT NULL AND r.account_id <> w.account_id
         UNION ALL
         SELECT 'pending invitation ' || i.id FROM invitations i
           JOIN workspace_roles r ON r.id = i.workspace_role_id
          WHERE i.status = 'pending' AND r.account_id IS NOT NULL
            AND r.account_id <> i.account_id",
    ),
    (
        "workspace role neither built in nor an account's",
        "SELECT id AS v FROM workspace_roles
         WHERE (account_id IS NULL) <> (builtin IS NOT NULL)",
    ),
    // Invitations ------------------------------------------------------------------------
    (
        "invitation state inconsistent",
        "SELECT id || ' (' || status || ')' AS v FROM invitations
         WHERE (status = 'pending' AND (responded_at IS NOT NULL OR accepted_by IS NOT NULL))
            OR (status <> 'pending' AND responded_at IS NULL)
            OR (status <> 'accepted' AND accepted_by IS NOT NULL)",
    ),
    (
        "invitation role does not match its target",
        "SELECT id || ' (' || role || ')' AS v FROM invitations
         WHERE (workspace_id IS NULL) = (role = 'collaborator')",
    ),
    (
        "pending workspace invitation to a workspace of another account",
        "SELECT i.id AS v FROM invitations i JOIN workspaces w ON w.id = i.workspace_id
         WHERE i.status = 'pending' AND w.account_id <> i.account_id",
    ),
    (
        "invitation without its e-mail",
        "SELECT i.id AS v FROM invitations i
         WHERE NOT EXISTS (SELECT 1 FROM outbox o
                           WHERE o.ref_id = i.id AND o.kind = 'invitation')",
    ),
    (
        "invitation with two e-mails waiting",
        "SELECT ref_id AS v FROM outbox WHERE kind = 'invitation' AND status = 'pending'
         GROUP BY ref_id HAVING COUNT(*) > 1",
    ),
    (
        "revoked invitation whose e-mail is still waiting",
        "SELECT i.id AS v FROM invitations i JOIN outbox o ON o.ref_id = i.id
         WHERE i.status = 'revoked' AND o.kind = 'invitation' AND o.status = 'pending'",
    ),
    // E-mailed codes (verification, password reset, change of address) ------------------
    (
        "e-mailed code without its e-mail",
        "SELECT t.id AS v FROM email_tokens t
         WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.ref_id = t.id)",
    ),
    (
        "e-mailed code used before it was made",
        "SELECT id AS v FROM email_tokens WHERE used_at IS NOT NULL AND used_at < created_at",
    ),
    // Sessions (the sessions page) -------------------------------------------------------
    (
        "session whose device is longer than 300 characters",
        "SELECT id AS v FROM sessions WHERE LENGTH(user_agent) > 300",
    ),
    // Two-factor authentication ----------------------------------------------------------
    (
        "recovery code of a user without confirmed two-factor authentication",
        "SELECT r.id AS v FROM recovery_codes r
         WHERE NOT EXISTS (SELECT 1 FROM user_totp t
                           WHERE t.user_id = r.user_id AND t.confirmed_at IS NOT NULL)",
    ),
    (
        "confirmed two-factor authentication without exactly 10 recovery codes",
        "SELECT t.user_id AS v FROM user_totp t
         WHERE t.confirmed_at IS NOT NULL
           AND (SELECT COUNT(*) FROM recovery_codes r WHERE r.user_id = t.user_id) <> 10",
    ),
    (
        "two-factor step used while set-up is pending, or confirmed before it began",
        "SELECT user_id AS v FROM user_totp
         WHERE (confirmed_at IS NULL AND last_used_step IS NOT NULL)
            OR confirmed_at < created_at",
    ),
    (
        "recovery code used before it was made",
        "SELECT id AS v FROM recovery_codes WHERE used_at IS NOT NULL AND used_at < created_at",
    ),
    (
        "two-factor secret stored unsealed (a bare base32 secret)",
        "SELECT user_id AS v FROM user_totp WHERE LENGTH(secret_sealed) < 60",
    ),
    // Service accounts and API keys ------------------------------------------------------
    (
        "API key of a holder that is gone",
        "SELECT k.id AS v FROM api_keys k
         WHERE (k.user_id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = k.user_id))
            OR (k.service_account_id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM service_accounts s
                                WHERE s.id = k.service_account_id))",
    ),
    (
        "API key prefix does not match its holder",
        "SELECT id AS v FROM api_keys
         WHERE (user_id IS NULL) = (service_account_id IS NULL)
            OR (prefix = 'pnu_') <> (user_id IS NOT NULL)",
    ),
    (
        "service account without a key",
        "SELECT s.name AS v FROM service_accounts s
         WHERE NOT EXISTS (SELECT 1 FROM api_keys k WHERE k.service_account_id = s.id)",
    ),
    // Transfers and the audit log --------------------------------------------------------
    (
        "transfer to its own account",
        "SELECT id AS v FROM workspace_transfers WHERE source_account_id = target_account_id",
    ),
    (
        "audit event whose actor kind and id disagree",
        "SELECT event_id AS v FROM audit_events
         WHERE (actor_kind IN ('user', 'service_account')) <> (actor_id IS NOT NULL)",
    ),
    (
        "audit event not named atrium.<resource>.<action> or prefect.<kind>.<action>",
        "SELECT event_id || ' ' || action AS v FROM audit_events
         WHERE action NOT LIKE 'atrium.%.%' AND action NOT LIKE 'prefect.%.%'",
    ),
    (
        "team member who is not a member of the team's account (or only a Collaborator)",
        "SELECT t.name || ' / ' || u.handle AS v
         FROM team_members tm JOIN teams t ON t.id = tm.team_id
         JOIN users u ON u.id = tm.user_id
         WHERE NOT EXISTS (SELECT 1 FROM account_memberships m
                           WHERE m.account_id = t.account_id AND m.user_id = tm.user_id
                             AND m.role <> 'collaborator')",
    ),
    (
        "team member whose sort key is not their handle",
        "SELECT tm.id AS v FROM team_members tm JOIN users u ON u.id = tm.user_id
         WHERE tm.handle <> u.handle",
    ),
    // Single sign-on (issue #26) ---------------------------------------------------------
    (
        "account requiring SSO without an identity provider",
        "SELECT a.handle AS v FROM accounts a
         WHERE a.sso_required = TRUE
           AND NOT EXISTS (SELECT 1 FROM sso_integrations i WHERE i.account_id = a.id)",
    ),
    (
        "SSO provider giving a role other than Admin, Member or Collaborator",
        "SELECT id || ': ' || role AS v FROM sso_integrations
         WHERE role NOT IN ('admin', 'member', 'collaborator')",
    ),
    (
        "SSO domain proved with a live code, or waiting without one",
        "SELECT domain AS v FROM sso_domains
         WHERE (verified_at IS NOT NULL AND (code_digest IS NOT NULL OR expires_at IS NOT NULL))
            OR (verified_at IS NULL AND (code_digest IS NULL OR expires_at IS NULL))",
    ),
    (
        "SSO domain whose proof went to an address outside it",
        "SELECT domain || ' / ' || verify_email AS v FROM sso_domains
         WHERE verify_email NOT LIKE ('%@' || domain)",
    ),
    (
        "SSO domain that is not lower case",
        "SELECT domain AS v FROM sso_domains WHERE domain <> LOWER(domain)",
    ),
    (
        "team name key that is not the lower-cased name",
        "SELECT t.id AS v FROM teams t WHERE t.name_normalized <> LOWER(TRIM(t.name))",
    ),
    (
        "team access to a workspace of another account",
        "SELECT w.handle || ' / ' || t.name AS v
         FROM workspace_team_access a
         JOIN workspaces w ON w.id = a.workspace_id
         JOIN teams t ON t.id = a.team_id
         WHERE t.account_id <> w.account_id",
    ),
    (
        "team access with a custom role of another account",
        "SELECT 'team access ' || a.id AS v FROM workspace_team_access a
           JOIN workspaces w ON w.id = a.workspace_id
           JOIN workspace_roles r ON r.id = a.role_id
          WHERE r.account_id IS NOT NULL AND r.account_id <> w.account_id",
    ),
    (
        "team member or team access left by a deleted team",
        "SELECT 'member ' || tm.id AS v FROM team_members tm
          WHERE NOT EXISTS (SELECT 1 FROM teams t WHERE t.id = tm.team_id)
         UNION ALL
         SELECT 'access ' || a.id FROM workspace_team_access a
          WHERE NOT EXISTS (SELECT 1 FROM teams t WHERE t.id = a.team_id)",
    ),
    (
        "audit event of a workspace but of no account",
        "SELECT event_id || ' ' || action AS v FROM audit_events
         WHERE workspace_id IS NOT NULL AND account_id IS NULL",
    ),
];

#[derive(QueryableByName)]
struct V {
    #[diesel(sql_type = diesel::sql_types::Text)]
    v: String,
}

#[derive(QueryableByName)]
struct Fk {
    #[diesel(sql_type = diesel::sql_types::Text)]
    child: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    col: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    parent: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pcol: String,
}

fn rows(conn: &mut DbConn, sql: &str) -> Result<Vec<String>, String> {
    diesel::sql_query(sql)
        .load::<V>(conn)
        .map(|r| r.into_iter().map(|v| v.v).collect())
        .map_err(|e| format!("query failed: {e}\n{sql}"))
}

/// Every single-column foreign key of the schema, read from the database itself (so a new
/// table's keys are checked without editing this file).
fn foreign_keys(conn: &mut DbConn) -> Result<Vec<Fk>, String> {
    let sql = match conn {
        DbConn::Sqlite(_) => {
            "SELECT m.name AS child, p.\"from\" AS col, p.\"table\" AS parent,
                    COALESCE(p.\"to\", 'id') AS pcol
             FROM sqlite_master m, pragma_foreign_key_list(m.name) p
             WHERE m.type = 'table'"
        }
        DbConn::Postgres(_) => {
            "SELECT c.conrelid::regclass::text AS child, a.attname::text AS col,
                    c.confrelid::regclass::text AS parent, af.attname::text AS pcol
             FROM pg_constraint c
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
             JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1]
             WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
               AND array_length(c.conkey, 1) = 1"
        }
    };
    diesel::sql_query(sql)
        .load::<Fk>(conn)
        .map_err(|e| format!("listing foreign keys failed: {e}"))
}

/// What breaks the invariants, as "check: row" lines; empty when the database is sound.
/// Runs on the caller's connection (inside its transaction, if any).
pub fn violations(conn: &mut DbConn) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |name: &str, r: Result<Vec<String>, String>| match r {
        Ok(rows) => out.extend(rows.into_iter().map(|v| format!("{name}: {v}"))),
        Err(e) => out.push(format!("{name}: {e}")),
    };
    // Clean foreign keys. SQLite enforces them only on connections that ask (all of
    // Atrium's do); the orphan queries run on both backends, so PostgreSQL is checked the
    // same way rather than trusted.
    if matches!(conn, DbConn::Sqlite(_)) {
        push(
            "foreign_key_check",
            rows(
                conn,
                "SELECT \"table\" || ' row ' || COALESCE(CAST(rowid AS TEXT), '?') || ' -> '
                        || parent AS v FROM pragma_foreign_key_check",
            ),
        );
        // FTS5 answers `PRAGMA integrity_check` from the index structure it cached at its
        // last query on this connection: it refreshes that cache when a query opens a cursor
        // or a write begins, not for the pragma. On a pooled connection last used before
        // another connection changed the search index, the pragma reported "malformed
        // inverted index for FTS5 table main.members_search" while the connection that
        // wrote, and the same connection asked again, reported "ok" (SQLite 3.50.2; seen in
        // `races` and reproduced with a role change on one connection, the check on a
        // second, a removal on the first, the check on the second). A query first makes the
        // pragma read the index as it is. (FTS5's own 'integrity-check' command is a write,
        // which the checker, running beside the tests' writers, does not make.)
        let _ = rows(
            conn,
            "SELECT CAST(COUNT(*) AS TEXT) AS v FROM members_search WHERE rowid = 0",
        );
        push(
            "integrity_check",
            rows(
                conn,
                "SELECT integrity_check AS v FROM pragma_integrity_check
                 WHERE integrity_check <> 'ok'",
            ),
        );
    }
    match foreign_keys(conn) {
        Ok(fks) => {
            if fks.is_empty() {
                push("foreign keys", Err("none found in the schema".into()));
            }
            for fk in fks {
                let sql = format!(
                    "SELECT CAST(c.\"{col}\" AS TEXT) AS v FROM \"{child}\" c
                     WHERE c.\"{col}\" IS NOT NULL AND NOT EXISTS
                       (SELECT 1 FROM \"{parent}\" p WHERE p.\"{pcol}\" = c.\"{col}\")",
                    child = fk.child,
                    col = fk.col,
                    parent = fk.parent,
                    pcol = fk.pcol
                );
                let name = format!("orphan {}.{} -> {}", fk.child, fk.col, fk.parent);
                push(&name, rows(conn, &sql));
            }
        }
        Err(e) => push("foreign keys", Err(e)),
    }
    for (name, sql) in CHECKS {
        push(name, rows(conn, sql));
    }
    push("user whose search key is stale", stale_search_keys(conn));
    // The per-account search (migrations 000027): every membership carries its member's
    // key and a search id in its account's range.
    push(
        "membership whose search key is not its member's",
        rows(
            conn,
            "SELECT u.handle AS v FROM account_memberships m JOIN users u ON u.id = m.user_id
             WHERE m.search_key <> u.search_key",
        ),
    );
    push(
        "membership without a search id in its account's range",
        rows(
            conn,
            "SELECT m.handle AS v FROM account_memberships m JOIN accounts a ON a.id = m.account_id
             WHERE m.search_id IS NULL OR a.number IS NULL
                OR m.search_id < a.number * 4294967296
                OR m.search_id > a.number * 4294967296 + 4294967295",
        ),
    );
    if matches!(conn, DbConn::Sqlite(_)) {
        // The FTS5 trigram index holds exactly one row per membership (rowid = search id),
        // with the membership's key.
        push(
            "membership missing from the search index, or indexed under another key",
            rows(
                conn,
                "SELECT m.handle AS v FROM account_memberships m WHERE NOT EXISTS
                   (SELECT 1 FROM members_search s WHERE s.rowid = m.search_id
                      AND s.search_key = m.search_key)",
            ),
        );
        push(
            "search index row of no membership",
            rows(
                conn,
                "SELECT CAST(s.rowid AS TEXT) AS v FROM members_search s WHERE NOT EXISTS
                   (SELECT 1 FROM account_memberships m WHERE m.search_id = s.rowid)",
            ),
        );
    }
    out
}

/// Users whose stored search key (issue #24, point 6) is not the one their handle, name
/// and e-mail give (`atrium::db::search::user_key`: folding needs Rust, not SQL).
fn stale_search_keys(conn: &mut DbConn) -> Result<Vec<String>, String> {
    use atrium::db::schema::users;
    let all: Vec<(String, String, String, String, String)> = users::table
        .select((
            users::handle,
            users::first_name,
            users::last_name,
            users::email,
            users::search_key,
        ))
        .load(conn)
        .map_err(|e| format!("query failed: {e}"))?;
    Ok(all
        .into_iter()
        .filter(|(h, f, l, e, key)| *key != atrium::db::search::user_key(h, f, l, e))
        .map(|(h, _, _, _, key)| format!("{h}: {key:?}"))
        .collect())
}

/// Runs [`violations`] in one read-only snapshot (PostgreSQL: REPEATABLE READ), so the
/// checks see one state even while a background task writes.
pub fn check(conn: &mut DbConn) -> Vec<String> {
    let pg = matches!(conn, DbConn::Postgres(_));
    let r = conn.transaction::<_, diesel::result::Error, _>(|c| {
        if pg {
            c.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        }
        Ok(violations(c))
    });
    r.unwrap_or_else(|e| vec![format!("invariant checker could not run: {e}")])
}

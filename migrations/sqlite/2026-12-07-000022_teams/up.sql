-- Teams (issue #25): a named group of an account's members, given a role on workspaces.
-- A person's scopes on a workspace are the union of their own role, the default role and
-- the roles of every team of theirs with access (authz::workspace::effective_scopes).
CREATE TABLE teams (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    -- Lower-cased name: unique in the account, and the Teams list's order and search key.
    name_normalized TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, name_normalized)
);

-- A member of a team: a user who is a member of the team's account (checked by the
-- invariant checker; removed with their membership). `handle` is the sort key of the
-- team's member list (user handles never change), as in workspace_access.
CREATE TABLE team_members (
    id TEXT PRIMARY KEY NOT NULL,
    team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    handle TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (team_id, user_id)
);
CREATE UNIQUE INDEX team_members_team_handle ON team_members (team_id, handle);
-- "Which teams is this person in": the switcher's and the scope check's probe.
CREATE INDEX team_members_user ON team_members (user_id, team_id);

-- A team's role on a workspace of the team's account.
CREATE TABLE workspace_team_access (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    team_id TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES workspace_roles(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, team_id)
);
CREATE INDEX workspace_team_access_team ON workspace_team_access (team_id);
CREATE INDEX workspace_team_access_role ON workspace_team_access (role_id);

-- Who may do what changed (src/gateway/caller.rs): every write to these tables moves the
-- access version, as for workspace_access (migration 000019).
CREATE TRIGGER teams_access_version_insert AFTER INSERT ON teams BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER teams_access_version_update AFTER UPDATE ON teams BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER teams_access_version_delete AFTER DELETE ON teams BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER team_members_access_version_insert AFTER INSERT ON team_members BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER team_members_access_version_update AFTER UPDATE ON team_members BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER team_members_access_version_delete AFTER DELETE ON team_members BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_team_access_access_version_insert AFTER INSERT ON workspace_team_access BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_team_access_access_version_update AFTER UPDATE ON workspace_team_access BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER workspace_team_access_access_version_delete AFTER DELETE ON workspace_team_access BEGIN UPDATE access_version SET version = version + 1 WHERE id = 1; END;

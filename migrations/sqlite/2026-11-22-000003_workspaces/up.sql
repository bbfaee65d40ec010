CREATE TABLE workspace_roles (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    builtin TEXT CHECK (builtin IN ('owner', 'developer', 'runner', 'viewer', 'worker')),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    scopes TEXT NOT NULL DEFAULT '[]',
    inherited_role TEXT CHECK (inherited_role IN ('owner', 'developer', 'runner', 'viewer', 'worker')),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, name)
);
INSERT INTO workspace_roles (id, account_id, builtin, name, description, scopes, inherited_role, created_at, updated_at) VALUES
    ('00000000-0000-4000-8000-000000000001', NULL, 'owner', 'Owner', 'Everything in the workspace, including its settings, members and deletion.', '[]', NULL, '2026-11-22 00:00:00', '2026-11-22 00:00:00'),
    ('00000000-0000-4000-8000-000000000002', NULL, 'developer', 'Developer', 'Builds and runs flows and deployments; no workspace administration.', '[]', NULL, '2026-11-22 00:00:00', '2026-11-22 00:00:00'),
    ('00000000-0000-4000-8000-000000000003', NULL, 'runner', 'Runner', 'Sees everything a Viewer sees and runs deployments.', '[]', NULL, '2026-11-22 00:00:00', '2026-11-22 00:00:00'),
    ('00000000-0000-4000-8000-000000000004', NULL, 'viewer', 'Viewer', 'Sees flows, runs and configuration, but not secrets or administration.', '[]', NULL, '2026-11-22 00:00:00', '2026-11-22 00:00:00'),
    ('00000000-0000-4000-8000-000000000005', NULL, 'worker', 'Worker', 'What a worker process needs: poll work pools and run flows.', '[]', NULL, '2026-11-22 00:00:00', '2026-11-22 00:00:00');

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    handle TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    default_role_id TEXT REFERENCES workspace_roles(id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, handle)
);

CREATE TABLE workspace_access (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES workspace_roles(id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, user_id)
);
CREATE INDEX workspace_access_user ON workspace_access (user_id);

CREATE TABLE workspace_visits (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    visited_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, workspace_id)
);
CREATE INDEX workspace_visits_recent ON workspace_visits (user_id, visited_at);

ALTER TABLE accounts ADD COLUMN workspace_limit BIGINT;

-- Managed Prefect servers (issue #22): the servers Atrium starts itself, one per workspace
-- without a server connected by hand. The row says which instance runs it, on which
-- loopback port, and how it went; `src/servers/spawner.rs`.
CREATE TABLE managed_servers (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('starting', 'running', 'stopped', 'failed')),
    instance_id TEXT,
    port INTEGER,
    pid INTEGER,
    auth_sealed TEXT NOT NULL,
    database TEXT NOT NULL,
    prefect_version TEXT NOT NULL,
    started_at TIMESTAMP,
    heartbeat_at TIMESTAMP,
    last_used_at TIMESTAMP,
    stopped_at TIMESTAMP,
    failures INTEGER NOT NULL,
    last_log TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

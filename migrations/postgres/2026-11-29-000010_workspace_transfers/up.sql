-- Workspace transfers waiting for (or decided by) an admin of the target account.
-- Transfers done at once by someone who is Owner/Admin of both accounts are recorded too
-- (status 'done'), so that both accounts' histories can name them.
CREATE TABLE workspace_transfers (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT REFERENCES workspaces(id) ON DELETE SET NULL,
    workspace_name TEXT NOT NULL,
    workspace_handle TEXT NOT NULL,
    source_account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    target_account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    new_handle TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'declined', 'cancelled', 'expired', 'failed')),
    requested_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    requested_by_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    decided_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    decided_at TIMESTAMP,
    outcome TEXT
);
CREATE UNIQUE INDEX workspace_transfers_one_pending ON workspace_transfers (workspace_id) WHERE status = 'pending';
CREATE INDEX workspace_transfers_target ON workspace_transfers (target_account_id, status);
CREATE INDEX workspace_transfers_source ON workspace_transfers (source_account_id, status);

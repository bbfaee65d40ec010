-- Service accounts ("bots"): non-human actors of one account, account role always Member.
CREATE TABLE service_accounts (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    name_normalized TEXT NOT NULL,
    created_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, name_normalized)
);

-- API keys of users (pnu_) and service accounts (pnb_). Only the SHA-256 digest is kept;
-- `last4` is for the mask. A key is live while expires_at is NULL or in the future.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    service_account_id TEXT REFERENCES service_accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL CHECK (prefix IN ('pnu_', 'pnb_')),
    digest TEXT NOT NULL UNIQUE,
    last4 TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    last_used_at TIMESTAMP,
    CHECK ((user_id IS NULL) <> (service_account_id IS NULL))
);
CREATE INDEX api_keys_user ON api_keys (user_id);
CREATE INDEX api_keys_service_account ON api_keys (service_account_id);

-- A service account's role on a workspace (users' accesses are in workspace_access).
CREATE TABLE workspace_bot_access (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    service_account_id TEXT NOT NULL REFERENCES service_accounts(id) ON DELETE CASCADE,
    role_id TEXT NOT NULL REFERENCES workspace_roles(id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, service_account_id)
);
CREATE INDEX workspace_bot_access_bot ON workspace_bot_access (service_account_id);

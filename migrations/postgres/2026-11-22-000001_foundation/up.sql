CREATE TABLE atrium_write_lock (id INTEGER PRIMARY KEY, n BIGINT NOT NULL DEFAULT 0);
INSERT INTO atrium_write_lock (id, n) VALUES (1, 0);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL UNIQUE,
    handle TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP
);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('personal', 'organization')),
    name TEXT NOT NULL,
    handle TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE account_memberships (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'collaborator')),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, user_id)
);
CREATE INDEX account_memberships_user ON account_memberships (user_id);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    data TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE login_failures (
    id BIGSERIAL PRIMARY KEY,
    ip TEXT NOT NULL,
    identifier TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_ip ON login_failures (ip, at);
CREATE INDEX login_failures_identifier ON login_failures (identifier, at);

CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    occurred_at TIMESTAMP NOT NULL,
    account_id TEXT,
    workspace_id TEXT,
    actor_kind TEXT NOT NULL CHECK (actor_kind IN ('user', 'service_account', 'anonymous', 'system')),
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    resource_kind TEXT NOT NULL,
    resource_id TEXT,
    resource_name TEXT NOT NULL,
    ip TEXT,
    payload TEXT NOT NULL
);
CREATE INDEX audit_events_account ON audit_events (account_id, id);
CREATE INDEX audit_events_occurred ON audit_events (occurred_at);

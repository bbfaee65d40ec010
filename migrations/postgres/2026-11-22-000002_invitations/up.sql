CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'collaborator')),
    code_salt TEXT NOT NULL,
    code_digest TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'revoked')),
    invited_by TEXT REFERENCES users(id) ON DELETE SET NULL,
    invited_by_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    responded_at TIMESTAMP,
    accepted_by TEXT REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX invitations_account ON invitations (account_id, created_at);
CREATE INDEX invitations_email ON invitations (email_normalized);
CREATE UNIQUE INDEX invitations_one_pending ON invitations (account_id, email_normalized) WHERE status = 'pending';

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    ref_id TEXT,
    account_id TEXT,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_ref ON outbox (ref_id);

CREATE INDEX users_handle_lower ON users (lower(handle));
CREATE INDEX account_memberships_account ON account_memberships (account_id, role);

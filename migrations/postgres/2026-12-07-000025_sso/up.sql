-- Single sign-on (issue #26, docs/SSO.md): an account's OpenID Connect provider, the
-- e-mail domains it has proved it holds, and which provider subject is which user.

-- An account whose members reach its pages only through its provider (except bypass:sso).
ALTER TABLE accounts ADD COLUMN sso_required BOOLEAN NOT NULL DEFAULT FALSE;

-- One provider per account. The client secret is sealed (src/sealed.rs); its mask is what
-- pages show.
CREATE TABLE sso_integrations (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL UNIQUE REFERENCES accounts(id) ON DELETE CASCADE,
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret_sealed TEXT NOT NULL,
    client_secret_mask TEXT NOT NULL,
    -- The account role given to people the provider brings in (Admin, Member, Collaborator).
    role TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- An e-mail domain an account claims. Proved by a link e-mailed to an address at the
-- domain (only the code's digest is kept); a proved domain belongs to one account.
CREATE TABLE sso_domains (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    domain TEXT COLLATE "C" NOT NULL,
    verify_email TEXT NOT NULL,
    code_digest TEXT,
    expires_at TIMESTAMP,
    verified_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, domain)
);
CREATE UNIQUE INDEX sso_domains_verified ON sso_domains (domain) WHERE verified_at IS NOT NULL;
CREATE UNIQUE INDEX sso_domains_code ON sso_domains (code_digest);

-- A user known to a provider by its subject (`sub`).
CREATE TABLE sso_identities (
    id TEXT PRIMARY KEY NOT NULL,
    integration_id TEXT NOT NULL REFERENCES sso_integrations(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (integration_id, subject),
    UNIQUE (integration_id, user_id)
);
CREATE INDEX sso_identities_user ON sso_identities (user_id);

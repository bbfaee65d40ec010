-- Two-factor authentication (issue #26, point 3): a password user's TOTP (RFC 6238) and
-- their single-use recovery codes, and the account setting that requires it of members.
--
-- The TOTP secret is sealed under the instance's secret key (src/sealed.rs), never stored
-- plain. `confirmed_at` is NULL while set-up waits for the first code from the app;
-- `last_used_step` is the 30-second step of the last code accepted, so that a code is
-- refused when it is replayed within its window.
CREATE TABLE user_totp (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    confirmed_at TIMESTAMP,
    last_used_step BIGINT,
    created_at TIMESTAMP NOT NULL
);

-- Recovery codes: shown once, stored as the SHA-256 of the code (like API keys), each
-- used at most once (`used_at`). Only a user whose two-factor is confirmed has any.
CREATE TABLE recovery_codes (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    digest TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- Members of such an account are led to set up two-factor authentication at sign-in and
-- cannot use the account's pages without it.
ALTER TABLE accounts ADD COLUMN require_two_factor BOOLEAN NOT NULL DEFAULT false;

-- Sessions end after a time without use (ATRIUM_SESSION_IDLE_TIMEOUT), besides their
-- absolute expiry: the last time each was used, written at most once a minute.
ALTER TABLE sessions ADD COLUMN last_seen_at TIMESTAMP;
UPDATE sessions SET last_seen_at = created_at;

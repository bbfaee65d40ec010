-- The audit log page: how long an account keeps its events, and indexes for the page's
-- filters (each one an index range on the account, newest first by id). A date range is
-- turned into a range of ids through the existing index on occurred_at.
ALTER TABLE accounts ADD COLUMN audit_retention_days INTEGER NOT NULL DEFAULT 365;
CREATE INDEX audit_events_account_action ON audit_events (account_id, action, id);
CREATE INDEX audit_events_account_workspace ON audit_events (account_id, workspace_id, id);
CREATE INDEX audit_events_account_actor ON audit_events (account_id, actor_id, id);

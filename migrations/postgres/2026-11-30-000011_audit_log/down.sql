DROP INDEX audit_events_account_actor;
DROP INDEX audit_events_account_workspace;
DROP INDEX audit_events_account_action;
ALTER TABLE accounts DROP COLUMN audit_retention_days;

ALTER TABLE managed_servers DROP COLUMN retention_days;
ALTER TABLE accounts DROP COLUMN flow_run_retention_days;

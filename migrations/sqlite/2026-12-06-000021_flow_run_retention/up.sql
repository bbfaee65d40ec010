-- Flow run retention per account (issue #22, point 4): how many days the account's
-- managed Prefect servers keep a flow run after it ended (their own database vacuum
-- service deletes older ones), and the period each managed server was started with, so
-- the spawner knows which servers to restart when the account's period changes or the
-- workspace moves to another account.
ALTER TABLE accounts ADD COLUMN flow_run_retention_days INTEGER NOT NULL DEFAULT 90;
ALTER TABLE managed_servers ADD COLUMN retention_days INTEGER;

DROP TABLE workspace_transfers;

DROP TABLE workspace_bot_access;
DROP TABLE api_keys;
DROP TABLE service_accounts;

DROP INDEX workspaces_account_name;

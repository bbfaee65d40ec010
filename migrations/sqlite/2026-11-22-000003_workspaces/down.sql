ALTER TABLE accounts DROP COLUMN workspace_limit;
DROP TABLE workspace_visits;
DROP TABLE workspace_access;
DROP TABLE workspaces;
DROP TABLE workspace_roles;

DROP INDEX workspaces_name;

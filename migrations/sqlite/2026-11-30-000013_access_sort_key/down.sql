DROP INDEX workspace_access_workspace_handle;
ALTER TABLE workspace_access DROP COLUMN handle;

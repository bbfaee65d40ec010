ALTER TABLE invitations ADD COLUMN workspace_id TEXT REFERENCES workspaces(id) ON DELETE CASCADE;
ALTER TABLE invitations ADD COLUMN workspace_role_id TEXT REFERENCES workspace_roles(id);
DROP INDEX invitations_one_pending;
CREATE UNIQUE INDEX invitations_one_pending ON invitations (account_id, COALESCE(workspace_id, ''), email_normalized) WHERE status = 'pending';

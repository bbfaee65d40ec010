DROP INDEX invitations_one_pending;
CREATE UNIQUE INDEX invitations_one_pending ON invitations (account_id, email_normalized) WHERE status = 'pending';
ALTER TABLE invitations DROP COLUMN workspace_role_id;
ALTER TABLE invitations DROP COLUMN workspace_id;
